// The benchmark application on Node socket.io, with the same handlers as
// bench/src/bin/shared/app.rs, default settings. PORT as for the examples; RECOVERY=on
// turns connection state recovery on (default settings); REDIS_URL makes the server one of
// a cluster on @socket.io/redis-streams-adapter.
const { Server } = require("socket.io");
const { joinStreamsCluster } = require("./streams-cluster");

const io = new Server({
  connectionStateRecovery: process.env.RECOVERY === "on" ? {} : undefined,
});
io.on("connection", (socket) => {
  socket.on("join", (ack) => {
    socket.join("bench");
    ack();
  });
  socket.on("fanout", (tick) => {
    io.to("bench").emit("tick", tick);
  });
  socket.on("echo", (...args) => {
    const ack = args.pop();
    ack(...args);
  });
});

async function main() {
  await joinStreamsCluster(io);
  io.listen(Number(process.env.PORT || 3000));
}

main();
