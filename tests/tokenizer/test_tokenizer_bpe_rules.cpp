// Byte-level BPE rules on hand-built vocabularies (merge order, missing bytes, pre-tokenizer presets) and
// tokenizer.json files that are malformed or outside the supported subset: clear errors, never a crash.
#include <gtest/gtest.h>

#include <fstream>

#include "test_util.hpp"
#include "tokenizer/tokenizer_test_util.hpp"

namespace bitnet {
namespace {

// A byte-level vocabulary of normal tokens (texts already in the byte-level alphabet) and merges.
Vocab bpe_vocab(const std::vector<std::string>& tokens, const std::vector<std::string>& merges) {
  Vocab v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  v.add_bos = false;
  v.add_space_prefix = false;
  v.tokens = tokens;
  v.scores.assign(tokens.size(), 0.0f);
  v.types.assign(tokens.size(), static_cast<int32_t>(TokenType::kNormal));
  v.merges = merges;
  return v;
}

std::vector<int32_t> enc(const Tokenizer& tok, std::string_view text) {
  auto ids = tok.encode(text, false, false);
  EXPECT_TRUE(ids.ok()) << ids.status().to_string();
  return ids.ok() ? *ids : std::vector<int32_t>{};
}

TEST(TokenizerBpeRules, LowestRankMergesFirstThenLeftmost) {
  const std::vector<std::string> tokens = {"a", "b", "aa", "ab"};
  {
    auto tok = test::make_tokenizer(bpe_vocab(tokens, {"a b", "a a"}));
    ASSERT_NE(tok, nullptr);
    EXPECT_EQ(enc(*tok, "aab"), (std::vector<int32_t>{0, 3}));  // "a b" has the lower rank
    EXPECT_EQ(enc(*tok, "aaa"), (std::vector<int32_t>{2, 0}));  // equal ranks: the leftmost pair
  }
  auto tok = test::make_tokenizer(bpe_vocab(tokens, {"a a", "a b"}));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(enc(*tok, "aab"), (std::vector<int32_t>{2, 1}));
}

TEST(TokenizerBpeRules, SpacesAreSpelledInTheByteLevelAlphabet) {
  // ' ' is "Ġ" (U+0120) and '\n' is "Ċ" (U+010A) in GPT-2's table.
  auto tok = test::make_tokenizer(bpe_vocab({"a", "\xC4\xA0", "\xC4\xA0" "a", "\xC4\x8A"}, {"\xC4\xA0 a"}));
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(enc(*tok, "a a\n"), (std::vector<int32_t>{0, 2, 3}));
  EXPECT_EQ(tok->decode({0, 2, 3}), "a a\n");
}

TEST(TokenizerBpeRules, MissingBytesUseUnknownOrFail) {
  Vocab v = bpe_vocab({"a", "<unk>"}, {});
  auto tok = test::make_tokenizer(v);
  ASSERT_NE(tok, nullptr);
  auto ids = tok->encode("ab", false, false);
  ASSERT_FALSE(ids.ok());
  EXPECT_NE(ids.status().message().find("byte 98"), std::string::npos) << ids.status().to_string();
  v.types[1] = static_cast<int32_t>(TokenType::kUnknown);
  v.unk = 1;
  tok = test::make_tokenizer(v);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(enc(*tok, "ab"), (std::vector<int32_t>{0, 1}));
}

TEST(TokenizerBpeRules, PresetsAndUnknownPreNames) {
  for (const char* pre : {"llama-bpe", "llama3", "llama-v3", "gpt-2", "default", "", "falcon", "qwen2", "starcoder"}) {
    Vocab v = bpe_vocab({"a"}, {});
    v.pre = pre;
    EXPECT_NE(test::make_tokenizer(v), nullptr) << "pre '" << pre << "'";
  }
  Vocab v = bpe_vocab({"a"}, {});
  v.pre = "no-such-pre";
  auto tok = Tokenizer::create(v);
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(tok.status().message().find("'no-such-pre'"), std::string::npos);

  v.pre_regexes = {"(unclosed"};
  EXPECT_EQ(Tokenizer::create(v).status().code(), StatusCode::kInvalidArgument);
  v = bpe_vocab({"a"}, {"nospace"});
  EXPECT_EQ(Tokenizer::create(v).status().code(), StatusCode::kFormatError);
}

TEST(TokenizerBpeRules, FalconSplitsDigitsInThrees) {
  // falcon: punctuation runs, then GPT-2's split, then each run of three ASCII digits on its own.
  Vocab v = bpe_vocab({"1", "2", "3", "4", "12", "123", "34"}, {"1 2", "12 3", "3 4"});
  v.pre = "falcon";
  auto tok = test::make_tokenizer(v);
  ASSERT_NE(tok, nullptr);
  EXPECT_EQ(enc(*tok, "1234"), (std::vector<int32_t>{5, 3}));
}

std::string write_json(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// A minimal valid tokenizer.json around the given model / pre_tokenizer / extra members.
std::string tokenizer_json(const std::string& model, const std::string& pre, const std::string& extra = "") {
  return R"({"normalizer": null, "pre_tokenizer": )" + pre + R"(, "model": )" + model + extra + "}";
}

const std::string kModel = R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]})";
const std::string kPre = R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})";

