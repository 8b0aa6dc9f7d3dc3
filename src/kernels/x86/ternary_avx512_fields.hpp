// What the AVX-512 generation kernels on panels share (x86/ternary_avx512_panel_gemv.cpp, the 2-bit panel layout;
// x86/ternary_avx512_dense.cpp, the dense one, whose decoded codes take the same fields): an activation broadcast and
// the masking of a 2-bit field where it lies. Include it after avx512_intrinsics.hpp, inside the kernel's
// BITNET_AVX512_BEGIN ... BITNET_AVX512_END, so that it is compiled for that kernel's target.
#pragma once

#include <cstdint>
#include <cstring>

namespace bitnet::kernels {

// 4 activations at q, in every lane. Under clang the broadcast is kept a load of its own (a broadcast from memory,
// as GCC emits it): folded into vpdpbusd as an embedded {1to16} operand, the kernel streamed its codes 20-25% slower
// on the 2-core Intel VM (bitnet-kernel-bench ternary/stream_2560x262144/tokens:1/avx512-vnni/panels, one thread 12.0
// against 14.5-16.3 GB/s, two threads 22.6-23.2 against 28.8-29.9; large I2_S tg64 105-114 against 115-117 tok/s).
inline __m512i broadcast4(const int8_t* q) {
  int32_t four;
  std::memcpy(&four, q, 4);
  __m512i v = _mm512_set1_epi32(four);
#if defined(__clang__)
  __asm__("" : "+v"(v));  // v must be in a register here: clang cannot fold its load into the use
#endif
  return v;
}

// The field at bits 6 - 2s of every byte of v, where it lies: 4^(3-s) x the code (s = 0..3).
template <int S>
inline __m512i field(__m512i v) {
  return _mm512_and_si512(v, _mm512_set1_epi8(static_cast<char>(3 << (6 - 2 * S))));
}

}  // namespace bitnet::kernels
