// Vocabulary from and to GGUF metadata (tokenizer.ggml.*), and the consistency check every loader shares.
// Defaults follow llama.cpp's loader: for model "llama" BOS=1, EOS=2, UNK=0, add BOS, add a space prefix; for
// "gpt2" add BOS only where the pre-tokenizer preset says so (Llama 3); EOT found by its text when unset.
#include <cmath>
#include <string>

#include "formats/gguf.hpp"
#include "formats/gguf_writer.hpp"
#include "tokenizer/pretokenize.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {
namespace {

constexpr const char* kModel = "tokenizer.ggml.model";
constexpr const char* kPre = "tokenizer.ggml.pre";
constexpr const char* kTokens = "tokenizer.ggml.tokens";
constexpr const char* kScores = "tokenizer.ggml.scores";
constexpr const char* kTypes = "tokenizer.ggml.token_type";
constexpr const char* kMerges = "tokenizer.ggml.merges";
constexpr const char* kBos = "tokenizer.ggml.bos_token_id";
constexpr const char* kEos = "tokenizer.ggml.eos_token_id";
constexpr const char* kUnk = "tokenizer.ggml.unknown_token_id";
constexpr const char* kPad = "tokenizer.ggml.padding_token_id";
constexpr const char* kEot = "tokenizer.ggml.eot_token_id";
constexpr const char* kAddBos = "tokenizer.ggml.add_bos_token";
constexpr const char* kAddEos = "tokenizer.ggml.add_eos_token";
constexpr const char* kAddSpacePrefix = "tokenizer.ggml.add_space_prefix";

bool is_float_type(gguf::ValueType t) { return t == gguf::ValueType::kF32 || t == gguf::ValueType::kF64; }
bool is_int_type(gguf::ValueType t) {
  return !is_float_type(t) && t != gguf::ValueType::kString && t != gguf::ValueType::kArray;
}

// A special id read from the file: absent keeps `fallback` (if it is inside the vocabulary, else -1);
// -1 and 0xFFFFFFFF (llama.cpp's converters write u32 -1 for "no such token") mean none; any other value
// must be inside the vocabulary.
Status read_special_id(const gguf::File& file, const char* key, int32_t fallback, int32_t n, int32_t* out) {
  if (file.find(key) == nullptr) {
    *out = (fallback >= 0 && fallback < n) ? fallback : -1;
    return Status::Ok();
  }
  BITNET_ASSIGN_OR_RETURN(const int64_t id, file.get_int(key));
  if (id == -1 || id == 0xFFFFFFFFll) {
    *out = -1;
    return Status::Ok();
  }
  if (id < 0 || id >= n) {
    return format_error(std::string(key) + " = " + std::to_string(id) + " is outside the vocabulary of " +
                        std::to_string(n) + " tokens");
  }
  *out = static_cast<int32_t>(id);
  return Status::Ok();
}

Status check_special_id(const char* name, int32_t id, int32_t n) {
  if (id == -1 || (id >= 0 && id < n)) return Status::Ok();
  return out_of_range(std::string(name) + " token id " + std::to_string(id) + " is outside the vocabulary of " +
                      std::to_string(n) + " tokens");
}

}  // namespace

void detect_eot(Vocab& vocab) {
  if (vocab.eot >= 0) return;
  for (const char* text : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>"}) {
    // The last id with that text, as a text -> id map would give.
    for (int32_t id = vocab.size() - 1; id >= 0; --id) {
      if (vocab.tokens[id] == text) {
        vocab.eot = id;
        return;
      }
    }
  }
}

