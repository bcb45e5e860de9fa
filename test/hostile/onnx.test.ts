/**
 * HAZARDS.md, "ONNX files (treat every model file as hostile)", through the
 * public readers: loadModel (our saved models), decodeModelFile / decodeModel
 * and tensorToFloat32 (any ONNX file), and src/onnx/import.ts when present.
 * test/onnx/proto.test.ts covers the wire codec case by case; here each hazard
 * is checked end to end: clean error, field or file named, memory bounded.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FinetuneError } from '../../src/errors.js';
import { OnnxFormatError } from '../../src/onnx/errors.js';
import { loadModel, ModelFileError, saveModel } from '../../src/onnx/model-file.js';
import {
  createNode,
  createTensor,
  DataType,
  DATA_LOCATION_EXTERNAL,
  decodeModel,
  decodeModelFile,
  encodeModel,
  tensorToFloat32,
  type ModelProto,
  type TensorProto,
} from '../../src/onnx/proto.js';
import { expectClean, fixtures, isCleanError, peakRssGrowth, Prng, rejected, removeTempDirs, repoRoot, sha256File, tempDir, thrown } from './helpers.js';
import { bytesOf, tinyModel, tinyOnnx, TOKENS, withMeta, withoutMeta } from './model-helpers.js';

afterAll(removeTempDirs);

const FOREIGN = path.join(fixtures, 'onnx', 'sst2_tiny_conv1d.opset13.onnx');
let dir: string;
beforeAll(async () => {
  dir = await tempDir();
});

let n = 0;
function write(bytes: Uint8Array | string, name = `m${n++}.onnx`): string {
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

/** loadModel must reject cleanly; the message names the file. Returns the error. */
async function refusedModel(bytes: Uint8Array | string, message?: RegExp): Promise<Error & { code: string }> {
  const file = write(bytes);
  const err = expectClean(await rejected(loadModel(file)), { message: message ? [message] : [] });
  expect(err.message).toContain(file);
  return err;
}

function init(model: ModelProto, name: string): TensorProto {
  const t = model.graph!.initializer.find((x) => x.name === name);
  if (!t) throw new Error(`no initializer ${name}`);
  return t;
}

describe('loadModel: files that are not models', () => {
  it('a missing file, a folder, an empty file, a truncated file, random bytes', async () => {
    expectClean(await rejected(loadModel(path.join(dir, 'missing.onnx'))), { code: 'ERR_FINETUNE_MODEL_FILE', message: /missing\.onnx/ });
    expectClean(await rejected(loadModel(dir)), { message: [new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))] });
    await refusedModel(new Uint8Array(0), /empty file/);
    const good = bytesOf(tinyOnnx());
    for (const cut of [1, 7, 100, good.length >> 1, good.length - 1]) await refusedModel(good.subarray(0, cut));
    const rng = new Prng(9);
    for (let i = 0; i < 20; i++) await refusedModel(Uint8Array.from({ length: rng.int(1, 4000) }, () => rng.int(0, 255)));
  });

  it('a JSON file, a text file, a tensor file renamed .onnx', async () => {
    await refusedModel('{"graph": {}}');
    await refusedModel('hello world\n');
    await refusedModel(Buffer.concat([Buffer.from('FTCKPT01'), Buffer.alloc(100)]));
  });

  it('an ONNX model exported elsewhere: says to pass --vocab', async () => {
    const err = expectClean(await rejected(loadModel(FOREIGN)), { code: 'ERR_FINETUNE_MODEL_FILE', message: /--vocab/ });
    expect(err.message).toContain(FOREIGN);
  });

  it('a checksum given by the user that does not match is refused before parsing', async () => {
    const file = write(bytesOf(tinyOnnx()));
    expectClean(await rejected(loadModel(file, { expectedSha256: '0'.repeat(64) })), { code: 'ERR_FINETUNE_MODEL_FILE', message: /SHA-256/ });
    expectClean(await rejected(loadModel(file, { expectedSha256: 'not hex' })), { message: /64 hexadecimal/ });
    // Garbage with the right digest gets past the checksum and is then refused by the parser.
    const junk = write(Buffer.from('garbage'));
    expectClean(await rejected(loadModel(junk, { expectedSha256: sha256File(junk) })), { code: 'ERR_FINETUNE_ONNX_FORMAT' });
    await expect(loadModel(file, { expectedSha256: sha256File(file).toUpperCase() })).resolves.toBeTruthy();
  });
});

