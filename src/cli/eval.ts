import { encodeFile } from '../data/dataset.js';
import { LabelMap } from '../data/labels.js';
import { Tokenizer } from '../data/tokenizer.js';
import { formatMetrics } from '../train/metrics.js';
import { evaluate } from '../train/trainer.js';
import { compileModel } from '../model/program.js';
import { importOnnxFile } from '../onnx/import.js';
import { helpText, parseOptions, type OptionSpec } from './args.js';
import { IMPORT_OPTIONS, importOptions, printJson, READ_OPTIONS, readOptions, requireString } from './common.js';
import { applyThreads, threadOption } from './threads.js';


const SPEC: OptionSpec = {
  model: { type: 'string', help: 'a model saved by finetune (required)', value: 'MODEL.onnx' },
  data: { type: 'string', help: 'labelled data to evaluate on (required)', value: 'FILE' },
  ...READ_OPTIONS,
  sha256: { type: 'string', help: 'refuse the model unless the file has this SHA-256', value: 'HEX' },
  ...IMPORT_OPTIONS,
  'max-length': { type: 'string', default: '256', help: 'longest text in tokens (longer ones are cut)', value: 'N' },
  threads: { type: 'string', help: 'native threads (default: all cores)', value: 'N' },
  json: { type: 'boolean', help: 'print one JSON object with the figures' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

export async function runEval(argv: string[]): Promise<number> {
  const v = parseOptions('eval', argv, SPEC);
  if (v.help) {
    process.stdout.write(helpText('eval', 'Accuracy, per-class precision/recall/F1, macro-F1 and the confusion matrix of a model on labelled data.', SPEC));
    return 0;
  }
  applyThreads(threadOption(v.threads));
  const saved = await importOnnxFile(requireString(v, 'model', 'eval'), {
    expectedSha256: v.sha256 as string | undefined,
    ...importOptions(v),
  });
  const labels = LabelMap.fromNames(saved.labels);
  const { dataset, summary } = await encodeFile(requireString(v, 'data', 'eval'), {
    read: readOptions(v),
    tokenizer: new Tokenizer(saved.tokenizer),
    vocab: saved.vocab,
    labels,
  });
  const model = compileModel(saved.graph, { maxBatch: 256, maxLength: Number(v['max-length']), params: saved.params });
  try {
    const m = await evaluate(model, dataset, labels.names, { padId: saved.vocab.padId });
    if (v.json) printJson({ accuracy: m.accuracy, macroF1: m.macroF1, loss: m.loss, examples: m.examples, perClass: m.perClass, confusion: m.confusion, skipped: summary.skipped });
    else process.stdout.write(`${formatMetrics(m)}\n`);
  } finally {
    model.dispose();
  }
  return 0;
}
