// Values as the Rust suites describe them in JSON: binary (Buffer, ArrayBuffer, typed
// arrays) as {"$bin": "<base64>"}, everything else as itself.
"use strict";

const fromDesc = (value) => {
  if (Array.isArray(value)) return value.map(fromDesc);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string" && Object.keys(value).length === 1) {
      return Buffer.from(value.$bin, "base64");
    }
    const out = {};
    for (const key of Object.keys(value)) out[key] = fromDesc(value[key]);
    return out;
  }
  return value;
};

const toDesc = (value) => {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(toDesc);
  if (value && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) out[key] = toDesc(value[key]);
    return out;
  }
  return value;
};

module.exports = { fromDesc, toDesc };
