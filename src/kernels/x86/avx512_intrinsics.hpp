// The intrinsics of the AVX-512 kernels (x86/*_avx512*.cpp): <immintrin.h>, or, in a build configured with
// BITNET_EMULATE_AVX512=ON, portable versions of the same intrinsics (SIMDe, libsimde-dev, plus the few below that
// SIMDe 0.7 lacks), so the AVX-512 kernels' logic is tested against the scalar reference on CPUs without AVX-512
// (the CI machines). Emulated kernels are slow and prove nothing about speed; CPU-specific behaviour (alignment
// faults, the real instructions' timing) is only tested on a CPU that has AVX-512.
//
// A kernel file includes this first and wraps its code in BITNET_AVX512_BEGIN(features) ... BITNET_AVX512_END,
// which compile it for those ISA extensions (core/target_region.hpp) natively and do nothing in the emulated build.
#pragma once

#if !defined(BITNET_EMULATE_AVX512)

#include <immintrin.h>

#include "core/target_region.hpp"

#define BITNET_AVX512_BEGIN(features) BITNET_TARGET_BEGIN(features)
#define BITNET_AVX512_END BITNET_TARGET_END

#else

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>
#include <simde/x86/gfni.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/half.hpp"

#define BITNET_AVX512_BEGIN(features)
#define BITNET_AVX512_END

typedef simde__mmask8 __mmask8;
typedef simde__mmask16 __mmask16;
typedef simde__mmask64 __mmask64;
#ifndef _MM_FROUND_TO_NEAREST_INT
#define _MM_FROUND_TO_NEAREST_INT SIMDE_MM_FROUND_TO_NEAREST_INT
#endif
#ifndef _MM_FROUND_TO_ZERO
#define _MM_FROUND_TO_ZERO SIMDE_MM_FROUND_TO_ZERO
#endif
#ifndef _MM_FROUND_NO_EXC
#define _MM_FROUND_NO_EXC SIMDE_MM_FROUND_NO_EXC
#endif

