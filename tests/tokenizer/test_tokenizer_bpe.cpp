// Byte-level BPE against published vectors: Llama 3 (tokenizer.json; cases.inp/.out and cases-special.json)
// and GPT-2 (ggml-vocab-gpt-2.gguf with llama.cpp's .inp/.out), decode round trips and the streaming decoder.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <random>

#include "formats/gguf.hpp"
#include "formats/gguf_writer.hpp"
#include "test_util.hpp"
#include "tokenizer/tokenizer_test_util.hpp"

namespace bitnet {
namespace {

using test::Case;
using test::read_cases;

const std::string kLlama3Json = "tokenizers/llama3/tokenizer.json";
const std::string kLlama3Cases = "tokenizers/llama3/cases";
const std::string kGpt2Vocab = "tokenizers/gpt-2/ggml-vocab-gpt-2.gguf";

// Encodes, failing the test on an error.
std::vector<int32_t> enc(const Tokenizer& tok, std::string_view text, bool add_bos = false, bool special = false) {
  auto ids = tok.encode(text, add_bos, special);
  EXPECT_TRUE(ids.ok()) << ids.status().to_string();
  return ids.ok() ? *ids : std::vector<int32_t>{};
}

// Every case exact; prints "N/N" for the record.
void expect_vectors(const Tokenizer& tok, const std::vector<Case>& cases, const char* name) {
  int exact = 0;
  for (const Case& c : cases) {
    const auto ids = enc(tok, c.text);
    EXPECT_EQ(ids, c.ids) << "text: '" << c.text << "'";
    exact += ids == c.ids;
  }
  EXPECT_EQ(exact, static_cast<int>(cases.size()));
  std::cout << "[ " << name << " ] " << exact << "/" << cases.size() << " vectors encode exactly\n";
}

// decode(encode(t)) == t, and the streaming decoder gives the same text without ever cutting a character.
void expect_round_trips(const Tokenizer& tok, const std::string& text) {
  for (const bool bos : {false, true}) {
    const auto ids = enc(tok, text, bos && tok.bos() >= 0);
    EXPECT_EQ(tok.decode(ids), text);
    StreamDecoder stream(tok, true);
    std::string joined;
    for (const int32_t id : ids) {
      const std::string out = stream.push(id);
      if (test::is_valid_utf8(text)) {
        EXPECT_TRUE(test::is_valid_utf8(out)) << "push(" << id << ") cut a character";
      }
      joined += out;
    }
    joined += stream.flush();
    EXPECT_EQ(joined, text);
  }
}

// The 9 MB, 280k-merge Llama 3 tokenizer is loaded once for the suite.
class TokenizerBpeLlama3 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = test::fixture(kLlama3Json);
    if (!test::file_exists(path)) return;
    auto vocab = vocab_from_tokenizer_json(path);
    ASSERT_TRUE(vocab.ok()) << vocab.status().to_string();
    vocab_ = new Vocab(*vocab);  // as read: the tokenizer drops its merge strings once their table is built
    tok_ = test::make_tokenizer(std::move(vocab).value()).release();
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
    delete vocab_;
    vocab_ = nullptr;
  }
  void SetUp() override {
    BITNET_REQUIRE_FIXTURE(test::fixture(kLlama3Json));
    ASSERT_NE(tok_, nullptr);
  }
  static Tokenizer* tok_;
  static Vocab* vocab_;
};
Tokenizer* TokenizerBpeLlama3::tok_ = nullptr;
Vocab* TokenizerBpeLlama3::vocab_ = nullptr;

TEST_F(TokenizerBpeLlama3, VocabularyFromTokenizerJson) {
  const Vocab& v = tok_->vocab();
  EXPECT_EQ(v.model, "gpt2");
  EXPECT_EQ(v.pre, "llama-bpe");
  EXPECT_EQ(v.size(), 128256);
  EXPECT_EQ(vocab_->merges.size(), 280147u);
  EXPECT_TRUE(v.merges.empty()) << "the tokenizer keeps its merges in its own table only";
  EXPECT_TRUE(v.ignore_merges);
  EXPECT_EQ(v.bos, 128000);
  EXPECT_EQ(v.eos, 128001);
  EXPECT_EQ(v.tokens[v.eot], "<|eot_id|>");
  EXPECT_TRUE(v.add_bos);
  EXPECT_FALSE(v.add_space_prefix);
  EXPECT_EQ(v.types[128000], static_cast<int32_t>(TokenType::kControl));
  EXPECT_EQ(v.types[100], static_cast<int32_t>(TokenType::kNormal));
  EXPECT_TRUE(tok_->is_eog(v.eot));
  EXPECT_TRUE(tok_->is_eog(128001));
  EXPECT_FALSE(tok_->is_eog(128000));
}

