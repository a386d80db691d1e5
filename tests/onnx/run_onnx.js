// Runs an ONNX model in onnxruntime (an independent runtime) on inputs from a
// JSON file and writes its outputs as JSON: the tests compare them with
// refinery's own evaluation (tests/test_surrogate.cpp).
//   node run_onnx.js MODEL.onnx INPUTS.json OUTPUTS.json
// INPUTS.json: {"name": {"dims": [n, k], "data": [...]}, ...} (float32)
// OUTPUTS.json: {"name": {"dims": [...], "data": [...]}, ...} (float32,
//                double and int64 outputs, all as JSON numbers)
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, inputs, outputs] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model);
  const given = JSON.parse(fs.readFileSync(inputs, 'utf8'));
  const feeds = {};
  for (const [name, t] of Object.entries(given)) feeds[name] = new ort.Tensor('float32', Float32Array.from(t.data), t.dims);
  const results = await session.run(feeds);
  const out = {};
  for (const [name, t] of Object.entries(results))
    out[name] = {dims: Array.from(t.dims), data: Array.from(t.data, (v) => (typeof v === 'bigint' ? Number(v) : v))};
  fs.writeFileSync(outputs, JSON.stringify(out));
}

main().catch((e) => {
  console.error('run_onnx.js: ' + e.message);
  process.exit(1);
});
