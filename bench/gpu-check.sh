#!/usr/bin/env bash
# GPU check of the CUDA backend (issue #7): one script for a machine with an
# NVIDIA GPU. It
#   1. builds the CUDA module (`npm run build:cuda`; the CPU addon is built beside it in build-cuda/),
#   2. runs the CUDA tests against the CPU kernels (`npx vitest run test/cuda`),
#   3. prints kernel timings at Kim's sizes (batch 50, length 50, dim 300, widths 3,4,5 x 100 maps)
#      and at batch 1024, and Adam's GB/s against a device copy's (bench/gpu-kernels.ts).
# About 3 minutes on one H200 with 16 cores (build ~1 min, tests ~1 min, bench
# ~20 s); each step has its own time limit (240 + 180 + 90 s), so the whole ends
# within 9 minutes even when a step hangs. Exit status 0 only when all three passed.
#
# On the GPU machine:   bash bench/gpu-check.sh
# Its log goes to build-gpu/gpu-check.log (and to $OUT/gpu-check.log when $OUT is set),
# the bench's JSON line to build-gpu/gpu-bench.json (and $OUT).
#
# That machine may have no node (>= 20) or no node_modules (they are not in git).
# Prepare them here, on a machine with both, first:
#   bash bench/gpu-check.sh --pack
# which writes build-gpu/ (ignored by git): node.tar.xz (this node), node_modules.tar.xz
# (node_modules without onnxruntime-node, typescript and other packages the check does not
# need) and js/ (bench/gpu-kernels.ts compiled); about 40 MB. Then run the check there with
# build-gpu carried along, e.g. with the device tool:
#   run(command="bash bench/gpu-check.sh", carry=["build-gpu"], timeout_s=560)
# (build-gpu is ignored by git: run --pack in the checkout that calls the device tool.)
# The script uses the machine's own node and node_modules when they are there.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
WORK="$ROOT/build-gpu"
mkdir -p "$WORK"

compile_bench() {
  # Only bench/gpu-kernels.ts and what it imports (src/cuda, src/native.ts, src/errors.ts).
  rm -rf "$WORK/js"
  node node_modules/typescript/bin/tsc --outDir "$WORK/js" --rootDir . --module NodeNext --moduleResolution NodeNext \
    --target ES2022 --types node --skipLibCheck --strict bench/gpu-kernels.ts
}

if [[ "${1:-}" == "--pack" ]]; then
  set -e
  command -v node >/dev/null || { echo "--pack needs node here"; exit 1; }
  [[ -d node_modules/vitest && -d node_modules/cmake-js ]] || { echo "--pack needs node_modules here (npm install)"; exit 1; }
  echo "compiling bench/gpu-kernels.ts into build-gpu/js"
  compile_bench
  NODE_BIN=$(readlink -f "$(command -v node)")
  echo "packing $NODE_BIN ($(node --version)) into build-gpu/node.tar.xz (takes a minute or two)"
  tar -C "$(dirname "$NODE_BIN")" -cf - "$(basename "$NODE_BIN")" | xz -T0 -6 >"$WORK/node.tar.xz"
  echo "packing node_modules (trimmed) into build-gpu/node_modules.tar.xz"
  tar -cf - --exclude=node_modules/onnxruntime-node --exclude=node_modules/onnxruntime-common \
    --exclude=node_modules/typescript --exclude=node_modules/@types --exclude=node_modules/autocannon \
    --exclude=node_modules/hdr-histogram-js --exclude=node_modules/publint --exclude=node_modules/prebuildify \
    --exclude='node_modules/.cache' node_modules | xz -T0 -6 >"$WORK/node_modules.tar.xz"
  du -ch "$WORK/node.tar.xz" "$WORK/node_modules.tar.xz" "$WORK/js" | tail -n 4
  echo "done: carry build-gpu (the working tree itself is about 5 MB; the device tool takes 64 MiB in all)"
  exit 0
fi

LOG="$WORK/gpu-check.log"
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1
START=$(date +%s)
say() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - START))"; }
STATUS_BUILD=fail STATUS_TESTS=fail STATUS_BENCH=fail

say "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not available"
if ! command -v nvcc >/dev/null; then
  for d in /usr/local/cuda/bin /usr/local/cuda-13/bin /usr/local/cuda-12/bin; do
    [[ -x "$d/nvcc" ]] && { export PATH="$d:$PATH"; break; }
  done
