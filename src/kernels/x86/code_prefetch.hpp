// Generation's software prefetch of ternary codes (the AVX-512 row and panel kernels): where the lines go. Include it
// inside a kernel file's target region.
#pragma once

#include <cstdint>

#include "core/cpu_features.hpp"

namespace bitnet::kernels {

// Into L2 (hint T1) on Intel CPUs, into L1 (T0) elsewhere. On the 2-core Intel Xeon VM (Sapphire Rapids class), L2
// took generation up in alternations of the two: the row kernel 3-11% on the large model (with one prefetch a
// line), the panel kernel (TQ2_0) about 10% on the large model and 3-7% on 2B-4T. Zen 5, where the distances were
// tuned with L1 prefetches, keeps them (Zen 4 drops some L2 prefetches, by published measurements). Read once, when a
// kernel first asks (so only on a CPU that runs these kernels).
inline bool code_prefetch_to_l2() {
  static const bool to_l2 = cpu_features().intel;
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

}  // namespace bitnet::kernels
