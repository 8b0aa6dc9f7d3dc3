// Vocabulary from a Hugging Face tokenizer.json (+ tokenizer_config.json beside it): the byte-level BPE
// subset that Llama 3 and GPT-2 style models use. Anything outside that subset is an unsupported error.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>

#include "core/mapped_file.hpp"
#include "tokenizer/pretokenize.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {
namespace {

using json = nlohmann::json;

constexpr int32_t kMaxVocab = 1 << 24;  // far above any real vocabulary; bounds what a lying file can allocate

const json* field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string string_field(const json& obj, const char* key) {
  const json* f = field(obj, key);
  return f != nullptr && f->is_string() ? f->get<std::string>() : std::string();
}

// A JSON bool field: 1 / 0, or -1 when absent or not a bool.
int bool_field(const json& obj, const char* key) {
  const json* f = field(obj, key);
  return f != nullptr && f->is_boolean() ? (f->get<bool>() ? 1 : 0) : -1;
}

// A literal Split pattern as a regex: every ASCII punctuation character escaped (a backslash before a
// non-alphanumeric character is always a literal in PCRE2).
std::string escape_literal(const std::string& s) {
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u)) out += '\\';
    out += c;
  }
  return out;
}

Status read_pre_tokenizer(const json& root, Vocab& v) {
  const json* pre = field(root, "pre_tokenizer");
  if (pre == nullptr) return unsupported("tokenizer.json has no pre_tokenizer: only byte-level BPE is supported");
  std::vector<const json*> steps;
  if (string_field(*pre, "type") == "Sequence") {
    const json* list = field(*pre, "pretokenizers");
    if (list == nullptr || !list->is_array()) return format_error("pre_tokenizer Sequence has no pretokenizers list");
    for (const json& step : *list) steps.push_back(&step);
  } else {
    steps.push_back(pre);
  }
  bool byte_level = false;
  for (const json* step : steps) {
    const std::string type = string_field(*step, "type");
    if (type == "Split") {
      const json* pattern = field(*step, "pattern");
      const std::string behavior = string_field(*step, "behavior");
      if (behavior != "Isolated" || bool_field(*step, "invert") == 1) {
        return unsupported("pre_tokenizer Split with behavior '" + behavior + "' (invert " +
                           (bool_field(*step, "invert") == 1 ? "true" : "false") + ") is not supported");
      }
      if (pattern != nullptr && field(*pattern, "Regex") != nullptr) {
        v.pre_regexes.push_back(string_field(*pattern, "Regex"));
      } else if (pattern != nullptr && field(*pattern, "String") != nullptr) {
        v.pre_regexes.push_back(escape_literal(string_field(*pattern, "String")));
      } else {
        return format_error("pre_tokenizer Split has no Regex or String pattern");
      }
    } else if (type == "ByteLevel") {
      if (bool_field(*step, "add_prefix_space") == 1) {
        return unsupported("pre_tokenizer ByteLevel with add_prefix_space is not supported");
      }
      if (bool_field(*step, "use_regex") != 0) v.pre_regexes.push_back(kGpt2Regex);  // HF's default is true
      byte_level = true;
    } else {
      return unsupported("pre_tokenizer '" + type + "' is not supported (only Split and ByteLevel)");
    }
  }
  if (!byte_level) return unsupported("tokenizer.json pre_tokenizer has no ByteLevel step: not a byte-level BPE");
  if (v.pre_regexes.empty()) return unsupported("tokenizer.json pre_tokenizer splits nothing (no regex)");
  // Name the llama.cpp preset this is, so that the vocabulary written to GGUF means the same there.
  if (v.pre_regexes == std::vector<std::string>{kLlama3Regex}) v.pre = "llama-bpe";
  if (v.pre_regexes == std::vector<std::string>{kGpt2Regex}) v.pre = "gpt-2";
  return Status::Ok();
}

