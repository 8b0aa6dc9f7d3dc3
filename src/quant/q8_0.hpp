// llama.cpp Q8_0: 32 int8 weights per block with one fp16 scale.
#pragma once

#include <cstdint>

namespace bitnet::quant {

inline constexpr int64_t kQ8_0BlockElems = 32;
inline constexpr int64_t kQ8_0BlockBytes = 34;  // fp16 d, int8 qs[32]

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t n);  // n a multiple of 32
void quantize_q8_0(const float* src, uint8_t* dst, int64_t n);

// Activations for Q8_0 dot products, as llama.cpp's x86 quantize_row_q8_0 makes them (which its AVX2 and AVX-512
// builds run, and bitnet.cpp's): per block of 32, amax = max |x|, d = amax / 127 rounded to fp16 (d gets the
// rounded value back as float), q = round-half-to-even(x * (127 / amax)), 0 for an all-zero block. That differs
// from quantize_q8_0 (the reference that packs weights) in the reciprocal and the rounding of halves. n: a multiple
// of 32; q gets n values, d n / 32.
void quantize_q8_0_acts(const float* x, int64_t n, int8_t* q, float* d);

}  // namespace bitnet::quant
