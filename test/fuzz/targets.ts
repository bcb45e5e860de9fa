/**
 * Fuzz targets: each takes bytes and runs one reader over them the way a user
 * would. Any exception must be a clean error (test/hostile/helpers.ts
 * isCleanError); anything else, a time-out per input or memory growth is a
 * finding. Seeds are valid files from test/fixtures or generated here.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

import { DataReader, type DataFormat } from '../../src/data/reader.js';
import { decodeTensorFile } from '../../src/io/tensorfile.js';
import { fromOnnx, toOnnx } from '../../src/onnx/model-file.js';
import { decodeModel, encodeModel, tensorToFloat32, tensorToInt32, tensorToInt64, type ModelProto } from '../../src/onnx/proto.js';
import { CHECKPOINT_FILE, loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { existsSync } from 'node:fs';
import { fixtures, repoRoot } from '../hostile/helpers.js';
import { tinyModel } from '../hostile/model-helpers.js';
import { fixTensorFileChecksum, Mutator, mutateTensorFileHeader } from './mutate.js';

export interface Target {
  name: string;
  seeds(work: string): Promise<Uint8Array[]>;
  /** Produces the next input from the mutator. */
  next(m: Mutator): { bytes: Uint8Array; ops: string[] };
  /** Runs the reader; throws whatever the reader throws. */
  run(bytes: Uint8Array, work: string): Promise<void>;
}

// ------------------------------------------------------------ ONNX

type ImportOnnx = (model: ModelProto, opts?: Record<string, unknown>) => unknown;
let importOnnx: ImportOnnx | null | undefined;
async function importer(): Promise<ImportOnnx | null> {
  if (importOnnx !== undefined) return importOnnx;
  const file = path.join(repoRoot, 'src', 'onnx', 'import.ts');
  importOnnx = existsSync(file) ? (((await import(/* @vite-ignore */ pathToFileURL(file).href)) as { importOnnx?: ImportOnnx }).importOnnx ?? null) : null;
  return importOnnx;
}

function onnxFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, name.name);
    if (name.isDirectory()) out.push(...onnxFiles(full));
    else if (name.name.endsWith('.onnx')) out.push(full);
  }
  return out;
}

export const onnxTarget: Target = {
  name: 'onnx',
  async seeds() {
    const files = onnxFiles(path.join(fixtures, 'onnx')).filter((f) => !f.includes(`${path.sep}external${path.sep}`));
    // Small files only (fast executions); plus one model saved by this package.
    const seeds: Uint8Array[] = files.map((f) => readFileSync(f)).filter((b) => b.length < 200_000).map((b) => new Uint8Array(b));
    seeds.push(encodeModel(toOnnx(tinyModel(1))));
    await importer();
    return seeds;
  },
  next(m) {
    return m.mutate();
  },
  async run(bytes, work) {
    const model = decodeModel(bytes, { file: 'fuzz.onnx' });
    for (const t of model.graph?.initializer ?? []) {
      for (const read of [tensorToFloat32, tensorToInt64, tensorToInt32]) {
        try {
          read(t, { modelDir: work });
        } catch (err) {
          if (!(err as { code?: string }).code?.startsWith('ERR_FINETUNE_ONNX')) throw err;
        }
      }
    }
    try {
      fromOnnx(model, 'fuzz.onnx');
    } catch (err) {
      if (!(err as { code?: string }).code?.startsWith('ERR_FINETUNE_')) throw err;
    }
    const imp = await importer();
    if (imp) await imp(model, { file: 'fuzz.onnx', modelDir: work });
  },
};

// ------------------------------------------------------------ checkpoints

