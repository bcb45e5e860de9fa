#!/usr/bin/env node
// The executable behind `npx finetune`; the commands live in main.ts so tests can run them in-process.
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`finetune: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
