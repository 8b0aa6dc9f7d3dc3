// Compact lookup tables the tokenizers build once from a vocabulary: token text -> id (TokenIds), id -> the bytes
// it decodes to (Pieces), and BPE's (left, right) -> merge (MergeTable). Flat arrays, not node-based maps: for Llama
// 3's 128k tokens and 280k merges the maps took 27 MB of a 2B-4T process's 877 MB peak, these take 6 MB.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bitnet {

// Token text -> id, by open addressing over ids into the vocabulary's own strings (4 bytes a slot, at most half of
// them used): the texts are not copied. `tokens` must outlive the table and not change.
class TokenIds {
 public:
  explicit TokenIds(const std::vector<std::string>& tokens);
  // The id of `text`, or -1 (always for ""). A text the vocabulary holds more than once maps to its last id (as
  // llama.cpp's map).
  int32_t find(std::string_view text) const;

 private:
  const std::vector<std::string>& tokens_;
  std::vector<int32_t> slots_;  // -1: empty
  size_t mask_ = 0;
};

// The bytes each id decodes to, one buffer for all of them.
class Pieces {
 public:
  void reserve(size_t n_tokens, size_t n_bytes);
  // Appends the piece of the next id (ids in order from 0).
  void push_back(std::string_view piece);
  std::string_view operator[](int32_t id) const {
    return std::string_view(text_).substr(start_[static_cast<size_t>(id)],
                                          start_[static_cast<size_t>(id) + 1] - start_[static_cast<size_t>(id)]);
  }

 private:
  std::string text_;
  std::vector<uint64_t> start_{0};  // piece i is text_[start_[i], start_[i + 1])
};

// BPE merges by left token: the merges whose left part is token l are entries [first_[l], first_[l + 1]), sorted by
// right token and found by binary search (12 bytes a merge, plus 4 a token).
class MergeTable {
 public:
  struct Merge {
    int32_t rank;    // position in the merge list: lower merges first
    int32_t result;  // id of the merged text
  };
  // One (left, right, rank, result) per merge, in any order; a pair given twice keeps its lowest rank. Ids must be
  // in [0, n_tokens).
  struct Entry {
    int32_t left, right, rank, result;
  };
  MergeTable() = default;
  MergeTable(std::vector<Entry> merges, int32_t n_tokens);
  // The merge of (left, right), or nullptr. Ids must be in range.
  const Merge* find(int32_t left, int32_t right) const;

 private:
  struct Stored {
    int32_t right;
    Merge merge;
  };
  std::vector<uint32_t> first_;
  std::vector<Stored> stored_;
};

}  // namespace bitnet
