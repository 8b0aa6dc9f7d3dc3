// CPU feature detection via the compiler's cpuid helpers (x86); other targets report scalar for now.
#include "core/cpu_features.hpp"

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include <strings.h>

#if defined(__x86_64__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#endif

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bitnet {

namespace {

#if defined(__x86_64__) && !defined(BITNET_EMULATE_AVX512)
// AMX-TILE and AMX-INT8 (cpuid leaf 7: edx bits 24 and 25), then the OS's leave to use the tile data (XTILEDATA,
// state component 18): Linux 5.16+ grants it per process on request; without it the first tile load faults.
bool detect_amx_int8() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  if ((edx & (1u << 24)) == 0 || (edx & (1u << 25)) == 0) return false;
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}
#endif

#if defined(__x86_64__)
// The display family: cpuid leaf 1's base family (eax bits 8-11), plus its extended family (bits 20-27) where the
// base is 15.
int display_family() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return 0;
  const int base = static_cast<int>((eax >> 8) & 0xf);
  return base == 0xf ? base + static_cast<int>((eax >> 20) & 0xff) : base;
}

// cpuid leaf `leaf`, subleaf `sub`, register r (0 eax, 1 ebx, 2 ecx, 3 edx) has bit `bit` set. For the features
// clang's __builtin_cpu_supports does not name (f16c, avxvnni): both are VEX-encoded, so they count only where the
// OS saves the YMM state, which the avx2 check includes.
bool cpuid_bit(unsigned leaf, unsigned sub, int r, int bit) {
  unsigned regs[4] = {};
  if (__get_cpuid_count(leaf, sub, &regs[0], &regs[1], &regs[2], &regs[3]) == 0) return false;
  return (regs[r] & (1u << bit)) != 0;
}
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
#if defined(__x86_64__)
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2");
    c.fma = __builtin_cpu_supports("fma");
    c.f16c = c.avx2 && cpuid_bit(1, 0, 2, 29);
    c.intel = __builtin_cpu_is("intel");
    c.amd = __builtin_cpu_is("amd");
    c.family = display_family();
    // BITNET_AVXVNNI=0: as if the CPU had none, so the plain AVX2 kernels run (as on Zen 2-4, Skylake, Ice Lake).
    const char* vnni_env = std::getenv("BITNET_AVXVNNI");
    c.avxvnni = c.avx2 && cpuid_bit(7, 1, 0, 4) && !(vnni_env != nullptr && std::strcmp(vnni_env, "0") == 0);
#if defined(BITNET_EMULATE_AVX512)
    // A test build (CMake BITNET_EMULATE_AVX512): its AVX-512 kernels run on portable code, on any x86-64 CPU.
    c.avx512f = c.avx512bw = c.avx512vl = c.avx512vnni = true;
    c.amx_int8 = true;  // and its AMX kernel on portable tile code (kernels/x86/amx_emulated.hpp)
    c.gfni = true;      // SIMDe's
    c.avx512vbmi = true;
#else
    c.avx512f = __builtin_cpu_supports("avx512f");
    c.avx512bw = __builtin_cpu_supports("avx512bw");
    c.avx512vl = __builtin_cpu_supports("avx512vl");
    c.avx512vnni = __builtin_cpu_supports("avx512vnni");
    c.amx_int8 = detect_amx_int8();
    c.gfni = __builtin_cpu_supports("gfni");
    // BITNET_AVX512VBMI=0: as if the CPU had none, so matrices stay in 2-bit panels (ternary_wants_dense).
    const char* vbmi_env = std::getenv("BITNET_AVX512VBMI");
    c.avx512vbmi = __builtin_cpu_supports("avx512vbmi") && !(vbmi_env != nullptr && std::strcmp(vbmi_env, "0") == 0);
#endif
#elif defined(__aarch64__)
    c.neon = true;  // Advanced SIMD is mandatory on AArch64
#if defined(__linux__) && defined(HWCAP_ASIMDDP)
    c.neon_dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
#if defined(__linux__) && !defined(HWCAP2_I8MM)
#define HWCAP2_I8MM (1 << 13)  // Linux 5.10 and later report it; older headers lack the name
#endif
#if defined(__linux__)
    // BITNET_I8MM=0: as if the CPU had none, so the dotprod level's prompt batches take sdot (ternary_kernel).
    const char* i8mm_env = std::getenv("BITNET_I8MM");
    c.neon_i8mm = c.neon_dotprod && (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0 &&
                  !(i8mm_env != nullptr && std::strcmp(i8mm_env, "0") == 0);
#endif
#endif
    return c;
  }();
  return f;
}

