// The reference socket.io@4.8 server for our client's interop suite: `PORT=3000 node
// socketio-server.js`. The same behaviour as the Rust testbed, for the scenarios the
// client suite runs.
"use strict";

const { createServer } = require("http");
const { Server } = require("socket.io");

const httpServer = createServer();
const io = new Server(httpServer, {
  pingInterval: 300,
  pingTimeout: 200,
  connectTimeout: 1000,
  cors: { origin: "*" },
});

const setup = (socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    ack(...args);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack();
  });
  socket.on("to-room", (room, text) => io.to(room).emit("room-message", text));
  socket.on("ask", (...args) => {
    socket.timeout(5000).emit("question", ...args, (err, ...answer) => socket.emit("answer-received", answer));
  });
  socket.on("disconnect-me", () => socket.disconnect());
  // A message of `n` characters: over `maxHttpBufferSize` (1 MB) when asked, which bounds
  // only what this server accepts, never what it sends.
  socket.on("big", (n) => socket.emit("big-back", "x".repeat(n)));
};

io.of("/").use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "bad") {
    const err = new Error("not authorized");
    err.data = { reason: "bad token" };
    return next(err);
  }
  next();
});
io.of("/").on("connection", setup);
io.of("/custom").on("connection", setup);

httpServer.listen(Number(process.env.PORT || 3000), "127.0.0.1");
