// PCRE2-backed pre-tokenizer and the table of llama.cpp's pre-tokenizer presets (src/llama-vocab.cpp,
// llm_tokenizer_bpe and the tokenizer.ggml.pre names its loader accepts).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenize.hpp"

#include <pcre2.h>

#include <initializer_list>

#include "tokenizer/utf8.hpp"

namespace bitnet {

// Llama 3 as its tokenizer.json writes it. llama.cpp spells the contractions as '[sS]... because std::regex
// lacks (?i:); PCRE2 has it, but caseless matching also folds 'ſ' (U+017F) to 's', so the GGUF preset below
// keeps llama.cpp's explicit spelling and a tokenizer.json keeps its own.
const char* const kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

namespace {

constexpr const char* kLlama3Explicit =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  for (const std::string_view n : names) {
    if (name == n) return true;
  }
  return false;
}

}  // namespace

Result<PreTokenizerPreset> pre_tokenizer_preset(std::string_view pre) {
  PreTokenizerPreset p;
  if (is_one_of(pre, {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"})) {
    p.regexes = {kLlama3Explicit};
    p.ignore_merges = true;
    p.add_bos = true;
  } else if (is_one_of(pre, {"dbrx", "smaug-bpe"})) {
    p.regexes = {kLlama3Explicit};
  } else if (is_one_of(pre, {"gpt-2", "phi-2", "mpt", "olmo", "jais", "jina-es", "jina-de", "jina-v2-es",
                             "jina-v2-de", "exaone4"})) {
    p.regexes = {kGpt2Regex};
  } else if (is_one_of(pre, {"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"})) {
    p.regexes = {kQwen2};
  } else if (pre == "falcon") {
    p.regexes = {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2Regex, "[0-9][0-9][0-9]"};
  } else if (is_one_of(pre, {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"})) {
    p.regexes = {R"(\p{N})", kGpt2Regex};
  } else if (pre.empty() || pre == "default") {
    p.regexes = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Regex, R"(\p{N}+)", "[0-9][0-9][0-9]"};
  } else {
    return unsupported("BPE pre-tokenizer '" + std::string(pre) + "' (tokenizer.ggml.pre) is not supported");
  }
  return p;
}

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

Result<PreTokenizer> PreTokenizer::create(const std::vector<std::string>& regexes) {
  if (regexes.empty()) return invalid_argument("a pre-tokenizer needs at least one regex");
  PreTokenizer pt;
  for (const std::string& pattern : regexes) {
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    auto re = std::make_unique<Regex>();
    // UCP makes \s, \d, \w and POSIX classes Unicode-aware, as in the Oniguruma/Rust engines HF uses.
    re->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                             PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &error_offset, nullptr);
    if (re->code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      return invalid_argument("pre-tokenizer regex does not compile at offset " + std::to_string(error_offset) +
                              ": " + reinterpret_cast<const char*>(message) + " (" + pattern + ")");
    }
    // JIT is an optimisation only: where the library was built without it, the interpreter runs.
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
    pt.regexes_.push_back(std::move(re));
  }
  return pt;
}

Status PreTokenizer::split_one(const Regex& re, std::string_view text, size_t base, std::vector<Span>& out) const {
  using MatchData = std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)>;
  MatchData md(pcre2_match_data_create_from_pattern(re.code, nullptr), &pcre2_match_data_free);
  if (md == nullptr) return internal_error("out of memory creating PCRE2 match data");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t emitted = 0;  // end of the last piece handed out
  size_t start = 0;    // where the next search begins
  while (start < text.size()) {
    int rc = pcre2_match(re.code, subject, text.size(), start, 0, md.get(), nullptr);
    // The JIT stack is small; a pathological input can exhaust it. The interpreter keeps its state on the
    // heap (within PCRE2's default 20 MB limit), so try it before giving up.
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) rc = pcre2_match(re.code, subject, text.size(), start, PCRE2_NO_JIT,
                                                           md.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      return internal_error(std::string("pre-tokenizer regex failed: ") + reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    const size_t m0 = ov[0], m1 = ov[1];
    if (m1 <= m0) {
      // An empty match splits nothing; step over one character so the search always advances.
      start = m0 + utf8::char_length(text, m0 < text.size() ? m0 : text.size() - 1);
      continue;
    }
    if (m0 > emitted) out.push_back({base + emitted, m0 - emitted});
    out.push_back({base + m0, m1 - m0});
    emitted = start = m1;
  }
  if (emitted < text.size()) out.push_back({base + emitted, text.size() - emitted});
  return Status::Ok();
}

Status PreTokenizer::split(std::string_view text, std::vector<Span>& out) const {
  const size_t first = out.size();
  if (text.empty()) return Status::Ok();
  BITNET_RETURN_IF_ERROR(split_one(*regexes_[0], text, 0, out));
  // Each further regex splits every piece of the previous pass on its own (llama.cpp's unicode_regex_split):
  // lookarounds see only the piece.
  std::vector<Span> pieces;
  for (size_t r = 1; r < regexes_.size(); ++r) {
    pieces.assign(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
    out.resize(first);
    for (const Span& s : pieces) {
      BITNET_RETURN_IF_ERROR(split_one(*regexes_[r], text.substr(s.start, s.len), s.start, out));
    }
  }
  return Status::Ok();
}

}  // namespace bitnet
