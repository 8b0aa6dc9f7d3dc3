// Tokenizers: a Vocab (tokens, scores, types, merges, special ids) read from GGUF metadata or a llama2.c
// tokenizer file, and a Tokenizer that encodes text to ids and decodes ids to bytes.
// SentencePiece BPE (tokenizer.ggml.model = "llama") and byte-level BPE ("gpt2": GPT-2, Llama 3) are
// implemented; vocabularies come from GGUF, llama2.c tokenizer files or Hugging Face tokenizer.json.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bitnet/status.hpp"

namespace bitnet::gguf {
class File;
class Writer;
}  // namespace bitnet::gguf

namespace bitnet {

// Token types as GGUF's tokenizer.ggml.token_type stores them (llama.cpp's values).
enum class TokenType : int32_t {
  kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
};

struct Vocab {
  std::string model = "llama";           // tokenizer.ggml.model: "llama" (SentencePiece) or "gpt2" (BPE)
  std::string pre;                       // tokenizer.ggml.pre (BPE pre-tokenizer name)
  // BPE: the pre-tokenizer regexes, applied in order (a tokenizer.json's Split patterns). Empty: the llama.cpp
  // preset named by `pre`. Not stored in GGUF (llama.cpp has no key for them either).
  std::vector<std::string> pre_regexes;
  bool ignore_merges = false;            // BPE: a pre-tokenized word that is a token is emitted whole (HF)
  std::vector<std::string> tokens;       // token text as stored ("▁the", "<0x0A>", "<s>")
  std::vector<float> scores;             // one per token (SentencePiece merge priority); may be all zero
  std::vector<int32_t> types;            // TokenType per token
  std::vector<std::string> merges;       // BPE merges "a b", in priority order (empty for SentencePiece)
  int32_t bos = -1, eos = -1, unk = -1, pad = -1, eot = -1;
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;          // SentencePiece: a leading space is added to the text before encoding

  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
};

// Checks a vocabulary's consistency: scores/types sizes match the tokens, types are known values, scores are
// finite, special ids are -1 or in range. Every loader and Tokenizer::create call it.
Status check_vocab(const Vocab& vocab);
// Reads tokenizer.ggml.* keys. Validates: token count matches scores/types when present, special ids in range.
Result<Vocab> vocab_from_gguf(const gguf::File& file);
// The same, but the token and merge strings are moved out of the file rather than copied, and its scores and types
// freed (gguf::File::take_strings, release_array): for a loader that keeps the file only for its tensors. Llama 3's
// 128k tokens and 280k merges are 23 MB of strings: a copy of them was part of a 2B-4T process's peak memory.
Result<Vocab> take_vocab_from_gguf(gguf::File& file);
// Reads a Hugging Face tokenizer.json (byte-level BPE: model BPE, pre_tokenizer ByteLevel or a Sequence of
// Split + ByteLevel) and, when present beside it, tokenizer_config.json for the BOS/EOS texts and
// add_bos_token. added_tokens keep their ids: "special" ones become control tokens, the others user-defined.
// add_bos: tokenizer_config's add_bos_token when given; else true when the post_processor puts the BOS token
// first or the BOS token is Llama 3's <|begin_of_text|> (its tokenizer.json leaves BOS to the engine).
// Normalizers, Metaspace/Digits/other pre-tokenizers and ByteLevel add_prefix_space are unsupported errors.
Result<Vocab> vocab_from_tokenizer_json(const std::string& path);
// A vocabulary from a file, by its name: a Hugging Face tokenizer.json (".json"), a SentencePiece tokenizer.model
// (".model"), otherwise GGUF (a model or a vocabulary-only file). Errors name the file.
Result<Vocab> vocab_from_file(const std::string& path);
// Reads a SentencePiece `tokenizer.model` (protobuf ModelProto; BPE models only: unigram models are
// `unsupported`). Pieces, scores and types map one to one onto GGUF's; special ids from the trainer spec.
Result<Vocab> vocab_from_sentencepiece_model(const std::string& path);
Result<Vocab> vocab_from_sentencepiece_bytes(const uint8_t* data, size_t size);
// Sets vocab.eot, when it is unset, from the text of a known end-of-turn token (<|eot_id|>, <|im_end|>,
// <|end|>, <end_of_turn>, <|endoftext|>, first found wins), as llama.cpp's loader does.
void detect_eot(Vocab& vocab);
// Reads a llama2.c tokenizer file (tok512.bin: i32 max_token_length, then per token f32 score, i32 length,
// bytes). The file stores no types or special ids: <unk>=0, <s>=1, </s>=2 are the llama2.c convention,
// <0xNN> tokens are bytes, everything else normal. `expected_size` (> 0) is checked against the file.
Result<Vocab> vocab_from_llama2c(const std::string& path, int32_t expected_size);
// Writes the tokenizer.ggml.* keys for `vocab`.
void vocab_to_gguf(const Vocab& vocab, gguf::Writer& writer);

class Tokenizer {
 public:
  // SentencePiece for model "llama", byte-level BPE for "gpt2" (an unknown vocab.pre is unsupported);
  // unsupported for other models.
  static Result<std::unique_ptr<Tokenizer>> create(Vocab vocab);
  virtual ~Tokenizer() = default;

  const Vocab& vocab() const { return vocab_; }
  int32_t n_vocab() const { return vocab_.size(); }
  int32_t bos() const { return vocab_.bos; }
  int32_t eos() const { return vocab_.eos; }
  // End of generation: EOS or EOT.
  bool is_eog(int32_t id) const { return id >= 0 && (id == vocab_.eos || id == vocab_.eot); }

  // Text to ids, BOS first when add_bos (an error if the vocabulary has none); EOS is never appended (callers
  // that honour vocab().add_eos add it). Control/unknown token text (e.g. "<s>") is matched only when
  // parse_special; user-defined tokens are always matched, as in llama.cpp. Any bytes are accepted: invalid
  // UTF-8 is encoded byte by byte.
  virtual Result<std::vector<int32_t>> encode(std::string_view text, bool add_bos, bool parse_special) const = 0;
  // The bytes one token stands for: SentencePiece maps "▁" to ' ' and <0xNN> to that byte; control and
  // unknown tokens give "" unless render_special (llama.cpp's rule); unused tokens and out-of-range ids give "".
  virtual std::string token_to_piece(int32_t id, bool render_special) const = 0;
  // Ids to text, skipping control tokens. With add_space_prefix, the space the encoder added in front of the
  // first word is removed again: one leading space of the first non-empty piece (the first piece after a
  // leading BOS, or the very first piece).
  std::string decode(const std::vector<int32_t>& ids) const;

 protected:
  explicit Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}
  Vocab vocab_;
};

// Streaming decode for generation: push ids one at a time, get back only complete UTF-8 text (bytes of a
// sequence cut between tokens are held until complete); flush() returns what is left at the end.
class StreamDecoder {
 public:
  // strip_leading_space: drop the one space SentencePiece put before the first word (set when the stream
  // starts right after BOS).
  StreamDecoder(const Tokenizer& tokenizer, bool strip_leading_space);
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer& tokenizer_;
  bool strip_leading_space_;
  bool first_ = true;
  std::string pending_;
};

}  // namespace bitnet