fi
command -v nvcc >/dev/null && export CUDACXX=${CUDACXX:-$(command -v nvcc)}
nvcc --version 2>/dev/null | tail -n 2 || echo "nvcc: not found (the build will fail)"
echo "cmake: $(cmake --version 2>/dev/null | head -n 1 || echo 'not found')  ninja: $(ninja --version 2>/dev/null || echo 'not found')  cores: $(nproc)"

# node >= 20: the machine's, else the packed one.
node_ok() { command -v node >/dev/null && node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; }
if ! node_ok && [[ -f "$WORK/node.tar.xz" ]]; then
  mkdir -p "$WORK/node/bin"
  tar -C "$WORK/node/bin" -xJf "$WORK/node.tar.xz"
  export PATH="$WORK/node/bin:$PATH"
fi
node_ok || { echo "FATAL: no node >= 20 (run 'bash bench/gpu-check.sh --pack' on a machine with node and carry build-gpu)"; exit 2; }
echo "node $(node --version) at $(command -v node)"
if [[ ! -d node_modules/vitest || ! -d node_modules/cmake-js ]]; then
  if [[ -f "$WORK/node_modules.tar.xz" ]]; then
    tar -xJf "$WORK/node_modules.tar.xz"
  else
    echo "FATAL: no node_modules (run 'bash bench/gpu-check.sh --pack' on a machine with them and carry build-gpu)"
    exit 2
  fi
fi

say "build: npm run build:cuda"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
if command -v npm >/dev/null; then BUILD=(npm run build:cuda); else
  # The same command as package.json's build:cuda, without npm.
  BUILD=(node node_modules/cmake-js/bin/cmake-js build --out build-cuda --CDFINETUNE_CUDA=ON)
fi
if timeout 240 "${BUILD[@]}"; then
  STATUS_BUILD=ok
  # The CPU addon the tests compare with: build/Release is where src/native.ts looks.
  if ! node -e "require('./build/Release/finetune.node')" 2>/dev/null; then
    mkdir -p build/Release && cp build-cuda/Release/finetune.node build/Release/finetune.node
    echo "CPU addon: using build-cuda/Release/finetune.node"
  fi
  # src/native.ts loadCuda() prefers build/cuda/: never let a stale module there shadow this build.
  if [[ -e build/cuda/finetune_cuda.node ]]; then cp build-cuda/cuda/finetune_cuda.node build/cuda/finetune_cuda.node; fi
else
  echo "BUILD FAILED"
fi

if [[ $STATUS_BUILD == ok ]]; then
  say "tests: npx vitest run test/cuda"
  # FINETUNE_REQUIRE_GPU: a missing GPU fails the GPU tests instead of skipping them.
  if FINETUNE_REQUIRE_GPU=1 timeout 180 node node_modules/vitest/vitest.mjs run test/cuda --reporter=verbose; then
    STATUS_TESTS=ok
  fi

  say "bench: bench/gpu-kernels.ts"
  if [[ -d node_modules/typescript ]]; then compile_bench || echo "bench: tsc failed"; fi
  if [[ -f "$WORK/js/bench/gpu-kernels.js" ]]; then
    if timeout 90 node "$WORK/js/bench/gpu-kernels.js" --json >"$WORK/gpu-bench.out"; then
      STATUS_BENCH=ok
      grep -v '^{' "$WORK/gpu-bench.out"
      grep '^{' "$WORK/gpu-bench.out" >"$WORK/gpu-bench.json" || true
    else
      cat "$WORK/gpu-bench.out"
    fi
  else
    echo "bench: no compiled bench (needs node_modules/typescript, or build-gpu/js from --pack)"
  fi
fi

say "summary"
echo "GPU CHECK: build $STATUS_BUILD, tests $STATUS_TESTS, bench $STATUS_BENCH ($(($(date +%s) - START)) s)"
if [[ -n "${OUT:-}" ]]; then
  cp "$LOG" "$OUT/gpu-check.log" 2>/dev/null || true
  [[ -f "$WORK/gpu-bench.json" ]] && cp "$WORK/gpu-bench.json" "$OUT/gpu-bench.json"
fi
[[ $STATUS_BUILD == ok && $STATUS_TESTS == ok && $STATUS_BENCH == ok ]]