// Sets tokens[id], checking the id against `limit`; `taken` marks ids already given a text by the model's vocab.
Status place_token(int64_t id, std::string text, TokenType type, bool added, int64_t limit, Vocab& v,
                   std::vector<char>& taken) {
  if (id < 0 || id >= limit)
    return format_error("token id " + std::to_string(id) + " is out of range (ids go up to " +
                        std::to_string(limit - 1) + " here)");
  const auto i = static_cast<size_t>(id);
  if (i >= v.tokens.size()) {
    v.tokens.resize(i + 1);
    v.types.resize(i + 1, static_cast<int32_t>(TokenType::kUnused));  // ids nobody names stay unused
    taken.resize(i + 1, 0);
  }
  if (taken[i] && !added) return format_error("token id " + std::to_string(id) + " appears twice in model.vocab");
  taken[i] = 1;
  v.tokens[i] = std::move(text);
  v.types[i] = static_cast<int32_t>(type);
  return Status::Ok();
}

Status read_model(const json& root, Vocab& v) {
  const json* model = field(root, "model");
  if (model == nullptr) return format_error("tokenizer.json has no model");
  const std::string type = string_field(*model, "type");
  if (type != "BPE") return unsupported("tokenizer.json model '" + type + "' is not supported (only BPE)");
  if (field(*model, "continuing_subword_prefix") != nullptr || field(*model, "end_of_word_suffix") != nullptr) {
    return unsupported("BPE with continuing_subword_prefix or end_of_word_suffix is not supported");
  }
  const json* vocab = field(*model, "vocab");
  const json* merges = field(*model, "merges");
  if (vocab == nullptr || !vocab->is_object()) return format_error("tokenizer.json model.vocab is not an object");
  if (merges == nullptr || !merges->is_array()) return format_error("tokenizer.json model.merges is not an array");

  // Ids are dense in real files; unnamed ids in between stay unused. A bound of twice the named ids (plus some
  // room) keeps a file that names one id of 2^24 from allocating a table of that size.
  const json* added = field(root, "added_tokens");
  const size_t n_named = vocab->size() + (added != nullptr && added->is_array() ? added->size() : 0);
  const int64_t limit = std::min<int64_t>(kMaxVocab, 2 * static_cast<int64_t>(n_named) + 1024);
  std::vector<char> taken;
  v.tokens.reserve(vocab->size() + 1024);
  for (const auto& [text, id] : vocab->items()) {
    if (!id.is_number_integer()) return format_error("model.vocab['" + text + "'] is not an integer id");
    BITNET_RETURN_IF_ERROR(place_token(id.get<int64_t>(), text, TokenType::kNormal, false, limit, v, taken));
  }
  if (added != nullptr && added->is_array()) {
    for (const json& t : *added) {
      const json* id = field(t, "id");
      const json* content = field(t, "content");
      if (id == nullptr || !id->is_number_integer() || content == nullptr || !content->is_string()) {
        return format_error("an added_tokens entry lacks an integer id or a string content");
      }
      const TokenType type = bool_field(t, "special") == 1 ? TokenType::kControl : TokenType::kUserDefined;
      BITNET_RETURN_IF_ERROR(place_token(id->get<int64_t>(), content->get<std::string>(), type, true, limit, v, taken));
    }
  }

  // Merges are "left right" strings in older files and [left, right] pairs in newer ones.
  v.merges.reserve(merges->size());
  for (const json& m : *merges) {
    if (m.is_string()) {
      v.merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      const std::string& left = m[0].get_ref<const std::string&>();
      const std::string& right = m[1].get_ref<const std::string&>();
      // The joined form splits at the first space after the first byte: a part with a space inside (never
      // the case in a byte-level vocabulary, where ' ' is spelled 'Ġ') could not be told apart.
      if (left.empty() || right.find(' ') != std::string::npos || left.find(' ', 1) != std::string::npos) {
        return unsupported("BPE merge ['" + left + "', '" + right + "'] has a part with a space");
      }
      v.merges.push_back(left + " " + right);
    } else {
      return format_error("a model.merges entry is neither 'a b' nor [a, b]");
    }
  }
  v.ignore_merges = bool_field(*model, "ignore_merges") == 1;
  return Status::Ok();
}

int32_t find_text(const Vocab& v, const std::string& text) {
  if (text.empty()) return -1;
  for (int32_t id = v.size() - 1; id >= 0; --id) {
    if (v.tokens[id] == text) return id;
  }
  return -1;
}

