// llama.cpp Q8_K: the int8 activation format of llama.cpp's K-quant and TQ1_0/TQ2_0 dot products.
#pragma once

#include <cstdint>

namespace bitnet::quant {

inline constexpr int64_t kQ8KBlockElems = 256;
inline constexpr int64_t kQ8KBlockBytes = 292;  // f32 d, int8 qs[256], int16 bsums[16]

// Quantizes n activations in blocks of 256, exactly as llama.cpp's quantize_row_q8_K_ref: per block, max = the
// value with the largest |x| (sign kept, first on ties), iscale = -127/max, q = min(127, nearest_int(iscale*x))
// with ggml's round-half-to-even, d = 1/iscale (so d has the opposite sign of max and q(max) = -127); an
// all-zero block gives d = 0, q = 0. x = q * d. d gets ceil(n/256) entries; a last partial block is treated
// as padded with zeros (llama.cpp requires n % 256 == 0). bsums (optional, 16 per block) are the sums of
// each 16 consecutive q.
void quantize_q8_k(const float* x, int64_t n, int8_t* q, float* d, int16_t* bsums = nullptr);

// Table entries: the 292-byte block format (n a multiple of 256).
void dequantize_q8_k(const uint8_t* src, float* dst, int64_t n);
void quantize_q8_k_blocks(const float* src, uint8_t* dst, int64_t n);

}  // namespace bitnet::quant
