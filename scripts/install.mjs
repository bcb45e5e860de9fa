#!/usr/bin/env node
// npm's install step: use a prebuilt binary when one matches this platform,
// otherwise compile the addon from source with cmake-js. Nothing is downloaded:
// Node-API headers come from the node-api-headers npm package.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const forceSource = process.env.FINETUNE_BUILD_FROM_SOURCE === '1';

function prebuildLoads() {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return false;
  try {
    require('node-gyp-build')(root);
    return true;
  } catch (err) {
    console.warn(`finetune: the prebuilt binary in ${dir} did not load (${err.message}); building from source.`);
    return false;
  }
}

function which(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

if (!forceSource && prebuildLoads()) {
  console.log(`finetune: using the prebuilt binary for ${process.platform}-${process.arch}.`);
  process.exit(0);
}

const missing = ['cmake', 'c++'].filter((c) => !which(c));
if (missing.length > 0) {
  console.error(
    `finetune: no prebuilt binary for ${process.platform}-${process.arch} and ${missing.join(' and ')} not found on PATH.\n` +
      `  Install CMake >= 3.19 and a C++17 compiler (Debian/Ubuntu: apt-get install cmake g++), then run \`npm rebuild finetune\`.`,
  );
  process.exit(1);
}

const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const args = [cmakeJs, 'build', '--out', 'build'];
if (process.env.FINETUNE_CUDA) args.push(`--CDFINETUNE_CUDA=${process.env.FINETUNE_CUDA}`);
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error(
    'finetune: building the native addon failed (see the compiler output above).\n' +
      '  Needs CMake >= 3.19 and a C++17 compiler; set FINETUNE_CUDA=OFF to skip the CUDA module.',
  );
  process.exit(result.status ?? 1);
}
