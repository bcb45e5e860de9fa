#pragma once
// Inverted dropout (PyTorch): at training time each element is zeroed with
// probability p and the survivors are scaled by 1 / (1 - p).
#include <cstddef>
#include <cstdint>

#include "cpu/random.h"

namespace ft::cpu {

// y = x * mask / (1 - p); mask[i] = 1 keeps element i. Draws n values from
// state and advances state.counter by n. y may alias x. p in [0, 1].
void dropoutForward(const float* x, float* y, uint8_t* mask, size_t n, double p, RandomState& state);
// dx = dy * mask / (1 - p); dx may alias dy.
void dropoutBackward(const float* dy, const uint8_t* mask, float* dx, size_t n, double p);

}  // namespace ft::cpu