describe('loadModel: our metadata, hostile', () => {
  const META = ['finetune.graph', 'finetune.vocab', 'finetune.specials', 'finetune.tokenizer', 'finetune.labels'];

  it('each metadata entry missing or not JSON names the key and the file', async () => {
    for (const key of META) {
      await refusedModel(bytesOf(withoutMeta(tinyOnnx(), key)), new RegExp(`${key.replace('.', '\\.')}' is missing`));
      await refusedModel(bytesOf(withMeta(tinyOnnx(), key, '{not json')), new RegExp(`${key.replace('.', '\\.')}' is not valid JSON`));
    }
  });

  it('each metadata entry replaced by JSON of the wrong shape is a clean error', async () => {
    const values = ['null', '0', '-1', '1e400', '"x"', 'true', '[]', '{}', '[null]', '[1,2]', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '"__proto__"', JSON.stringify('a'.repeat(10_000))];
    let refused = 0;
    for (const key of META) {
      for (const v of values) {
        const file = write(bytesOf(withMeta(tinyOnnx(), key, v)));
        try {
          await loadModel(file);
        } catch (err) {
          refused++;
          if (!isCleanError(err)) throw new Error(`${key} = ${v.slice(0, 40)}: unclean error ${(err as Error)?.stack}`);
        }
      }
    }
    expect(refused).toBeGreaterThan(40);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  // FINDING (see the report): errors from Vocabulary.fromTokens and Tokenizer.fromJSON escape
  // fromOnnx unwrapped (VocabError / DataStateError), so the message does not say which file
  // (nor which metadata key) is bad: "duplicate token "good" at ids 2 and 5".
  it('a bad vocabulary, specials or tokenizer in the metadata names the file', async () => {
    for (const v of ['{"pad": 5}', '{"unk": {"x": 1}}', '{"pad": "<unk>"}']) await refusedModel(bytesOf(withMeta(tinyOnnx(), 'finetune.specials', v)));
    await refusedModel(bytesOf(withMeta(tinyOnnx(), 'finetune.vocab', JSON.stringify([...TOKENS.slice(0, 5), 'good']))));
    await refusedModel(bytesOf(withMeta(tinyOnnx(), 'finetune.vocab', JSON.stringify([...TOKENS.slice(0, 5), 7]))));
    await refusedModel(bytesOf(withMeta(tinyOnnx(), 'finetune.tokenizer', '{"mode":"bpe"}')));
  });

  it('__proto__ and constructor keys in graph, tokenizer and labels never touch prototypes', async () => {
    const m = tinyModel();
    const graph = JSON.parse(JSON.stringify(m.graph)) as Record<string, unknown>;
    const polluting = `{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},${JSON.stringify(graph).slice(1)}`;
    const tokenizer = '{"__proto__":{"mode":"kim","polluted":"yes"},"mode":"whitespace"}';
    const file = write(bytesOf(withMeta(withMeta(tinyOnnx(), 'finetune.graph', polluting), 'finetune.tokenizer', tokenizer)));
    const loaded = await loadModel(file).catch((e: unknown) => e);
    if (loaded instanceof Error) expectClean(loaded);
    else expect((loaded as { tokenizer: { mode: string } }).tokenizer.mode).toBe('whitespace');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // A label called __proto__ is just a label.
    const labelled = await loadModel(write(bytesOf(withMeta(tinyOnnx(), 'finetune.labels', '["__proto__","constructor"]'))));
    expect(labelled.labels).toEqual(['__proto__', 'constructor']);
  });

  // FINDING (see the report): fromOnnx checks that labels is an array of strings but not that it has
  // one name per class of the graph; a 2-class model with 3 (or 1) label names loads, and the
  // Classifier then reports labels that do not belong to the logits.
  it('a label list whose length differs from the classifier classes is refused', async () => {
    await refusedModel(bytesOf(withMeta(tinyOnnx(), 'finetune.labels', '["neg","pos","neutral"]')), /label/);
    await refusedModel(bytesOf(withMeta(tinyOnnx(), 'finetune.labels', '["only"]')), /label/);
  });

  it('an embedding whose row count differs from the vocabulary names both sizes', async () => {
    await refusedModel(bytesOf(withMeta(tinyOnnx(), 'finetune.vocab', JSON.stringify(TOKENS.slice(0, 6)))), /embedding has 12 rows but the vocabulary 6/);
  });

  it('a graph that differs from the initializers: shapes named, initializer named', async () => {
    const m = tinyModel();
    const g = JSON.parse(JSON.stringify(m.graph)) as { layers: Array<Record<string, unknown>> };
    g.layers[0].dim = 5;
    const err = await refusedModel(bytesOf(withMeta(tinyOnnx(), 'finetune.graph', JSON.stringify(g))), /dims \[12, 4\] but the graph needs \[12, 5\]/);
    expect((err as OnnxFormatError).path).toMatch(/embedding\.weight/);
    const g2 = JSON.parse(JSON.stringify(m.graph)) as { layers: Array<Record<string, unknown>> };
    g2.layers[0].vocabSize = 2 ** 40;
    await refusedModel(bytesOf(withMeta(tinyOnnx(), 'finetune.graph', JSON.stringify(g2))));
    const g3 = JSON.parse(JSON.stringify(m.graph)) as { layers: Array<Record<string, unknown>> };
    g3.layers.splice(1, 1);
    await refusedModel(bytesOf(withMeta(tinyOnnx(), 'finetune.graph', JSON.stringify(g3))), /graph is invalid/);
  });

  // FINDING (see the report): the dims check in fromOnnx (src/onnx/model-file.ts) puts the
  // initializer's name only in OnnxFormatError.path; the message (what the CLI prints) says
  // "initializer has dims [12, 4] but the graph needs [12, 5]" without saying which one.
  it('a dims mismatch names the initializer in the message', async () => {
    const g = JSON.parse(JSON.stringify(tinyModel().graph)) as { layers: Array<Record<string, unknown>> };
    g.layers[0].dim = 5;
    await refusedModel(bytesOf(withMeta(tinyOnnx(), 'finetune.graph', JSON.stringify(g))), /embedding\.weight/);
  });

  it('initializers: missing, float16 / int64 / string / double where float32 is needed, named', async () => {
    const missing = tinyOnnx();
    missing.graph!.initializer = missing.graph!.initializer.filter((t) => t.name !== 'conv1.bias');
    await refusedModel(bytesOf(missing), /initializer 'conv1\.bias' is missing/);
    for (const [dataType, name] of [
      [DataType.FLOAT16, 'float16'],
      [DataType.INT64, 'int64'],
      [DataType.STRING, 'string'],
      [DataType.DOUBLE, 'float64'],
    ] as const) {
      const m = tinyOnnx();
      init(m, 'classifier.weight').dataType = dataType;
      await refusedModel(bytesOf(m), new RegExp(`classifier\\.weight.*data_type is ${name}`));
    }
  });

  it('raw_data one byte off, or 4 bytes for a [1e6, 1e6] tensor: refused before allocating, RSS < 10 MB', async () => {
    const short = tinyOnnx();
    const w = init(short, 'embedding.weight');
    w.rawData = w.rawData!.subarray(0, w.rawData!.length - 1);
    await refusedModel(bytesOf(short), /embedding\.weight.*raw_data holds 191 bytes but dims \[12, 4\] x float32 need 192 bytes/);
    const huge = tinyOnnx();
    const e = init(huge, 'embedding.weight');
    e.dims = [1e6, 1e6];
    e.rawData = new Uint8Array(4);
    const file = write(bytesOf(huge));
    const { value, growthMiB } = await peakRssGrowth(() => rejected(loadModel(file)));
    expectClean(value, { code: 'ERR_FINETUNE_ONNX_FORMAT', message: /raw_data holds 4 bytes but dims \[1000000, 1000000\]/ });
    expect(growthMiB).toBeLessThan(10);
  });

  it('dims negative, overflowing 64 bits, or not integers', async () => {
    for (const dims of [[-12, 4], [12, -4], [2 ** 40, 2 ** 40], [2 ** 52, 2 ** 11], [0, 4]]) {
      const m = tinyOnnx();
      init(m, 'embedding.weight').dims = dims;
      await refusedModel(bytesOf(m), /embedding\.weight/);
    }
  });

  it('external data on an initializer: never read from a saved model (no model folder), wherever it points', async () => {
    for (const location of ['../x', '/etc/passwd', 'a/../../x', 'weights.bin', '']) {
      const m = tinyOnnx();
      const t = init(m, 'classifier.bias');
      t.rawData = undefined;
      t.dataLocation = DATA_LOCATION_EXTERNAL;
      t.externalData = [{ key: 'location', value: location }];
      await refusedModel(bytesOf(m), /classifier\.bias/);
    }
  });
});

describe('decodeModelFile + tensorToFloat32: external data stays inside the model folder', () => {
  let modelDir: string;
  let outside: string;
  beforeAll(async () => {
    const root = await tempDir();
    modelDir = path.join(root, 'model');
    mkdirSync(modelDir);
    outside = path.join(root, 'secret.bin');
    writeFileSync(outside, Buffer.from(new Float32Array([13, 13, 13]).buffer));
    writeFileSync(path.join(modelDir, 'ok.bin'), Buffer.from(new Float32Array([1, 2, 3]).buffer));
    symlinkSync(outside, path.join(modelDir, 'link.bin'));
    linkSync(outside, path.join(modelDir, 'hard.bin'));
  });

  const ext = (entries: Record<string, string>, dims = [3]): TensorProto =>
    createTensor({ name: 'w', dims, dataType: DataType.FLOAT, dataLocation: DATA_LOCATION_EXTERNAL, externalData: Object.entries(entries).map(([key, value]) => ({ key, value })) });

  it('reads a file inside', () => {
    expect(Array.from(tensorToFloat32(ext({ location: 'ok.bin' }), { modelDir }))).toEqual([1, 2, 3]);
  });

  const refused: Array<[string, Record<string, string>, RegExp, number[]?]> = [
    ['../x', { location: '../secret.bin' }, /'\.\.' segment/],
    ['an absolute path', { location: '/etc/passwd' }, /absolute path/],
    ['a/../../x', { location: 'a/../../secret.bin' }, /'\.\.' segment/],
    ['a symlink pointing outside', { location: 'link.bin' }, /outside|link/],
    ['a hard link to a file outside', { location: 'hard.bin' }, /link/],
    ['a Windows drive path', { location: 'C:\\secret.bin' }, /absolute/],
    ['a NUL byte', { location: 'ok.bin\0../../secret.bin' }, /NUL/],
    ['an offset past the end', { location: 'ok.bin', offset: '13' }, /offset|past|end/],
    ['a length past the end', { location: 'ok.bin', length: '16' }, /length|past|end|bytes/],
    ['an offset overflowing 64 bits', { location: 'ok.bin', offset: '18446744073709551616' }, /64 bits/],
    ['an offset in hex', { location: 'ok.bin', offset: '0x4' }, /plain decimal/],
    ['a negative length', { location: 'ok.bin', length: '-12' }, /plain decimal/],
    ['a length of 1e3', { location: 'ok.bin', length: '1e3' }, /plain decimal/],
    ['dims that need more than the file', { location: 'ok.bin' }, /bytes/, [1e6, 1e6]],
  ];
  for (const [what, entries, message, dims] of refused) {
    it(`refuses ${what}; no byte of the outside file reaches a tensor`, () => {
      const err = expectClean(thrown(() => tensorToFloat32(ext(entries, dims), { modelDir })), { code: 'ERR_FINETUNE_ONNX_FORMAT', message });
      expect(err).toBeInstanceOf(OnnxFormatError);
    });
  }

  it('an empty or missing model folder is refused', () => {
    expectClean(thrown(() => tensorToFloat32(ext({ location: 'ok.bin' }), { modelDir: '' })), { code: 'ERR_FINETUNE_ONNX_FORMAT' });
    expectClean(thrown(() => tensorToFloat32(ext({ location: 'ok.bin' }))), { code: 'ERR_FINETUNE_ONNX_FORMAT' });
    expectClean(thrown(() => tensorToFloat32(ext({ location: 'ok.bin' }), { modelDir: path.join(modelDir, 'nope') })), { code: 'ERR_FINETUNE_ONNX_FORMAT' });
  });
});

describe('decodeModel: graphs this package cannot use still decode or fail cleanly', () => {
  it('deeply nested subgraphs (If inside If, 10,000 deep) are a clean depth error, not a stack overflow', () => {
    // A NodeProto attribute (field 5) holding a GraphProto (field 6 of AttributeProto) holding a node...
    let inner: Uint8Array = new Uint8Array(0);
    const len = (n: number): number[] => {
      const out: number[] = [];
      while (n > 127) {
        out.push((n & 127) | 128);
        n >>>= 7;
      }
      out.push(n);
      return out;
    };
    const wrap = (field: number, body: Uint8Array): Uint8Array => Uint8Array.from([(field << 3) | 2, ...len(body.length), ...body]);
    for (let i = 0; i < 2000; i++) inner = wrap(1, wrap(5, wrap(6, inner))); // graph.node.attribute.g
    const model = Uint8Array.from([0x08, 0x07, ...wrap(7, inner), ...wrap(8, Uint8Array.from([0x10, 0x0d]))]);
    expectClean(thrown(() => decodeModel(model)), { code: 'ERR_FINETUNE_ONNX_FORMAT', message: /deep|depth|nest/ });
  });

  it('If/Loop nodes and unknown ops decode (the importer must name them); a flood of nodes hits the item limit', () => {
    const m = decodeModel(readFileSync(FOREIGN));
    m.graph!.node.push(createNode({ opType: 'If', input: ['x'], output: ['y'] }), createNode({ opType: 'Loop' }), createNode({ opType: 'FancyAttention', domain: 'com.evil' }));
    const back = decodeModel(encodeModel(m));
    expect(back.graph!.node.slice(-3).map((x) => x.opType)).toEqual(['If', 'Loop', 'FancyAttention']);
    const flood = new Uint8Array(6_000_000);
    for (let i = 0; i < flood.length; i += 2) flood.set([0x12, 0x00], i); // 3M empty `node` entries... of a ModelProto's field 2 (producer_name) strings
    const err = thrown(() => decodeModel(flood));
    expectClean(err);
  });
});

// src/onnx/import.ts is being written; when it lands, its reader must meet the same bar.
const importPath = path.join(repoRoot, 'src', 'onnx', 'import.ts');
describe.skipIf(!existsSync(importPath))('importOnnxFile (src/onnx/import.ts, when present)', () => {
  it('every hostile file is a clean error, naming the op for control flow and unsupported ops', async () => {
    const mod = (await import(/* @vite-ignore */ pathToFileURL(importPath).href)) as Record<string, unknown>;
    const importOnnxFile = mod.importOnnxFile as ((file: string, o?: unknown) => unknown) | undefined;
    expect(typeof importOnnxFile).toBe('function');
    const call = async (file: string) => {
      try {
        await importOnnxFile!(file, { vocab: path.join(fixtures, 'onnx', 'sst2_tiny_conv1d.vocab.json') });
        return undefined;
      } catch (err) {
        return err;
      }
    };
    const files: Array<[string, Uint8Array, RegExp?]> = [['empty', new Uint8Array(0)], ['random', Uint8Array.from({ length: 500 }, (_, i) => (i * 131) & 255)]];
    const base = decodeModel(readFileSync(FOREIGN));
    for (const op of ['If', 'Loop', 'FancyAttention']) {
      const m = decodeModel(readFileSync(FOREIGN));
      // Spliced in live: every consumer of the first node's output reads the new node's instead.
      const first = m.graph!.node[0].output[0];
      for (const node of m.graph!.node) node.input = node.input.map((x) => (x === first ? 'extra' : x));
      m.graph!.node.splice(1, 0, createNode({ opType: op, input: [first], output: ['extra'] }));
      files.push([op, encodeModel(m), new RegExp(op)]);
    }
    const f16 = decodeModel(readFileSync(FOREIGN));
    f16.graph!.initializer[0].dataType = DataType.FLOAT16;
    files.push(['float16 initializer', encodeModel(f16), new RegExp(f16.graph!.initializer[0].name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))]);
    expect(await call(FOREIGN)).toBeUndefined(); // the unchanged file imports
    for (const [what, bytes, message] of files) {
      const err = await call(write(bytes));
      expect(err, what).toBeDefined();
      expectClean(err, { message });
      expect(err).toBeInstanceOf(FinetuneError);
    }
  });
});

describe('nothing on disk changes when a load fails', () => {
  it('a failed load leaves the file byte-identical, and a later save of a good model still works', async () => {
    const file = write(bytesOf(withMeta(tinyOnnx(), 'finetune.graph', '{}')));
    const before = sha256File(file);
    await expect(loadModel(file)).rejects.toBeInstanceOf(ModelFileError);
    expect(sha256File(file)).toBe(before);
    await saveModel(file, tinyModel(3));
    expect((await loadModel(file)).labels).toEqual(['neg', 'pos']);
  });
});
