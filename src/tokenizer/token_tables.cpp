// The tokenizers' lookup tables (token_tables.hpp).
#include "tokenizer/token_tables.hpp"

#include <algorithm>
#include <bit>
#include <functional>

namespace bitnet {

TokenIds::TokenIds(const std::vector<std::string>& tokens) : tokens_(tokens) {
  const size_t capacity = std::bit_ceil(std::max<size_t>(16, 2 * tokens.size()));
  slots_.assign(capacity, -1);
  mask_ = capacity - 1;
  for (size_t id = 0; id < tokens.size(); ++id) {
    const std::string& text = tokens[id];
    if (text.empty()) continue;  // no text finds an empty token
    for (size_t at = std::hash<std::string_view>{}(text) & mask_;; at = (at + 1) & mask_) {
      int32_t& slot = slots_[at];
      if (slot < 0 || tokens[static_cast<size_t>(slot)] == text) {  // a repeated text takes the later id
        slot = static_cast<int32_t>(id);
        break;
      }
    }
  }
}

int32_t TokenIds::find(std::string_view text) const {
  if (text.empty()) return -1;
  for (size_t at = std::hash<std::string_view>{}(text) & mask_;; at = (at + 1) & mask_) {
    const int32_t id = slots_[at];
    if (id < 0 || tokens_[static_cast<size_t>(id)] == text) return id;
  }
}

void Pieces::reserve(size_t n_tokens, size_t n_bytes) {
  start_.reserve(n_tokens + 1);
  text_.reserve(n_bytes);
}

void Pieces::push_back(std::string_view piece) {
  text_.append(piece);
  start_.push_back(text_.size());
}

MergeTable::MergeTable(std::vector<Entry> merges, int32_t n_tokens) {
  std::sort(merges.begin(), merges.end(), [](const Entry& a, const Entry& b) {
    if (a.left != b.left) return a.left < b.left;
    return a.right != b.right ? a.right < b.right : a.rank < b.rank;
  });
  first_.assign(static_cast<size_t>(n_tokens) + 1, 0);
  stored_.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const Entry& e = merges[i];
    if (i > 0 && merges[i - 1].left == e.left && merges[i - 1].right == e.right) continue;  // a higher rank of a pair
    stored_.push_back({e.right, {e.rank, e.result}});
    ++first_[static_cast<size_t>(e.left) + 1];
  }
  for (size_t l = 0; l < static_cast<size_t>(n_tokens); ++l) first_[l + 1] += first_[l];
}

const MergeTable::Merge* MergeTable::find(int32_t left, int32_t right) const {
  if (first_.empty()) return nullptr;
  const auto begin = stored_.begin() + first_[static_cast<size_t>(left)];
  const auto end = stored_.begin() + first_[static_cast<size_t>(left) + 1];
  const auto it = std::lower_bound(begin, end, right, [](const Stored& s, int32_t r) { return s.right < r; });
  return it != end && it->right == right ? &it->merge : nullptr;
}

}  // namespace bitnet
