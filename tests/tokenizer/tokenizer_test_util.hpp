// Helpers shared by the tokenizer tests: id lists from fixture files, UTF-8 validity, building tokenizers.
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

inline std::unique_ptr<Tokenizer> make_tokenizer(Vocab vocab) {
  auto tok = Tokenizer::create(std::move(vocab));
  EXPECT_TRUE(tok.ok()) << tok.status().to_string();
  return tok.ok() ? std::move(tok).value() : nullptr;
}

}  // namespace bitnet::test
