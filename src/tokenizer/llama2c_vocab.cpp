// llama2.c tokenizer files (tokenizer.bin / tok512.bin, written by llama2.c's tokenizer.py export).
// Layout, little-endian: i32 max_token_length, then per token: f32 score, i32 byte length, the bytes.
#include <cmath>
#include <cstring>
#include <string>

#include "core/mapped_file.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {
namespace {

// The export replaced SentencePiece's "▁" by a plain space; the vocabulary keeps GGUF's convention ("▁").
std::string space_to_meta(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == ' ') {
      out += "\xE2\x96\x81";
    } else {
      out += c;
    }
  }
  return out;
}

bool is_byte_token_text(std::string_view t) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f'); };
  return t.size() == 6 && t.substr(0, 3) == "<0x" && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

int32_t read_i32(const std::string& b, size_t at) {
  int32_t v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

float read_f32(const std::string& b, size_t at) {
  float v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

}  // namespace

Result<Vocab> vocab_from_llama2c(const std::string& path, int32_t expected_size) {
  if (expected_size < 0) return invalid_argument("expected vocabulary size must not be negative");
  BITNET_ASSIGN_OR_RETURN(const std::string bytes, read_text_file(path));
  auto err = [&](const std::string& what) { return format_error("llama2.c tokenizer '" + path + "': " + what); };

  if (bytes.size() < 4) return err("truncated: " + std::to_string(bytes.size()) + " bytes, no max_token_length");
  const int32_t max_len = read_i32(bytes, 0);
  if (max_len <= 0) return err("max_token_length is " + std::to_string(max_len));

  Vocab v;
  v.model = "llama";
  size_t at = 4;
  while (at < bytes.size()) {
    const size_t id = v.tokens.size();
    const std::string where = "token " + std::to_string(id) + " at byte " + std::to_string(at);
    if (bytes.size() - at < 8) return err("truncated in the header of " + where);
    const float score = read_f32(bytes, at);
    const int32_t len = read_i32(bytes, at + 4);
    at += 8;
    if (!std::isfinite(score)) return err("score of " + where + " is not finite");
    if (len <= 0 || len > max_len) {
      return err(where + " has length " + std::to_string(len) + " (max_token_length " + std::to_string(max_len) + ")");
    }
    if (bytes.size() - at < static_cast<size_t>(len)) {
      return err("truncated in the text of " + where + ": " + std::to_string(len) + " bytes needed, " +
                 std::to_string(bytes.size() - at) + " left");
    }
    if (expected_size > 0 && id >= static_cast<size_t>(expected_size)) {
      return err("holds more than the expected " + std::to_string(expected_size) + " tokens");
    }
    std::string_view text(bytes.data() + at, static_cast<size_t>(len));
    at += static_cast<size_t>(len);

    TokenType type = TokenType::kNormal;
    if (id == 0) {
      type = TokenType::kUnknown;
    } else if (id == 1 || id == 2) {
      type = TokenType::kControl;
      // The export writes BOS/EOS as "\n<s>\n" / "\n</s>\n"; keep their SentencePiece text.
      if (text.size() > 2 && text.front() == '\n' && text.back() == '\n') text = text.substr(1, text.size() - 2);
    } else if (is_byte_token_text(text)) {
      type = TokenType::kByte;
    }
    v.tokens.push_back(type == TokenType::kNormal ? space_to_meta(text) : std::string(text));
    v.scores.push_back(score);
    v.types.push_back(static_cast<int32_t>(type));
  }
  if (v.tokens.empty()) return err("holds no tokens");
  if (expected_size > 0 && v.size() != expected_size) {
    return err("holds " + std::to_string(v.size()) + " tokens, expected " + std::to_string(expected_size) +
               " (truncated, or not this model's tokenizer)");
  }
  // llama2.c's fixed convention: <unk>=0, <s>=1, </s>=2.
  v.unk = 0;
  v.bos = v.size() > 1 ? 1 : -1;
  v.eos = v.size() > 2 ? 2 : -1;
  v.add_bos = v.bos >= 0;
  v.add_space_prefix = true;
  BITNET_RETURN_IF_ERROR(check_vocab(v));
  return v;
}

}  // namespace bitnet