Status check_vocab(const Vocab& vocab) {
  const size_t n = vocab.tokens.size();
  if (n == 0) return format_error("vocabulary has no tokens");
  if (n > static_cast<size_t>(INT32_MAX)) return format_error("vocabulary has more tokens than an int32 id can name");
  if (vocab.scores.size() != n) {
    return format_error("vocabulary has " + std::to_string(vocab.scores.size()) + " scores for " + std::to_string(n) +
                        " tokens");
  }
  if (vocab.types.size() != n) {
    return format_error("vocabulary has " + std::to_string(vocab.types.size()) + " token types for " +
                        std::to_string(n) + " tokens");
  }
  for (size_t i = 0; i < n; ++i) {
    // A NaN score would break the strict ordering the merge queue relies on.
    if (!std::isfinite(vocab.scores[i])) return format_error("score of token " + std::to_string(i) + " is not finite");
    const int32_t t = vocab.types[i];
    if (t < static_cast<int32_t>(TokenType::kUndefined) || t > static_cast<int32_t>(TokenType::kByte)) {
      return format_error("token " + std::to_string(i) + " has unknown token type " + std::to_string(t));
    }
  }
  const int32_t size = static_cast<int32_t>(n);
  BITNET_RETURN_IF_ERROR(check_special_id("BOS", vocab.bos, size));
  BITNET_RETURN_IF_ERROR(check_special_id("EOS", vocab.eos, size));
  BITNET_RETURN_IF_ERROR(check_special_id("unknown", vocab.unk, size));
  BITNET_RETURN_IF_ERROR(check_special_id("padding", vocab.pad, size));
  BITNET_RETURN_IF_ERROR(check_special_id("EOT", vocab.eot, size));
  return Status::Ok();
}

namespace {

// vocab_from_gguf, moving the strings out of `owner` (the same file) where it is given.
Result<Vocab> read_vocab(const gguf::File& file, gguf::File* owner) {
  Vocab v;
  if (file.find(kModel) == nullptr)
    return not_found(std::string("GGUF file has no tokenizer (") + kModel + " missing)");
  BITNET_ASSIGN_OR_RETURN(v.model, file.get_string(kModel));
  BITNET_ASSIGN_OR_RETURN(v.pre, file.get_string_or(kPre, ""));
  const bool is_spm = v.model == "llama";

  const gguf::Value* tokens = file.find(kTokens);
  if (tokens == nullptr) return format_error(std::string(kTokens) + " is missing");
  if (!tokens->is_array() || tokens->elem_type != gguf::ValueType::kString) {
    return format_error(std::string(kTokens) + " must be an array of strings");
  }
  v.tokens = owner != nullptr ? owner->take_strings(kTokens) : tokens->strings;
  const size_t n = v.tokens.size();
  if (n == 0) return format_error(std::string(kTokens) + " is empty");
  if (n > static_cast<size_t>(INT32_MAX)) return format_error(std::string(kTokens) + " has too many tokens");

  if (const gguf::Value* scores = file.find(kScores)) {
    if (!scores->is_array() || !is_float_type(scores->elem_type)) {
      return format_error(std::string(kScores) + " must be an array of floats");
    }
    if (scores->floats.size() != n) {
      return format_error(std::string(kScores) + " has " + std::to_string(scores->floats.size()) + " entries but " +
                          kTokens + " has " + std::to_string(n));
    }
    v.scores.assign(scores->floats.begin(), scores->floats.end());
  } else {
    v.scores.assign(n, 0.0f);
  }

  if (const gguf::Value* types = file.find(kTypes)) {
    if (!types->is_array() || !is_int_type(types->elem_type)) {
      return format_error(std::string(kTypes) + " must be an array of integers");
    }
    if (types->ints.size() != n) {
      return format_error(std::string(kTypes) + " has " + std::to_string(types->ints.size()) + " entries but " +
                          kTokens + " has " + std::to_string(n));
    }
    v.types.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = types->ints[i];
      if (t < 0 || t > static_cast<int64_t>(TokenType::kByte)) {
        return format_error(std::string(kTypes) + "[" + std::to_string(i) + "] = " + std::to_string(t) +
                            " is not a known token type");
      }
      v.types.push_back(static_cast<int32_t>(t));
    }
  } else {
    v.types.assign(n, static_cast<int32_t>(TokenType::kNormal));  // llama.cpp's default without types
  }

  if (const gguf::Value* merges = file.find(kMerges)) {
    if (!merges->is_array() || merges->elem_type != gguf::ValueType::kString) {
      return format_error(std::string(kMerges) + " must be an array of strings");
    }
    v.merges = owner != nullptr ? owner->take_strings(kMerges) : merges->strings;
  }
  if (owner != nullptr)
    for (const char* key : {kScores, kTypes}) owner->release_array(key);

