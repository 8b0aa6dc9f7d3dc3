// The float epilogue of the AVX-512 panel kernels (x86/ternary_avx512_panels.cpp for prompts,
// x86/ternary_avx512_panel_gemv.cpp for generation): ternary_epilogue's operations (kernels/ref/ternary_ref.hpp) in
// its order, for the 16 rows of a panel at once, one lane per row, so the results are bit-equal to it.
// Include it after avx512_intrinsics.hpp, inside the kernel's BITNET_AVX512_BEGIN ... BITNET_AVX512_END, so that it
// is compiled for that kernel's target.
#pragma once

#include <cstdint>

#include "quant/quant.hpp"

namespace bitnet::kernels {

// After group g of `groups`: f holds the group's integer dots less the activations' sum, as floats; ws the 16 rows'
// weight scales of the group; at the token's activation scales; prev what this returned for group g - 1 (unread for
// g == 0). After the last group it returns the outputs.
inline __m512 panel_epilogue(quant::ActQuant rule, int64_t g, int64_t groups, __m512 prev, __m512 f, __m512 ws,
                             const float* at) {
  if (rule == quant::ActQuant::kQ8K)  // sum over groups of idot * (w_scale * d)
    return _mm512_add_ps(g == 0 ? _mm512_setzero_ps() : prev,
                         _mm512_mul_ps(f, _mm512_mul_ps(ws, _mm512_set1_ps(at[g]))));
  if (groups == 1) return _mm512_mul_ps(_mm512_div_ps(f, _mm512_set1_ps(at[0])), ws);  // idot / s * w_scale
  // sum over groups of idot * w_scale, then / s
  const __m512 sum = _mm512_add_ps(g == 0 ? _mm512_setzero_ps() : prev, _mm512_mul_ps(f, ws));
  return g == groups - 1 ? _mm512_div_ps(sum, _mm512_set1_ps(at[0])) : sum;
}

}  // namespace bitnet::kernels