TEST(TokenizerBpeRules, TokenizerJsonSubset) {
  const std::string dir = test::temp_dir();
  {
    const std::string extra = R"(, "added_tokens": [{"id": 3, "content": "<x>", "special": false},
                                                    {"id": 4, "content": "<s>", "special": true}])";
    auto v = vocab_from_tokenizer_json(write_json(dir, "ok.json", tokenizer_json(kModel, kPre, extra)));
    ASSERT_TRUE(v.ok()) << v.status().to_string();
    EXPECT_EQ(v->pre, "gpt-2");
    EXPECT_EQ(v->merges, std::vector<std::string>{"a b"});
    EXPECT_EQ(v->types[3], static_cast<int32_t>(TokenType::kUserDefined));
    EXPECT_EQ(v->types[4], static_cast<int32_t>(TokenType::kControl));
    EXPECT_FALSE(v->add_bos);
    auto tok = test::make_tokenizer(*v);
    ASSERT_NE(tok, nullptr);
    EXPECT_EQ(enc(*tok, "ab<x>"), (std::vector<int32_t>{2, 3}));  // user-defined tokens always split out
  }
  struct Bad {
    std::string json;
    StatusCode code;
    std::string fragment;
  };
  const Bad bad[] = {
      {"{not json", StatusCode::kFormatError, "not a JSON object"},
      {tokenizer_json(R"({"type": "Unigram", "vocab": []})", kPre), StatusCode::kUnsupported, "'Unigram'"},
      {tokenizer_json(kModel, R"({"type": "Metaspace"})"), StatusCode::kUnsupported, "'Metaspace'"},
      {tokenizer_json(kModel, R"({"type": "ByteLevel", "add_prefix_space": true})"), StatusCode::kUnsupported,
       "add_prefix_space"},
      {tokenizer_json(kModel, R"({"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "a"},
          "behavior": "Removed"}, )" +
                                  kPre + "]}"),
       StatusCode::kUnsupported, "'Removed'"},
      {tokenizer_json(R"({"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []})", kPre), StatusCode::kFormatError,
       "twice"},
      {tokenizer_json(R"({"type": "BPE", "vocab": {"a": -4}, "merges": []})", kPre), StatusCode::kFormatError,
       "out of range"},
      // one named id far past the others: refused, not a table of 2^24 entries
      {tokenizer_json(R"({"type": "BPE", "vocab": {"a": 0, "b": 16777215}, "merges": []})", kPre),
       StatusCode::kFormatError, "token id 16777215 is out of range (ids go up to 1027 here)"},
      {tokenizer_json(R"({"type": "BPE", "vocab": {"a": 0}, "merges": [7]})", kPre), StatusCode::kFormatError,
       "merges"},
      {tokenizer_json(R"({"type": "BPE", "vocab": {"a": "x"}, "merges": []})", kPre), StatusCode::kFormatError,
       "integer"},
      {R"({"normalizer": {"type": "NFC"}, "model": {}})", StatusCode::kUnsupported, "'NFC'"},
  };
  for (const Bad& b : bad) {
    auto v = vocab_from_tokenizer_json(write_json(dir, "bad.json", b.json));
    ASSERT_FALSE(v.ok()) << b.json;
    EXPECT_EQ(v.status().code(), b.code) << v.status().to_string();
    EXPECT_NE(v.status().message().find(b.fragment), std::string::npos) << v.status().to_string();
  }
  EXPECT_FALSE(vocab_from_tokenizer_json(dir + "/missing.json").ok());
}

TEST(TokenizerBpeRules, TokenizerConfigSetsBosAndEos) {
  const std::string dir = test::temp_dir();
  const std::string extra = R"(, "added_tokens": [{"id": 3, "content": "<|begin_of_text|>", "special": true},
                                                  {"id": 4, "content": "<|end_of_text|>", "special": true},
                                                  {"id": 5, "content": "<|eot_id|>", "special": true}])";
  const std::string path = write_json(dir, "tokenizer.json", tokenizer_json(kModel, kPre, extra));
  auto v = vocab_from_tokenizer_json(path);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->bos, 3);  // no tokenizer_config.json: Llama 3's names, and BOS added by the engine
  EXPECT_EQ(v->eos, 4);
  EXPECT_EQ(v->eot, 5);
  EXPECT_TRUE(v->add_bos);

  write_json(dir, "tokenizer_config.json",
             R"({"bos_token": {"content": "<|end_of_text|>"}, "eos_token": "<|eot_id|>", "add_bos_token": false})");
  v = vocab_from_tokenizer_json(path);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->bos, 4);
  EXPECT_EQ(v->eos, 5);
  EXPECT_FALSE(v->add_bos);

  write_json(dir, "tokenizer_config.json", R"({"bos_token": "<nope>"})");
  v = vocab_from_tokenizer_json(path);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("'<nope>'"), std::string::npos) << v.status().to_string();
}

}  // namespace
}  // namespace bitnet