TEST_F(TokenizerBpeLlama3, EncodesEveryPublishedVectorExactly) {
  const auto cases = read_cases(test::fixture(kLlama3Cases));
  ASSERT_EQ(cases.size(), 46u);
  expect_vectors(*tok_, cases, "llama3 tokenizer.json");
}

TEST_F(TokenizerBpeLlama3, EncodesEverySpecialCaseExactly) {
  // {"text", "ids", "bos", "eos"}: BOS is added by encode, EOS by the caller (encode never appends it).
  auto text = read_text_file(test::fixture("tokenizers/llama3/cases-special.json"));
  ASSERT_TRUE(text.ok()) << text.status().to_string();
  const auto cases = nlohmann::json::parse(*text);
  ASSERT_TRUE(cases.is_array());
  int exact = 0;
  for (const auto& c : cases) {
    auto ids = enc(*tok_, c["text"].get<std::string>(), c["bos"].get<bool>());
    if (c["eos"].get<bool>()) ids.push_back(tok_->eos());
    const auto expected = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(ids, expected) << "text: '" << c["text"].get<std::string>() << "'";
    exact += ids == expected;
  }
  EXPECT_EQ(exact, static_cast<int>(cases.size()));
  std::cout << "[ llama3 special ] " << exact << "/" << cases.size() << " cases encode exactly\n";
}

TEST_F(TokenizerBpeLlama3, GgufPresetGivesTheSameIds) {
  // Written to GGUF and read back, the vocabulary keeps only its pre name ("llama-bpe"): the llama.cpp preset
  // regex (explicit-case contractions) must tokenize exactly as the tokenizer.json regex does.
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  vocab_to_gguf(*vocab_, w);
  auto bytes = w.to_bytes();
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  auto file = gguf::File::from_bytes(std::move(bytes).value());
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  auto vocab = vocab_from_gguf(**file);
  ASSERT_TRUE(vocab.ok()) << vocab.status().to_string();
  EXPECT_TRUE(vocab->pre_regexes.empty());
  EXPECT_TRUE(vocab->add_bos);                     // written explicitly; also the llama-bpe default
  EXPECT_EQ(vocab->eot, tok_->vocab().eot);
  const auto tok = test::make_tokenizer(std::move(vocab).value());
  ASSERT_NE(tok, nullptr);
  expect_vectors(*tok, read_cases(test::fixture(kLlama3Cases)), "llama3 via GGUF preset");
}

TEST_F(TokenizerBpeLlama3, DecodeAndStreamInvertEncode) {
  for (const Case& c : read_cases(test::fixture(kLlama3Cases))) expect_round_trips(*tok_, c.text);
  for (const std::string& t : {std::string("héllo 世界 🙂"), std::string("🦙🦙 naïve café ⭐ ∑ 𝄞!")}) {
    expect_round_trips(*tok_, t);
  }
}

TEST_F(TokenizerBpeLlama3, SpecialTokensOnlyWithParseSpecial) {
  const std::string text = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
  const auto plain = enc(*tok_, text);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), tok_->vocab().eot), 0);
  EXPECT_EQ(tok_->decode(plain), text);

  const auto parsed = enc(*tok_, text, false, true);
  std::vector<int32_t> expect{128006};
  for (const int32_t id : enc(*tok_, "user")) expect.push_back(id);
  expect.push_back(128007);
  for (const int32_t id : enc(*tok_, "\n\nHi")) expect.push_back(id);
  expect.push_back(128009);
  EXPECT_EQ(parsed, expect);
  EXPECT_EQ(tok_->decode(parsed), "user\n\nHi");  // control tokens decode to nothing
  EXPECT_EQ(tok_->token_to_piece(128009, true), "<|eot_id|>");
  EXPECT_EQ(tok_->token_to_piece(128009, false), "");
  EXPECT_EQ(enc(*tok_, "<|begin_of_text|>", false, true), std::vector<int32_t>{128000});
}

