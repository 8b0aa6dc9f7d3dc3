// llama.cpp Q6_K: 6-bit weights in 256-element super-blocks of 16 sub-blocks (int8 scales, fp16 super-scale).
#pragma once

#include <cstdint>

namespace bitnet::quant {

inline constexpr int64_t kQ6KBlockElems = 256;
inline constexpr int64_t kQ6KBlockBytes = 210;  // ql[128], qh[64], int8 scales[16], fp16 d

void dequantize_q6_k(const uint8_t* src, float* dst, int64_t n);  // n a multiple of 256
void quantize_q6_k(const float* src, uint8_t* dst, int64_t n);

}  // namespace bitnet::quant
