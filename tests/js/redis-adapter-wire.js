// What @socket.io/redis-adapter 8.3 publishes, captured without Redis: the adapter runs on
// stub clients that record every publication. Prints [{channel, message (base64)}] for a
// fixed list of cluster operations, for the Rust side to read.
"use strict";

const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");

const published = [];
const stub = {
  // The adapter takes a client with pSubscribe for node-redis v4.
  pSubscribe() {},
  subscribe() {},
  pUnsubscribe() {},
  unsubscribe() {},
  sSubscribe() {},
  on() {},
  off() {},
  listenerCount() { return 0; },
  publish(channel, message) {
    published.push({ channel, message: Buffer.from(message).toString("base64") });
    return Promise.resolve(1);
  },
  // PUBSUB NUMSUB: this node and one other.
  sendCommand() { return Promise.resolve(["", "2"]); },
};

const main = async () => {
  const io = new Server({ adapter: createAdapter(stub, stub, { requestsTimeout: 50 }) });
  io.to("room1").except("muted").volatile.emit("chat", { text: "hi", n: 1.5 }, Buffer.from([1, 2, 3]));
  io.emit("all", [1, "two", null, true]);
  io.in("room1").socketsJoin(["a", "b"]);
  io.in("room1").socketsLeave("a");
  io.in("x").disconnectSockets(true);
  io.serverSideEmit("hello", "world", 42);
  await io.serverSideEmitWithAck("ask", "q").catch(() => {});
  await io.in("room1").fetchSockets().catch(() => {});
  process.stdout.write(JSON.stringify(published));
  process.exit(0);
};
main();
