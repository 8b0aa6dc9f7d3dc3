// GGUF reader: the real fixture files, and the getters' rules on small hand-built images.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "formats/gguf.hpp"
#include "formats/gguf_test_util.hpp"
#include "quant/quant.hpp"
#include "test_util.hpp"

namespace bitnet::gguf {
namespace {

using test::RawGguf;

std::unique_ptr<File> open_or_fail(const std::string& path) {
  auto f = File::open(path);
  EXPECT_TRUE(f.ok()) << f.status().to_string();
  return f.ok() ? std::move(f).value() : nullptr;
}

TEST(GgufReader, Stories260K) {
  const std::string path = test::fixture("stories260k/stories260K.gguf");
  BITNET_REQUIRE_FIXTURE(path);
  auto f = open_or_fail(path);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->tensors().size(), 48u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->data_offset() % 32, 0u);
  EXPECT_EQ(f->get_string("general.architecture").value(), "llama");
  EXPECT_EQ(f->get_int("llama.embedding_length").value(), 64);
  EXPECT_EQ(f->get_int("llama.block_count").value(), 5);
  EXPECT_DOUBLE_EQ(f->get_float("llama.embedding_length").value(), 64.0);  // integers read as floats

  const Value* tokens = f->find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  ASSERT_TRUE(tokens->is_array());
  EXPECT_EQ(tokens->elem_type, ValueType::kString);
  ASSERT_EQ(tokens->array_size(), 512u);
  EXPECT_EQ(tokens->strings[1], "<s>");

  const TensorInfo* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type, quant::kF32);
  EXPECT_EQ(emb->ne, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(emb->nbytes, 64u * 512u * 4u);
  EXPECT_EQ(emb->n_elements(), 64 * 512);
  EXPECT_EQ(emb->ne0(), 64);
  EXPECT_EQ(emb->n_rows(), 512);
  EXPECT_EQ(f->find_tensor("no.such.tensor"), nullptr);

  // The first weight of output_norm, read straight from the file bytes, must match the mapped pointer.
  const TensorInfo* norm = f->find_tensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  ASSERT_EQ(norm->type, quant::kF32);
  std::ifstream in(path, std::ios::binary);
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(raw.size(), f->file_size());
  const uint64_t at = f->data_offset() + norm->offset;
  ASSERT_LE(at + 4, raw.size());
  float from_file = 0, from_reader = 0;
  std::memcpy(&from_file, raw.data() + at, 4);
  std::memcpy(&from_reader, norm->data, 4);
  EXPECT_EQ(from_file, from_reader);
  EXPECT_TRUE(from_file > 0.0f && from_file < 10.0f) << from_file;  // an RMSNorm gain
}

TEST(GgufReader, SyntheticI2S) {
  const std::string path = test::fixture("synthetic/fx-relu2-i2_s.gguf");
  BITNET_REQUIRE_FIXTURE(path);
  auto f = open_or_fail(path);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->get_string("general.architecture").value(), "bitnet-b1.58");
  EXPECT_EQ(f->tensors().size(), 46u);
  const TensorInfo* q = f->find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, 36u);
  EXPECT_EQ(q->ne, (std::vector<int64_t>{256, 256}));
  EXPECT_EQ(q->nbytes, 16416u);
}

TEST(GgufReader, SyntheticTQ1) {
  const std::string path = test::fixture("synthetic/fx-silu-tq1_0.gguf");
  BITNET_REQUIRE_FIXTURE(path);
  auto f = open_or_fail(path);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->get_string("general.architecture").value(), "bitnet");
  const TensorInfo* emb = f->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type, quant::kQ6_K);
}

TEST(GgufReader, EveryFixtureGgufOpens) {
  for (const char* name :
       {"synthetic/fx-relu2-f16.gguf", "synthetic/fx-silu-f16.gguf", "synthetic/fx-silu-tq2_0.gguf"}) {
    const std::string path = test::fixture(name);
    if (!test::file_exists(path)) continue;
    auto f = File::open(path);
    EXPECT_TRUE(f.ok()) << name << ": " << f.status().to_string();
  }
}

