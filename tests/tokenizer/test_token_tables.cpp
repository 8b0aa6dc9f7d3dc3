// The tokenizers' flat lookup tables (tokenizer/token_tables.hpp) against what the maps they replaced did: last id
// for a repeated text, nothing for an empty one, the lowest rank for a repeated merge whatever the input order.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/token_tables.hpp"

namespace bitnet {
namespace {

TEST(TokenTables, TokenIdsFindsEveryTextAndTheLastOfARepeat) {
  std::vector<std::string> tokens;
  for (int i = 0; i < 3000; ++i) {
    std::string text = "t";  // appended: GCC 12 warns falsely (-Wrestrict) on "t" + std::to_string(...)
    text += std::to_string(i * 7919 % 3001);
    tokens.push_back(text);
  }
  tokens.push_back("t0");  // a repeat: the later id wins
  tokens.push_back("");    // never found
  tokens.push_back("a text longer than the sixteen bytes a short string holds");
  const TokenIds ids(tokens);
  for (int32_t id = 0; id < 3000; ++id) {
    if (tokens[static_cast<size_t>(id)] == "t0") continue;
    EXPECT_EQ(ids.find(tokens[static_cast<size_t>(id)]), id);
  }
  EXPECT_EQ(ids.find("t0"), 3000);
  EXPECT_EQ(ids.find(""), -1);
  EXPECT_EQ(ids.find("a text longer than the sixteen bytes a short string holds"), 3002);
  EXPECT_EQ(ids.find("t3001"), -1);
  EXPECT_EQ(ids.find("t"), -1);
  const TokenIds none(std::vector<std::string>{});
  EXPECT_EQ(none.find("x"), -1);
}

TEST(TokenTables, PiecesKeepEveryIdsBytes) {
  Pieces p;
  const std::vector<std::string> want = {"", "a", std::string("\0b", 2), "", "longer piece of text", ""};
  p.reserve(want.size(), 8);  // a guess too small is fine
  for (const std::string& w : want) p.push_back(w);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(p[static_cast<int32_t>(i)], want[i]) << i;
}

TEST(TokenTables, MergeTableMatchesAMapOnRandomMerges) {
  constexpr int32_t kTokens = 200;
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> id(0, kTokens - 1);
  std::vector<MergeTable::Entry> entries;
  std::map<std::pair<int32_t, int32_t>, MergeTable::Merge> want;  // first (lowest) rank of each pair
  for (int32_t rank = 0; rank < 3000; ++rank) {
    const MergeTable::Entry e{id(rng), id(rng), rank, id(rng)};
    entries.push_back(e);
    want.emplace(std::make_pair(e.left, e.right), MergeTable::Merge{e.rank, e.result});
  }
  std::shuffle(entries.begin(), entries.end(), rng);  // the table must not depend on the order given
  const MergeTable table(entries, kTokens);
  int found = 0;
  for (int32_t l = 0; l < kTokens; ++l)
    for (int32_t r = 0; r < kTokens; ++r) {
      const MergeTable::Merge* m = table.find(l, r);
      const auto it = want.find({l, r});
      ASSERT_EQ(m != nullptr, it != want.end()) << l << " " << r;
      if (m == nullptr) continue;
      EXPECT_EQ(m->rank, it->second.rank);
      EXPECT_EQ(m->result, it->second.result);
      ++found;
    }
  EXPECT_EQ(found, static_cast<int>(want.size()));
  EXPECT_LT(want.size(), 3000u);  // the random pairs did repeat
  EXPECT_EQ(MergeTable().find(0, 0), nullptr);
}

}  // namespace
}  // namespace bitnet
