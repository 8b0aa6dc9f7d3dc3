// llama.cpp Q8_0: 32 int8 weights per block with one fp16 scale.
#pragma once

#include <cstdint>

namespace bitnet::quant {

inline constexpr int64_t kQ8_0BlockElems = 32;
inline constexpr int64_t kQ8_0BlockBytes = 34;  // fp16 d, int8 qs[32]

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t n);  // n a multiple of 32
void quantize_q8_0(const float* src, uint8_t* dst, int64_t n);

}  // namespace bitnet::quant
