#!/usr/bin/env bash
# Builds the native addon with AddressSanitizer + UndefinedBehaviorSanitizer in
# build-asan/ (separate from build/), then runs the vitest suite against it.
#
#   npm run test:asan                         # build, then the whole suite
#   npm run test:asan -- test/hostile         # build, then only these paths
#   FINETUNE_ASAN_SKIP_BUILD=1 npm run test:asan   # reuse build-asan/
#
# The loader (src/native.ts -> node-gyp-build) honours FINETUNE_PREBUILD=<dir>,
# loading <dir>/build/Release/finetune.node: cmake-js writes exactly there
# with --out build-asan/build. Node itself is not instrumented, so the ASan
# runtime is preloaded; leak detection is off (Node leaks at exit by design;
# see scripts/valgrind notes in test/hostile/README.md for leak checks).
# UBSan stops at the first report (halt_on_error), so any undefined behaviour
# fails the test file it happened in.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/build-asan"
cd "$root"

if [[ "${FINETUNE_ASAN_SKIP_BUILD:-0}" != "1" ]]; then
  # cmake-js sets CMAKE_CXX_FLAGS itself; the per-configuration flags are ours.
  flags="-DNDEBUG -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
  npx cmake-js build --out "$out/build" \
    --CDFINETUNE_CUDA=OFF \
    --CDCMAKE_BUILD_TYPE=Release \
    --CDCMAKE_CXX_FLAGS_RELEASE="$flags" \
    --CDCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined"
fi

addon="$out/build/Release/finetune.node"
if [[ ! -f "$addon" ]]; then
  echo "test-asan: $addon was not built" >&2
  exit 1
fi
symbols="$(nm -D "$addon")"
if [[ "$symbols" != *__asan_report_load* || "$symbols" != *__ubsan_handle* ]]; then
  echo "test-asan: $addon is not instrumented (the sanitizer flags did not reach the compiler)" >&2
  exit 1
fi

libasan="$(gcc -print-file-name=libasan.so)"
libubsan="$(gcc -print-file-name=libubsan.so)"
log="$out/asan-report"
rm -f "$log".*

export FINETUNE_PREBUILD="$out"
export LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}"
# Node's own allocations are not ours: no leak report at exit. abort_on_error
# turns a report into SIGABRT, so the forked test file fails loudly.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:log_path=$log:print_summary=1:allocator_may_return_null=1:handle_segv=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$log"
export FINETUNE_ASAN=1

# Prove the sanitized build is the one that loads.
node -e "
const load = require('node-gyp-build');
const file = load.resolve(process.cwd());
if (!file.startsWith(process.env.FINETUNE_PREBUILD)) { console.error('test-asan: loaded ' + file + ', not the ASan build'); process.exit(1); }
console.error('test-asan: using ' + file);
"

status=0
npx tsc -p tsconfig.json --noEmit || status=$?
if [[ $status -eq 0 ]]; then
  npx vitest run "$@" || status=$?
fi

if compgen -G "$log.*" >/dev/null; then
  echo "test-asan: sanitizer reports:" >&2
  cat "$log".* >&2
  status=1
fi
if [[ $status -eq 0 ]]; then
  echo "test-asan: the suite ran clean under AddressSanitizer + UndefinedBehaviorSanitizer"
fi
exit $status
