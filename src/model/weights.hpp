// A loaded model: hyper-parameters, architecture flags and weights in their compute layouts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bitnet/status.hpp"
#include "core/aligned.hpp"
#include "core/huge_page_buffer.hpp"
#include "formats/gguf.hpp"
#include "kernels/ref/float_ref.hpp"
#include "model/arch.hpp"
#include "quant/ternary.hpp"

namespace bitnet::model {

struct HParams {
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_ff = 0;
  int64_t n_ctx_train = 0;
  int64_t head_dim = 0;
  int64_t rope_dim = 0;  // dimensions rotated per head (== head_dim for every supported model)
  double rope_theta = 10000.0;
  float norm_eps = 1e-5f;
};

// A linear layer y = W x: ternary (compute layout, activations quantized by the type's rule) or float rows
// (any dequantizable type, activations stay float). `scale` is llama.cpp's optional per-tensor `.scale`.
struct Linear {
  std::string name;
  int64_t in = 0;
  int64_t out = 0;
  bool ternary = false;
  quant::TernaryMatrix tern;
  kernels::FloatRows rows;
  uint32_t file_type = 0;
  bool has_scale = false;
  float scale = 1.0f;
};

struct Layer {
  std::vector<float> attn_norm, ffn_norm, attn_sub_norm, ffn_sub_norm;  // empty when absent
  Linear wq, wk, wv, wo, gate, up, down;
};

struct Weights {
  Weights() = default;
  Weights(const Weights&) = delete;  // a copy's repacked matrices would view the original's `repacked`
  Weights& operator=(const Weights&) = delete;
  Weights(Weights&&) = default;  // a moved vector keeps its buffer
  Weights& operator=(Weights&&) = default;

  const ArchSpec* arch = nullptr;
  HParams hp;
  kernels::FloatRows token_embd;   // [n_vocab][n_embd], any dequantizable type
  std::vector<float> output_norm;  // [n_embd]
  Linear output;                   // the head (may alias token_embd's data when tied)
  std::vector<Layer> layers;
  // The codes of the ternary matrices repacked at load (TQ1_0, TQ2_0, TL1, TL2; I2_S if asked), which point into it:
  // one buffer, so that 2 MB pages back nearly all of it once Model::load has started moving it there
  // (core/huge_page_buffer.hpp).
  HugePageBuffer repacked;
};

// Builds the model from an open GGUF file (which must outlive the Weights: float rows point into it).
// Errors name the missing or malformed tensor / key. repack_i2s: copy I2_S matrices into 16-row panels where the
// AVX-512 or AVX2 kernels run (LoadOptions::repack_i2s, on by default), as TQ1_0, TQ2_0, TL1 and TL2 always are there
// (kernels::ternary_wants_panels); else they are read where they lie in the file. repack_float: in the BitNet
// architectures (bitnet, bitnet-b1.58, bitnet-25), a layer's float matrix (F32, F16, BF16) whose values are one
// magnitude times {-1, 0, +1} becomes ternary (quant::float_to_ternary), in the layout I2_S is copied into, its inputs
// then quantized per token; other float matrices stay float.
Result<std::unique_ptr<Weights>> load_weights(const gguf::File& file, bool repack_i2s, bool repack_float = false);

// Whether repack_float could take any of the file's matrices as ternary: a BitNet architecture with float layer
// matrices (judged by tensor types alone, no data read).
bool float_ternary_possible(const gguf::File& file);

// Bytes of weights one generated token reads: every layer's matrices and the head, as the kernels hold them (a
// ternary matrix's codes and scales, a float matrix's stored rows), not the token's one embedding row.
uint64_t weight_bytes_per_token(const Weights& w);
// Multiply-adds one token of a prompt takes in the layers' matrices: rows x columns of each. Not the head's (a prompt
// runs it for its last token only) nor attention's (which grow with the position).
uint64_t layer_macs_per_token(const Weights& w);

}  // namespace bitnet::model
