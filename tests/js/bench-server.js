// The benchmark application on Node socket.io, with the same handlers as
// bench/src/bin/shared/app.rs, default settings. PORT as for the examples; RECOVERY=on
// turns connection state recovery on (default settings); REDIS_URL makes the server one of
// a cluster on @socket.io/redis-streams-adapter.
const { Server } = require("socket.io");

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
  if (process.env.REDIS_URL) {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-streams-adapter");
    const client = createClient({ url: process.env.REDIS_URL });
    client.on("error", (err) => console.error("redis:", err.message));
    await client.connect();
    io.adapter(createAdapter(client));
  }
  io.listen(Number(process.env.PORT || 3000));
}

main();
