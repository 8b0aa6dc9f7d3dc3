// Software prefetch: where generation's ternary codes go (the AVX-512 row and panel kernels), and attention's KV
// rows ahead of the row being read (and where they go). Include it inside a kernel file's target region.
#pragma once

#include <cstdint>

#include "core/cpu_features.hpp"

namespace bitnet::kernels {

// Into L2 (hint T1) on Intel CPUs, into L1 (T0) elsewhere. On the 2-core Intel Xeon VM (Sapphire Rapids class), L2
// took generation up in alternations of the two: the row kernel 3-11% on the large model (with one prefetch a
// line), the panel kernel (TQ2_0) about 10% on the large model and 3-7% on 2B-4T. Zen 5, where the distances were
// tuned with L1 prefetches, keeps them, and so does Zen 4 for the panel kernel (bitnet-kernel-bench
// ternary/stream_2560x262144/tokens:1/avx512-vnni/panels on a 2-core Zen 4 VM: one thread 31 GB/s with L1, 24-29 with
// L2). Read once, when a kernel first asks (so only on a CPU that runs these kernels).
inline bool code_prefetch_to_l2() {
  static const bool to_l2 = cpu_features().intel;
  return to_l2;
}

// The choice of the AVX-512 row kernel (x86/ternary_avx512.cpp) and of attention's KV rows (prefetch_kv_ahead):
// L2 everywhere but on Zen 5 and later AMD CPUs (family 0x1a on), where the row kernel's distances were tuned with L1.
// On the 2-core Zen 4 VM, L1 left the row kernel streaming at a third of the read bandwidth (the stream benchmark
// above without /panels: one thread 9.9 GB/s with L1, 22 with L2; `bench --no-repack-i2s -p 0 -n 32`, four
// alternations: 2B-4T 24-29 -> 41-52 tok/s, large 76-95 -> 144-155), and F16 attention from memory 20% slower
// (bitnet-kernel-bench attention_gen_F16/head_dim:128/pos:4096/queries:4/stream/avx512-vnni: one thread 9.2-9.6
// against 11.7-12.0 GB/s, two 18.2-19.5 against 22.5-23.0; /avx2 8.0 against 9.6-9.8; Q8_0, whose arithmetic bounds
// it, level); on the Intel VM the KV rows went as fast with either hint.
inline bool stream_prefetch_to_l2() {
  static const bool to_l2 = !(cpu_features().amd && cpu_features().family >= 0x1a);
  return to_l2;
}

// Prefetches the line at `address` (an integer: past a matrix's last rows it lies outside the codes, which a prefetch
// may touch, as it never faults, but pointer arithmetic may not reach).
inline void prefetch_code_line(uintptr_t address, bool to_l2) {
  if (to_l2) {
    _mm_prefetch(reinterpret_cast<const char*>(address), _MM_HINT_T1);
  } else {
    _mm_prefetch(reinterpret_cast<const char*>(address), _MM_HINT_T0);
  }
}

// Attention reads a KV head's rows one position after another, and at a long context from memory: the hardware's
// prefetchers left two threads reading them at about 17 GB/s. Each kernel fetches the bytes it will read of the row
// kKvAhead positions on, bytes [offset, offset + bytes) of it, every line they touch (a line's worth a step could
// skip lines of rows over 64 bytes long). The large model at 2000 positions with a Q8_0 cache (bitnet-cli bench, the
// 2-core Intel VM): tg 57-60 -> 66-67 tok/s, with 8 to 64 positions ahead alike, and with either hint.
constexpr int64_t kKvAhead = 16;
inline void prefetch_kv_ahead(const uint8_t* row, int64_t stride, int64_t offset, int64_t bytes, bool to_l2) {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(row) + static_cast<uintptr_t>(kKvAhead * stride + offset);
  const uintptr_t first = begin & ~uintptr_t{63};
  for (uintptr_t a = first; a < begin + static_cast<uintptr_t>(bytes); a += 64) prefetch_code_line(a, to_l2);
}

}  // namespace bitnet::kernels