// Intrinsics SIMDe 0.7 does not provide, written from Intel's descriptions, lane by lane through memory.
namespace bitnet::avx512_emulated {

struct F32x16 {
  float v[16];
};
struct I32x16 {
  int32_t v[16];
};

inline F32x16 lanes(simde__m512 a) {
  F32x16 r;
  simde_mm512_storeu_ps(r.v, a);
  return r;
}
inline I32x16 lanes(simde__m512i a) {
  I32x16 r;
  simde_mm512_storeu_si512(r.v, a);
  return r;
}
inline simde__m512 vec(const F32x16& r) { return simde_mm512_loadu_ps(r.v); }
inline simde__m512i vec(const I32x16& r) { return simde_mm512_loadu_si512(r.v); }

inline simde__m512i cvttps_epi32(simde__m512 a) {  // truncation; NaN and out of range give INT32_MIN
  F32x16 x = lanes(a);
  I32x16 r;
  for (int i = 0; i < 16; ++i) {
    const float t = std::trunc(x.v[i]);
    r.v[i] = (t >= -2147483648.0f && t < 2147483648.0f) ? static_cast<int32_t>(t) : INT32_MIN;
  }
  return vec(r);
}
inline simde__m512 cvtepi32_ps(simde__m512i a) {  // round to nearest even, as a C conversion
  I32x16 x = lanes(a);
  F32x16 r;
  for (int i = 0; i < 16; ++i) r.v[i] = static_cast<float>(x.v[i]);
  return vec(r);
}
inline simde__m512i srai_epi32(simde__m512i a, int imm) {  // arithmetic shift right; 32 or more: the sign in every bit
  I32x16 x = lanes(a);
  const int n = imm < 31 ? imm : 31;
  for (int i = 0; i < 16; ++i) x.v[i] = x.v[i] >> n;  // (C++20: arithmetic)
  return vec(x);
}
inline int reduce_add_epi32(simde__m512i a) {  // wraps, as the instruction sequence does
  I32x16 x = lanes(a);
  uint32_t s = 0;
  for (int i = 0; i < 16; ++i) s += static_cast<uint32_t>(x.v[i]);
  return static_cast<int>(s);
}
// Rounds to multiples of 2^-(imm >> 4), by imm's low bits: 0 nearest even, 1 down, 2 up, 3 toward zero (4 or more:
// the current mode, nearest here). SIMDe 0.7.4's own gives -3.6 for -3.7 toward zero.
inline simde__m512 roundscale_ps(simde__m512 a, int imm) {
  F32x16 x = lanes(a), r;
  const int scale = (imm >> 4) & 15, mode = (imm & 4) != 0 ? 0 : imm & 3;
  for (int i = 0; i < 16; ++i) {
    const double v = std::ldexp(static_cast<double>(x.v[i]), scale);  // exact
    double t = mode == 0 ? std::nearbyint(v) : mode == 1 ? std::floor(v) : mode == 2 ? std::ceil(v) : std::trunc(v);
    r.v[i] = std::isnan(x.v[i]) ? x.v[i] : static_cast<float>(std::ldexp(t, -scale));
  }
  return vec(r);
}
inline simde__m512 cvtph_ps(simde__m256i a) {
  uint16_t h[16];
  simde_mm256_storeu_si256(h, a);
  F32x16 r;
  for (int i = 0; i < 16; ++i) r.v[i] = fp16_to_float(h[i]);
  return vec(r);
}
inline simde__m512 permute_ps(simde__m512 a, int imm) {  // within each 128-bit lane
  F32x16 x = lanes(a), r;
  for (int i = 0; i < 16; ++i) r.v[i] = x.v[i / 4 * 4 + ((imm >> (2 * (i % 4))) & 3)];
  return vec(r);
}
inline simde__m512i zextsi256_si512(simde__m256i a) {
  I32x16 r{};
  simde_mm256_storeu_si256(r.v, a);
  return vec(r);
}
inline simde__m512 maskz_loadu_ps(simde__mmask16 k, const void* p) {  // reads only the selected lanes
  F32x16 r{};
  const char* b = static_cast<const char*>(p);
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) std::memcpy(&r.v[i], b + 4 * i, 4);
  return vec(r);
}
inline void mask_storeu_ps(void* p, simde__mmask16 k, simde__m512 a) {  // writes only the selected lanes
  F32x16 x = lanes(a);
  char* b = static_cast<char*>(p);
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) std::memcpy(b + 4 * i, &x.v[i], 4);
}
inline void mask_storeu_ps128(void* p, simde__mmask8 k, simde__m128 a) {
  float x[4];
  simde_mm_storeu_ps(x, a);
  char* b = static_cast<char*>(p);
  for (int i = 0; i < 4; ++i)
    if ((k >> i) & 1) std::memcpy(b + 4 * i, &x[i], 4);
}
inline simde__m512 mask_i32gather_ps(simde__m512 src, simde__mmask16 k, simde__m512i index, const void* base,
                                     int scale) {
  F32x16 r = lanes(src);
  I32x16 ix = lanes(index);
  const char* b = static_cast<const char*>(base);
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) std::memcpy(&r.v[i], b + static_cast<int64_t>(ix.v[i]) * scale, 4);
  return vec(r);
}
inline simde__m512i mask_i32gather_epi32(simde__m512i src, simde__mmask16 k, simde__m512i index, const void* base,
                                         int scale) {
  I32x16 r = lanes(src), ix = lanes(index);
  const char* b = static_cast<const char*>(base);
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) std::memcpy(&r.v[i], b + static_cast<int64_t>(ix.v[i]) * scale, 4);
  return vec(r);
}
inline simde__m512i cvtepi8_epi32(simde__m128i a) {  // sign extension of 16 bytes
  int8_t b[16];
  simde_mm_storeu_si128(b, a);
  I32x16 r;
  for (int i = 0; i < 16; ++i) r.v[i] = b[i];
  return vec(r);
}
inline simde__m256i cvtepi32_epi16(simde__m512i a) {  // truncation to the low 16 bits of each lane
  I32x16 x = lanes(a);
  uint16_t h[16];
  for (int i = 0; i < 16; ++i) h[i] = static_cast<uint16_t>(static_cast<uint32_t>(x.v[i]));
  return simde_mm256_loadu_si256(h);
}
// Byte subtraction under a mask, wrapping as the instruction does (SIMDe's subtracts signed chars: undefined behaviour
// on overflow, which UBSan reports).
inline simde__m512i mask_sub_epi8(simde__m512i src, simde__mmask64 k, simde__m512i a, simde__m512i b) {
  uint8_t r[64], x[64], y[64];
  simde_mm512_storeu_si512(r, src);
  simde_mm512_storeu_si512(x, a);
  simde_mm512_storeu_si512(y, b);
  for (int i = 0; i < 64; ++i)
    if ((k >> i) & 1) r[i] = static_cast<uint8_t>(x[i] - y[i]);
  return simde_mm512_loadu_si512(r);
}

