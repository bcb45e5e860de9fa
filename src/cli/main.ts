/**
 * The `finetune` command: train, eval, predict, export, bench. Bad input gets
 * one clear message naming the file, line and problem and a non-zero exit
 * (1 for a failure, 2 for a usage error); never a stack trace (set
 * FINETUNE_DEBUG=1 for one).
 */
import { FinetuneError } from '../errors.js';
import { UsageError } from './args.js';
import { runBench } from './bench.js';
import { runEval } from './eval.js';
import { runExport } from './export.js';
import { runPredict } from './predict.js';
import { runServe } from './serve.js';
import { runTrain } from './train.js';

const USAGE = `Usage: finetune <command> [options]

Commands:
  train     train a TextCNN on labelled text (Kim 2014 CNN-rand by default)
  eval      accuracy, per-class precision/recall/F1 and confusion matrix of a model on a file
  predict   labels and probabilities for texts (--text, or one text per stdin line)
  export    write a model or a checkpoint as an ONNX file
  bench     benchmarks: kernels, data, train, infer, accuracy, serve, soak
  serve     HTTP JSON server: POST /predict, GET /health, GET /metrics

Run 'finetune <command> --help' for the options of a command.
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  train: runTrain,
  eval: runEval,
  predict: runPredict,
  export: runExport,
  bench: runBench,
  serve: (argv) => runServe(argv),
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version') {
    process.stdout.write('finetune 0.1.0\n');
    return 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`finetune: unknown command '${command}'\n\n${USAGE}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (process.env.FINETUNE_DEBUG === '1') console.error(err);
    if (err instanceof UsageError) {
      process.stderr.write(`finetune: ${err.message}\n`);
      return 2;
    }
    const coded = typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('ERR_FINETUNE_');
    if (err instanceof FinetuneError || err instanceof RangeError || err instanceof TypeError || coded) {
      process.stderr.write(`finetune ${command}: ${(err as Error).message}\n`);
      return 1;
    }
    process.stderr.write(`finetune ${command}: unexpected error: ${(err as Error)?.message ?? String(err)}\n  (set FINETUNE_DEBUG=1 for details)\n`);
    return 1;
  }
}
