// Decodes smp's "hdr-v2" histograms with hdr-histogram-js (HdrHistogram's
// TypeScript port) and prints what that library computes from them.
// Usage: node hdrjs.js <dir holding node_modules> < cases.json
// cases.json: {"percentiles": [..], "histograms": ["HISTF...", ...]}
"use strict";
const path = require("path");
const hdr = require(path.join(process.argv[2], "node_modules", "hdr-histogram-js"));

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  const req = JSON.parse(input);
  const out = req.histograms.map((data) => {
    // 64-bit buckets: counts beyond 2^32 stay exact (to 2^53).
    const h = hdr.decodeFromCompressedBase64(data, 64, false);
    return {
      count: h.totalCount,
      max: h.maxValue,
      percentiles: req.percentiles.map((p) => h.getValueAtPercentile(p)),
    };
  });
  process.stdout.write(JSON.stringify(out));
});
