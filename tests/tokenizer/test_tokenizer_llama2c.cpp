// llama2.c tokenizer files (tok512.bin): loading, decoding the reference greedy stories byte for byte,
// encode/decode round trips, and truncated or lying files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "formats/gguf.hpp"
#include "formats/gguf_writer.hpp"
#include "test_util.hpp"
#include "tokenizer/tokenizer_test_util.hpp"

namespace bitnet {
namespace {

const std::string kTok = "stories260k/tok512.bin";

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::unique_ptr<Tokenizer> load_tok512(const std::string& relative) {
  auto vocab = vocab_from_llama2c(test::fixture(relative), 512);
  EXPECT_TRUE(vocab.ok()) << vocab.status().to_string();
  return vocab.ok() ? test::make_tokenizer(std::move(vocab).value()) : nullptr;
}

TEST(TokenizerLlama2c, LoadsTok512) {
  BITNET_REQUIRE_FIXTURE(test::fixture(kTok));
  auto vocab = vocab_from_llama2c(test::fixture(kTok), 512);
  ASSERT_TRUE(vocab.ok()) << vocab.status().to_string();
  const Vocab& v = *vocab;
  EXPECT_EQ(v.size(), 512);
  EXPECT_EQ(v.model, "llama");
  EXPECT_EQ(v.unk, 0);
  EXPECT_EQ(v.bos, 1);
  EXPECT_EQ(v.eos, 2);
  EXPECT_EQ(v.tokens[1], "<s>");  // the file stores "\n<s>\n"
  EXPECT_EQ(v.types[1], static_cast<int32_t>(TokenType::kControl));
  EXPECT_EQ(v.tokens[3], "<0x00>");
  EXPECT_EQ(v.types[258], static_cast<int32_t>(TokenType::kByte));
  EXPECT_EQ(v.tokens[259], "\xE2\x96\x81t");  // " t" in the file, SentencePiece's "▁t" here
  EXPECT_EQ(v.types[259], static_cast<int32_t>(TokenType::kNormal));
  EXPECT_FLOAT_EQ(v.scores[260], -1.0f);
  // Without a size check the file is read to its end.
  auto unchecked = vocab_from_llama2c(test::fixture(kTok), 0);
  ASSERT_TRUE(unchecked.ok());
  EXPECT_EQ(unchecked->size(), 512);
}

struct Golden {
  const char* name;
  const char* tok;
  const char* ids;
  const char* txt;
  // The tinystories .txt ends with one newline that no token produces (its 256 ids stop at "Thank you,"):
  // the generator printed a newline after the story, as llama2.c's run does.
  bool txt_adds_newline;
};

// Readable names for ctest (a raw struct would be printed as bytes).
void PrintTo(const Golden& g, std::ostream* os) { *os << g.name; }

class TokenizerLlama2cGolden : public ::testing::TestWithParam<Golden> {};

TEST_P(TokenizerLlama2cGolden, DecodesTheReferenceStoryByteForByte) {
  const Golden g = GetParam();
  BITNET_REQUIRE_FIXTURE(test::fixture(g.tok));
  BITNET_REQUIRE_FIXTURE(test::fixture(g.ids));
  auto tok = load_tok512(g.tok);
  ASSERT_NE(tok, nullptr);
  auto ids_text = read_text_file(test::fixture(g.ids));
  auto expected = read_text_file(test::fixture(g.txt));
  ASSERT_TRUE(ids_text.ok() && expected.ok());
  std::vector<int32_t> ids{1};  // generation starts from BOS
  for (int32_t id : test::parse_ids(*ids_text)) ids.push_back(id);
  ASSERT_GT(ids.size(), 100u);
  const std::string suffix = g.txt_adds_newline ? "\n" : "";
  EXPECT_EQ(tok->decode(ids) + suffix, *expected);

  StreamDecoder stream(*tok, /*strip_leading_space=*/true);
  std::string joined;
  for (int32_t id : ids) joined += stream.push(id);
  joined += stream.flush();
  EXPECT_EQ(joined + suffix, *expected);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TokenizerLlama2cGolden,
                         ::testing::Values(Golden{"Stories260k", "stories260k/tok512.bin",
                                                  "stories260k/expected_greedy_200.ids",
                                                  "stories260k/expected_greedy_200.txt", false},
                                           Golden{"TinystoriesTernary", "tinystories-ternary/tok512.bin",
                                                  "tinystories-ternary/expected_greedy_256.ids",
                                                  "tinystories-ternary/expected_greedy_256.txt", true}),
                         [](const ::testing::TestParamInfo<Golden>& info) { return std::string(info.param.name); });

TEST(TokenizerLlama2c, EncodeDecodeRoundTrips) {
  BITNET_REQUIRE_FIXTURE(test::fixture(kTok));
  auto tok = load_tok512(kTok);
  ASSERT_NE(tok, nullptr);
  for (const std::string& text :
       {std::string("Once upon a time, there was a little girl named Lily."), std::string("She loved to play."),
        std::string("  two spaces\nand a newline"), std::string("héllo 🙂 {}[]~"), std::string("x")}) {
    auto ids = tok->encode(text, true, false);
    ASSERT_TRUE(ids.ok()) << ids.status().to_string();
    EXPECT_EQ((*ids)[0], 1);
    EXPECT_EQ(tok->decode(*ids), text);
  }
  // The reference story starts with the tokens a SentencePiece encoder gives its first words.
  auto ids = tok->encode("Once upon a time", false, false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<int32_t>{403, 407, 261, 378}));
}

TEST(TokenizerLlama2c, VocabRoundTripsThroughGguf) {
  BITNET_REQUIRE_FIXTURE(test::fixture(kTok));
  auto vocab = vocab_from_llama2c(test::fixture(kTok), 512);
  ASSERT_TRUE(vocab.ok());
  gguf::Writer writer;
  vocab_to_gguf(*vocab, writer);
  auto bytes = writer.to_bytes();
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  auto file = gguf::File::from_bytes(std::move(bytes).value());
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  auto back = vocab_from_gguf(**file);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->model, vocab->model);
  EXPECT_EQ(back->tokens, vocab->tokens);
  EXPECT_EQ(back->scores, vocab->scores);
  EXPECT_EQ(back->types, vocab->types);
  EXPECT_EQ(back->bos, 1);
  EXPECT_EQ(back->eos, 2);
  EXPECT_EQ(back->unk, 0);
  EXPECT_EQ(back->pad, -1);
  EXPECT_EQ(back->add_bos, vocab->add_bos);
  EXPECT_EQ(back->add_space_prefix, vocab->add_space_prefix);
}

