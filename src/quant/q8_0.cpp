// Q8_0 reference pack/unpack, following llama.cpp's quantize_row_q8_0_ref / dequantize_row_q8_0
// (ggml/src/ggml-quants.c). Block (34 bytes): fp16 d, then int8 qs[32] in element order; value = qs[i] * d.
// Quantize: d = max|x| / 127 (stored as fp16, round to nearest even), q = roundf(x * (1/d)) with the f32
// reciprocal of the unrounded d; roundf rounds halves away from zero.
#include "quant/q8_0.hpp"

#include <cmath>

#include "core/vector_clones.hpp"
#include "quant/block_util.hpp"

namespace bitnet::quant {

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ8_0BlockElems; ++b) {
    const uint8_t* block = src + b * kQ8_0BlockBytes;
    const float d = load_fp16(block);
    for (int64_t i = 0; i < kQ8_0BlockElems; ++i)
      dst[b * kQ8_0BlockElems + i] = static_cast<float>(static_cast<int8_t>(block[2 + i])) * d;
  }
}

void quantize_q8_0(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ8_0BlockElems; ++b) {
    const float* x = src + b * kQ8_0BlockElems;
    uint8_t* block = dst + b * kQ8_0BlockBytes;
    float amax = 0.0f;
    for (int64_t i = 0; i < kQ8_0BlockElems; ++i) amax = std::fmax(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_fp16(block, d);
    for (int64_t i = 0; i < kQ8_0BlockElems; ++i) {
      // |x * id| <= 127 up to rounding; the clamp only keeps NaN/inf input defined.
      const float q = std::round(std::fmax(-127.0f, std::fmin(127.0f, x[i] * id)));
      block[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(q));
    }
  }
}

// Written for the compiler's vectors (attention quantizes every query with it; with std::fmax, libm calls a value,
// it was two thirds of bitnet-kernel-bench attention_q8_0/head_dim:96/pos:128's scores): amax in 16 lanes, each
// `a > m ? a : m`, which passes over a NaN as fmax does; the clamp as `v < 127 ? v : 127` and `v > -127 ? v : -127`,
// which take NaN to 127 as fmax(-127, fmin(127, NaN)) does. A maximum does not depend on its order, and every other
// step is element-wise, so each clone gives the scalar loop's bits.
BITNET_VECTOR_CLONES void quantize_q8_0_acts(const float* x, int64_t n, int8_t* q, float* d) {
  for (int64_t b = 0; b < n / kQ8_0BlockElems; ++b) {
    const float* xb = x + b * kQ8_0BlockElems;
    float m[16];
    for (int k = 0; k < 16; ++k) m[k] = 0.0f;
    for (int64_t h = 0; h < kQ8_0BlockElems; h += 16)
      for (int k = 0; k < 16; ++k) {
        const float a = std::fabs(xb[h + k]);
        m[k] = a > m[k] ? a : m[k];
      }
    float amax = m[0];
    for (int k = 1; k < 16; ++k) amax = m[k] > amax ? m[k] : amax;
    uint8_t d16[2];
    store_fp16(d16, amax / 127.0f);
    d[b] = load_fp16(d16);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int64_t i = 0; i < kQ8_0BlockElems; ++i) {
      float v = xb[i] * id;
      v = v < 127.0f ? v : 127.0f;
      v = v > -127.0f ? v : -127.0f;
      q[b * kQ8_0BlockElems + i] = static_cast<int8_t>(nearest_int(v));
    }
  }
}

}  // namespace bitnet::quant
