// Vocabulary checks on hand-built GGUF images and vocabularies: bad metadata is a clear error, the merge
// order follows llama.cpp (highest score, then leftmost), and unknown tokenizer models are reported unsupported.
#include <gtest/gtest.h>

#include <limits>

#include "formats/gguf.hpp"
#include "formats/gguf_writer.hpp"
#include "test_util.hpp"
#include "tokenizer/tokenizer_test_util.hpp"

namespace bitnet {
namespace {

// A tiny SentencePiece vocabulary: <unk>, <s>, </s>, then normal tokens with the given scores.
Vocab tiny_vocab(const std::vector<std::pair<std::string, float>>& normal) {
  Vocab v;
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.scores = {0, 0, 0};
  v.types = {2, 3, 3};
  for (const auto& [text, score] : normal) {
    v.tokens.push_back(text);
    v.scores.push_back(score);
    v.types.push_back(1);
  }
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  return v;
}

gguf::Writer writer_for(const Vocab& v) {
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  vocab_to_gguf(v, w);
  return w;
}

Result<Vocab> parse(const gguf::Writer& w) {
  auto bytes = w.to_bytes();
  if (!bytes.ok()) return bytes.status();
  auto file = gguf::File::from_bytes(std::move(bytes).value());
  if (!file.ok()) return file.status();
  return vocab_from_gguf(**file);
}

void expect_error(const Result<Vocab>& r, const std::string& fragment) {
  ASSERT_FALSE(r.ok()) << "expected an error mentioning " << fragment;
  EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().to_string();
}

TEST(TokenizerVocab, GgufRoundTrip) {
  Vocab v = tiny_vocab({{"\xE2\x96\x81"
                         "a",
                         -1.0f},
                        {"b", -2.0f}});
  v.pad = 4;
  v.add_eos = true;
  auto back = parse(writer_for(v));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->tokens, v.tokens);
  EXPECT_EQ(back->scores, v.scores);
  EXPECT_EQ(back->types, v.types);
  EXPECT_EQ(back->pad, 4);
  EXPECT_EQ(back->eot, -1);
  EXPECT_TRUE(back->add_eos);
}

// take_vocab_from_gguf reads what vocab_from_gguf reads, and leaves the file's vocabulary arrays empty (moved out or
// freed) and its other keys as they were.
TEST(TokenizerVocab, TakingGivesTheSameVocabularyAndEmptiesTheArrays) {
  Vocab v = tiny_vocab({{"a", -1.0f}, {"a string longer than fifteen bytes", -2.0f}});
  v.model = "gpt2";
  v.pre = "gpt-2";
  v.bos = v.eos = 1;
  v.unk = -1;
  v.add_bos = false;
  v.merges = {"a a", "a b"};
  auto bytes = writer_for(v).to_bytes();
  ASSERT_TRUE(bytes.ok()) << bytes.status().to_string();
  auto file = gguf::File::from_bytes(std::move(bytes).value());
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  auto copied = vocab_from_gguf(**file);
  auto taken = take_vocab_from_gguf(**file);
  ASSERT_TRUE(copied.ok()) << copied.status().to_string();
  ASSERT_TRUE(taken.ok()) << taken.status().to_string();
  EXPECT_EQ(taken->tokens, v.tokens);
  EXPECT_EQ(taken->merges, v.merges);
  EXPECT_EQ(taken->tokens, copied->tokens);
  EXPECT_EQ(taken->scores, copied->scores);
  EXPECT_EQ(taken->types, copied->types);
  EXPECT_EQ(taken->bos, copied->bos);
  EXPECT_EQ(taken->add_bos, copied->add_bos);
  for (const char* key :
       {"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"}) {
    const gguf::Value* a = (*file)->find(key);
    ASSERT_NE(a, nullptr) << key;
    EXPECT_EQ(a->array_size(), 0u) << key;
  }
  EXPECT_EQ((*file)->get_string("tokenizer.ggml.pre").value(), "gpt-2");
}

TEST(TokenizerVocab, DefaultsWithoutOptionalKeys) {
  gguf::Writer w;
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "x"});
  auto v = parse(w);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->bos, 1);
  EXPECT_EQ(v->eos, 2);
  EXPECT_EQ(v->unk, 0);
  EXPECT_TRUE(v->add_bos);
  EXPECT_TRUE(v->add_space_prefix);
  EXPECT_EQ(v->scores, std::vector<float>(4, 0.0f));
  EXPECT_EQ(v->types, std::vector<int32_t>(4, 1));
}

