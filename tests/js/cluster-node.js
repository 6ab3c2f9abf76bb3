// One server of a cluster on Redis with @socket.io/redis-adapter 8.3: the same application
// as socketio-runtime/examples/apps/cluster.rs. PORT, REDIS_URL, NODE_NAME, ADAPTER as there.
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const streams = require("@socket.io/redis-streams-adapter");

const NODE_NAME = process.env.NODE_NAME || "node";
const REDIS_URL = process.env.REDIS_URL || "redis://127.0.0.1:6379";

async function main() {
  const pubClient = createClient({ url: REDIS_URL });
  const subClient = pubClient.duplicate();
  // Logged, not thrown: the clients reconnect by themselves.
  pubClient.on("error", (err) => console.error("redis pub:", err.message));
  subClient.on("error", (err) => console.error("redis sub:", err.message));
  await Promise.all([pubClient.connect(), subClient.connect()]);

  // The sharded and streams adapters have no requests timeout of their own (5 s).
  const adapter = {
    sharded: () => createShardedAdapter(pubClient, subClient),
    streams: () => streams.createAdapter(pubClient),
  }[process.env.ADAPTER || "classic"]?.() || createAdapter(pubClient, subClient, { requestsTimeout: 2000 });
  const io = new Server({ adapter });

  io.on("hello", (msg, cb) => cb(NODE_NAME + ":" + msg));

  io.on("connection", (socket) => {
    socket.data = { node: NODE_NAME };
    socket.join("all");
    socket.on("join", (room, ack) => {
      socket.join(room);
      ack("ok");
    });
    socket.on("leave", (room, ack) => {
      socket.leave(room);
      ack("ok");
    });
    socket.on("to", (room, msg) => io.to(room).emit("msg", msg));
    socket.on("all", (msg) => io.emit("msg", msg));
    socket.on("bin", (buffer) => io.emit("bin", buffer));
    socket.on("fetch", async (room, ack) => {
      const sockets = await io.in(room).fetchSockets();
      const fetched = sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort(), data: s.data }));
      fetched.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      ack(fetched);
    });
    socket.on("remote-join", (target, room, ack) => {
      io.in(target).socketsJoin(room);
      ack("ok");
    });
    socket.on("remote-leave", (target, room, ack) => {
      io.in(target).socketsLeave(room);
      ack("ok");
    });
    socket.on("kick", (target) => io.in(target).disconnectSockets(true));
    socket.on("sse", async (msg, ack) => {
      try {
        ack((await io.serverSideEmitWithAck("hello", msg)).sort());
      } catch (err) {
        // On a timeout the adapter rejects; what arrived is not kept by the reference.
        ack([]);
      }
    });
    socket.on("ask", async (room, ack) => {
      try {
        ack((await io.to(room).timeout(2000).emitWithAck("question")).sort());
      } catch (err) {
        ack([]);
      }
    });
    socket.on("count", async (ack) => ack((await io.fetchSockets()).length));
  });

  io.listen(Number(process.env.PORT || 3000));
  console.log(`cluster server ${NODE_NAME} on port ${process.env.PORT || 3000}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
