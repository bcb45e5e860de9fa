import { stat } from 'node:fs/promises';

import { loadModel, saveModel } from '../onnx/model-file.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { helpText, parseOptions, type OptionSpec } from './args.js';
import { requireString } from './common.js';

const SPEC: OptionSpec = {
  model: { type: 'string', help: 'a model file, or a checkpoint folder (required)', value: 'MODEL.onnx|DIR' },
  out: { type: 'string', help: 'the ONNX file to write (required)', value: 'FILE.onnx' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

export async function runExport(argv: string[]): Promise<number> {
  const v = parseOptions('export', argv, SPEC);
  if (v.help) {
    process.stdout.write(helpText('export', 'Writes a model or a training checkpoint as one ONNX file (runnable by onnxruntime-node; vocabulary, tokenizer and labels in its metadata).', SPEC));
    return 0;
  }
  const source = requireString(v, 'model', 'export');
  const out = requireString(v, 'out', 'export');
  const isDir = await stat(source).then((s) => s.isDirectory(), () => false);
  const model = isDir ? (await loadCheckpoint(source)).model : await loadModel(source);
  await saveModel(out, model);
  process.stderr.write(`wrote ${out}\n`);
  return 0;
}
