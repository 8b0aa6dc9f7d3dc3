// SentencePiece BPE tokenizer (tokenizer.ggml.model = "llama"), private to src/tokenizer: the rest of the
// library reaches it through Tokenizer::create.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/special_split.hpp"
#include "tokenizer/token_tables.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {

class SpmTokenizer final : public Tokenizer {
 public:
  // `vocab` must already have passed check_vocab. Builds the lookup tables once (text -> id, byte -> id,
  // id -> piece, special tokens by length), so encode/decode never scan the vocabulary.
  explicit SpmTokenizer(Vocab vocab);

  Result<std::vector<int32_t>> encode(std::string_view text, bool add_bos, bool parse_special) const override;
  std::string token_to_piece(int32_t id, bool render_special) const override;

 private:
  int32_t find_token(std::string_view text) const { return ids_.find(text); }
  // Encodes one raw fragment whose spaces are already "▁" (and which carries its space prefix, if any).
  Status encode_escaped(std::string_view text, std::vector<int32_t>& out) const;

  TokenIds ids_;                         // refers to vocab_
  std::array<int32_t, 256> byte_ids_{};  // byte fallback: <0xNN>, else the one-byte token, else unk, else -1
  Pieces pieces_;                        // what each id decodes to ("" for control/unknown/unused)
  SpecialSplitter splitter_;             // special-token text in the input (refers to vocab_)
};

}  // namespace bitnet
