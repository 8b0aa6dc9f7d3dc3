// F32, F16, BF16 reference conversions.
#pragma once

#include <cstdint>

namespace bitnet::quant {

void dequantize_f32(const uint8_t* src, float* dst, int64_t n);
void quantize_f32(const float* src, uint8_t* dst, int64_t n);
void dequantize_f16(const uint8_t* src, float* dst, int64_t n);
void quantize_f16(const float* src, uint8_t* dst, int64_t n);  // F16C at ISA level AVX2 and above
void quantize_f16_ref(const float* src, uint8_t* dst, int64_t n);
#if defined(__x86_64__)
void quantize_f16_f16c(const float* src, uint8_t* dst, int64_t n);
#endif
void dequantize_bf16(const uint8_t* src, float* dst, int64_t n);
void quantize_bf16(const float* src, uint8_t* dst, int64_t n);

}  // namespace bitnet::quant
