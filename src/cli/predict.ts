import { createInterface } from 'node:readline';

import { Classifier } from '../classifier.js';
import { helpText, intOption, parseOptions, type OptionSpec } from './args.js';
import { IMPORT_OPTIONS, importOptions, printJson, requireString } from './common.js';
import { applyThreads, threadOption } from './threads.js';

const SPEC: OptionSpec = {
  model: { type: 'string', help: 'a model saved by finetune (required)', value: 'MODEL.onnx' },
  text: { type: 'string', help: 'the text to classify (default: one text per line of standard input)', value: 'TEXT' },
  ...IMPORT_OPTIONS,
  sha256: { type: 'string', help: 'refuse the model unless the file has this SHA-256', value: 'HEX' },
  'batch-size': { type: 'string', default: '64', help: 'texts per native call', value: 'N' },
  threads: { type: 'string', help: 'native threads (default: all cores)', value: 'N' },
  json: { type: 'boolean', help: 'one JSON object per text: {"label", "probabilities", "logits"}' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

export async function runPredict(argv: string[]): Promise<number> {
  const v = parseOptions('predict', argv, SPEC);
  if (v.help) {
    process.stdout.write(helpText('predict', 'Prints the predicted label of each text, in input order.', SPEC));
    return 0;
  }
  applyThreads(threadOption(v.threads));
  const batch = intOption('batch-size', v['batch-size'], 1, 4096)!;
  const clf = await Classifier.load(requireString(v, 'model', 'predict'), {
    maxBatch: batch,
    expectedSha256: v.sha256 as string | undefined,
    ...importOptions(v),
  });
  try {
    const emit = async (texts: string[]) => {
      for (const p of await clf.predict(texts)) {
        if (v.json) printJson(p);
        else process.stdout.write(`${p.label}\t${p.probabilities[p.label].toFixed(4)}\n`);
      }
    };
    if (typeof v.text === 'string') {
      await emit([v.text]);
      return 0;
    }
    let pending: string[] = [];
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
      pending.push(line);
      if (pending.length >= batch) {
        await emit(pending);
        pending = [];
      }
    }
    if (pending.length) await emit(pending);
    return 0;
  } finally {
    clf.dispose();
  }
}
