// The architecture table.
#include "model/arch.hpp"

namespace bitnet::model {
namespace {

const ArchSpec kArchs[] = {
    {"llama", FfnAct::kSilu, RopeStyle::kInterleaved, false, true, false, 10000.0,
     "Llama (float or quantized weights; e.g. stories260K)"},
    {"bitnet", FfnAct::kSilu, RopeStyle::kNeox, true, true, false, 10000.0,
     "BitNet b1.58 large/3B, llama.cpp naming: SiLU-gated FFN, attention and FFN sub-norms"},
    {"bitnet-b1.58", FfnAct::kRelu2, RopeStyle::kNeox, true, true, false, 500000.0,
     "BitNet b1.58 2B-4T (bitnet.cpp naming): squared-ReLU-gated FFN, sub-norms, GQA"},
    {"bitnet-25", FfnAct::kRelu2, RopeStyle::kNeox, true, true, false, 500000.0,
     "BitNet b1.58 2B-4T, bitnet.cpp's earlier name"},
    // Our name for the llama2.c-style ternary family of bitllama2.c (converted with `model convert`):
    // no learned pre-norms; each BitLinear normalises its own input; SwiGLU; tied classifier.
    {"bitllama2c", FfnAct::kSilu, RopeStyle::kInterleaved, false, false, true, 10000.0,
     "bitllama2.c ternary TinyStories family (llama2.c layout, BitLinear input norm)"},
};

}  // namespace

const ArchSpec* find_arch(std::string_view name) {
  for (const auto& a : kArchs)
    if (name == a.name) return &a;
  return nullptr;
}

std::string known_arch_names() {
  std::string out;
  for (const auto& a : kArchs) {
    if (!out.empty()) out += ", ";
    out += a.name;
  }
  return out;
}

}  // namespace bitnet::model
