// Q6_K reference pack/unpack, following llama.cpp's dequantize_row_q6_K / quantize_row_q6_K_ref and its helper
// make_qx_quants (ggml/src/ggml-quants.c). Block (210 bytes, 256 elements): ql[128], qh[64], int8 sc[16], fp16 d.
// Element e has the 6-bit code q (value (q - 32) * d * sc[e / 16]); with h = e / 128, r = e % 128, l = r % 32:
//   r in [0,32):   low 4 bits = ql[64h + l]      & 0xF, high 2 bits = qh[32h + l] bits 1:0
//   r in [32,64):  low 4 bits = ql[64h + l + 32] & 0xF, high 2 bits = qh[32h + l] bits 3:2
//   r in [64,96):  low 4 bits = ql[64h + l]      >> 4,  high 2 bits = qh[32h + l] bits 5:4
//   r in [96,128): low 4 bits = ql[64h + l + 32] >> 4,  high 2 bits = qh[32h + l] bits 7:6
// Quantize (llama.cpp, no importance weights): each 16-value sub-block gets a scale from make_qx_quants(nmax 32,
// rmse_type 1: weights x^2, 18 trial scales around -32/max); the signed scale with the largest magnitude sets
// iscale = -128/it, d = fp16(1/iscale), sc = min(127, nearest_int(iscale * scale)); then every value is
// requantized as clamp(nearest_int(x / (d*sc)), -32, 31). nearest_int rounds halves to even (block_util.hpp).
#include "quant/q6_k.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/block_util.hpp"

namespace bitnet::quant {
namespace {

constexpr float kGroupMaxEps = 1e-15f;  // ggml's GROUP_MAX_EPS

// llama.cpp's make_qx_quants(n, nmax, x, L, rmse_type = 1, qw = NULL): returns the sub-block scale and the
// codes L in [0, 2*nmax). Kept operation-for-operation so the float results match.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0.0f, amax = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  float iscale = -static_cast<float>(nmax) / max;
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i)
        L[i] = static_cast<int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i]))));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

}  // namespace

void dequantize_q6_k(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ6KBlockElems; ++b) {
    const uint8_t* ql = src + b * kQ6KBlockBytes;
    const uint8_t* qh = ql + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(ql + 192);
    const float d = load_fp16(ql + 208);
    float* y = dst + b * kQ6KBlockElems;
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo0 = ql[64 * h + l], lo1 = ql[64 * h + l + 32], hi = qh[32 * h + l];
        const int q[4] = {(lo0 & 0xF) | ((hi & 3) << 4), (lo1 & 0xF) | (((hi >> 2) & 3) << 4),
                          (lo0 >> 4) | (((hi >> 4) & 3) << 4), (lo1 >> 4) | (((hi >> 6) & 3) << 4)};
        for (int k = 0; k < 4; ++k) {
          const int e = 128 * h + 32 * k + l;
          y[e] = d * static_cast<float>(sc[e / 16]) * static_cast<float>(q[k] - 32);
        }
      }
  }
}

void quantize_q6_k(const float* src, uint8_t* dst, int64_t n) {
  int8_t L[kQ6KBlockElems];
  float scales[16];
  for (int64_t b = 0; b < n / kQ6KBlockElems; ++b) {
    const float* x = src + b * kQ6KBlockElems;
    uint8_t* block = dst + b * kQ6KBlockBytes;
    float max_scale = 0.0f, max_abs_scale = 0.0f;
    for (int ib = 0; ib < 16; ++ib) {
      scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
      if (std::fabs(scales[ib]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[ib]);
        max_scale = scales[ib];
      }
    }
    std::memset(block, 0, static_cast<size_t>(kQ6KBlockBytes));
    if (max_abs_scale < kGroupMaxEps) continue;  // all-zero block: every byte 0, d = 0
    const float iscale = -128.0f / max_scale;
    store_fp16(block + 208, 1.0f / iscale);
    const float d = load_fp16(block + 208);
    int8_t* sc = reinterpret_cast<int8_t*>(block + 192);
    for (int ib = 0; ib < 16; ++ib) sc[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    for (int j = 0; j < 16; ++j) {
      const float dj = d * static_cast<float>(sc[j]);
      if (dj == 0.0f) continue;  // keeps make_qx_quants' codes, as llama.cpp does
      for (int i = 0; i < 16; ++i)
        L[16 * j + i] = static_cast<int8_t>(std::max(-32, std::min(31, nearest_int(x[16 * j + i] / dj))) + 32);
    }
    uint8_t* ql = block;
    uint8_t* qh = block + 128;
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l) {
        const uint8_t c0 = static_cast<uint8_t>(L[128 * h + l]), c1 = static_cast<uint8_t>(L[128 * h + l + 32]);
        const uint8_t c2 = static_cast<uint8_t>(L[128 * h + l + 64]), c3 = static_cast<uint8_t>(L[128 * h + l + 96]);
        ql[64 * h + l] = static_cast<uint8_t>((c0 & 0xF) | ((c2 & 0xF) << 4));
        ql[64 * h + l + 32] = static_cast<uint8_t>((c1 & 0xF) | ((c3 & 0xF) << 4));
        qh[32 * h + l] = static_cast<uint8_t>((c0 >> 4) | ((c1 >> 4) << 2) | ((c2 >> 4) << 4) | ((c3 >> 4) << 6));
      }
  }
}

}  // namespace bitnet::quant