TEST(TokenizerLlama2c, TruncatedFilesAreClearErrors) {
  BITNET_REQUIRE_FIXTURE(test::fixture(kTok));
  auto full = read_text_file(test::fixture(kTok));
  ASSERT_TRUE(full.ok());
  const std::string path = test::temp_dir() + "/cut.bin";
  std::vector<size_t> cuts;
  for (size_t n = 0; n <= 200; ++n) cuts.push_back(n);
  for (size_t n : {1000u, 2500u, 4097u, 6000u}) cuts.push_back(n);
  cuts.push_back(full->size() - 1);
  for (size_t n : cuts) {
    write_file(path, std::string_view(*full).substr(0, n));
    auto vocab = vocab_from_llama2c(path, 512);
    ASSERT_FALSE(vocab.ok()) << "cut at " << n;
    EXPECT_EQ(vocab.status().code(), StatusCode::kFormatError) << vocab.status().to_string();
    EXPECT_NE(vocab.status().message().find(path), std::string::npos) << vocab.status().message();
  }
  write_file(path, std::string_view(*full).substr(0, 3));
  EXPECT_NE(vocab_from_llama2c(path, 512).status().message().find("truncated"), std::string::npos);
  write_file(path, std::string_view(*full).substr(0, 28));  // inside token 1's text (its 5 bytes start at byte 25)
  EXPECT_NE(vocab_from_llama2c(path, 512).status().message().find("truncated in the text of token 1"),
            std::string::npos)
      << vocab_from_llama2c(path, 512).status().message();
}

TEST(TokenizerLlama2c, RandomCorruptionNeverCrashes) {
  BITNET_REQUIRE_FIXTURE(test::fixture(kTok));
  auto full = read_text_file(test::fixture(kTok));
  ASSERT_TRUE(full.ok());
  const std::string path = test::temp_dir() + "/corrupt.bin";
  std::mt19937 rng(42);
  for (int round = 0; round < 300; ++round) {
    std::string b = *full;
    for (int k = 0; k < 3; ++k) b[rng() % 400] = static_cast<char>(rng() % 256);  // headers of the first tokens
    write_file(path, b);
    auto vocab = vocab_from_llama2c(path, 512);
    if (!vocab.ok()) {
      EXPECT_FALSE(vocab.status().message().empty());
      continue;
    }
    auto tok = Tokenizer::create(std::move(vocab).value());  // a corrupted text still gives a usable tokenizer
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    EXPECT_TRUE((*tok)->encode("Once upon a time", true, true).ok());
  }
}

TEST(TokenizerLlama2c, WrongExpectedSizeAndLyingFields) {
  BITNET_REQUIRE_FIXTURE(test::fixture(kTok));
  for (int32_t size : {1, 511, 513, 32000}) {
    auto vocab = vocab_from_llama2c(test::fixture(kTok), size);
    ASSERT_FALSE(vocab.ok()) << size;
    EXPECT_NE(vocab.status().message().find(std::to_string(size)), std::string::npos) << vocab.status().message();
  }
  EXPECT_EQ(vocab_from_llama2c(test::fixture(kTok), -1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(vocab_from_llama2c(test::temp_dir() + "/missing.bin", 512).ok());

  auto full = read_text_file(test::fixture(kTok));
  ASSERT_TRUE(full.ok());
  const std::string path = test::temp_dir() + "/lie.bin";
  auto patch = [&](size_t at, auto value, const char* expect_in_message) {
    std::string b = *full;
    std::memcpy(b.data() + at, &value, sizeof value);
    write_file(path, b);
    auto vocab = vocab_from_llama2c(path, 512);
    ASSERT_FALSE(vocab.ok()) << expect_in_message;
    EXPECT_NE(vocab.status().message().find(expect_in_message), std::string::npos) << vocab.status().message();
  };
  patch(0, int32_t{0}, "max_token_length is 0");
  patch(0, int32_t{-7}, "max_token_length is -7");
  patch(0, int32_t{3}, "max_token_length 3");   // "<unk>" is 5 bytes
  patch(8, int32_t{-1}, "has length -1");       // token 0's length
  patch(8, int32_t{0x7fffffff}, "has length");  // far past the end and past max_token_length
  patch(4, std::nanf(""), "not finite");        // token 0's score
}

}  // namespace
}  // namespace bitnet
