/** Conversions from PyTorch layouts to the kernels' (channels-last) layouts. */

/** PyTorch conv weight [out, in, width] -> ours [out, width, in]. */
export function torchConvWeight(data: ArrayLike<number>, M: number, C: number, K: number): Float32Array {
  const out = new Float32Array(M * K * C);
  for (let m = 0; m < M; m++) for (let c = 0; c < C; c++) for (let j = 0; j < K; j++) out[(m * K + j) * C + c] = data[(m * C + c) * K + j];
  return out;
}

/** PyTorch activations [batch, channels, length] -> ours [batch, length, channels]. */
export function toChannelsLast(data: ArrayLike<number>, B: number, C: number, L: number): Float32Array {
  const out = new Float32Array(B * L * C);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let t = 0; t < L; t++) out[(b * L + t) * C + c] = data[(b * C + c) * L + t];
  return out;
}
