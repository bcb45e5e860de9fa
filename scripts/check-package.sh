#!/usr/bin/env bash
# Packs finetune, installs the tarball into an empty project on a PATH that
# holds only node, npm, npx and sh (no g++, c++, cc, cmake, make), and runs
# the quick start: train a tiny model on a slice of the shipped SST-2 data,
# predict from the command line, from an ES module and from CommonJS, and
# type-check an ESM consumer. With prebuilds/linux-x64/ in the tarball the
# install must not compile anything.
#
#   npm run prebuild && bash scripts/check-package.sh
#
# FINETUNE_PACK_NO_BUILD=1: pack the current dist/ without the prepare build.
# FINETUNE_CHECK_SOURCE_BUILD=1: instead, install on the full PATH with
# FINETUNE_BUILD_FROM_SOURCE=1 and check that the addon was compiled (slow).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/finetune-package-XXXXXX")
trap 'rm -rf "$work"' EXIT
say() { printf 'check-package: %s\n' "$*"; }
fail() { printf 'check-package: FAILED: %s\n' "$*" >&2; exit 1; }

source_build=${FINETUNE_CHECK_SOURCE_BUILD:-0}
cd "$root"
if [[ $source_build != 1 && ! -f prebuilds/linux-x64/finetune.node ]]; then
  fail "no prebuilds/linux-x64/finetune.node: run 'npm run prebuild' first (or FINETUNE_CHECK_SOURCE_BUILD=1)"
fi

pack_args=(--pack-destination "$work" --json)
if [[ ${FINETUNE_PACK_NO_BUILD:-0} == 1 ]]; then
  say "packing the current dist/ (FINETUNE_PACK_NO_BUILD=1: no 'prepare' build)"
  pack_args+=(--ignore-scripts)
else
  say "packing (runs 'prepare': the TypeScript build)"
fi
npm pack "${pack_args[@]}" >"$work/pack.json" 2>"$work/pack.err" || { cat "$work/pack.json" "$work/pack.err" >&2; fail "npm pack failed (see the build errors above)"; }
tarball=$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0].filename)' "$work/pack.json")
tarball="$work/$tarball"
[[ -f $tarball ]] || fail "npm pack produced no tarball"
listing=$(tar tzf "$tarball")
for f in package/dist/src/index.js package/dist/src/index.d.ts package/dist/src/cli/bin.js package/scripts/install.mjs package/CMakeLists.txt package/native/addon/addon.cpp package/data/sst2/train.txt; do
  grep -qx "$f" <<<"$listing" || fail "$f is missing from the tarball"
done
[[ $source_build == 1 ]] || grep -qx package/prebuilds/linux-x64/finetune.node <<<"$listing" || fail "prebuilds/linux-x64/finetune.node is missing from the tarball"
if grep -E '^package/(test|build|node_modules)/' <<<"$listing"; then fail "tests or build output in the tarball"; fi
say "tarball $(basename "$tarball"): $(wc -l <<<"$listing") files, $(du -h "$tarball" | cut -f1)"

# A PATH without compilers.
shim="$work/shim"
mkdir -p "$shim"
ln -s "$(command -v node)" "$shim/node"
ln -s "$(readlink -f "$(command -v npm)")" "$shim/npm"
ln -s "$(readlink -f "$(command -v npx)")" "$shim/npx"
ln -s "$(readlink -f /bin/sh)" "$shim/sh"
path_for_install="$shim"
if [[ $source_build == 1 ]]; then path_for_install="$PATH"; fi
for tool in g++ c++ cc gcc clang cmake make ninja; do
  if PATH="$shim" command -v "$tool" >/dev/null 2>&1; then fail "$tool is still on the restricted PATH"; fi
done

app="$work/app"
mkdir -p "$app"
cd "$app"
PATH="$shim" npm init -y >/dev/null
say "installing into an empty project (PATH=$path_for_install)"
if [[ $source_build == 1 ]]; then
  FINETUNE_BUILD_FROM_SOURCE=1 npm install --no-audit --no-fund --foreground-scripts "$tarball" >install.log 2>&1 || { cat install.log; fail "npm install"; }
  [[ -f node_modules/finetune/build/Release/finetune.node ]] || { cat install.log; fail "the source build produced no build/Release/finetune.node"; }
else
  PATH="$shim" npm install --no-audit --no-fund --foreground-scripts "$tarball" >install.log 2>&1 || { cat install.log; fail "npm install without a compiler"; }
  grep -q 'using the prebuilt binary' install.log || { cat install.log; fail "the install did not use the prebuilt binary"; }
  [[ ! -e node_modules/finetune/build ]] || fail "the install compiled something (node_modules/finetune/build exists)"
fi
say "installed: $(grep -m1 'finetune:' install.log || true)"

say "quick start"
r() { PATH="$shim" "$@"; } # node, npm, npx only: no compiler
head -n 800 node_modules/finetune/data/sst2/train.txt >train.txt
head -n 200 node_modules/finetune/data/sst2/dev.txt >dev.txt
r npx finetune train --train train.txt --dev dev.txt --epochs 2 --embed-dim 32 --maps 16 --bucket --out sst2.onnx --json >train.json
tail -n 1 train.json | r node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); if (!(r.accuracy > 0)) process.exit(1); console.log("check-package: trained, dev accuracy " + r.accuracy)'
echo "a gorgeous , witty , seductive movie ." | r npx finetune predict --model sst2.onnx >predict.txt
grep -qE '^[01]	[0-9.]+$' predict.txt || { cat predict.txt; fail "predict printed no label"; }
cat >esm.mjs <<'JS'
import { Classifier } from 'finetune';
const clf = await Classifier.load('sst2.onnx');
const [p] = await clf.predict(['a gorgeous , witty , seductive movie .'], { topK: 2 });
clf.dispose();
if (!p.label || p.top.length !== 2) throw new Error('bad prediction ' + JSON.stringify(p));
console.log('check-package: ESM predicts', p.label);
JS
r node esm.mjs
cat >cjs.cjs <<'JS'
const { Classifier } = require('finetune'); // require(esm): Node >= 20.19
Classifier.load('sst2.onnx').then(async (clf) => {
  const [p] = await clf.predict(['dull and tedious .']);
  clf.dispose();
  console.log('check-package: CommonJS predicts', p.label);
});
JS
if r node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then r node cjs.cjs; fi

say "types"
mkdir -p node_modules/@types
ln -s "$root/node_modules/@types/node" node_modules/@types/node
cat >consumer.mts <<'TS'
import { Classifier, createServer, type Prediction } from 'finetune';
const clf = await Classifier.load('sst2.onnx');
const p: Prediction[] = await clf.predict(['x']);
void [p, createServer];
TS
cat >tsconfig.json <<'JSON'
{ "compilerOptions": { "module": "nodenext", "target": "es2022", "strict": true, "noEmit": true, "types": ["node"] }, "files": ["consumer.mts"] }
JSON
r node "$root/node_modules/typescript/bin/tsc" -p . || fail "the consumer does not type-check against the installed package"

say "OK"
