// The official client against a TLS server: `node tls-client.js URL CA_FILE`. Connects over
// polling then WebSocket trusting the test CA, asks for an echo, prints a JSON report.
"use strict";

const fs = require("fs");
const { io } = require("socket.io-client");

const [url, caFile] = process.argv.slice(2);
const ca = fs.readFileSync(caFile);

(async () => {
  const report = {};
  for (const transports of [["polling"], ["websocket"]]) {
    const socket = io(url, { transports, ca, forceNew: true, reconnection: false });
    try {
      await new Promise((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("connect_error", reject);
      });
      report[transports[0]] = await socket.timeout(5000).emitWithAck("echo", "over tls");
    } catch (error) {
      report[transports[0]] = { error: String(error && error.message) };
    }
    socket.close();
  }
  process.stdout.write(JSON.stringify(report));
})();
