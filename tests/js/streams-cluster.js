// Joins `io` to a cluster on the streams adapter (`@socket.io/redis-streams-adapter`) when
// `REDIS_URL` is set; alone otherwise.
"use strict";

async function joinStreamsCluster(io) {
  if (!process.env.REDIS_URL) return;
  const { createClient } = require("redis");
  const { createAdapter } = require("@socket.io/redis-streams-adapter");
  const client = createClient({ url: process.env.REDIS_URL });
  client.on("error", (err) => console.error("redis:", err.message));
  await client.connect();
  io.adapter(createAdapter(client));
}

module.exports = { joinStreamsCluster };
