// Connection state recovery on socket.io 4.8: the same application as
// socketio-runtime/examples/apps/recovery.rs. PORT and REDIS_URL (a cluster on
// @socket.io/redis-streams-adapter) as there; RECOVERY=off turns recovery off (the
// benchmark's baseline).
"use strict";

const { Server } = require("socket.io");
const { joinStreamsCluster } = require("./streams-cluster");

const recovery = process.env.RECOVERY !== "off";
const io = new Server({
  connectionStateRecovery: recovery ? { maxDisconnectionDuration: 120000, skipMiddlewares: true } : undefined,
  pingInterval: 2000,
  pingTimeout: 2000,
});

let middlewareRuns = 0;
io.use((socket, next) => {
  middlewareRuns++;
  next();
});

const ticks = (send, n, everyMs) => {
  let i = 0;
  const timer = setInterval(() => {
    if (i >= n) return clearInterval(timer);
    send(i++);
  }, everyMs);
};

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack("ok");
  });
  socket.on("set", (value, ack) => {
    socket.data.value = value;
    ack("ok");
  });
  socket.on("whoami", (ack) =>
    ack({ id: socket.id, rooms: [...socket.rooms].sort(), data: socket.data, middlewareRuns }),
  );
  socket.on("start", (room, n, everyMs) => ticks((i) => io.to(room).emit("tick", i), n, everyMs));
  socket.on("start-direct", (n, everyMs) => ticks((i) => socket.emit("tick", i), n, everyMs));
  socket.emit("welcome", { recovered: socket.recovered, id: socket.id });
});

async function main() {
  await joinStreamsCluster(io);
  io.listen(Number(process.env.PORT || 3000));
  console.log(`recovery server on port ${process.env.PORT || 3000}`);
}

main();
