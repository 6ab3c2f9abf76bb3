// The benchmark application on Node socket.io, with the same handlers as
// bench/src/bin/shared/app.rs, default settings. PORT as for the examples.
const { Server } = require("socket.io");

const io = new Server(Number(process.env.PORT || 3000));
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
