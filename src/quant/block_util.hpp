// Small helpers shared by the block descriptors: unaligned little-endian loads/stores of the scalars
// stored inside blocks, and ggml's rounding helper. Blocks are read byte-wise, never through struct casts.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/half.hpp"

namespace bitnet::quant {

inline float load_fp16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_float(h);
}
inline void store_fp16(uint8_t* p, float f) {
  const uint16_t h = float_to_fp16(f);  // round to nearest even, as GGML_FP32_TO_FP16
  std::memcpy(p, &h, 2);
}
inline float load_f32(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}
inline void store_f32(uint8_t* p, float f) { std::memcpy(p, &f, 4); }

// ggml's nearest_int (ggml/src/ggml-quants.c): adding 1.5 * 2^23 = 12582912 puts the integer part in the low
// mantissa bits, so the FPU's round-to-nearest-even does the rounding: ties go to the even integer
// (2.5 -> 2, 3.5 -> 4, -2.5 -> -2), unlike std::round. Exact for |x| <= 4194303; ggml asserts that range,
// here larger values (or NaN) give a wrong integer but never undefined behaviour.
inline int nearest_int(float x) {
  const float biased = x + 12582912.0f;
  int32_t bits;
  std::memcpy(&bits, &biased, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

}  // namespace bitnet::quant
