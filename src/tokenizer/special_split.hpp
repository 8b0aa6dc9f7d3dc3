// Splitting text around special-token text (llama.cpp's tokenizer_st_partition): control and unknown tokens
// only when parse_special, user-defined tokens always.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.hpp"

namespace bitnet {

struct Fragment {
  int32_t token;  // >= 0: a special token matched in the text; -1: raw text [start, start + len)
  size_t start;
  size_t len;
};

class SpecialSplitter {
 public:
  // Keeps a reference to `vocab`, which must outlive the splitter and have passed check_vocab.
  explicit SpecialSplitter(const Vocab& vocab);

  // Same fragments as llama.cpp: one special token at a time, longest text first, every occurrence in every
  // raw fragment. Specials absent from the text are found in one pass first, so a vocabulary with hundreds
  // of them costs one scan, not hundreds.
  std::vector<Fragment> split(std::string_view text, bool parse_special) const;

 private:
  const Vocab& vocab_;
  std::vector<int32_t> specials_;                         // longest text first, ties by id
  std::array<std::vector<int32_t>, 256> by_first_byte_;  // indexes into specials_
};

}  // namespace bitnet
