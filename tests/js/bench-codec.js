// The reference side of the codec benchmark: `node bench-codec.js INPUTS.json`. Times
// engine.io-parser + socket.io-parser on the same inputs as the Rust side and prints one
// JSON line per measurement: {"case", "op", "ns"}.
"use strict";

const fs = require("fs");
const eio = require("engine.io-parser");
const { Encoder, Decoder, PacketType } = require("socket.io-parser");

const inputs = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const encoder = new Encoder();

/** ns per call of `fn`: the best of 7 rounds after a warm-up, as on the Rust side. */
const measure = (fn) => {
  let batch = 1;
  const warmUntil = process.hrtime.bigint() + 200_000_000n;
  while (process.hrtime.bigint() < warmUntil) {
    for (let i = 0; i < batch; i++) fn();
    batch = Math.min(batch * 2, 1 << 20);
  }
  const rounds = [];
  for (let r = 0; r < 7; r++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    let now = start;
    while (now - start < 100_000_000n) {
      for (let i = 0; i < batch; i++) fn();
      calls += batch;
      now = process.hrtime.bigint();
    }
    rounds.push(Number(now - start) / calls);
  }
  rounds.sort((a, b) => a - b);
  return rounds[0];
};

const frameOf = (frame) => (frame.text !== undefined ? frame.text : Buffer.from(frame.binary, "base64"));
let sink = 0;

/** Decodes engine frames (WebSocket form) into Socket.IO packets. */
const decodeFrames = (frames) => {
  const decoder = new Decoder();
  let out = null;
  decoder.on("decoded", (packet) => (out = packet));
  for (const frame of frames) {
    const packet = eio.decodePacket(frame, "nodebuffer");
    decoder.add(packet.data);
  }
  sink += out.data.length;
};

/** Encodes a Socket.IO packet into engine frames (WebSocket form). */
const encodeFrames = (packet) => {
  for (const part of encoder.encode(packet)) {
    eio.encodePacket({ type: "message", data: part }, true, (encoded) => (sink += encoded.length));
  }
};

for (const input of inputs) {
  if (input.kind === "frames") {
    const frames = input.frames.map(frameOf);
    const data = JSON.parse(input.json);
    const replace = (v) =>
      v && typeof v === "object" && v.$bin !== undefined ? Buffer.from(v.$bin, "base64")
      : Array.isArray(v) ? v.map(replace)
      : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replace(x)]))
      : v;
    const packet = { type: PacketType.EVENT, nsp: input.nsp, data: replace(data) };
    if (input.id !== null) packet.id = input.id;
    console.log(JSON.stringify({ case: input.name, op: "decode", ns: measure(() => decodeFrames(frames)) }));
    console.log(JSON.stringify({ case: input.name, op: "encode", ns: measure(() => encodeFrames(packet)) }));
  } else {
    const body = input.body;
    const packets = input.packets.map((p) =>
      p.binary !== undefined ? { type: "message", data: Buffer.from(p.binary, "base64") } : { type: p.type, data: p.data },
    );
    const decode = () => {
      const decoder = new Decoder();
      decoder.on("decoded", (packet) => (sink += packet.type));
      for (const packet of eio.decodePayload(body, "nodebuffer")) {
        if (packet.type === "message") decoder.add(packet.data);
      }
    };
    console.log(JSON.stringify({ case: input.name, op: "decode", ns: measure(decode) }));
    console.log(JSON.stringify({ case: input.name, op: "encode", ns: measure(() => eio.encodePayload(packets, (s) => (sink += s.length))) }));
  }
}
if (sink === 42) console.error("");
