// F32, F16 and BF16: plain float storage (block of one element).
#include "quant/float_types.hpp"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/cpu_features.hpp"
#include "core/half.hpp"

namespace bitnet::quant {

void dequantize_f32(const uint8_t* src, float* dst, int64_t n) { std::memcpy(dst, src, static_cast<size_t>(n) * 4); }
void quantize_f32(const float* src, uint8_t* dst, int64_t n) { std::memcpy(dst, src, static_cast<size_t>(n) * 4); }

void dequantize_f16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = fp16_to_float(h);
  }
}
void quantize_f16_ref(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = float_to_fp16(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

#if defined(__x86_64__)
// F16C's vcvtps2ph rounds to nearest even like float_to_fp16; only NaN payloads can differ (it keeps their top
// bits, float_to_fp16 writes one quiet NaN). The KV cache stores every token's keys and values through this: the
// scalar loop took 4.5% of the large model's prompt processing.
__attribute__((target("avx,f16c"))) void quantize_f16_f16c(const float* src, uint8_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  quantize_f16_ref(src + i, dst + 2 * i, n - i);
}
#endif

void quantize_f16(const float* src, uint8_t* dst, int64_t n) {
#if defined(__x86_64__)
  if (static_cast<int>(active_isa()) >= static_cast<int>(IsaLevel::kAvx2)) return quantize_f16_f16c(src, dst, n);
#endif
  quantize_f16_ref(src, dst, n);
}

void dequantize_bf16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = bf16_to_float(h);
  }
}
void quantize_bf16(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = float_to_bf16(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

}  // namespace bitnet::quant