export const checkpointTarget: Target = {
  name: 'checkpoint',
  async seeds(work) {
    const model = tinyModel(1);
    let total = 0;
    for (const p of model.params.values()) total += p.length;
    const dir = path.join(work, 'seed-ckpt');
    await mkdir(dir, { recursive: true });
    await saveCheckpoint(dir, {
      model,
      state: { m: new Float32Array(total).fill(0.5), v: new Float32Array(total).fill(0.25), paramSteps: new Float64Array(model.params.size).fill(3), steps: 3, seed: 7, counter: 99 },
      trainer: { loader: { version: 1 }, epoch: 1, history: [], step: 3, schedule: null, bestScore: null, badEpochs: 0 } as never,
      options: { epochs: 2, lr: 0.001 },
      data: { file: 'train.txt', size: 10, sha256: 'ab'.repeat(32) },
    });
    return [new Uint8Array(readFileSync(path.join(dir, CHECKPOINT_FILE)))];
  },
  next(m) {
    const r = m.rng.next();
    const seed = m.rng.pick((m as unknown as { seeds: Uint8Array[] }).seeds);
    // A third raw (mostly checksum/magic errors), a third with the checksum fixed, a third with a mutated header rebuilt consistently.
    if (r < 0.33) return m.mutate();
    if (r < 0.66) {
      const { bytes, ops } = m.mutate();
      return { bytes: fixTensorFileChecksum(bytes), ops: [...ops, 'fixsum'] };
    }
    return mutateTensorFileHeader(seed, m) ?? m.mutate();
  },
  async run(bytes, work) {
    decodeTensorFile(bytes, { name: 'fuzz.ftckpt' });
    // Also the checkpoint layer on top, when the container is valid.
    const dir = path.join(work, 'ckpt');
    await mkdir(dir, { recursive: true });
    writeFileSync(path.join(dir, CHECKPOINT_FILE), bytes);
    await loadCheckpoint(dir);
  },
};

// ------------------------------------------------------------ text data

const FORMATS: Array<DataFormat | 'auto'> = ['auto', 'labeled', 'csv', 'tsv', 'jsonl'];

export const dataTarget: Target = {
  name: 'data',
  async seeds() {
    const dir = path.join(fixtures, 'data');
    const seeds = readdirSync(dir).map((f) => new Uint8Array(readFileSync(path.join(dir, f)).subarray(0, 3000)));
    seeds.push(Uint8Array.from(Buffer.from('\ufefflabel,text\r\npos,"a ""quoted""\nline"\r\nneg,b\rpos,c')));
    seeds.push(Uint8Array.from(Buffer.from('{"label":1,"text":"x"}\n{"label":0,"text":"y","__proto__":{"a":1}}\n\n')));
    seeds.push(Uint8Array.from([...Buffer.from('pos caf'), 0xe9, ...Buffer.from('\nneg ok\n')]));
    return seeds;
  },
  next(m) {
    return m.mutate();
  },
  async run(bytes, work) {
    const file = path.join(work, 'data.bin');
    writeFileSync(file, bytes);
    // Vary the reader options from the content, so a saved input replays the same way.
    const h = bytes.length > 0 ? bytes[bytes.length >> 1] : 0;
    const format = FORMATS[h % FORMATS.length];
    const reader = new DataReader(file, {
      format,
      encoding: h & 8 ? 'latin1' : 'utf8',
      onError: h & 16 ? 'skip' : 'throw',
      header: !(h & 32),
      maxLineBytes: h & 64 ? 16 : 1 << 20,
      chunkSize: h & 128 ? 7 : 1 << 16,
      allowEmpty: (h & 3) === 0,
    });
    for await (const batch of reader.batches()) {
      for (const e of batch) {
        if (typeof e.text !== 'string' || typeof e.label !== 'string' || !Number.isInteger(e.line)) throw new Error(`bad example ${JSON.stringify(e)}`);
        // A quoted CSV field may hold a newline (as \n), never a CR: `pos\r` is never a label.
        if (e.label.includes('\r')) throw new Error(`a label holds a CR: ${JSON.stringify(e.label)}`);
      }
    }
  },
};

export const TARGETS: Target[] = [onnxTarget, checkpointTarget, dataTarget];
