// What the Node teachers share: the command line, the input bound, tfjs's wasm backend
// (tfjs-node would download a native library at install time, which this project
// never does) and the batch loop that writes the probabilities.
//
//   node TEACHER.js IN.u8 N SIZE OUT.f32
//
// IN.u8 holds N grey SIZE x SIZE crops (row-major bytes), written by
// training/teacher_labels.py; OUT.f32 gets N x K little-endian float32 probabilities in
// the teacher's own class order.
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');

// `load()` resolves to forward(grey): grey is a float tensor [b, SIZE, SIZE, 1] of
// 0..255 values, the result a tensor [b, classes] of probabilities.
async function run(name, classes, load) {
  const [input, nArg, sizeArg, output] = process.argv.slice(2);
  const n = Number(nArg);
  const size = Number(sizeArg);
  if (!input || !output || !(n > 0) || !(size > 0 && size <= 1024)) {
    throw new Error(`usage: node ${name}.js IN.u8 N SIZE OUT.f32`);
  }
  const bytes = fs.readFileSync(input);
  if (bytes.length !== n * size * size) {
    throw new Error(`${input}: ${bytes.length} bytes, expected ${n} x ${size} x ${size}`);
  }
  const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  wasm.setWasmPaths(path.join(wasmDir, 'dist') + '/');
  await tf.setBackend('wasm');
  await tf.ready();
  const forward = await load();
  const out = new Float32Array(n * classes);
  const batch = 64;
  for (let i = 0; i < n; i += batch) {
    const b = Math.min(batch, n - i);
    const grey = new Float32Array(bytes.subarray(i * size * size, (i + b) * size * size));
    const probs = tf.tidy(() => forward(tf.tensor4d(grey, [b, size, size, 1])));
    out.set(await probs.data(), i * classes);
    probs.dispose();
    if (i % (batch * 50) === 0) process.stderr.write(`${name}: ${i + b}/${n}\n`);
  }
  fs.writeFileSync(output, Buffer.from(out.buffer));
}

function main(name, classes, load) {
  run(name, classes, load).catch((e) => {
    process.stderr.write(`${name} teacher: ${e.message}\n`);
    process.exit(1);
  });
}

module.exports = { main, tf };
