// The load options shared by the commands that load a model for generation (inference, chat, bench, serve, logits):
// --kv-type, --no-repack-i2s and --repack-float.
#include <cstdio>

#include "commands.hpp"

namespace bitnet::cli {

void add_load_options(CLI::App* sub, LoadArgs& a) {
  sub->add_option("--kv-type", a.kv_type,
                  "How the KV cache stores keys and values, per token: f16 (2 bytes a value, as llama.cpp and "
                  "bitnet.cpp store them), f32 (4 bytes, the most accurate), q8_0 (34 bytes per 32 values, a little "
                  "less accurate; needs a head size that is a multiple of 32)")
      ->check(CLI::IsMember({"f32", "f16", "q8_0"}, CLI::ignore_case))
      ->capture_default_str();
  sub->add_flag(
      "--repack-i2s,!--no-repack-i2s", a.repack_i2s,
      "Whether I2_S weights are copied at load into the layout the AVX-512 and AVX2 kernels read best, as the "
      "other ternary types always are (the default: generation 11-19% faster on a 2-core Intel VM, 2-5% on "
      "a Zen 5 one; plain AVX2 there 4-11%). --no-repack-i2s reads them where they lie in the file: a "
      "shorter load (2B-4T 0.04-0.06 s against 0.2-0.3 s there) and slower generation. Where AVX-512 has VBMI "
      "(Ice Lake, Zen 4 and later) the copy takes five weights a byte, 1.6 bits against 2 (2B-4T: 0.691 "
      "against 0.793 GB read a token; BITNET_AVX512VBMI=0 keeps 2 bits). No effect where neither AVX-512 nor "
      "AVX2 runs");
  sub->add_flag(
      "--repack-float", a.repack_float,
      "Take a BitNet model's float (F32, F16, BF16) layer weights that hold ternary values (one magnitude times "
      "-1, 0, +1 a tensor, as llama.cpp's converter writes them) as ternary weights at load: 1.6-2 bits a weight "
      "instead of 16 or 32, run by the ternary kernels, each token's input quantized to int8 (the BitNet "
      "recipe, as for I2_S; the model's type then reads 'F16 (ternary at load)'). Without it such weights "
      "compute in float, as llama.cpp computes them. Float tensors holding anything else stay float");
}

bool apply_load_options(const LoadArgs& a, LoadOptions& lo, std::string& error) {
  auto t = parse_kv_type(a.kv_type);
  if (!t.ok()) {
    error = t.status().message();
    return false;
  }
  lo.kv_type = t.value();
  lo.repack_i2s = a.repack_i2s;
  lo.repack_float = a.repack_float;
  return true;
}

void note_load(const ModelInfo& info) {
  if (info.float_ternary_weights)
    std::fprintf(stderr,
                 "note: this model's %s layer weights hold ternary values; --repack-float takes them as ternary at "
                 "load (1.6-2 bits a weight instead of %s, inputs quantized to int8 as in the BitNet recipe)\n",
                 info.weight_type.c_str(), info.weight_type == "F32" ? "32" : "16");
}

}  // namespace bitnet::cli
