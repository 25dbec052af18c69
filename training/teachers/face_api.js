// Teacher soft labels from the npm package @vladmandic/face-api (MIT): its 7-class
// face expression network, run in Node with tfjs's wasm backend (tfjs-node would
// download a native library at install time, which this project never does).
//
//   node face_api.js IN.u8 N SIZE OUT.f32
//
// IN.u8 holds N grey SIZE x SIZE crops (row-major bytes), written by
// training/teacher_labels.py; OUT.f32 gets N x 7 little-endian float32 probabilities
// in the network's order: neutral, happy, sad, angry, fearful, disgusted, surprised.
// The network resizes each crop to 112 x 112 RGB itself (grey is copied to R, G, B).
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

async function main() {
  const [input, nArg, sizeArg, output] = process.argv.slice(2);
  const n = Number(nArg);
  const size = Number(sizeArg);
  if (!input || !output || !(n > 0) || !(size > 0 && size <= 1024)) {
    throw new Error('usage: node face_api.js IN.u8 N SIZE OUT.f32');
  }
  const bytes = fs.readFileSync(input);
  if (bytes.length !== n * size * size) {
    throw new Error(`${input}: ${bytes.length} bytes, expected ${n} x ${size} x ${size}`);
  }
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  wasm.setWasmPaths(path.join(wasmDir, 'dist') + '/');
  await tf.setBackend('wasm');
  await tf.ready();
  const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);
  const out = new Float32Array(n * 7);
  const batch = 64;
  for (let i = 0; i < n; i += batch) {
    const b = Math.min(batch, n - i);
    const grey = new Float32Array(bytes.subarray(i * size * size, (i + b) * size * size));
    const probs = tf.tidy(() => {
      const g = tf.tensor4d(grey, [b, size, size, 1]);
      return faceapi.nets.faceExpressionNet.forwardInput(new faceapi.NetInput(tf.unstack(tf.tile(g, [1, 1, 1, 3]))));
    });
    out.set(await probs.data(), i * 7);
    probs.dispose();
    if (i % (batch * 50) === 0) process.stderr.write(`face-api: ${i + b}/${n}\n`);
  }
  fs.writeFileSync(output, Buffer.from(out.buffer));
}

main().catch((e) => {
  process.stderr.write(`face-api teacher: ${e.message}\n`);
  process.exit(1);
});
