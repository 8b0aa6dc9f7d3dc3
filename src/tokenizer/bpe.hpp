// Byte-level BPE tokenizer (tokenizer.ggml.model = "gpt2": GPT-2, Llama 3, Qwen2, ...), private to
// src/tokenizer: the rest of the library reaches it through Tokenizer::create.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pretokenize.hpp"
#include "tokenizer/special_split.hpp"
#include "tokenizer/token_tables.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {

class BpeTokenizer final : public Tokenizer {
 public:
  // `vocab` must already have passed check_vocab. Compiles the pre-tokenizer (vocab.pre_regexes, else the
  // preset named by vocab.pre) and builds the lookup tables once: text -> id, (left id, right id) -> merge. The
  // merge strings are dropped once their table is built (vocab().merges is then empty).
  static Result<std::unique_ptr<Tokenizer>> create(Vocab vocab);

  Result<std::vector<int32_t>> encode(std::string_view text, bool add_bos, bool parse_special) const override;
  std::string token_to_piece(int32_t id, bool render_special) const override;

 private:
  struct Scratch;  // per-call buffers, reused from word to word

  BpeTokenizer(Vocab vocab, PreTokenizer pre, bool ignore_merges);
  Status build_merges();
  int32_t find_token(std::string_view text) const { return ids_.find(text); }
  // Encodes one pre-tokenized piece of raw bytes.
  Status encode_word(std::string_view raw, Scratch& s, std::vector<int32_t>& out) const;

  PreTokenizer pre_;
  bool ignore_merges_;
  SpecialSplitter specials_;
  TokenIds ids_;
  MergeTable merges_;
  std::array<std::string, 256> byte_text_;  // byte-level spelling of each byte ("Ġ" for ' ')
  std::array<int32_t, 256> byte_ids_{};     // token of each byte's spelling, else unk, else -1
  Pieces pieces_;                           // the bytes each id decodes to
};

}  // namespace bitnet