IsaLevel max_supported_isa() {
  const CpuFeatures& f = cpu_features();
#if defined(__aarch64__)
  if (f.neon_dotprod) return IsaLevel::kNeonDot;
  if (f.neon) return IsaLevel::kNeon;
#endif
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni && f.avx2 && f.fma && f.f16c) return IsaLevel::kAvx512;
  if (f.avx2 && f.fma && f.f16c) return IsaLevel::kAvx2;
  return IsaLevel::kScalar;
}

namespace {

IsaLevel from_env() {
  IsaLevel best = max_supported_isa();
  const char* env = std::getenv("BITNET_ISA");
  if (env == nullptr || *env == '\0') return best;
  IsaLevel want;
  if (strcasecmp(env, "scalar") == 0) {
    want = IsaLevel::kScalar;
#if defined(__aarch64__)
  } else if (strcasecmp(env, "neon") == 0) {
    want = IsaLevel::kNeon;
  } else if (strcasecmp(env, "dotprod") == 0) {
    want = IsaLevel::kNeonDot;
  } else {
    std::fprintf(stderr, "bitnet: ignoring unknown BITNET_ISA='%s' (use scalar, neon or dotprod)\n", env);
#else
  } else if (strcasecmp(env, "avx2") == 0) {
    want = IsaLevel::kAvx2;
  } else if (strcasecmp(env, "avx512") == 0) {
    want = IsaLevel::kAvx512;
  } else {
    std::fprintf(stderr, "bitnet: ignoring unknown BITNET_ISA='%s' (use scalar, avx2 or avx512)\n", env);
#endif
    return best;
  }
  if (static_cast<int>(want) <= static_cast<int>(best)) return want;
  // A cap above what the CPU has changes nothing; say so, so a forced level is never silently another.
  std::fprintf(stderr, "bitnet: BITNET_ISA='%s' is more than this CPU has; using %s\n", env, isa_name(best));
  return best;
}

std::atomic<int>& active_slot() {
  static std::atomic<int> slot{static_cast<int>(from_env())};
  return slot;
}

}  // namespace

IsaLevel active_isa() { return static_cast<IsaLevel>(active_slot().load(std::memory_order_relaxed)); }

void set_active_isa(IsaLevel level) {
  const int best = static_cast<int>(max_supported_isa());
  const int want = static_cast<int>(level);
  active_slot().store(want < best ? want : best, std::memory_order_relaxed);
}

const char* isa_name(IsaLevel level) {
  // kNeon and kNeonDot share kAvx2's and kAvx512's values; a binary has one family.
  switch (level) {
    case IsaLevel::kScalar:
      return "scalar";
#if defined(__aarch64__)
    case IsaLevel::kNeon:
      return "neon";
    case IsaLevel::kNeonDot:
      return "neon-dotprod";
#else
    case IsaLevel::kAvx2:
      return "avx2";
    case IsaLevel::kAvx512:
#if defined(BITNET_EMULATE_AVX512)
      return "avx512-vnni (emulated)";
#else
      return "avx512-vnni";
#endif
#endif
  }
  return "unknown";
}

namespace {

std::atomic<bool>& amx_slot() {
  static std::atomic<bool> slot{[] {
    const char* env = std::getenv("BITNET_AMX");
    return !(env != nullptr && std::strcmp(env, "0") == 0);
  }()};
  return slot;
}

}  // namespace

bool amx_active() {
  return cpu_features().amx_int8 && active_isa() == IsaLevel::kAvx512 && amx_slot().load(std::memory_order_relaxed);
}

bool set_amx_enabled(bool on) { return amx_slot().exchange(on, std::memory_order_relaxed); }

std::string isa_description(IsaLevel level) {
  std::string name = isa_name(level);
  if (level == active_isa() && amx_active()) name += "+amx";
#if defined(__x86_64__)
  if (level == IsaLevel::kAvx2 && cpu_features().avxvnni) name += "+vnni";
#elif defined(__aarch64__)
  if (level == IsaLevel::kNeonDot && cpu_features().neon_i8mm) name += "+i8mm";
#endif
  return name;
}

}  // namespace bitnet