// Fused multiply-adds, one rounding per lane as the instruction has: SIMDe's portable fmadd multiplies and adds
// (two roundings) where the compiler targets no FMA.
inline simde__m512 fmadd_ps(simde__m512 a, simde__m512 b, simde__m512 c) {
  F32x16 x = lanes(a), y = lanes(b), z = lanes(c), r;
  for (int i = 0; i < 16; ++i) r.v[i] = std::fma(x.v[i], y.v[i], z.v[i]);
  return vec(r);
}
inline simde__m256 fmadd_ps256(simde__m256 a, simde__m256 b, simde__m256 c) {
  float x[8], y[8], z[8];
  simde_mm256_storeu_ps(x, a);
  simde_mm256_storeu_ps(y, b);
  simde_mm256_storeu_ps(z, c);
  for (int i = 0; i < 8; ++i) x[i] = std::fma(x[i], y[i], z[i]);
  return simde_mm256_loadu_ps(x);
}

}  // namespace bitnet::avx512_emulated

#define _mm512_cvttps_epi32(a) bitnet::avx512_emulated::cvttps_epi32(a)
#define _mm512_cvtepi32_ps(a) bitnet::avx512_emulated::cvtepi32_ps(a)
#define _mm512_reduce_add_epi32(a) bitnet::avx512_emulated::reduce_add_epi32(a)
#define _mm512_srai_epi32(a, imm) bitnet::avx512_emulated::srai_epi32(a, imm)
#undef _mm512_roundscale_ps
#define _mm512_roundscale_ps(a, imm) bitnet::avx512_emulated::roundscale_ps(a, imm)
#define _mm512_cvtph_ps(a) bitnet::avx512_emulated::cvtph_ps(a)
#define _mm512_permute_ps(a, imm) bitnet::avx512_emulated::permute_ps(a, imm)
#define _mm512_shuffle_f32x4(a, b, imm) simde_mm512_shuffle_f32x4(a, b, imm)
#define _mm512_zextsi256_si512(a) bitnet::avx512_emulated::zextsi256_si512(a)
#define _mm512_maskz_loadu_ps(k, p) bitnet::avx512_emulated::maskz_loadu_ps(k, p)
#define _mm512_mask_storeu_ps(p, k, a) bitnet::avx512_emulated::mask_storeu_ps(p, k, a)
#define _mm_mask_storeu_ps(p, k, a) bitnet::avx512_emulated::mask_storeu_ps128(p, k, a)
#define _mm512_mask_i32gather_ps(src, k, index, base, scale) \
  bitnet::avx512_emulated::mask_i32gather_ps(src, k, index, base, scale)
#define _mm512_mask_i32gather_epi32(src, k, index, base, scale) \
  bitnet::avx512_emulated::mask_i32gather_epi32(src, k, index, base, scale)
#define _mm512_cvtepi32_epi16(a) bitnet::avx512_emulated::cvtepi32_epi16(a)
#undef _mm512_mask_sub_epi8
#define _mm512_mask_sub_epi8(src, k, a, b) bitnet::avx512_emulated::mask_sub_epi8(src, k, a, b)
#define _mm512_cvtepi8_epi32(a) bitnet::avx512_emulated::cvtepi8_epi32(a)
#undef _mm512_fmadd_ps
#define _mm512_fmadd_ps(a, b, c) bitnet::avx512_emulated::fmadd_ps(a, b, c)
#undef _mm256_fmadd_ps
#define _mm256_fmadd_ps(a, b, c) bitnet::avx512_emulated::fmadd_ps256(a, b, c)
#define _mm512_undefined_ps() simde_mm512_setzero_ps()
#define _cvtsh_ss(h) bitnet::fp16_to_float(h)

#endif
