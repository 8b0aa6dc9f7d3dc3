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
  bool gfni = false;  // Galois-field byte instructions (vgf2p8affineqb): the AVX-512 generation kernels' decode
  // Byte permutes (vpermi2b): the dense ternary layout's decode (quant/ternary.hpp). BITNET_AVX512VBMI=0 (read once)
  // hides them, so that matrices stay in 2-bit panels.
  bool avx512vbmi = false;
  // AVX-VNNI (vpdpbusd on 256 bits, VEX-encoded): the AVX2 level's ternary kernels use it. BITNET_AVXVNNI=0 (read
  // once) hides it, so that the plain AVX2 kernels run.
  bool avxvnni = false;
  bool neon = false, neon_dotprod = false;
  // The int8 matrix-multiply extension (smmla; with dotprod): the dotprod level's prompt kernel uses it.
  // BITNET_I8MM=0 (read once) hides it, so that sdot takes prompt batches too.
  bool neon_i8mm = false;
  // AMX-TILE + AMX-INT8 (Intel Sapphire Rapids and later), and Linux lets this process use the tile registers
  // (asked once, with arch_prctl ARCH_REQ_XCOMP_PERM, when the features are first read).
  bool amx_int8 = false;
  bool intel = false;  // GenuineIntel (tuning: where a kernel's best prefetch differs by vendor)
  bool amd = false;    // AuthenticAMD
  int family = 0;      // x86 display family (cpuid leaf 1, extended family added): AMD Zen 4 0x19, Zen 5 0x1a
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

// Whether the AVX-512 level also uses AMX tiles (prompt batches of 16 tokens or more): the CPU and OS allow it
// (CpuFeatures::amx_int8), active_isa() is kAvx512, and neither BITNET_AMX=0 (read once) nor set_amx_enabled(false)
// turned it off. Results are bit-equal with and without it.
bool amx_active();
// Turns AMX on or off for amx_active() (tests walk both); returns the previous setting.
bool set_amx_enabled(bool on);
// isa_name(level), plus "+amx" where amx_active() applies to that level, "+vnni" at the AVX2 level where the CPU
// has AVX-VNNI (CpuFeatures::avxvnni), or "+i8mm" at the dotprod level where it has that (CpuFeatures::neon_i8mm).
std::string isa_description(IsaLevel level);

}  // namespace bitnet
