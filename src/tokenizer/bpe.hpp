// Byte-level BPE tokenizer (tokenizer.ggml.model = "gpt2": GPT-2, Llama 3, Qwen2, ...), private to
// src/tokenizer: the rest of the library reaches it through Tokenizer::create.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenize.hpp"
#include "tokenizer/special_split.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {

class BpeTokenizer final : public Tokenizer {
 public:
  // `vocab` must already have passed check_vocab. Compiles the pre-tokenizer (vocab.pre_regexes, else the
  // preset named by vocab.pre) and builds the lookup tables once: text -> id, (left id, right id) -> merge.
  static Result<std::unique_ptr<Tokenizer>> create(Vocab vocab);

  Result<std::vector<int32_t>> encode(std::string_view text, bool add_bos, bool parse_special) const override;
  std::string token_to_piece(int32_t id, bool render_special) const override;

 private:
  struct Merge {
    int32_t rank;    // position in the merge list: lower merges first
    int32_t result;  // id of the merged text
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Scratch;  // per-call buffers, reused from word to word

  BpeTokenizer(Vocab vocab, PreTokenizer pre, bool ignore_merges);
  Status build_merges();
  int32_t find_token(std::string_view text) const;
  // Encodes one pre-tokenized piece of raw bytes.
  Status encode_word(std::string_view raw, Scratch& s, std::vector<int32_t>& out) const;

  PreTokenizer pre_;
  bool ignore_merges_;
  SpecialSplitter specials_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::array<std::string, 256> byte_text_;  // byte-level spelling of each byte ("Ġ" for ' ')
  std::array<int32_t, 256> byte_ids_{};     // token of each byte's spelling, else unk, else -1
  std::vector<std::string> pieces_;         // the bytes each id decodes to
};

}  // namespace bitnet
