// Teacher soft labels from the npm package @vladmandic/face-api (MIT): its 7-class
// face expression network, run in Node with tfjs's wasm backend (tfjs_run.js).
//
//   node face_api.js IN.u8 N SIZE OUT.f32
//
// OUT.f32 gets N x 7 probabilities in the network's order: neutral, happy, sad, angry,
// fearful, disgusted, surprised. The network resizes each crop to 112 x 112 RGB itself
// (grey is copied to R, G, B).
'use strict';
const path = require('path');
const { main, tf } = require('./tfjs_run.js');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

main('face-api', 7, async () => {
  const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  await faceapi.nets.faceExpressionNet.loadFromDisk(modelDir);
  return (g) => faceapi.nets.faceExpressionNet.forwardInput(new faceapi.NetInput(tf.unstack(tf.tile(g, [1, 1, 1, 3]))));
});
