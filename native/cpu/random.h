#pragma once
// Counter-based random numbers: value i of a stream is a pure function of
// (seed, counter + i). The whole generator state is two integers, so it saves
// and restores exactly, and any split of the work across threads draws the
// same numbers.
#include <cstdint>

namespace ft::cpu {

struct RandomState {
  uint64_t seed;
  uint64_t counter;  // index of the next value to draw
};

inline uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) with 24 bits, exactly representable as float.
inline float uniformAt(uint64_t seed, uint64_t index) {
  const uint64_t bits = splitmix64(seed ^ splitmix64(index));
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}

}  // namespace ft::cpu
