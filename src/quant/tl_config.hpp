// The kernel tilings (bitnet.cpp's include/kernel_config.ini) that TL1/TL2 tensor layouts depend on: checks,
// the configs bitnet.cpp's setup_env.py generates, and the GGUF key in which this engine's writer records them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bitnet/status.hpp"

namespace bitnet::quant {

// One [Kernels_i] section of kernel_config.ini: a weight of m rows (output features) and k columns (input
// features, GGUF ne[0]) is cut into tiles of bm_tile rows ("bm") by bk columns ("bk"), and bm_simd rows ("bmm")
// are handled by one SIMD block. TL1: by = 256 / bm_simd columns per block; TL2: bm_simd must be 32 (by = 6).
struct TlKernelConfig {
  int64_t m = 0, k = 0;
  int64_t bm_tile = 0, bk = 0, bm_simd = 0;
  bool operator==(const TlKernelConfig&) const = default;
};

// Whether the converter can lay out an m x k tensor with this config (the asserts of codegen_tl{1,2}.py and the
// reshapes of the converter); an error says which condition fails.
Status check_tl_config(uint32_t type, const TlKernelConfig& c);

// The configs bitnet.cpp's setup_env.py generates with codegen_tl1.py (ARM, TL1) and codegen_tl2.py (x86, TL2)
// for bitnet_b1_58-large, bitnet_b1_58-3B and Llama3-8B-1.58 (also used for Falcon3; 2B-4T is given the 3B
// list, whose shapes do not match its tensors, so its conversion fails upstream). nullptr when none matches.
const TlKernelConfig* builtin_tl_config(uint32_t type, int64_t m, int64_t k);

// A config this engine's writer picks for shapes no built-in config covers (e.g. the 2B-4T and test shapes):
// BM = 128 where it divides m (else 32), BK = 96 (TL2) or 128 / 64 (TL1) where the shape allows. The result is
// recorded in the file (kTlConfigKey), because bitnet.cpp would need the same config in its build to read it.
Result<TlKernelConfig> default_tl_config(uint32_t type, int64_t m, int64_t k);

// GGUF metadata key (an array of integers, five per config: m, k, bm, bk, bmm) in which files written by this
// engine record the configs of their TL1/TL2 tensors. bitnet.cpp ignores it; its converter does not write it.
inline constexpr const char* kTlConfigKey = "bitnet-cli.tl_kernel_config";

// Parses the key's integers (a multiple of five, each positive and below 2^31); configs are checked when used.
Result<std::vector<TlKernelConfig>> parse_tl_configs(const std::vector<int64_t>& ints);
std::vector<int32_t> serialize_tl_configs(const std::vector<TlKernelConfig>& configs);

// The config for an m x k tensor: from `recorded` (the file's key) first, else built-in; a clear unsupported
// error naming the shape when neither has one.
Result<TlKernelConfig> find_tl_config(uint32_t type, int64_t m, int64_t k, const std::vector<TlKernelConfig>& recorded);

}  // namespace bitnet::quant
