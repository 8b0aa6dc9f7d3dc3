// SentencePiece tokenizer.model files: the protobuf reader against the same vocabulary in llama2.c format,
// encoding through it, and malformed files.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "test_util.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {
namespace {

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(TokenizerSpmModel, MatchesTheLlama2cFileOfTheSameVocabulary) {
  const std::string model = test::fixture("stories260k/tok512.model");
  const std::string bin = test::fixture("stories260k/tok512.bin");
  BITNET_REQUIRE_FIXTURE(model);
  BITNET_REQUIRE_FIXTURE(bin);
  auto a = vocab_from_sentencepiece_model(model);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  auto b = vocab_from_llama2c(bin, 512);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  ASSERT_EQ(a->size(), 512);
  EXPECT_EQ(a->tokens, b->tokens);
  EXPECT_EQ(a->scores, b->scores);
  EXPECT_EQ(a->types, b->types);
  EXPECT_EQ(a->bos, 1);
  EXPECT_EQ(a->eos, 2);
  EXPECT_EQ(a->unk, 0);
  EXPECT_TRUE(a->add_space_prefix);
  auto tok = Tokenizer::create(std::move(a).value());
  ASSERT_TRUE(tok.ok());
  auto ids = tok.value()->encode("Once upon a time", true, false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids.value(), (std::vector<int32_t>{1, 403, 407, 261, 378}));
}

TEST(TokenizerSpmModel, TruncatedAndCorruptFilesAreErrors) {
  const std::string model = test::fixture("stories260k/tok512.model");
  BITNET_REQUIRE_FIXTURE(model);
  const std::vector<uint8_t> bytes = read_bytes(model);
  ASSERT_GT(bytes.size(), 100u);
  int errors = 0;
  for (size_t cut = 0; cut < bytes.size(); cut += 7) {
    auto v = vocab_from_sentencepiece_bytes(bytes.data(), cut);
    // A cut exactly between pieces can parse, but never with all 512 pieces and never by crashing.
    if (v.ok()) {
      EXPECT_LT(v->size(), 512);
    } else {
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
  std::vector<uint8_t> bad = {0x0a, 0x7f, 0x0a, 0x01};  // piece message claims 127 bytes, 2 present
  EXPECT_FALSE(vocab_from_sentencepiece_bytes(bad.data(), bad.size()).ok());
  std::vector<uint8_t> wire = {0x0b};  // field 1, wire type 3 (groups): unsupported
  auto w = vocab_from_sentencepiece_bytes(wire.data(), wire.size());
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("wire type"), std::string::npos);
  EXPECT_FALSE(vocab_from_sentencepiece_model("/nonexistent/tokenizer.model").ok());
}

}  // namespace
}  // namespace bitnet
