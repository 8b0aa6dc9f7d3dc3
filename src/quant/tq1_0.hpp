// llama.cpp TQ1_0: ternary weights packed 5 (or 4) per byte in base 3, 256 per block with one fp16 scale.
#pragma once

#include <cstdint>

namespace bitnet::quant {

inline constexpr int64_t kTq1_0BlockElems = 256;
inline constexpr int64_t kTq1_0BlockBytes = 54;  // qs[48], qh[4], fp16 d

// The 256 trits of one block in element order, as codes w + 1 in {0, 1, 2} (every byte decodes to valid trits).
void tq1_0_unpack_codes(const uint8_t* block, uint8_t* codes);
float tq1_0_scale(const uint8_t* block);
// The same 256 codes in the engine's compute layout (quant/ternary.hpp): two 128-column blocks, 64 bytes at out.
// Decoded straight into place, without the element-order codes in between (load-time repacking).
void tq1_0_compute_codes(const uint8_t* block, uint8_t* out);

void dequantize_tq1_0(const uint8_t* src, float* dst, int64_t n);  // n a multiple of 256
void quantize_tq1_0(const float* src, uint8_t* dst, int64_t n);

}  // namespace bitnet::quant
