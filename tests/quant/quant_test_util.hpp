// Helpers for the quant tests: deterministic pseudo-random data and little-endian scalar writes.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace bitnet::quant::test {

// A fixed-seed 64-bit LCG: same data on every platform (std distributions are not portable).
class Lcg {
 public:
  explicit Lcg(uint64_t seed) : s_(seed) {}
  uint32_t next() {
    s_ = s_ * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s_ >> 33);
  }
  int trit() { return static_cast<int>(next() % 3) - 1; }
  float uniform(float lo, float hi) { return lo + (hi - lo) * static_cast<float>(next() >> 8) / 16777216.0f; }

 private:
  uint64_t s_;
};

// rows x cols ternary values; block b of `block` columns in each row is scaled by 2^-(b % 4) (a power of two,
// so every product is exact), `block` = cols gives one scale per tensor.
inline std::vector<float> ternary_data(int64_t rows, int64_t cols, int64_t block, uint64_t seed) {
  Lcg rng(seed);
  std::vector<float> v(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float scale = 1.0f / static_cast<float>(1 << ((c / block) % 4));
      v[static_cast<size_t>(r * cols + c)] = static_cast<float>(rng.trit()) * scale;
    }
  return v;
}

inline void put_u16(std::vector<uint8_t>& b, size_t at, uint16_t v) { std::memcpy(b.data() + at, &v, 2); }
inline void put_f32(std::vector<uint8_t>& b, size_t at, float v) { std::memcpy(b.data() + at, &v, 4); }

}  // namespace bitnet::quant::test
