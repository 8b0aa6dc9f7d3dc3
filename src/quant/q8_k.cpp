// Q8_K activation quantization and the Q8_K block format, following llama.cpp's quantize_row_q8_K_ref and
// dequantize_row_q8_K (ggml/src/ggml-quants.c). Block (292 bytes): f32 d, int8 qs[256], int16 bsums[16]
// (bsums[j] = sum of qs[16j .. 16j+15]); value = qs[i] * d. The rounding is ggml's nearest_int
// (block_util.hpp): x + 12582912.0f (1.5 * 2^23) in f32, then the low mantissa bits, which rounds ties to
// EVEN (2.5 -> 2, -3.5 -> -4), not away from zero. llama.cpp leaves bsums unwritten for an all-zero block;
// here they are 0.
#include "quant/q8_k.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/vector_clones.hpp"
#include "quant/block_util.hpp"

namespace bitnet::quant {
namespace {

// One block of `len` <= 256 values (the rest count as zeros), in loops the compiler vectorizes in each clone (the
// same operations per element, so the same bits; the scalar loops took 2.7 ns a value on Zen 3). The largest |x|
// is found on the bit patterns, as int32: for |x| (sign bit clear) they order as the values do; NaN's, above
// infinity's, count as 0, as the reference never takes a NaN (it compares). Then the first element with that |x|
// (a min of indices) sets the sign, as the reference's first strictly larger one does.
BITNET_VECTOR_CLONES void quantize_block(const float* x, int64_t len, int8_t* q, float* d, int16_t* bsums) {
  const int32_t n = static_cast<int32_t>(len);
  int32_t amax_bits = 0;
  for (int32_t j = 0; j < n; ++j) {
    int32_t b;
    std::memcpy(&b, x + j, 4);
    b &= 0x7fffffff;
    b = b > 0x7f800000 ? 0 : b;
    amax_bits = b > amax_bits ? b : amax_bits;
  }
  int32_t first = n;
  for (int32_t j = 0; j < n; ++j) {
    int32_t b;
    std::memcpy(&b, x + j, 4);
    const int32_t at = (b & 0x7fffffff) == amax_bits ? j : n;
    first = at < first ? at : first;
  }
  float amax;
  std::memcpy(&amax, &amax_bits, 4);
  const float max = first < n ? x[first] : 0.0f;
  if (amax == 0.0f) {
    std::memset(q, 0, static_cast<size_t>(len));
    *d = 0.0f;
  } else {
    const float iscale = -127.0f / max;
    for (int64_t j = 0; j < len; ++j)
      q[j] = static_cast<int8_t>(std::max(-128, std::min(127, nearest_int(iscale * x[j]))));
    *d = 1.0f / iscale;
  }
  if (bsums != nullptr)
    for (int64_t g = 0; g < 16; ++g) {
      int sum = 0;
      for (int64_t j = 16 * g; j < std::min(len, 16 * g + 16); ++j) sum += q[j];
      bsums[g] = static_cast<int16_t>(sum);
    }
}

}  // namespace

void quantize_q8_k(const float* x, int64_t n, int8_t* q, float* d, int16_t* bsums) {
  for (int64_t b = 0; b * kQ8KBlockElems < n; ++b) {
    const int64_t len = std::min(kQ8KBlockElems, n - b * kQ8KBlockElems);
    quantize_block(x + b * kQ8KBlockElems, len, q + b * kQ8KBlockElems, d + b,
                   bsums != nullptr ? bsums + 16 * b : nullptr);
  }
}

void dequantize_q8_k(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQ8KBlockElems; ++b) {
    const uint8_t* block = src + b * kQ8KBlockBytes;
    const float d = load_f32(block);
    for (int64_t i = 0; i < kQ8KBlockElems; ++i)
      dst[b * kQ8KBlockElems + i] = d * static_cast<float>(static_cast<int8_t>(block[4 + i]));
  }
}

void quantize_q8_k_blocks(const float* src, uint8_t* dst, int64_t n) {
  int8_t q[kQ8KBlockElems];
  int16_t bsums[16];
  for (int64_t b = 0; b < n / kQ8KBlockElems; ++b) {
    float d;
    quantize_block(src + b * kQ8KBlockElems, kQ8KBlockElems, q, &d, bsums);
    uint8_t* block = dst + b * kQ8KBlockBytes;
    store_f32(block, d);
    std::memcpy(block + 4, q, sizeof q);
    std::memcpy(block + 4 + kQ8KBlockElems, bsums, sizeof bsums);
  }
}

}  // namespace bitnet::quant
