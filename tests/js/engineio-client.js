// Drives the reference engine.io-client against a server: `node engineio-client.js URL MODE`
// with MODE polling | websocket | upgrade. Exchanges text and binary messages, stays
// connected across several heartbeats, closes, and prints a JSON report on stdout.
"use strict";

const { Socket } = require("engine.io-client");

const [url, mode] = process.argv.slice(2);
const transports = { polling: ["polling"], websocket: ["websocket"], upgrade: ["polling", "websocket"] }[mode];
const socket = new Socket(url, { transports, upgrade: mode === "upgrade", path: "/engine.io/" });

const report = { mode, openTransport: null, upgraded: false, finalTransport: null, echoes: [], pings: 0, closeReason: null };
const sent = [
  "hello",
  "unicode: héllo wörld € 🎉",
  Buffer.from([0, 1, 2, 253, 254, 255]),
  "x".repeat(300 * 1000),
  Buffer.alloc(200 * 1000, 7),
];
const fail = (why) => {
  report.error = why;
  process.stdout.write(JSON.stringify(report));
  process.exit(1);
};
setTimeout(() => fail("timed out"), 15000).unref();

const describe = (data) =>
  typeof data === "string"
    ? { text: data.length > 64 ? `${data.slice(0, 16)}...(${data.length} chars)` : data }
    : { binary: data.length > 64 ? `(${data.length} bytes, sum ${data.reduce((a, b) => a + b, 0)})` : [...data] };

const sendAll = () => sent.forEach((data) => socket.send(data));

socket.on("open", () => {
  report.openTransport = socket.transport.name;
  if (mode !== "upgrade") sendAll();
});
socket.on("upgrade", (transport) => {
  report.upgraded = true;
  sendAll();
});
socket.on("ping", () => report.pings++);
socket.on("message", (data) => {
  report.echoes.push(describe(data));
  if (report.echoes.length === sent.length) {
    // Stay through several heartbeats (pingInterval is 300 ms), then close cleanly.
    setTimeout(() => {
      report.finalTransport = socket.transport.name;
      socket.close();
    }, 1200);
  }
});
socket.on("close", (reason) => {
  report.closeReason = reason;
  report.expected = sent.map(describe);
  process.stdout.write(JSON.stringify(report));
  process.exit(0);
});
socket.on("error", (error) => fail(String(error)));
