"""The python-socketio server (aiohttp) for our client's interop suite: `PORT=3000 server.py`.

The same behaviour as the Rust testbed, for the scenarios the client suite runs.
"""

import os

import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*", ping_interval=1, ping_timeout=1)
app = web.Application()
sio.attach(app)


def setup(namespace):
    @sio.on("connect", namespace=namespace)
    async def connect(sid, environ, auth):
        if namespace == "/" and isinstance(auth, dict) and auth.get("token") == "bad":
            raise socketio.exceptions.ConnectionRefusedError("not authorized", {"reason": "bad token"})
        await sio.emit("auth", auth or {}, to=sid, namespace=namespace)

    @sio.on("message", namespace=namespace)
    async def message(sid, *args):
        await sio.emit("message-back", args, to=sid, namespace=namespace)

    @sio.on("message-with-ack", namespace=namespace)
    async def message_with_ack(sid, *args):
        return args

    @sio.on("join", namespace=namespace)
    async def join(sid, room):
        await sio.enter_room(sid, room, namespace=namespace)
        return ()

    @sio.on("to-room", namespace=namespace)
    async def to_room(sid, room, text):
        await sio.emit("room-message", text, room=room, namespace=namespace)

    @sio.on("ask", namespace=namespace)
    async def ask(sid, *args):
        answer = await sio.call("question", args, to=sid, namespace=namespace, timeout=5)
        answer = list(answer) if isinstance(answer, tuple) else [answer]
        await sio.emit("answer-received", (answer,), to=sid, namespace=namespace)

    @sio.on("disconnect-me", namespace=namespace)
    async def disconnect_me(sid, *args):
        await sio.disconnect(sid, namespace=namespace)


setup("/")
setup("/custom")

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(os.environ.get("PORT", "3000")), print=None)
