// The row layout's tail (quant/ternary.hpp: column c in byte c / 4 at shift 2 (c % 4), after the last 128-column
// block) in the order of a dot product's lanes, for the NEON kernels: 16 columns at a time, the 4 code bytes copied
// to the 4 lanes and lane k shifted right by 2k, so that byte j of lane k holds column 4j + k's code, and the
// activations put in the same order by a table lookup. Static: each kernel file compiles its own copy for its target.
#pragma once
#if defined(__aarch64__)
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

namespace bitnet::kernels {

// Codes and activations of tail columns [c, c + 16) (or [c, c1) where c1 - c < 16: zeroed past c1, code 0 times
// activation 0) of a row at `row`, activations at q; c and c1 multiples of 4.
static inline void tail_step(const uint8_t* row, const int8_t* q, int64_t c, int64_t c1, int8x16_t& codes,
                             int8x16_t& acts) {
  static constexpr uint8_t kByK[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};
  static constexpr int32_t kShifts[4] = {0, -2, -4, -6};
  uint32_t four = 0;
  int8x16_t x;
  if (c1 - c >= 16) {
    std::memcpy(&four, row + c / 4, 4);
    x = vld1q_s8(q + c);
  } else {
    int8_t xs[16] = {};
    std::memcpy(&four, row + c / 4, static_cast<size_t>((c1 - c) / 4));
    std::memcpy(xs, q + c, static_cast<size_t>(c1 - c));
    x = vld1q_s8(xs);
  }
  const uint32x4_t lanes = vshlq_u32(vdupq_n_u32(four), vld1q_s32(kShifts));
  codes = vreinterpretq_s8_u8(vandq_u8(vreinterpretq_u8_u32(lanes), vdupq_n_u8(3)));
  acts = vqtbl1q_s8(x, vld1q_u8(kByK));
}

}  // namespace bitnet::kernels
#endif
