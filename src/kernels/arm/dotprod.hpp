// The dotprod extension's sdot for the NEON kernels built for it (functions marked BITNET_DOTPROD, called only
// where the CPU has it). GCC's arm_neon.h gives vdotq_s32 to any function with the target; clang before 16 declares
// it only when the whole file targets dotprod, so there the same instruction comes from inline assembly (accepted
// in a function with the target).
#pragma once
#if defined(__aarch64__)
#include <arm_neon.h>

#if defined(__clang__)
#define BITNET_DOTPROD __attribute__((target("dotprod")))
#else
#define BITNET_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

namespace bitnet::kernels {

#if defined(__clang__) && !defined(__ARM_FEATURE_DOTPROD) && __clang_major__ < 16
// acc + the sums of each 4 byte products of a and b, lane by lane.
BITNET_DOTPROD inline int32x4_t sdot(int32x4_t acc, int8x16_t a, int8x16_t b) {
  __asm__("sdot %0.4s, %1.16b, %2.16b" : "+w"(acc) : "w"(a), "w"(b));
  return acc;
}
// The same with dword L of b in every lane.
template <int L>
BITNET_DOTPROD inline int32x4_t sdot_lane(int32x4_t acc, int8x16_t a, int8x16_t b) {
  static_assert(L >= 0 && L < 4);
  __asm__("sdot %0.4s, %1.16b, %2.4b[%3]" : "+w"(acc) : "w"(a), "w"(b), "i"(L));
  return acc;
}
#else
BITNET_DOTPROD inline int32x4_t sdot(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }
template <int L>
BITNET_DOTPROD inline int32x4_t sdot_lane(int32x4_t acc, int8x16_t a, int8x16_t b) {
  return vdotq_laneq_s32(acc, a, b, L);
}
#endif

}  // namespace bitnet::kernels
#endif
