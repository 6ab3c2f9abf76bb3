// Differential oracle for the Redis adapters' MessagePack: reads cases (a value described
// as JSON, binary as {"$bin": "<base64>"}, plus our encoding of it in base64) on stdin and
// answers, for each, notepack.io's encoding of the value and its decoding of ours.
"use strict";

const notepack = require("notepack.io");

const { fromDesc, toDesc } = require("./describe");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const answer = JSON.parse(input).map(({ desc, ours }) => {
    let decoded;
    try {
      decoded = { value: toDesc(notepack.decode(Buffer.from(ours, "base64"))) };
    } catch (e) {
      decoded = { error: e.message };
    }
    return { encoded: notepack.encode(fromDesc(desc)).toString("base64"), decoded };
  });
  process.stdout.write(JSON.stringify(answer));
});