// bos_token / eos_token in tokenizer_config.json: a string or an AddedToken object with "content".
std::string token_text(const json& config, const char* key) {
  const json* f = field(config, key);
  if (f == nullptr) return {};
  if (f->is_string()) return f->get<std::string>();
  return string_field(*f, "content");
}

// Does the post_processor (TemplateProcessing, possibly inside a Sequence) put `bos` first?
bool template_starts_with(const json* proc, const std::string& bos) {
  if (proc == nullptr) return false;
  if (string_field(*proc, "type") == "Sequence") {
    const json* list = field(*proc, "processors");
    if (list == nullptr || !list->is_array()) return false;
    for (const json& p : *list) {
      if (template_starts_with(&p, bos)) return true;
    }
    return false;
  }
  const json* single = field(*proc, "single");
  if (string_field(*proc, "type") != "TemplateProcessing" || single == nullptr || !single->is_array() ||
      single->empty()) {
    return false;
  }
  const json* special = field((*single)[0], "SpecialToken");
  return special != nullptr && string_field(*special, "id") == bos;
}

Status read_specials(const json& root, const std::string& path, Vocab& v) {
  json config;
  const std::filesystem::path config_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::exists(config_path, ec)) {
    BITNET_ASSIGN_OR_RETURN(const std::string text, read_text_file(config_path.string()));
    config = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (config.is_discarded()) return format_error(config_path.string() + " is not valid JSON");
  }
  std::string bos = token_text(config, "bos_token");
  std::string eos = token_text(config, "eos_token");
  if (bos.empty() && find_text(v, "<|begin_of_text|>") >= 0) bos = "<|begin_of_text|>";
  if (eos.empty()) eos = find_text(v, "<|end_of_text|>") >= 0 ? "<|end_of_text|>" : "<|endoftext|>";
  v.bos = find_text(v, bos);
  v.eos = find_text(v, eos);
  if (!bos.empty() && v.bos < 0) return format_error("BOS token '" + bos + "' is not in the vocabulary");
  if (const json* model = field(root, "model")) v.unk = find_text(v, string_field(*model, "unk_token"));

  const int add_bos = bool_field(config, "add_bos_token");
  if (add_bos >= 0) {
    v.add_bos = add_bos == 1;
  } else {
    v.add_bos = v.bos >= 0 && (template_starts_with(field(root, "post_processor"), bos) || bos == "<|begin_of_text|>");
  }
  v.add_eos = bool_field(config, "add_eos_token") == 1;
  if (v.add_bos && v.bos < 0) return format_error("add_bos_token is true but the vocabulary has no BOS");
  if (v.add_eos && v.eos < 0) return format_error("add_eos_token is true but the vocabulary has no EOS");
  return Status::Ok();
}

Result<Vocab> parse_tokenizer_json(const std::string& path) {
  BITNET_ASSIGN_OR_RETURN(const std::string text, read_text_file(path));
  const json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) return format_error("not a JSON object");
  if (const json* norm = field(root, "normalizer")) {
    return unsupported("tokenizer.json normalizer '" + string_field(*norm, "type") + "' is not supported");
  }
  Vocab v;
  v.model = "gpt2";
  v.add_space_prefix = false;
  BITNET_RETURN_IF_ERROR(read_model(root, v));
  BITNET_RETURN_IF_ERROR(read_pre_tokenizer(root, v));
  if (v.tokens.empty()) return format_error("tokenizer.json has no tokens");
  v.scores.assign(v.tokens.size(), 0.0f);
  BITNET_RETURN_IF_ERROR(read_specials(root, path, v));
  detect_eot(v);
  BITNET_RETURN_IF_ERROR(check_vocab(v));
  return v;
}

}  // namespace

Result<Vocab> vocab_from_tokenizer_json(const std::string& path) {
  // nlohmann-json is used without exceptions where it offers that; anything it still throws (allocation,
  // an unexpected type) becomes an error here instead of escaping.
  try {
    Result<Vocab> v = parse_tokenizer_json(path);
    if (!v.ok()) return v.status().with_context(path);
    return v;
  } catch (const std::exception& e) {
    return format_error(path + ": " + e.what());
  }
}

}  // namespace bitnet