  const int32_t size = static_cast<int32_t>(n);
  BITNET_RETURN_IF_ERROR(read_special_id(file, kBos, is_spm ? 1 : -1, size, &v.bos));
  BITNET_RETURN_IF_ERROR(read_special_id(file, kEos, is_spm ? 2 : -1, size, &v.eos));
  BITNET_RETURN_IF_ERROR(read_special_id(file, kUnk, is_spm ? 0 : -1, size, &v.unk));
  BITNET_RETURN_IF_ERROR(read_special_id(file, kPad, -1, size, &v.pad));
  BITNET_RETURN_IF_ERROR(read_special_id(file, kEot, -1, size, &v.eot));
  bool add_bos_default = is_spm;
  if (v.model == "gpt2") {
    const auto preset = pre_tokenizer_preset(v.pre);
    add_bos_default = preset.ok() && preset->add_bos && v.bos >= 0;  // no BOS: nothing to add
  }
  BITNET_ASSIGN_OR_RETURN(v.add_bos, file.get_bool_or(kAddBos, add_bos_default));
  BITNET_ASSIGN_OR_RETURN(v.add_eos, file.get_bool_or(kAddEos, false));
  BITNET_ASSIGN_OR_RETURN(v.add_space_prefix, file.get_bool_or(kAddSpacePrefix, is_spm));
  detect_eot(v);
  if (v.add_bos && v.bos < 0) return format_error(std::string(kAddBos) + " is true but the vocabulary has no BOS");
  if (v.add_eos && v.eos < 0) return format_error(std::string(kAddEos) + " is true but the vocabulary has no EOS");

  BITNET_RETURN_IF_ERROR(check_vocab(v));
  return v;
}

}  // namespace

Result<Vocab> vocab_from_file(const std::string& path) {
  const auto ends_with = [&](std::string_view suffix) { return std::string_view(path).ends_with(suffix); };
  if (ends_with(".json")) return vocab_from_tokenizer_json(path);  // the tokenizer file readers name the file
  if (ends_with(".model")) return vocab_from_sentencepiece_model(path);
  auto file = gguf::File::open(path);
  if (!file.ok()) return file.status();  // names the file already
  Result<Vocab> vocab = vocab_from_gguf(*file.value());
  if (!vocab.ok()) return vocab.status().with_context(path);
  return vocab;
}

Result<Vocab> vocab_from_gguf(const gguf::File& file) { return read_vocab(file, nullptr); }

Result<Vocab> take_vocab_from_gguf(gguf::File& file) { return read_vocab(file, &file); }

void vocab_to_gguf(const Vocab& vocab, gguf::Writer& writer) {
  writer.set_string(kModel, vocab.model);
  if (!vocab.pre.empty()) writer.set_string(kPre, vocab.pre);
  writer.set_string_array(kTokens, vocab.tokens);
  writer.set_f32_array(kScores, vocab.scores);
  writer.set_i32_array(kTypes, vocab.types);
  if (!vocab.merges.empty()) writer.set_string_array(kMerges, vocab.merges);
  // Absent ids are left out rather than written as -1: GGUF stores them as u32.
  if (vocab.bos >= 0) writer.set_u32(kBos, static_cast<uint32_t>(vocab.bos));
  if (vocab.eos >= 0) writer.set_u32(kEos, static_cast<uint32_t>(vocab.eos));
  if (vocab.unk >= 0) writer.set_u32(kUnk, static_cast<uint32_t>(vocab.unk));
  if (vocab.pad >= 0) writer.set_u32(kPad, static_cast<uint32_t>(vocab.pad));
  if (vocab.eot >= 0) writer.set_u32(kEot, static_cast<uint32_t>(vocab.eot));
  writer.set_bool(kAddBos, vocab.add_bos);
  writer.set_bool(kAddEos, vocab.add_eos);
  writer.set_bool(kAddSpacePrefix, vocab.add_space_prefix);
}

}  // namespace bitnet