TEST_F(TokenizerBpeLlama3, InvalidUtf8AndRandomBytesRoundTrip) {
  for (const std::string& t : {std::string("\xff\xfe"), std::string("a\xe4z"), std::string("\xe4\xb8"),
                               std::string("\x80\x80 x"), std::string("ok\xf0\x9f\x99"), std::string("\xc0\xaf")}) {
    const auto ids = enc(*tok_, t);
    EXPECT_FALSE(ids.empty());
    EXPECT_EQ(tok_->decode(ids), t);
  }
  std::mt19937 rng(4321);
  const std::string alphabet[] = {"a", " ", "\n", "<|eot_id|>", "'s", "é", "世", "🙂", "\xff", "\x80", "\xe4", "123"};
  for (int round = 0; round < 300; ++round) {
    std::string text;
    const int parts = static_cast<int>(rng() % 12);
    for (int k = 0; k < parts; ++k) {
      text += rng() % 3 == 0 ? std::string(1, static_cast<char>(rng() % 256)) : alphabet[rng() % std::size(alphabet)];
    }
    auto ids = tok_->encode(text, true, false);
    ASSERT_TRUE(ids.ok()) << ids.status().to_string();
    EXPECT_EQ(tok_->decode(*ids), text);
    ASSERT_TRUE(tok_->encode(text, true, true).ok());
  }
}

TEST_F(TokenizerBpeLlama3, LongRunsAreTokenized) {
  // Long runs exercise PCRE2's backtracking limits (\s+(?!\S) over a run of spaces) and the merge queue.
  for (const std::string& t : {std::string(200000, ' '), std::string(100000, 'a'), std::string(50000, '1') + "x",
                               std::string(30000, '\n') + "z"}) {
    auto ids = tok_->encode(t, false, false);
    ASSERT_TRUE(ids.ok()) << ids.status().to_string();
    EXPECT_EQ(tok_->decode(*ids), t);
  }
}

class TokenizerBpeGpt2 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = test::fixture(kGpt2Vocab);
    if (!test::file_exists(path)) return;
    auto file = gguf::File::open(path);
    ASSERT_TRUE(file.ok()) << file.status().to_string();
    auto vocab = vocab_from_gguf(**file);
    ASSERT_TRUE(vocab.ok()) << vocab.status().to_string();
    tok_ = test::make_tokenizer(std::move(vocab).value()).release();
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  void SetUp() override {
    BITNET_REQUIRE_FIXTURE(test::fixture(kGpt2Vocab));
    ASSERT_NE(tok_, nullptr);
  }
  static Tokenizer* tok_;
};
Tokenizer* TokenizerBpeGpt2::tok_ = nullptr;

TEST_F(TokenizerBpeGpt2, VocabularyMetadata) {
  const Vocab& v = tok_->vocab();
  EXPECT_EQ(v.model, "gpt2");
  EXPECT_EQ(v.pre, "gpt-2");
  EXPECT_EQ(v.size(), 50257);
  EXPECT_FALSE(v.add_bos);
  EXPECT_EQ(v.tokens[v.eos], "<|endoftext|>");
  EXPECT_TRUE(tok_->is_eog(v.eos));
}

TEST_F(TokenizerBpeGpt2, EncodesEveryPublishedVectorExactly) {
  const auto cases = read_cases(test::fixture(kGpt2Vocab));
  ASSERT_EQ(cases.size(), 46u);
  expect_vectors(*tok_, cases, "gpt-2 gguf");
}

TEST_F(TokenizerBpeGpt2, DecodeAndStreamInvertEncode) {
  for (const Case& c : read_cases(test::fixture(kGpt2Vocab))) expect_round_trips(*tok_, c.text);
  expect_round_trips(*tok_, "🦙🦙 naïve café ⭐ ∑ 𝄞!\xff");
}

}  // namespace
}  // namespace bitnet
