// TL1/TL2 kernel configs: the converter's constraints, setup_env.py's configs, and the recorded-config key.
#include "quant/tl_config.hpp"

#include "quant/quant.hpp"

namespace bitnet::quant {
namespace {

std::string describe(const TlKernelConfig& c) {
  return "M=" + std::to_string(c.m) + ", K=" + std::to_string(c.k) + ", BM=" + std::to_string(c.bm_tile) +
         ", BK=" + std::to_string(c.bk) + ", bm=" + std::to_string(c.bm_simd);
}

// setup_env.py (microsoft/BitNet, the version read: blob 02969437) runs, per model:
//   codegen_tl1.py --BM 256,128,256 --BK 128,64,128 --bm 32,64,32           (bitnet_b1_58-large)
//   codegen_tl1.py --BM 160,320,320 --BK 64,128,64 --bm 32,64,32            (bitnet_b1_58-3B)
//   codegen_tl1.py --BM 256,128,256,128 --BK 128,64,128,64 --bm 32,64,32,64 (Llama3-8B-1.58, Falcon3)
//   codegen_tl2.py --BM 256,128,256 --BK 96,192,96 --bm 32,32,32            (bitnet_b1_58-large)
//   codegen_tl2.py --BM 160,320,320 --BK 96,96,96 --bm 32,32,32             (bitnet_b1_58-3B)
//   codegen_tl2.py --BM 256,128,256,128 --BK 96,96,96,96 --bm 32,32,32,32   (Llama3-8B-1.58, Falcon3)
// over the shapes [M, K] of codegen's ModelShapeDict. (The repository's preset_kernels/*.ini differ for some
// shapes, but setup_env.py regenerates kernel_config.ini after copying them, before converting.)
const TlKernelConfig kTl1Builtin[] = {
    {1536, 4096, 256, 128, 32}, {1536, 1536, 128, 64, 64}, {4096, 1536, 256, 128, 32},  {3200, 8640, 160, 64, 32},
    {3200, 3200, 320, 128, 64}, {8640, 3200, 320, 64, 32}, {14336, 4096, 256, 128, 32}, {4096, 14336, 128, 64, 64},
    {1024, 4096, 256, 128, 32}, {4096, 4096, 128, 64, 64},
};
const TlKernelConfig kTl2Builtin[] = {
    {1536, 4096, 256, 96, 32}, {1536, 1536, 128, 192, 32}, {4096, 1536, 256, 96, 32},  {3200, 8640, 160, 96, 32},
    {3200, 3200, 320, 96, 32}, {8640, 3200, 320, 96, 32},  {14336, 4096, 256, 96, 32}, {4096, 14336, 128, 96, 32},
    {1024, 4096, 256, 96, 32}, {4096, 4096, 128, 96, 32},
};

}  // namespace

Status check_tl_config(uint32_t type, const TlKernelConfig& c) {
  auto fail = [&](const std::string& why) {
    return unsupported(type_name(type) + " kernel config (" + describe(c) + "): " + why);
  };
  if (type != kTL1 && type != kTL2) return invalid_argument(type_name(type) + " is not TL1 or TL2");
  if (c.m <= 0 || c.k <= 0 || c.bm_tile <= 0 || c.bk <= 0 || c.bm_simd <= 0) return fail("sizes must be positive");
  if (c.m % c.bm_tile != 0) return fail("M is not a multiple of BM");
  if (c.bm_tile % c.bm_simd != 0) return fail("BM is not a multiple of bm");
  if (type == kTL1) {
    // codegen_tl1.py: bm in {32, 64}, K % BK == 0; the converter's reshapes need BK % by == 0, by = 256 / bm.
    if (c.bm_simd != 32 && c.bm_simd != 64) return fail("bm must be 32 or 64");
    if (c.k % c.bk != 0) return fail("K is not a multiple of BK");
    if (c.bk % (256 / c.bm_simd) != 0) return fail("BK is not a multiple of 256 / bm");
    return Status::Ok();
  }
  // codegen_tl2.py: bm == 32, (K % BK) % 32 == 0; the sign bits go in groups of 24 columns (BK % 24 == 0);
  // ggml's size formula assumes K >= 256, and the converter's padding fails when K % BK > 256.
  if (c.bm_simd != 32) return fail("bm must be 32");
  if (c.bk % 24 != 0) return fail("BK is not a multiple of 24");
  if (c.k % c.bk % 32 != 0) return fail("K % BK is not a multiple of 32");
  if (c.k % c.bk > 256) return fail("K % BK exceeds 256 (the converter's padding would be negative)");
  if (c.m % 32 != 0) return fail("M is not a multiple of 32");
  if (c.k < 256) return fail("K is below 256 (ggml's TL2 size formula assumes K >= 256)");
  return Status::Ok();
}

const TlKernelConfig* builtin_tl_config(uint32_t type, int64_t m, int64_t k) {
  if (type == kTL1) {
    for (const TlKernelConfig& c : kTl1Builtin)
      if (c.m == m && c.k == k) return &c;
  } else if (type == kTL2) {
    for (const TlKernelConfig& c : kTl2Builtin)
      if (c.m == m && c.k == k) return &c;
  }
  return nullptr;
}

Result<TlKernelConfig> default_tl_config(uint32_t type, int64_t m, int64_t k) {
  TlKernelConfig c{m, k, m % 128 == 0 ? 128 : 32, 0, 32};
  if (type == kTL1) {
    c.bk = k % 128 == 0 ? 128 : 64;
  } else {
    c.bk = 96;
    for (int64_t bk : {96, 192, 48, 24})
      if (k % bk % 32 == 0 && k % bk <= 256) {
        c.bk = bk;
        break;
      }
  }
  BITNET_RETURN_IF_ERROR(check_tl_config(type, c));
  return c;
}

Result<std::vector<TlKernelConfig>> parse_tl_configs(const std::vector<int64_t>& ints) {
  if (ints.size() % 5 != 0)
    return format_error(std::string("key '") + kTlConfigKey + "' holds " + std::to_string(ints.size()) +
                        " integers, not a multiple of 5 (m, k, bm, bk, bmm)");
  std::vector<TlKernelConfig> out;
  for (size_t i = 0; i < ints.size(); i += 5) {
    for (size_t j = i; j < i + 5; ++j)
      if (ints[j] <= 0 || ints[j] >= (int64_t{1} << 31))
        return format_error(std::string("key '") + kTlConfigKey + "': value " + std::to_string(ints[j]) +
                            " is out of range");
    out.push_back({ints[i], ints[i + 1], ints[i + 2], ints[i + 3], ints[i + 4]});
  }
  return out;
}

std::vector<int32_t> serialize_tl_configs(const std::vector<TlKernelConfig>& configs) {
  std::vector<int32_t> out;
  for (const TlKernelConfig& c : configs)
    for (int64_t v : {c.m, c.k, c.bm_tile, c.bk, c.bm_simd}) out.push_back(static_cast<int32_t>(v));
  return out;
}

Result<TlKernelConfig> find_tl_config(uint32_t type, int64_t m, int64_t k,
                                      const std::vector<TlKernelConfig>& recorded) {
  for (const TlKernelConfig& c : recorded)
    if (c.m == m && c.k == k) return c;
  if (const TlKernelConfig* c = builtin_tl_config(type, m, k)) return *c;
  return unsupported(type_name(type) + " weight of " + std::to_string(m) + " rows x " + std::to_string(k) +
                     " columns: no known kernel config. bitnet.cpp's layout of this type depends on the "
                     "BM/BK/bm its build used (include/kernel_config.ini), which the file does not record; known "
                     "are the configs setup_env.py generates for bitnet_b1_58-large, bitnet_b1_58-3B and "
                     "Llama3-8B-1.58");
}

}  // namespace bitnet::quant
