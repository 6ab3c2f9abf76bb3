// Runs the Socket.IO scenarios with the reference client: `node socketio-client.js URL MODE`
// with MODE polling | websocket | upgrade. Prints a JSON report; binary is {"$bin": base64}.
"use strict";

const { io, Manager } = require("socket.io-client");

const [url, mode] = process.argv.slice(2);
const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[mode];
const base = { transports, forceNew: true, reconnection: false };

const { toDesc: desc } = require("./describe");
const once = (socket, event, ms = 5000) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), ms);
    socket.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const connect = async (nsp = "/", opts = {}) => {
  const socket = io(url + nsp, { ...base, ...opts });
  await once(socket, "connect");
  return socket;
};
const ack = (socket, ...args) => new Promise((resolve) => socket.emit(...args, (...reply) => resolve(reply)));

const scenarios = {
  async auth() {
    const socket = io(url, { ...base, auth: { token: "abc", n: 1 } });
    const [auth] = await once(socket, "auth");
    const none = io(url, base);
    const [empty] = await once(none, "auth");
    socket.disconnect();
    none.disconnect();
    return { auth, empty };
  },
  async binary() {
    const socket = await connect();
    const sent = [1, "two", { three: Buffer.from([3]), nested: [Buffer.from([4, 5]), { deep: Buffer.alloc(0) }] }, Buffer.from("end")];
    socket.emit("message", ...sent);
    const back = await once(socket, "message-back");
    socket.disconnect();
    return { sent: desc(sent), back: desc(back) };
  },
  async acks() {
    const socket = await connect();
    const reply = await ack(socket, "message-with-ack", "x", { y: Buffer.from([9]) }, 3);
    socket.on("question", (a, b, cb) => cb("answer", a + b));
    socket.emit("ask", 2, 3);
    const [answer] = await once(socket, "answer-received");
    socket.emit("ask-nobody");
    const [timedOut] = await once(socket, "ask-result");
    socket.disconnect();
    return { reply: desc(reply), answer, timedOut };
  },
  async multiplexing() {
    const manager = new Manager(url, { ...base, forceNew: undefined });
    const sockets = ["/", "/custom", "/dynamic-7"].map((n) => manager.socket(n));
    const auths = await Promise.all(sockets.map((s) => once(s, "auth")));
    await Promise.all(sockets.filter((s) => !s.connected).map((s) => once(s, "connect")));
    const ids = sockets.map((s) => s.id);
    const refused = manager.socket("/nope");
    const [error] = await once(refused, "connect_error");
    const engines = new Set(sockets.map((s) => s.io.engine.id)).size;
    // Leaving one namespace keeps the others.
    sockets[1].disconnect();
    const stillThere = await ack(sockets[2], "message-with-ack", "still");
    sockets.forEach((s) => s.disconnect());
    return { auths: auths.map(([a]) => a), distinctIds: new Set(ids).size, engines, refused: error.message, stillThere };
  },
  async middleware() {
    const bad = io(url, { ...base, auth: { token: "bad" } });
    const [error] = await once(bad, "connect_error");
    const notAdmin = io(url + "/admin", base);
    const [adminError] = await once(notAdmin, "connect_error");
    const admin = io(url + "/admin", { ...base, auth: { role: "admin" } });
    const [adminAuth] = await once(admin, "auth");
    [bad, notAdmin, admin].forEach((s) => s.disconnect());
    return { message: error.message, data: error.data, adminError: adminError.message, adminAuth };
  },
  async rooms() {
    const [a, b, c] = await Promise.all([connect(), connect(), connect()]);
    await ack(a, "join", "red");
    await ack(b, "join", "red");
    const got = { a: [], b: [], c: [] };
    for (const [name, s] of Object.entries({ a, b, c })) {
      for (const event of ["room-message", "broadcast-message", "except-message"]) {
        s.on(event, (...args) => got[name].push([event, ...args]));
      }
    }
    c.emit("to-room", "red", "hi red");
    a.emit("broadcast", "from a", { n: 1 });
    c.emit("except-room", "red", "not red");
    await sleep(300);
    // Events from different senders have no order between them.
    for (const list of Object.values(got)) list.sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
    const [fetched] = await ack(c, "fetch", "red");
    const [roomsOfA] = await ack(a, "rooms");
    await ack(a, "leave", "red");
    const [afterLeave] = await ack(c, "fetch", "red");
    const ids = { a: a.id, b: b.id, c: c.id };
    [a, b, c].forEach((s) => s.disconnect());
    return { got, fetched, roomsOfA, afterLeave, ids };
  },
  async volatile() {
    const socket = await connect();
    let received = 0;
    socket.on("volatile-message", () => received++);
    // Let any upgrade and pending writes settle: an idle transport takes the first one.
    await sleep(400);
    await ack(socket, "volatile", 50);
    await sleep(200);
    socket.disconnect();
    return { received };
  },
  async disconnects() {
    const reasons = {};
    const kicked = await connect();
    const kickedReason = once(kicked, "disconnect");
    kicked.emit("disconnect-me", false);
    reasons.serverNamespace = (await kickedReason)[0];
    const closed = await connect();
    const closedReason = once(closed, "disconnect");
    closed.emit("disconnect-me", true);
    reasons.serverClose = (await closedReason)[0];
    const leaving = await connect("/custom");
    leaving.disconnect();
    const dropped = await connect();
    dropped.io.engine.close();
    await sleep(300);
    const observer = await connect();
    const [serverSide] = await ack(observer, "reasons");
    observer.disconnect();
    return { reasons, serverSide };
  },
  async large() {
    const socket = await connect();
    const text = "x".repeat(300 * 1000);
    const bin = Buffer.alloc(300 * 1000, 7);
    socket.emit("message", text, bin);
    const [backText, backBin] = await once(socket, "message-back");
    socket.disconnect();
    return { text: backText.length, bin: backBin.length, binOk: Buffer.compare(backBin, bin) === 0 };
  },
  async ordering() {
    const sockets = await Promise.all(Array.from({ length: 20 }, () => connect()));
    const perSocket = await Promise.all(
      sockets.map(
        (s) =>
          new Promise((resolve) => {
            const seen = [];
            s.on("seq", (i) => {
              seen.push(i);
              if (seen.length === 200) resolve(seen.every((v, k) => v === k));
            });
            s.emit("sequence", 200);
          }),
      ),
    );
    // Client to server order: 200 messages echoed back in order.
    const echoes = [];
    const socket = sockets[0];
    const done = new Promise((resolve) =>
      socket.on("message-back", (i) => {
        echoes.push(i);
        if (echoes.length === 200) resolve();
      }),
    );
    for (let i = 0; i < 200; i++) socket.emit("message", i);
    await done;
    const [count] = await ack(socket, "count");
    sockets.forEach((s) => s.disconnect());
    return { inOrder: perSocket.every(Boolean), echoesInOrder: echoes.every((v, k) => v === k), count };
  },
};

(async () => {
  const report = { mode };
  const only = process.argv[4];
  for (const [name, run] of Object.entries(scenarios)) {
    if (only && name !== only) continue;
    try {
      report[name] = await run();
    } catch (error) {
      report[name] = { error: String(error && error.stack) };
    }
  }
  process.stdout.write(JSON.stringify(report));
  process.exit(0);
})();
