// Drives connection state recovery with the official client:
// `node recovery-client.js PROXY_URL DIRECT_URL TRANSPORT`. Client A goes through the
// test's proxy, client B straight to the server. When the driver prints `cut` the test cuts
// every connection of the proxy and answers `ok` on stdin; `restart` restarts the server.
// Prints a JSON report of what each client saw; the test compares it with what it expects.
"use strict";

const { io } = require("socket.io-client");
const readline = require("readline");

const [proxyUrl, directUrl, transport] = process.argv.slice(2);
const lines = readline.createInterface({ input: process.stdin });
const answers = [];
let answered = null;
lines.on("line", (line) => {
  answers.push(line);
  if (answered) answered();
});
// Asks the test for `what` and waits for its answer.
async function ask(what) {
  console.log(what);
  while (answers.length === 0) await new Promise((resolve) => (answered = resolve));
  answered = null;
  return answers.shift();
}

const timeout = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref());
const within = (promise, what, ms = 20000) => Promise.race([promise, timeout(ms, what)]);

function client(url) {
  const socket = io(url, {
    transports: [transport],
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 300,
    randomizationFactor: 0,
  });
  socket.ticks = [];
  socket.welcomes = [];
  socket.waiters = [];
  const wake = () => (socket.waiters = socket.waiters.filter((waiter) => !waiter()));
  // The official client hands the offset to listeners as an extra argument.
  socket.on("tick", (i) => {
    socket.ticks.push(i);
    wake();
  });
  socket.on("welcome", (welcome) => {
    socket.welcomes.push({ ...welcome, recovered: socket.recovered });
    wake();
  });
  socket.until = (done, what) =>
    within(
      new Promise((resolve) => {
        if (done()) return resolve();
        socket.waiters.push(() => done() && (resolve(), true));
      }),
      what,
    );
  return socket;
}

let a, b;

async function main() {
  a = client(proxyUrl);
  b = client(directUrl);
  await a.until(() => a.welcomes.length === 1, "A's welcome");
  await b.until(() => b.welcomes.length === 1, "B's welcome");
  await within(a.emitWithAck("join", "r"), "join");
  await within(b.emitWithAck("join", "r"), "join");
  await within(a.emitWithAck("set", "va"), "set");
  const report = { before: await within(a.emitWithAck("whoami"), "whoami") };

  // Room broadcasts: A is cut in the middle, B is not.
  const n = 40;
  a.emit("start", "r", n, 25);
  await a.until(() => a.ticks.length >= 10, "ten ticks");
  await ask("cut");
  await a.until(() => a.welcomes.length === 2 && a.ticks.length >= n, "A's recovery and every tick");
  await b.until(() => b.ticks.length >= n, "B's ticks");
  report.room = { a: a.ticks, b: b.ticks };
  report.after = await within(a.emitWithAck("whoami"), "whoami");

  // Direct emits, across another cut.
  a.ticks = [];
  a.emit("start-direct", 30, 25);
  await a.until(() => a.ticks.length >= 10, "ten direct ticks");
  await ask("cut");
  await a.until(() => a.welcomes.length === 3 && a.ticks.length >= 30, "every direct tick");
  report.direct = a.ticks;
  report.afterDirect = await within(a.emitWithAck("whoami"), "whoami");

  // A restarted server knows no session: a new socket.
  await ask("restart");
  await a.until(() => a.welcomes.length === 4, "the welcome of a restarted server");
  report.welcomes = a.welcomes;
  report.lateTicks = { a: a.ticks.length, b: b.ticks.length };
  a.disconnect();
  b.disconnect();
  console.log(JSON.stringify(report));
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  if (a) console.error(JSON.stringify({ a: { welcomes: a.welcomes, ticks: a.ticks }, b: { ticks: b.ticks } }));
  process.exit(1);
});
