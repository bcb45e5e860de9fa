/**
 * cmake-js (the build of record) and node-gyp (prebuildify) must compile the
 * same CPU sources; both read native/sources.gypi. This fails when a source
 * file is added without being listed, or either build stops reading the list.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const gypi = JSON.parse(readFileSync(join(root, 'native', 'sources.gypi'), 'utf8')) as {
  variables: { finetune_cpu_sources: string[] };
};
const listed = gypi.variables.finetune_cpu_sources;

describe('one list of native sources', () => {
  it('lists every C++ source of native/addon, native/cpu and native/runtime, and nothing else', () => {
    const onDisk = ['addon', 'cpu', 'runtime'].flatMap((dir) => {
      const full = join(root, 'native', dir);
      return existsSync(full) ? readdirSync(full).filter((f) => f.endsWith('.cpp')).map((f) => `native/${dir}/${f}`) : [];
    });
    expect([...listed].sort()).toEqual(onDisk.sort());
  });

  it('binding.gyp and CMakeLists.txt both read it', () => {
    const gyp = readFileSync(join(root, 'binding.gyp'), 'utf8');
    expect(gyp).toContain('"includes": ["native/sources.gypi"]');
    expect(gyp).toContain('<@(finetune_cpu_sources)');
    const cmake = readFileSync(join(root, 'CMakeLists.txt'), 'utf8');
    expect(cmake).toContain('native/sources.gypi');
    expect(cmake).toMatch(/add_library\(\$\{PROJECT_NAME\} SHARED \$\{FINETUNE_CPU_SOURCES\}/);
  });

  it('CUDA sources stay out of the CPU builds', () => {
    expect(listed.some((s) => s.includes('cuda'))).toBe(false);
  });
});
