/**
 * CUDA kernel timings (bench/gpu-check.sh runs this on the GPU machine): every
 * CUDA kernel at the Kim (2014) sizes (batch 50, length 50, dimension 300,
 * widths 3,4,5 x 100 maps, 2 classes, 20,000-word vocabulary) and at batch
 * 1024, timed on the device with CUDA events over device-resident data (no
 * host copies), as ms per call and GFLOP/s or GB/s; then Adam's bandwidth
 * against a device-to-device copy of the same size (bytes read plus written:
 * Adam moves 28 bytes a parameter, the copy 8 bytes a float).
 *
 * Run: `npm run build:cuda`, then `npx tsc -p tsconfig.build.json && node dist/bench/gpu-kernels.js [--json] [--iters N]`
 * (gpu-check.sh compiles this file alone into build-gpu/js instead).
 */
import { fileURLToPath } from 'node:url';

import { cudaAvailability, type CudaBenchRow, type CudaDeviceInfo } from '../src/cuda/index.js';

export interface GpuBenchResult {
  device: CudaDeviceInfo;
  kim: CudaBenchRow[];
  batch1024: CudaBenchRow[];
  /** Adam over 2^26 parameters, GB/s. */
  adamGBps: number;
  /** Device-to-device copy of 2^26 floats, GB/s. */
  copyGBps: number;
}

function rate(r: CudaBenchRow | undefined): string {
  if (!r) return '';
  if (r.flops > 0) return `${(r.flops / r.ms / 1e6).toFixed(0)} GFLOP/s`;
  if (r.bytes > 0) return `${(r.bytes / r.ms / 1e6).toFixed(0)} GB/s`;
  return '';
}

function gbps(r: CudaBenchRow | undefined): number {
  return r && r.bytes > 0 ? r.bytes / r.ms / 1e6 : NaN;
}

/** Row names without the size-dependent suffix, so the two batch sizes line up. */
function key(name: string): string {
  return name.replace(/ \(\d+ (params|floats)\)$/, '');
}

export function runGpuBench(options: { iters?: number; json?: boolean } = {}): GpuBenchResult {
  const { module, reason } = cudaAvailability();
  if (!module || reason) throw new Error(`CUDA benchmark: ${reason}`);
  const iters = options.iters ?? 20;
  const device = module.deviceInfo();
  const kim = module.benchKernels({ batch: 50, length: 50, dim: 300, widths: [3, 4, 5], maps: 100, classes: 2, vocab: 20000, iters, bandwidthElements: 2 ** 26 });
  const batch1024 = module.benchKernels({ batch: 1024, length: 50, dim: 300, widths: [3, 4, 5], maps: 100, classes: 2, vocab: 20000, iters, bandwidthElements: 0 });

  const big = kim.filter((r) => r.name.endsWith(`(${2 ** 26} floats)`));
  const adam = big.find((r) => r.name.startsWith('adam'));
  const copy = big.find((r) => r.name.startsWith('copy'));
  const result: GpuBenchResult = { device, kim, batch1024, adamGBps: gbps(adam), copyGBps: gbps(copy) };

  const lines: string[] = [];
  lines.push(
    `CUDA kernels on ${device.name} (compute ${device.computeCapability}, ${device.multiprocessors} SMs, ` +
      `${(device.totalMemory / 2 ** 30).toFixed(0)} GiB; runtime ${device.runtimeVersion}, driver ${device.driverVersion}); mean of ${iters} calls`,
  );
  const head = ['kernel', 'batch 50 ms', 'rate', 'batch 1024 ms', 'rate'];
  const rows: string[][] = [];
  const other = new Map(batch1024.map((r) => [key(r.name), r]));
  for (const r of kim) {
    const o = other.get(key(r.name));
    rows.push([r.name, r.ms.toFixed(4), rate(r), o ? o.ms.toFixed(4) : '', rate(o)]);
  }
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ');
  lines.push(fmt(head), ...rows.map(fmt));
  lines.push(
    `Adam over 2^26 parameters: ${result.adamGBps.toFixed(0)} GB/s; device copy: ${result.copyGBps.toFixed(0)} GB/s ` +
      `(Adam at ${((100 * result.adamGBps) / result.copyGBps).toFixed(0)}% of the copy)`,
  );
  console.log(lines.join('\n'));
  if (options.json) console.log(JSON.stringify(result));
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--iters');
  runGpuBench({ json: args.includes('--json'), iters: at >= 0 ? Number(args[at + 1]) : undefined });
}
