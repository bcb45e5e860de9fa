import { describe, expect, it } from 'vitest';

import { explainLoadFailure, loadNative, packageRoot } from '../../src/native.js';

describe('the addon loader', () => {
  it('loads once and reports its features', () => {
    const a = loadNative();
    expect(a).toBe(loadNative());
    expect(a.features.napiVersion).toBe(9);
  });

  it('explains each cause of a failed load and says what to run', () => {
    const root = packageRoot();
    const none = explainLoadFailure(root, new Error('No native build was found for platform=linux arch=x64 runtime=node'));
    expect(none).toMatch(/no native addon for .* \(looked in .*prebuilds.* and .*build.Release\)/);
    expect(none).toMatch(/npm rebuild finetune/);
    expect(explainLoadFailure(root, new Error("/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found"))).toMatch(/newer C\/C\+\+ runtime.*npm rebuild finetune/s);
    expect(explainLoadFailure(root, new Error('invalid ELF header'))).toMatch(/built for another platform/);
    expect(explainLoadFailure(root, new Error('something else'))).toMatch(/failed to load: something else/);
  });
});
