// Pre-tokenization for byte-level BPE: the regex splits of llama.cpp (chosen by tokenizer.ggml.pre) or of a
// tokenizer.json Split, run with PCRE2 in UTF + UCP mode so \p{L}, \p{N} and \s cover all of Unicode.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bitnet/status.hpp"

namespace bitnet {

// What a tokenizer.ggml.pre name stands for, as llama.cpp's vocabulary loader defines it.
struct PreTokenizerPreset {
  std::vector<std::string> regexes;  // applied one after another, each splitting the pieces of the last
  bool ignore_merges = false;        // a word that is itself a token is emitted whole (Llama 3)
  bool add_bos = false;              // llama.cpp's add_bos default for this pre (the GGUF key overrides it)
};

// The preset for a pre name. "" falls back to "default" (llama.cpp does, with a warning); an unknown name
// is an unsupported error naming it.
Result<PreTokenizerPreset> pre_tokenizer_preset(std::string_view pre);

// The pattern Llama 3's tokenizer.json carries (with its case-insensitive contraction group) and GPT-2's
// ByteLevel pattern, used to name a tokenizer.json pre-tokenizer after the llama.cpp preset it equals.
extern const char* const kLlama3Regex;
extern const char* const kGpt2Regex;

// A piece of the text: [start, start + len).
struct Span {
  size_t start;
  size_t len;
};

// Compiled regexes. Splitting keeps what matches and what lies between matches, each as its own piece
// (HF's "Isolated" behaviour). Invalid UTF-8 is accepted: the patterns are compiled with
// PCRE2_MATCH_INVALID_UTF, so a bad byte never matches and ends up in a between-matches piece of its own.
class PreTokenizer {
 public:
  static Result<PreTokenizer> create(const std::vector<std::string>& regexes);
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Appends the pieces of `text` to `out`, in order; together they cover the text exactly. Safe to call from
  // several threads at once. Fails only when PCRE2 runs out of its matching limits.
  Status split(std::string_view text, std::vector<Span>& out) const;

 private:
  struct Regex;
  PreTokenizer() = default;
  Status split_one(const Regex& re, std::string_view text, size_t base, std::vector<Span>& out) const;
  std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace bitnet
