// Differential oracle: reads a corpus of packets (descriptions plus our encodings) on stdin,
// and answers, for each, how the reference parsers encode the description and decode our
// encoding. The Rust side compares byte for byte. Binary is {"$bin": "<base64>"}.
"use strict";

const eio = require("engine.io-parser");
const { Encoder, Decoder } = require("socket.io-parser");

const { fromDesc, toDesc } = require("./describe");

const engineFromDesc = (desc) =>
  desc.binary !== undefined
    ? { type: desc.type, data: Buffer.from(desc.binary, "base64") }
    : { type: desc.type, data: desc.data };

const engineToDesc = (packet) =>
  Buffer.isBuffer(packet.data)
    ? { type: packet.type, binary: packet.data.toString("base64") }
    : { type: packet.type, data: packet.data === undefined ? "" : packet.data };

const sync = (fn, ...args) => {
  let out;
  fn(...args, (result) => (out = result));
  return out;
};

const engineCase = ({ desc, polling, frame }) => {
  const packet = engineFromDesc(desc);
  const wsOut = sync(eio.encodePacket, packet, true);
  const ourFrame = frame.text !== undefined ? frame.text : Buffer.from(frame.binary, "base64");
  return {
    polling: sync(eio.encodePacket, packet, false),
    frame: typeof wsOut === "string" ? { text: wsOut } : { binary: Buffer.from(wsOut).toString("base64") },
    decoded_polling: engineToDesc(eio.decodePacket(polling)),
    decoded_frame: engineToDesc(eio.decodePacket(ourFrame)),
  };
};

const payloadCase = ({ descs, body }) => ({
  body: sync(eio.encodePayload, descs.map(engineFromDesc)),
  decoded: eio.decodePayload(body).map(engineToDesc),
});

const socketDecode = (text, attachments) => {
  const decoder = new Decoder();
  let decoded = null;
  decoder.on("decoded", (packet) => (decoded = packet));
  try {
    decoder.add(text);
    for (const b64 of attachments) decoder.add(Buffer.from(b64, "base64"));
  } catch (e) {
    return { error: e.message };
  }
  if (!decoded) return { error: "incomplete" };
  const out = { type: decoded.type, nsp: decoded.nsp };
  if (decoded.id !== undefined) out.id = decoded.id;
  if (decoded.data !== undefined) out.data = toDesc(decoded.data);
  return out;
};

const socketCase = ({ desc, text, attachments }) => {
  const packet = { type: desc.type, nsp: desc.nsp };
  if (desc.id !== undefined) packet.id = desc.id;
  if (desc.data !== undefined) packet.data = fromDesc(desc.data);
  const [refText, ...buffers] = new Encoder().encode(packet);
  return {
    text: refText,
    attachments: buffers.map((b) => Buffer.from(b).toString("base64")),
    decoded: socketDecode(text, attachments),
  };
};

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const corpus = JSON.parse(input);
  const answer = {
    engine: corpus.engine.map(engineCase),
    payloads: corpus.payloads.map(payloadCase),
    socket: corpus.socket.map(socketCase),
    refused: corpus.refused.map(({ text, attachments }) => socketDecode(text, attachments)),
  };
  process.stdout.write(JSON.stringify(answer));
});
