// Architectures: every difference between model families (activation, norms, RoPE flavour, tensor names)
// is a field here, read from the file's general.architecture; the forward pass has no per-family branches
// beyond these flags.
#pragma once

#include <string>
#include <string_view>

namespace bitnet::model {

enum class FfnAct { kSilu, kRelu2 };
enum class RopeStyle {
  kInterleaved,  // pairs (2i, 2i+1): llama.cpp's "normal" mode, llama2.c
  kNeox,         // pairs (i, i + d/2): llama.cpp's NeoX mode
};

struct ArchSpec {
  const char* name;  // general.architecture
  FfnAct ffn_act;
  RopeStyle rope;
  bool sub_norms;             // attn_sub_norm before attn_output, ffn_sub_norm before ffn_down
  bool learned_prenorms;      // attn_norm / ffn_norm weights (false: bitllama2c, where each BitLinear normalises)
  bool bitlinear_input_norm;  // bitllama2c: every ternary linear first maps x to x / (||x||_2 * sqrt(n))
  double default_rope_theta;
  const char* description;
};

// nullptr for unknown architectures.
const ArchSpec* find_arch(std::string_view name);
// "llama, bitnet, ..." for error messages.
std::string known_arch_names();

}  // namespace bitnet::model
