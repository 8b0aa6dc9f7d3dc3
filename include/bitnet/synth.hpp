// Random-weight models of the real BitNet shapes, written as GGUF files that Model::load runs: the inputs of
// benchmarks and tests where no trained model of that size is at hand. The text such a model writes is noise.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bitnet/status.hpp"

namespace bitnet {

struct SynthOptions {
  // "bitnet" (SiLU-gated FFN, sub-norms), "bitnet-b1.58" (2B-4T family: squared ReLU, sub-norms) or "llama"
  // (ternary Llama-style: SiLU, no sub-norms). Empty: the shape's own (llama for 8b and falcon3-*, else bitnet).
  std::string arch;
  std::string shape = "tiny";   // see synth_shapes(): 2b4t, large, 3b, 8b, falcon3-1b/3b/7b/10b, tiny
  std::string type = "i2_s";    // ternary linear layers: i2_s, tl1, tl2 (bitnet.cpp), tq1_0, tq2_0 (llama.cpp)
  std::string head = "q6_k";    // token embedding (and the head, tied or not): q6_k, q8_0, f16
  uint64_t seed = 1;            // same options and seed: the same file, byte for byte
  // A real vocabulary to write instead of the made-up one (a tokenizer.json, a SentencePiece tokenizer.model or a
  // GGUF holding one), so load time and memory are the real model's: Llama 3's 128256 tokens and 280k merges for
  // 2b4t. No more tokens than the shape's vocabulary; fewer are padded with unused tokens. Empty: made up.
  std::string vocab;
  // Called now and then with a line of progress ("layer 3/30 ..."); may be empty.
  std::function<void(const std::string&)> progress;
};

// The shape names, with a one-line description each ("2b4t: BitNet b1.58 2B-4T, ...").
std::vector<std::pair<std::string, std::string>> synth_shapes();

// Writes a model with random weights to out_path (via out_path.tmp, renamed at the end). Every ternary tensor
// holds {-1, 0, +1} (about a third each) times one per-tensor scale; the same tensor name and seed give the
// same ternary values whatever `type`, so files that differ only in type compute nearly the same logits (the same
// bits for i2_s, tl1 and tl2: same codes, same per-tensor scale). TL1/TL2 weights are written as bitnet.cpp's
// converter writes them: codes tiled by a kernel config, then a "<weight>_scale" F32 tensor; the configs are
// recorded under the key "bitnet-cli.tl_kernel_config".
// Norms are 1 + small noise; the vocabulary is options.vocab's or a made-up SentencePiece-style one (<unk>, <s>,
// </s>, 256 byte tokens, then made-up pieces). Tensors are generated and quantized one at a time and streamed to the
// file, so memory stays near the largest single tensor (the quantized embedding, or a linear weight in float while it
// is quantized) whatever the model size; the float embedding is never whole (quantized in row chunks).
Status synthesize_model(const SynthOptions& options, const std::string& out_path);

}  // namespace bitnet
