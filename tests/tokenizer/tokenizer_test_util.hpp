// Helpers shared by the tokenizer tests: id lists and llama.cpp test vectors from fixture files, UTF-8
// validity, building tokenizers.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped_file.hpp"
#include "tokenizer/tokenizer.hpp"
#include "tokenizer/utf8.hpp"

namespace bitnet::test {

// Whitespace-separated decimal ids (the .ids fixtures and one line of a .out file).
inline std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::istringstream in(text);
  for (int64_t id; in >> id;) ids.push_back(static_cast<int32_t>(id));
  return ids;
}

// Strict UTF-8 check (lead bytes, continuation bytes, no sequence cut at the end).
inline bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8::announced_length(static_cast<uint8_t>(s[i]));
    if (n == 0 || utf8::char_length(s, i) != n) return false;
    i += n;
  }
  return true;
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// llama.cpp's test-tokenizer-0 reads the .inp file whole and splits it at "\n__ggml_vocab_test__\n"
// (so a text's own trailing newline is the one before the separator's); line i of .out holds text i's ids.
inline std::vector<Case> read_cases(const std::string& base) {
  auto inp = read_text_file(base + ".inp");
  auto out = read_text_file(base + ".out");
  EXPECT_TRUE(inp.ok() && out.ok());
  if (!inp.ok() || !out.ok()) return {};
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0; pos < inp->size();) {
    const size_t next = inp->find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(inp->substr(pos));
      break;
    }
    texts.push_back(inp->substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::string> lines;
  std::istringstream lines_in(*out);
  for (std::string line; std::getline(lines_in, line);) lines.push_back(line);
  EXPECT_EQ(texts.size(), lines.size());
  std::vector<Case> cases;
  for (size_t i = 0; i < texts.size() && i < lines.size(); ++i) cases.push_back({texts[i], parse_ids(lines[i])});
  return cases;
}

inline std::unique_ptr<Tokenizer> make_tokenizer(Vocab vocab) {
  auto tok = Tokenizer::create(std::move(vocab));
  EXPECT_TRUE(tok.ok()) << tok.status().to_string();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

}  // namespace bitnet::test
