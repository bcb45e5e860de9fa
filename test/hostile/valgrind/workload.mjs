// Workload for valgrind (memcheck): a small training run, a checkpoint round
// trip and a predict loop, through the public API of a transpiled src/
// (run-valgrind.sh makes it). Kept small: node runs ~50x slower under valgrind.
const pkg = process.argv[2];
const { compileModel } = await import(`${pkg}/src/model/program.js`);
const { textCNN } = await import(`${pkg}/src/model/graph.js`);
const steps = Number(process.argv[3] ?? 30);
const predictions = Number(process.argv[4] ?? 300);

const graph = textCNN({ vocabSize: 200, classes: 3, embedDim: 16, widths: [3, 4, 5], maps: 8, hidden: [8], dropout: 0.5 });
const batch = (b, seed) => {
  const ids = Int32Array.from({ length: b * 12 }, (_, i) => (i * 31 + seed * 7) % 200);
  return { ids, lengths: Int32Array.from({ length: b }, (_, i) => 1 + ((i + seed) % 12)), labels: Int32Array.from({ length: b }, (_, i) => (i + seed) % 3), batch: b, length: 12 };
};

// Training, with every optimizer, clipping, then state save/restore.
for (const optimizer of ['adam', 'adamw', 'sgd']) {
  const model = compileModel(graph, { maxBatch: 8, maxLength: 12, seed: 1, freeze: optimizer === 'sgd' ? ['embedding'] : [] });
  for (let s = 0; s < steps; s++) await model.trainStep(batch(8, s), { optimizer, lr: 0.01, momentum: 0.9, maxGradNorm: 1, weightDecay: 0.01 });
  const state = model.getState();
  model.setState(state);
  await model.evaluate(batch(5, 99));
  model.dispose();
}

// A predict loop (the serving path), then many create/dispose cycles.
const model = compileModel(graph, { maxBatch: 4, maxLength: 12, seed: 2 });
let sum = 0;
for (let i = 0; i < predictions; i++) sum += (await model.predict(batch(1 + (i % 4), i)))[0];
model.dispose();
for (let i = 0; i < 50; i++) {
  const m = compileModel(graph, { maxBatch: 2, maxLength: 12, seed: i });
  m.params();
  m.dispose();
  if (i % 10 === 0) await new Promise((r) => setImmediate(r));
}
globalThis.gc?.();
await new Promise((r) => setTimeout(r, 50));
console.log(`valgrind workload done (${Number.isFinite(sum) ? 'finite' : 'NON-FINITE'} logits)`);
