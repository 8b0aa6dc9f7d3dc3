// TQ1_0 reference pack/unpack, following llama.cpp's quantize_row_tq1_0_ref / dequantize_row_tq1_0
// (ggml/src/ggml-quants.c). Block (54 bytes, 256 elements), trit t = w + 1 in {0, 1, 2}:
//   qs[0..31]:  byte m holds elements m + 32k, k = 0..4            (elements 0..159)
//   qs[32..47]: byte 32+m holds elements 160 + m + 16k, k = 0..4   (elements 160..239)
//   qh[0..3]:   byte j holds elements 240 + j + 4k, k = 0..3       (elements 240..255)
//   d: fp16 scale, value = (t - 1) * d
// A byte's trits t0..t4 (k = 0 most significant) form v = t0*81 + t1*27 + t2*9 + t3*3 + t4 (qh: the four
// trits then a 0 as t4), stored as ceil(v * 256 / 243), a fixed-point fraction v / 243. Trit k is read as
// q = (uint8_t)(byte * 3^k) (wrapping mod 256 shifts the fraction left by k trits), t = (q * 3) >> 8.
// Quantize (llama.cpp): d = max|x| (fp16, round to nearest even), t = lround(x / d) + 1 (halves away from 0).
#include "quant/tq1_0.hpp"

#include <cmath>

#include "core/vector_clones.hpp"
#include "quant/block_util.hpp"

namespace bitnet::quant {
namespace {

constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};

inline uint8_t trit(uint8_t byte, int k) {
  const uint8_t q = static_cast<uint8_t>(byte * kPow3[k]);
  return static_cast<uint8_t>((q * 3) >> 8);
}

// Packs five trits (most significant first) into llama.cpp's fixed-point byte: ceil(v * 256 / 243).
inline uint8_t pack_trits(const int* t) {
  int v = 0;
  for (int k = 0; k < 5; ++k) v = v * 3 + t[k];
  return static_cast<uint8_t>((v * 256 + 242) / 243);
}

inline int quant_trit(float x, float id) {
  return static_cast<int>(std::lround(std::fmax(-1.0f, std::fmin(1.0f, x * id)))) + 1;
}

}  // namespace

void tq1_0_unpack_codes(const uint8_t* block, uint8_t* codes) {
  for (int k = 0; k < 5; ++k)
    for (int m = 0; m < 32; ++m) codes[32 * k + m] = trit(block[m], k);
  for (int k = 0; k < 5; ++k)
    for (int m = 0; m < 16; ++m) codes[160 + 16 * k + m] = trit(block[32 + m], k);
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 4; ++j) codes[240 + 4 * k + j] = trit(block[48 + j], k);
}

// Compute-layout byte j of 128-column block h holds columns 128h + j, + 32, + 64, + 96 at shifts 6, 4, 2, 0.
// Block 0: columns j + 32k are trits k = 0..3 of qs[j]. Block 1, column 128 + j: trit 4 of qs[j]; 160 + j and
// 192 + j: trits 0 and 2 (j < 16) or 1 and 3 (j >= 16) of qs[32 + j % 16]; 224 + j: trit 4 of qs[32 + j] (j < 16),
// else trit (j - 16) / 4 of qh[(j - 16) % 4]. Plain loops of byte arithmetic over 32 and 16 bytes, which the
// compiler vectorizes in each clone: 27 ns a block on one Zen 3 core, where decoding the 256 codes in element order
// and packing them took 57 (a 2B-4T TQ1_0 file holds 8.1 M blocks).
BITNET_VECTOR_CLONES void tq1_0_compute_codes(const uint8_t* block, uint8_t* out) {
  const uint8_t* qs = block;
  const uint8_t* qh = block + 48;
  uint8_t last[16];  // columns 240..255: trit m / 4 of qh[m % 4]
  for (int m = 0; m < 16; ++m) last[m] = trit(qh[m % 4], m / 4);
  uint8_t top[32];  // trit 4 of qs[j] at shift 6: block 1, columns 128..159
  for (int j = 0; j < 32; ++j) {
    const uint8_t b = qs[j];
    out[j] = static_cast<uint8_t>(trit(b, 0) << 6 | trit(b, 1) << 4 | trit(b, 2) << 2 | trit(b, 3));
    top[j] = static_cast<uint8_t>(trit(b, 4) << 6);
  }
  for (int j = 0; j < 16; ++j) {
    const uint8_t b = qs[32 + j];
    out[32 + j] = static_cast<uint8_t>(top[j] | trit(b, 0) << 4 | trit(b, 2) << 2 | trit(b, 4));
    out[48 + j] = static_cast<uint8_t>(top[16 + j] | trit(b, 1) << 4 | trit(b, 3) << 2 | last[j]);
  }
}

float tq1_0_scale(const uint8_t* block) { return load_fp16(block + 52); }

void dequantize_tq1_0(const uint8_t* src, float* dst, int64_t n) {
  uint8_t codes[kTq1_0BlockElems];
  for (int64_t b = 0; b < n / kTq1_0BlockElems; ++b) {
    const uint8_t* block = src + b * kTq1_0BlockBytes;
    const float d = tq1_0_scale(block);
    tq1_0_unpack_codes(block, codes);
    for (int64_t i = 0; i < kTq1_0BlockElems; ++i)
      dst[b * kTq1_0BlockElems + i] = static_cast<float>(static_cast<int>(codes[i]) - 1) * d;
  }
}

void quantize_tq1_0(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / kTq1_0BlockElems; ++b) {
    const float* x = src + b * kTq1_0BlockElems;
    uint8_t* block = dst + b * kTq1_0BlockBytes;
    float amax = 0.0f;
    for (int64_t i = 0; i < kTq1_0BlockElems; ++i) amax = std::fmax(amax, std::fabs(x[i]));
    const float id = amax != 0.0f ? 1.0f / amax : 0.0f;
    int t[5];
    for (int m = 0; m < 32; ++m) {
      for (int k = 0; k < 5; ++k) t[k] = quant_trit(x[m + 32 * k], id);
      block[m] = pack_trits(t);
    }
    for (int m = 0; m < 16; ++m) {
      for (int k = 0; k < 5; ++k) t[k] = quant_trit(x[160 + m + 16 * k], id);
      block[32 + m] = pack_trits(t);
    }
    for (int j = 0; j < 4; ++j) {
      for (int k = 0; k < 4; ++k) t[k] = quant_trit(x[240 + j + 4 * k], id);
      t[4] = 0;  // llama.cpp multiplies the 4-trit value by 3: the first trit becomes the most significant
      block[48 + j] = pack_trits(t);
    }
    store_fp16(block + 52, amax);
  }
}

}  // namespace bitnet::quant
