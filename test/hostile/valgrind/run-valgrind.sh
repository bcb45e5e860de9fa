#!/usr/bin/env bash
# valgrind (memcheck) over a small training run and a predict loop (workload.mjs),
# against the normal build (build/Release or prebuilds, as src/native.ts loads it).
# Reports the leak records whose allocation stack passes through finetune.node;
# Node's own (V8, libuv, OpenSSL) are left out. Not part of `npm test`: slow.
#
#   bash test/hostile/valgrind/run-valgrind.sh [steps=30] [predictions=300]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
work="$(mktemp -d /tmp/finetune-valgrind-XXXXXX)"
trap 'rm -rf "$work"' EXIT

# Transpile src/ into a package folder that finds the repository's addon.
node --input-type=module -e "
import ts from '$root/node_modules/typescript/lib/typescript.js';
import fs from 'node:fs'; import path from 'node:path';
const root = '$root', out = '$work/pkg';
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(out + '/package.json', JSON.stringify({ name: 'finetune', type: 'module' }));
for (const l of ['node_modules', 'build', 'prebuilds']) if (fs.existsSync(root + '/' + l)) fs.symlinkSync(root + '/' + l, out + '/' + l);
const walk = (rel) => { for (const n of fs.readdirSync(path.join(root, rel))) { const r = path.join(rel, n);
  if (fs.lstatSync(path.join(root, r)).isDirectory()) walk(r);
  else if (n.endsWith('.ts')) { const d = path.join(out, r.replace(/\.ts$/, '.js')); fs.mkdirSync(path.dirname(d), { recursive: true });
    fs.writeFileSync(d, ts.transpileModule(fs.readFileSync(path.join(root, r), 'utf8'), { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText); } } };
walk('src');
"
addon="$(cd "$work/pkg" && node -e "console.log(require('node-gyp-build').resolve('.'))")"
echo "valgrind: addon $addon"

log="$work/memcheck.log"
set +e
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible \
  --num-callers=40 --error-limit=no --log-file="$log" \
  node --expose-gc "$root/test/hostile/valgrind/workload.mjs" "$work/pkg" "${1:-30}" "${2:-300}"
status=$?
set -e
echo "valgrind: node exited $status"
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable" "$log" | sed 's/^==[0-9]*== */  /'

# Leak records and errors whose stacks pass through our addon. "Possibly lost"
# thread-local storage of the native thread pool's threads (alive at exit, by
# design) is listed but not counted.
records() { awk '/^==[0-9]+== $/ { if (block ~ /finetune\.node/) print block "\n"; block = ""; next } { block = block "\n" $0 }' "$log"; }
tls="$(records | awk 'BEGIN { RS = "\n\n\n" } /possibly lost/ && /dl-tls/ { n++ } END { print n + 0 }')"
ours="$(records | awk 'BEGIN { RS = "\n\n\n"; ORS = "\n\n" } !(/possibly lost/ && /dl-tls/) && /finetune\.node/')"
echo "valgrind: $tls 'possibly lost' record(s) are thread-local storage of the addon's pool threads (alive at exit; not leaks)"
if [[ -n "${ours//[[:space:]]/}" ]]; then
  echo "valgrind: records involving finetune.node:"
  echo "$ours" | sed 's/^==[0-9]*== */  /' | head -200
  cp "$log" "/tmp/finetune-memcheck.log"
  echo "valgrind: full log kept at /tmp/finetune-memcheck.log"
  exit 1
fi
echo "valgrind: no leak or memory error attributable to finetune.node"
