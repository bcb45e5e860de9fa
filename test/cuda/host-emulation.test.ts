/**
 * Runs test/cuda/host/emulate.cu: the CUDA conv1d and linear plans executed on
 * the host by an emulation of the GEMM kernel's tiles, against float64 loops,
 * and the embedding gradient's host-side grouping of ids, bitwise against the
 * CPU order.
 * Needs nvcc (to compile the shared headers), not a GPU, so the index
 * arithmetic of the CUDA backend is checked wherever the toolkit is installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

function findNvcc(): string | null {
  const candidates = [process.env.CUDACXX, process.env.CUDA_HOME && join(process.env.CUDA_HOME, 'bin', 'nvcc'), '/usr/local/cuda/bin/nvcc'];
  for (const c of candidates) if (c && existsSync(c)) return c;
  const which = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : null;
}

const nvcc = findNvcc();

describe(`CUDA plans emulated on the host${nvcc ? '' : ' (skipped: no nvcc found; set CUDACXX)'}`, () => {
  it.skipIf(!nvcc)('conv1d and linear through the tiled GEMM match float64 loops', () => {
    const dir = mkdtempSync(join(tmpdir(), 'finetune-emulate-'));
    try {
      const exe = join(dir, 'emulate');
      execFileSync(
        nvcc!,
        ['-std=c++17', '-O2', '-I', join(root, 'native'), '-o', exe, join(root, 'test/cuda/host/emulate.cu'), join(root, 'native/cuda/embedding.cu'), join(root, 'native/cuda/check.cpp')],
        { stdio: 'pipe', timeout: 240_000 },
      );
      const run = spawnSync(exe, [], { encoding: 'utf8', timeout: 120_000 });
      expect(run.stdout + run.stderr, 'emulation output').toMatch(/^ok \d+/m);
      expect(run.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 360_000);
});
