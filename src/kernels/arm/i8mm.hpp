// The int8 matrix-multiply extension's smmla (FEAT_I8MM) for the code built for it (functions marked BITNET_I8MM,
// called only where CpuFeatures::neon_i8mm says the CPU has it). GCC's arm_neon.h gives vmmlaq_s32 to any function
// with the target; clang before 16 declares it only when the whole file targets i8mm, so there the same instruction
// comes from inline assembly (accepted in a function with the target), as for sdot (dotprod.hpp).
#pragma once
#if defined(__aarch64__)
#include <arm_neon.h>

#if defined(__clang__)
#define BITNET_I8MM __attribute__((target("dotprod,i8mm")))
#else
#define BITNET_I8MM __attribute__((target("arch=armv8.2-a+dotprod+i8mm")))
#endif

namespace bitnet::kernels {

// acc + a (2 x 8 int8, row-major) times b (2 x 8 int8) transposed: lanes a0.b0, a0.b1, a1.b0, a1.b1.
BITNET_I8MM inline int32x4_t smmla(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__clang__) && !defined(__ARM_FEATURE_MATMUL_INT8) && __clang_major__ < 16
  __asm__("smmla %0.4s, %1.16b, %2.16b" : "+w"(acc) : "w"(a), "w"(b));
  return acc;
#else
  return vmmlaq_s32(acc, a, b);
#endif
}

}  // namespace bitnet::kernels
#endif