TEST(GgufReader, MissingFileIsIoErrorNamingThePath) {
  auto f = File::open("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kIoError);
  EXPECT_NE(f.status().message().find("/nonexistent/dir/model.gguf"), std::string::npos);
}

// Keys of several kinds, no tensors: enough for the getters.
std::unique_ptr<File> small_file() {
  RawGguf r;
  r.header(3, 0, 6);
  r.kv_u32("u32", 7);
  r.kv_string("name", "tiny");
  r.str("flag").u32(7).u8(1);
  r.str("f32").u32(6).put(2.5f);
  r.str("i8").u32(1).put(static_cast<int8_t>(-3));
  r.str("arr").u32(9).u32(5).u64(2).put(int32_t{-1}).put(int32_t{9});
  auto f = File::from_bytes(r.bytes);
  EXPECT_TRUE(f.ok()) << f.status().to_string();
  return f.ok() ? std::move(f).value() : nullptr;
}

TEST(GgufReader, GettersCheckKinds) {
  auto f = small_file();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata().size(), 6u);
  EXPECT_EQ(f->get_int("u32").value(), 7);
  EXPECT_EQ(f->get_int("i8").value(), -3);
  EXPECT_EQ(f->get_int("flag").value(), 1);  // bool reads as an integer
  EXPECT_TRUE(f->get_bool("flag").value());
  EXPECT_DOUBLE_EQ(f->get_float("f32").value(), 2.5);
  EXPECT_DOUBLE_EQ(f->get_float("i8").value(), -3.0);
  EXPECT_EQ(f->get_string("name").value(), "tiny");
  const Value* arr = f->find("arr");
  ASSERT_NE(arr, nullptr);
  EXPECT_EQ(arr->array_size(), 2u);
  EXPECT_EQ(arr->ints, (std::vector<int64_t>{-1, 9}));

  // Wrong kinds are format errors naming the key; absent keys are not_found.
  auto s = f->get_int("name");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFormatError);
  EXPECT_NE(s.status().message().find("'name'"), std::string::npos);
  EXPECT_FALSE(f->get_float("flag").ok());
  EXPECT_FALSE(f->get_bool("u32").ok());
  EXPECT_FALSE(f->get_string("u32").ok());
  EXPECT_FALSE(f->get_int("arr").ok());
  EXPECT_EQ(f->get_int("absent").status().code(), StatusCode::kNotFound);
  EXPECT_NE(f->get_int("absent").status().message().find("'absent'"), std::string::npos);

  // *_or: the fallback only for absent keys.
  EXPECT_EQ(f->get_int_or("absent", 42).value(), 42);
  EXPECT_EQ(f->get_int_or("u32", 42).value(), 7);
  EXPECT_FALSE(f->get_int_or("name", 42).ok());
  EXPECT_DOUBLE_EQ(f->get_float_or("absent", 1.5).value(), 1.5);
  EXPECT_FALSE(f->get_float_or("name", 1.5).ok());
  EXPECT_FALSE(f->get_bool_or("absent", false).value());
  EXPECT_FALSE(f->get_bool_or("u32", false).ok());
  EXPECT_EQ(f->get_string_or("absent", "x").value(), "x");
  EXPECT_EQ(f->get_string_or("name", "x").value(), "tiny");
  EXPECT_FALSE(f->get_string_or("u32", "x").ok());
}

TEST(GgufReader, ReleaseArrayEmptiesOnlyThatArray) {
  auto f = small_file();
  ASSERT_NE(f, nullptr);
  f->release_array("name");    // not an array: unchanged
  f->release_array("absent");  // no such key: nothing
  EXPECT_EQ(f->get_string("name").value(), "tiny");
  f->release_array("arr");
  const Value* arr = f->find("arr");
  ASSERT_NE(arr, nullptr);  // the key stays, an empty array of its element type
  EXPECT_TRUE(arr->is_array());
  EXPECT_EQ(arr->array_size(), 0u);
  EXPECT_EQ(f->metadata().size(), 6u);
  EXPECT_EQ(f->get_int("u32").value(), 7);
}

TEST(GgufReader, TakeStringsMovesThemOut) {
  RawGguf r;
  r.header(3, 0, 2);
  r.str("words").u32(9).u32(8).u64(3);
  for (const char* w : {"alpha", "a string longer than fifteen bytes", ""}) r.str(w);
  r.kv_u32("u32", 7);
  auto f = File::from_bytes(r.bytes);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_TRUE((*f)->take_strings("u32").empty());     // not an array
  EXPECT_TRUE((*f)->take_strings("absent").empty());  // no such key
  EXPECT_EQ((*f)->take_strings("words"), (std::vector<std::string>{"alpha", "a string longer than fifteen bytes", ""}));
  const Value* words = (*f)->find("words");
  ASSERT_NE(words, nullptr);  // the key stays, an empty array
  EXPECT_EQ(words->array_size(), 0u);
  EXPECT_TRUE((*f)->take_strings("words").empty());
  EXPECT_EQ((*f)->get_int("u32").value(), 7);
}

TEST(GgufReader, Version2AndCustomAlignment) {
  RawGguf r;
  r.header(2, 2, 1).kv_u32("general.alignment", 64);
  r.tensor("a", {4}, quant::kF32, 0).tensor("b", {2, 2}, quant::kF16, 64);
  r.pad(64);
  const size_t data = r.bytes.size();
  r.zeros(64 + 8);
  r.bytes[data] = 0x11;
  r.bytes[data + 64] = 0x22;
  auto f = File::from_bytes(r.bytes);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->version(), 2u);
  EXPECT_EQ((*f)->alignment(), 64u);
  EXPECT_EQ((*f)->data_offset(), data);
  EXPECT_EQ((*f)->find_tensor("a")->data[0], 0x11);
  EXPECT_EQ((*f)->find_tensor("b")->data[0], 0x22);
  EXPECT_EQ((*f)->find_tensor("b")->nbytes, 8u);
}

TEST(GgufReader, ZeroSizedTensorIsAllowed) {
  RawGguf r;
  r.header(3, 1, 0).tensor("empty", {0, 5}, quant::kF32, 0).pad(32);
  auto f = File::from_bytes(r.bytes);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->tensors()[0].nbytes, 0u);
  EXPECT_EQ((*f)->tensors()[0].n_elements(), 0);
  EXPECT_EQ((*f)->tensors()[0].n_rows(), 5);
}

}  // namespace
}  // namespace bitnet::gguf
