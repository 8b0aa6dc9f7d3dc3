// CPU feature detection and the ISA level the fast kernels run at, chosen once: the best the CPU has,
// capped by the environment variable BITNET_ISA (scalar | avx2 | avx512) for tests and odd CPUs.
#pragma once

#include <string>

namespace bitnet {

// Levels are ordered within a platform: 1 and 2 mean AVX2 / AVX-512 VNNI on x86-64 and NEON / NEON with the
// dot-product extension on aarch64 (one binary only ever has one of the two families).
enum class IsaLevel : int {
  kScalar = 0,   // portable C++ (the reference kernels)
  kAvx2 = 1,     // x86-64: AVX2 + FMA + F16C
  kAvx512 = 2,   // x86-64: AVX-512 F/BW/VL + VNNI
  kNeon = 1,     // aarch64: Advanced SIMD
  kNeonDot = 2,  // aarch64: Advanced SIMD + dotprod (sdot)
};

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false;
  bool neon = false, neon_dotprod = false;
};

const CpuFeatures& cpu_features();
// The highest level this CPU supports.
IsaLevel max_supported_isa();
// max_supported_isa() capped by $BITNET_ISA (read once; scalar | avx2 | avx512 on x86-64, scalar | neon |
// dotprod on aarch64; an unknown value is ignored with a warning).
IsaLevel active_isa();
// Overrides active_isa() (tests walk every level; clamped to what the CPU supports).
void set_active_isa(IsaLevel level);
const char* isa_name(IsaLevel level);

}  // namespace bitnet
