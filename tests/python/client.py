"""python-socketio client scenarios against our server: `client.py URL MODE`.

MODE is polling, websocket or upgrade. Prints a JSON report on stdout.
"""

import base64
import json
import sys
import threading

import socketio

URL, MODE = sys.argv[1], sys.argv[2]
TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}[MODE]


def desc(value):
    if isinstance(value, (bytes, bytearray)):
        return {"$bin": base64.b64encode(value).decode()}
    if isinstance(value, (list, tuple)):
        return [desc(v) for v in value]
    if isinstance(value, dict):
        return {k: desc(v) for k, v in value.items()}
    return value


class Waiter:
    """Collects the arguments of one event."""

    def __init__(self):
        self.event = threading.Event()
        self.args = None

    def __call__(self, *args):
        self.args = list(args)
        self.event.set()

    def get(self, timeout=5):
        if not self.event.wait(timeout):
            raise TimeoutError("no event")
        return self.args


def client(**kwargs):
    return socketio.Client(reconnection=False, **kwargs)


def connect(sio, namespaces=None, auth=None):
    sio.connect(URL, transports=TRANSPORTS, namespaces=namespaces, auth=auth, wait_timeout=5)


def scenario_events():
    sio = client()
    auth, back, question = Waiter(), Waiter(), []
    sio.on("auth", auth)
    sio.on("message-back", back)

    def on_question(a, b):
        question.append([a, b])
        return "answer", a + b

    sio.on("question", on_question)
    answered = Waiter()
    sio.on("answer-received", answered)
    connect(sio, auth={"token": "py"})
    sent = [1, "two", {"three": b"\x03", "nested": [b"\x04\x05"]}, b"end"]
    sio.emit("message", tuple(sent))
    reply = sio.call("message-with-ack", ("x", b"\x09"), timeout=5)
    sio.emit("ask", (2, 3))
    report = {
        "auth": auth.get()[0],
        "sent": desc(sent),
        "back": desc(back.get()),
        "reply": desc(reply),
        "answer": answered.get()[0],
        "transport": sio.transport(),
    }
    sio.disconnect()
    return report


def scenario_namespaces():
    sio = client()
    custom_auth = Waiter()
    sio.on("auth", custom_auth, namespace="/custom")
    connect(sio, namespaces=["/", "/custom"])
    ids = [sio.get_sid("/"), sio.get_sid("/custom")]
    report = {"customAuth": custom_auth.get()[0], "distinct": len(set(ids)) == 2 and None not in ids}
    sio.disconnect()
    return report


def scenario_refusals():
    report = {}
    bad = client()
    error = Waiter()
    bad.on("connect_error", error)
    try:
        connect(bad, auth={"token": "bad"})
        report["middleware"] = "connected"
    except socketio.exceptions.ConnectionError:
        report["middleware"] = error.get()[0]
    nope = client()
    nope_error = Waiter()
    nope.on("connect_error", nope_error, namespace="/nope")
    try:
        connect(nope, namespaces=["/nope"])
        report["namespace"] = "connected"
    except socketio.exceptions.ConnectionError:
        report["namespace"] = nope_error.get()[0]
    return report


def scenario_rooms():
    a, b = client(), client()
    got = Waiter()
    b.on("room-message", got)
    connect(a)
    connect(b)
    b.call("join", ("blue",), timeout=5)
    a.emit("to-room", ("blue", "hello blue"))
    report = {"roomMessage": got.get()}
    a.disconnect()
    b.disconnect()
    return report


def scenario_server_disconnect():
    sio = client()
    reason = Waiter()
    sio.on("disconnect", reason)
    connect(sio)
    sio.emit("disconnect-me", (False,))
    args = reason.get()
    return {"reason": args[0] if args else None}


report = {"mode": MODE}
for name, run in [
    ("events", scenario_events),
    ("namespaces", scenario_namespaces),
    ("refusals", scenario_refusals),
    ("rooms", scenario_rooms),
    ("serverDisconnect", scenario_server_disconnect),
]:
    try:
        report[name] = run()
    except Exception as error:  # reported, then asserted on by the Rust test
        report[name] = {"error": repr(error)}
print(json.dumps(report))
sys.exit(0)
