// bitnet public API: a tokenizer on its own, loaded from a file without any weights (for the tokenize and
// detokenize tools, and for front ends that count tokens). No exception crosses this boundary.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bitnet/status.hpp"

namespace bitnet {

class TokenizerHandle {
 public:
  // path: a Hugging Face tokenizer.json (byte-level BPE), a SentencePiece tokenizer.model, or otherwise a GGUF file,
  // a model or a vocabulary-only one (its tokenizer.ggml.* keys are read; tensors are not).
  static Result<std::unique_ptr<TokenizerHandle>> load(const std::string& path);
  ~TokenizerHandle();
  TokenizerHandle(const TokenizerHandle&) = delete;
  TokenizerHandle& operator=(const TokenizerHandle&) = delete;

  int32_t n_vocab() const;
  int32_t bos() const;  // -1 when the vocabulary has none
  int32_t eos() const;
  // Whether prompts should start with BOS: the vocabulary asks for it (tokenizer.ggml.add_bos_token) and has one.
  bool wants_bos() const;

  Result<std::vector<int32_t>> tokenize(std::string_view text, bool add_bos, bool parse_special = false) const;
  // Ids to text (control tokens such as BOS give no text); an id outside the vocabulary is an error naming it.
  Result<std::string> detokenize(const std::vector<int32_t>& ids) const;
  // A token's text as the vocabulary stores it ("▁the", "<s>"); an error for an id outside the vocabulary.
  Result<std::string> token_text(int32_t id) const;

 private:
  TokenizerHandle();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bitnet
