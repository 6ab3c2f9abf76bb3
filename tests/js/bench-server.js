// The benchmark application on Node socket.io, with the same handlers as
// bench/src/bin/shared/app.rs, default settings. PORT as for the examples; RECOVERY=on
// turns connection state recovery on (default settings).
const { Server } = require("socket.io");

const io = new Server(Number(process.env.PORT || 3000), {
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
