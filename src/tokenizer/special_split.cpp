// Special-token partition of a text, with llama.cpp's order of matching (see special_split.hpp).
#include "tokenizer/special_split.hpp"

#include <algorithm>

namespace bitnet {
namespace {

bool is_type(const Vocab& v, int32_t id, TokenType t) { return v.types[id] == static_cast<int32_t>(t); }

}  // namespace

SpecialSplitter::SpecialSplitter(const Vocab& vocab) : vocab_(vocab) {
  for (int32_t id = 0; id < vocab.size(); ++id) {
    if (vocab.tokens[id].empty()) continue;  // an empty text would match everywhere
    if (is_type(vocab, id, TokenType::kControl) || is_type(vocab, id, TokenType::kUserDefined) ||
        is_type(vocab, id, TokenType::kUnknown)) {
      specials_.push_back(id);
    }
  }
  // Longest first so that a special token containing another is matched whole.
  std::stable_sort(specials_.begin(), specials_.end(),
                   [&](int32_t a, int32_t b) { return vocab.tokens[a].size() > vocab.tokens[b].size(); });
  for (size_t i = 0; i < specials_.size(); ++i) {
    by_first_byte_[static_cast<uint8_t>(vocab.tokens[specials_[i]][0])].push_back(static_cast<int32_t>(i));
  }
}

std::vector<Fragment> SpecialSplitter::split(std::string_view text, bool parse_special) const {
  std::vector<Fragment> frags{{-1, 0, text.size()}};
  if (specials_.empty() || text.empty()) return frags;

  // Which specials occur at all (and may be used here)?
  std::vector<char> present(specials_.size(), 0);
  bool any = false;
  for (size_t pos = 0; pos < text.size(); ++pos) {
    for (const int32_t i : by_first_byte_[static_cast<uint8_t>(text[pos])]) {
      if (present[i]) continue;
      const int32_t id = specials_[i];
      if (!parse_special && !is_type(vocab_, id, TokenType::kUserDefined)) continue;
      if (text.substr(pos).starts_with(vocab_.tokens[id])) present[i] = any = true;
    }
  }
  if (!any) return frags;

  std::vector<Fragment> next;
  for (size_t i = 0; i < specials_.size(); ++i) {
    if (!present[i]) continue;
    const int32_t id = specials_[i];
    const std::string& special = vocab_.tokens[id];
    next.clear();
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      const size_t end = f.start + f.len;
      const std::string_view window = text.substr(0, end);
      size_t pos = f.start;
      while (pos < end) {
        const size_t match = window.find(special, pos);
        if (match == std::string_view::npos) break;
        if (match > pos) next.push_back({-1, pos, match - pos});
        next.push_back({id, match, special.size()});
        pos = match + special.size();
      }
      if (pos < end) next.push_back({-1, pos, end - pos});
    }
    frags.swap(next);
  }
  return frags;
}

}  // namespace bitnet