TEST(TokenizerVocab, BadMetadataIsAClearError) {
  const Vocab v = tiny_vocab({{"a", -1.0f}});
  {
    gguf::Writer w = writer_for(v);
    w.set_f32_array("tokenizer.ggml.scores", {0, 0, 0});
    expect_error(parse(w), "tokenizer.ggml.scores has 3 entries but tokenizer.ggml.tokens has 4");
  }
  {
    gguf::Writer w = writer_for(v);
    w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1});
    expect_error(parse(w), "tokenizer.ggml.token_type has 5 entries");
  }
  {
    gguf::Writer w = writer_for(v);
    w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 9});
    expect_error(parse(w), "tokenizer.ggml.token_type[3] = 9");
  }
  {
    gguf::Writer w = writer_for(v);
    w.set_u32("tokenizer.ggml.bos_token_id", 4);
    expect_error(parse(w), "tokenizer.ggml.bos_token_id = 4 is outside the vocabulary of 4 tokens");
  }
  {
    gguf::Writer w = writer_for(v);
    w.set_u32("tokenizer.ggml.eos_token_id", 1000000);
    expect_error(parse(w), "tokenizer.ggml.eos_token_id");
  }
  {
    gguf::Writer w = writer_for(v);
    w.set_string("tokenizer.ggml.tokens", "not an array");
    expect_error(parse(w), "tokenizer.ggml.tokens must be an array of strings");
  }
  {
    gguf::Writer w = writer_for(v);
    w.set_i32_array("tokenizer.ggml.scores", {0, 0, 0, 0});
    expect_error(parse(w), "tokenizer.ggml.scores must be an array of floats");
  }
  {
    gguf::Writer w = writer_for(v);
    w.set_string_array("tokenizer.ggml.tokens", {});
    expect_error(parse(w), "tokenizer.ggml.tokens is empty");
  }
  {
    gguf::Writer w = writer_for(v);
    w.set_f32_array("tokenizer.ggml.scores", {0, 0, 0, std::numeric_limits<float>::quiet_NaN()});
    expect_error(parse(w), "score of token 3 is not finite");
  }
  {
    gguf::Writer w;
    w.set_string("general.architecture", "llama");
    auto r = parse(w);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
    EXPECT_NE(r.status().message().find("tokenizer.ggml.model"), std::string::npos);
  }
}

TEST(TokenizerVocab, CreateChecksTheVocabulary) {
  Vocab v = tiny_vocab({{"a", -1.0f}});
  v.bos = 17;
  auto tok = Tokenizer::create(v);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(tok.status().message().find("BOS token id 17"), std::string::npos);
  v = tiny_vocab({{"a", -1.0f}});
  v.scores.pop_back();
  EXPECT_EQ(Tokenizer::create(v).status().code(), StatusCode::kFormatError);
}

TEST(TokenizerVocab, UnknownModelsAreReportedUnsupported) {
  Vocab v = tiny_vocab({{"a", 0}});
  v.model = "t5";
  auto tok = Tokenizer::create(v);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(tok.status().message().find("'t5'"), std::string::npos);

  // Byte-level BPE ("gpt2") is supported: the GPT-2 fixture loads and builds a tokenizer.
  const std::string gpt2 = test::fixture("tokenizers/gpt-2/ggml-vocab-gpt-2.gguf");
  BITNET_REQUIRE_FIXTURE(gpt2);
  auto file = gguf::File::open(gpt2);
  ASSERT_TRUE(file.ok()) << file.status().to_string();
  auto vocab = vocab_from_gguf(**file);
  ASSERT_TRUE(vocab.ok()) << vocab.status().to_string();
  EXPECT_EQ(vocab->model, "gpt2");
  EXPECT_EQ(vocab->size(), 50257);
  EXPECT_FALSE(vocab->merges.empty());
  EXPECT_TRUE(Tokenizer::create(std::move(vocab).value()).ok());
}

TEST(TokenizerVocab, MergeOrderIsHighestScoreThenLeftmost) {
  const std::string m = "\xE2\x96\x81";  // "▁"
  {                                      // equal scores: the leftmost pair merges first
    auto tok = test::make_tokenizer(tiny_vocab({{m, 0}, {"a", 0}, {"b", 0}, {"c", 0}, {"ab", -1}, {"bc", -1}}));
    ASSERT_NE(tok, nullptr);
    EXPECT_EQ(*tok->encode("abc", false, false), (std::vector<int32_t>{3, 7, 6}));  // ▁ ab c
  }
  {  // a higher score wins wherever it is
    auto tok = test::make_tokenizer(tiny_vocab({{m, 0}, {"a", 0}, {"b", 0}, {"c", 0}, {"ab", -2}, {"bc", -1}}));
    ASSERT_NE(tok, nullptr);
    EXPECT_EQ(*tok->encode("abc", false, false), (std::vector<int32_t>{3, 4, 8}));  // ▁ a bc
  }
}

TEST(TokenizerVocab, MissingBytesFallBackToUnknownOrFail) {
  auto tok = test::make_tokenizer(tiny_vocab({{"\xE2\x96\x81", 0}, {"a", 0}}));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(*tok->encode("az", false, false), (std::vector<int32_t>{3, 4, 0}));  // 'z' has no token: <unk>
  EXPECT_EQ(tok->decode({3, 4, 0}), "a");  // like llama.cpp, <unk> renders as nothing

  Vocab no_unk = tiny_vocab({{"a", 0}});
  no_unk.unk = -1;
  no_unk.add_space_prefix = false;
  auto strict = test::make_tokenizer(no_unk);
  ASSERT_NE(strict, nullptr);
  auto r = strict->encode("az", false, false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no byte token"), std::string::npos);

  Vocab no_bos = tiny_vocab({{"a", 0}});
  no_bos.bos = -1;
  auto nb = test::make_tokenizer(no_bos);
  ASSERT_NE(nb, nullptr);
  EXPECT_EQ(nb->encode("a", true, false).status().code(), StatusCode::kInvalidArgument);
}

TEST(TokenizerVocab, UserDefinedTokensAreAlwaysSplitOut) {
  Vocab v = tiny_vocab({{"\xE2\x96\x81", 0}, {"a", 0}, {"<tag>", 0}});
  v.types[5] = static_cast<int32_t>(TokenType::kUserDefined);
  auto tok = test::make_tokenizer(v);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(*tok->encode("a<tag>a", false, false), (std::vector<int32_t>{3, 4, 5, 3, 4}));
  EXPECT_EQ(tok->token_to_piece(5, false), "<tag>");
}

}  // namespace
}  // namespace bitnet
