// Drives a mixed cluster with the official client: `node cluster-client.js PHASE NODES`,
// NODES a JSON object {name: url}, each a server of tests/js/cluster-node.js or the
// `cluster` example; REDIS_URL for the emitter. PHASE `full` runs every operation from
// every server (with ADAPTER=sharded or streams, servers on those adapters: without the
// emitter, which speaks only the classic one); `again` (after a Redis restart) the broadcasts and server-side events;
// `listen` prints `ready`, then what the clients got until `emitter-mark`.
// On the sharded adapter a server listens on a room's channel once the room exists there,
// which it learns asynchronously (as Node does): the driver waits for those subscriptions
// (PUBSUB SHARDNUMSUB) before publishing to the room.
// Prints a JSON report of what each client saw; the test compares it with what it expects.
"use strict";

const { io } = require("socket.io-client");
const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");

const [phase, nodesJson] = process.argv.slice(2);
const nodes = JSON.parse(nodesJson);
const names = Object.keys(nodes);

const timeout = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref());
const within = (promise, what, ms = 10000) => Promise.race([promise, timeout(ms, what)]);
const ack = (socket, ...args) => within(socket.emitWithAck(...args), `ack of ${args[0]}`);

function connect(name) {
  const socket = io(nodes[name], { transports: ["websocket"], forceNew: true, reconnection: false });
  socket.inbox = [];
  socket.waiters = [];
  socket.on("msg", (msg) => {
    socket.inbox.push(msg);
    socket.waiters = socket.waiters.filter((waiter) => !waiter());
  });
  socket.on("bin", (buffer) => socket.inbox.push({ bin: Buffer.from(buffer).toString("base64") }));
  socket.on("question", (cb) => cb(name));
  return within(new Promise((resolve) => socket.on("connect", () => resolve(socket))), `connect to ${name}`);
}

// The messages `socket` received before `marker` (which is consumed with them).
function until(socket, marker) {
  const take = () => {
    const at = socket.inbox.indexOf(marker);
    if (at < 0) return null;
    return socket.inbox.splice(0, at + 1).slice(0, -1);
  };
  return within(
    new Promise((resolve) => {
      const now = take();
      if (now) return resolve(now);
      socket.waiters.push(() => {
        const got = take();
        if (got) resolve(got);
        return got !== null;
      });
    }),
    `${marker}`,
  );
}

const everyone = (clients, marker) => Promise.all(names.map((n) => until(clients[n], marker)));
const byName = (values) => Object.fromEntries(names.map((n, i) => [n, values[i]]));

async function broadcasts(clients, from) {
  const c = clients[from];
  const report = {};
  c.emit("all", `all-${from}`);
  report.all = byName(await everyone(clients, `all-${from}`));
  for (const target of names) c.emit("to", `room-${target}`, `to-${from}-${target}`);
  c.emit("all", `mark-${from}`);
  report.to = byName(await everyone(clients, `mark-${from}`));
  c.emit("bin", Buffer.from([1, 2, 3, names.indexOf(from)]));
  c.emit("all", `bin-${from}`);
  report.bin = byName(await everyone(clients, `bin-${from}`));
  report.sse = await ack(c, "sse", `m-${from}`);
  return report;
}

const sharded = process.env.ADAPTER === "sharded";
const classic = (process.env.ADAPTER || "classic") === "classic";
let redis;

// On the sharded adapter, waits until some server listens on `room`'s channel.
async function listened(room) {
  // A Node socket's id (20 characters) has no channel of its own.
  if (!sharded || room.length === 20) return;
  const channel = `socket.io#/#${room}#`;
  const poll = async () => {
    for (;;) {
      const [, count] = await redis.sendCommand(["PUBSUB", "SHARDNUMSUB", channel]);
      if (count > 0) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await within(poll(), `a subscription to ${channel}`);
}

async function operations(clients, from) {
  const c = clients[from];
  const other = names[(names.indexOf(from) + 1) % names.length];
  const report = {};
  // A broadcast to one socket of another server, by its id.
  c.emit("to", clients[other].id, `direct-${from}`);
  c.emit("all", `direct-mark-${from}`);
  report.direct = byName(await everyone(clients, `direct-mark-${from}`));
  report.fetch = await ack(c, "fetch", "all");
  report.count = await ack(c, "count");
  report.ask = await ack(c, "ask", "all");
  report.remoteJoin = await ack(c, "remote-join", clients[other].id, `rj-${from}`);
  await listened(`rj-${from}`);
  c.emit("to", `rj-${from}`, `rj-msg-${from}`);
  c.emit("all", `rj-mark-${from}`);
  report.joined = byName(await everyone(clients, `rj-mark-${from}`));
  report.remoteLeave = await ack(c, "remote-leave", clients[other].id, `rj-${from}`);
  c.emit("to", `rj-${from}`, `after-leave-${from}`);
  c.emit("all", `rl-mark-${from}`);
  report.left = byName(await everyone(clients, `rl-mark-${from}`));
  // 1 000 messages, in order, exactly once.
  for (let i = 0; i < 1000; i++) c.emit("all", `seq-${from}-${i}`);
  c.emit("all", `seq-end-${from}`);
  const seqs = await everyone(clients, `seq-end-${from}`);
  const expected = Array.from({ length: 1000 }, (_, i) => `seq-${from}-${i}`).join();
  report.ordered = byName(seqs.map((seq) => seq.join() === expected));
  // A socket of another server, closed from this one.
  const victim = await connect(other);
  const closed = within(new Promise((resolve) => victim.on("disconnect", resolve)), "kick");
  c.emit("kick", victim.id);
  report.kicked = (await closed) !== undefined;
  return report;
}

async function main() {
  if (process.env.REDIS_URL) {
    redis = createClient({ url: process.env.REDIS_URL });
    await redis.connect();
  }
  const clients = {};
  for (const name of names) clients[name] = await connect(name);
  for (const name of names) await ack(clients[name], "join", `room-${name}`);
  for (const name of names) {
    await listened(`room-${name}`);
    await listened(clients[name].id);
  }
  if (phase === "listen") {
    // Another emitter (the test's) publishes once it reads "ready".
    console.log("ready");
    const seen = byName(await everyone(clients, "emitter-mark"));
    for (const name of names) clients[name].disconnect();
    console.log(JSON.stringify(seen));
    process.exit(0);
  }
  const report = { ids: byName(names.map((n) => clients[n].id)), from: {} };
  for (const from of names) {
    report.from[from] = await broadcasts(clients, from);
    if (phase === "full") Object.assign(report.from[from], await operations(clients, from));
  }
  if (phase === "full" && classic) {
    const emitter = new Emitter(redis);
    emitter.emit("msg", "from-emitter");
    emitter.to("room-" + names[0]).emit("msg", "emitter-room");
    emitter.emit("msg", "emitter-mark");
    report.emitter = byName(await everyone(clients, "emitter-mark"));
  }
  if (redis) await redis.quit();
  for (const name of names) clients[name].disconnect();
  console.log(JSON.stringify(report));
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
