// GGUF writer: round trips through the reader (every value type, arrays, tensors, alignment) and its checks.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "formats/gguf.hpp"
#include "formats/gguf_test_util.hpp"
#include "formats/gguf_writer.hpp"
#include "quant/quant.hpp"
#include "test_util.hpp"

namespace bitnet::gguf {
namespace {

std::unique_ptr<File> parse_or_fail(const Writer& w) {
  auto bytes = w.to_bytes();
  EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
  if (!bytes.ok()) return nullptr;
  auto f = File::from_bytes(std::move(bytes).value());
  EXPECT_TRUE(f.ok()) << f.status().to_string();
  return f.ok() ? std::move(f).value() : nullptr;
}

TEST(GgufWriter, RoundTripsEveryValueType) {
  auto f = parse_or_fail(test::rich_writer());
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->metadata().size(), 18u);
  EXPECT_EQ(f->metadata()[0].first, "general.architecture");  // insertion order is kept
  struct IntCase {
    const char* key;
    ValueType type;
    int64_t value;
  };
  for (const IntCase& c : {IntCase{"v.u8", ValueType::kU8, 200}, IntCase{"v.i8", ValueType::kI8, -100},
                           IntCase{"v.u16", ValueType::kU16, 60000}, IntCase{"v.i16", ValueType::kI16, -30000},
                           IntCase{"v.u32", ValueType::kU32, 4000000000ll},
                           IntCase{"v.i32", ValueType::kI32, -2000000000}, IntCase{"v.u64", ValueType::kU64, 1ll << 40},
                           IntCase{"v.i64", ValueType::kI64, -(1ll << 50)}, IntCase{"v.bool", ValueType::kBool, 1}}) {
    const Value* v = f->find(c.key);
    ASSERT_NE(v, nullptr) << c.key;
    EXPECT_EQ(v->type, c.type) << c.key;
    EXPECT_EQ(f->get_int(c.key).value(), c.value) << c.key;
  }
  EXPECT_EQ(f->find("v.f32")->type, ValueType::kF32);
  EXPECT_EQ(f->get_float("v.f32").value(), 0.125);
  EXPECT_EQ(f->find("v.f64")->type, ValueType::kF64);
  EXPECT_EQ(f->get_float("v.f64").value(), 3.141592653589793);
  EXPECT_TRUE(f->get_bool("v.bool").value());
  EXPECT_EQ(f->get_string("v.string").value(), "hello, gguf");

  const Value* strings = f->find("v.strings");
  ASSERT_NE(strings, nullptr);
  EXPECT_EQ(strings->elem_type, ValueType::kString);
  EXPECT_EQ(strings->strings, (std::vector<std::string>{"<unk>", "<s>", "</s>", "", "a longer token"}));
  const Value* ints = f->find("v.i32s");
  ASSERT_NE(ints, nullptr);
  EXPECT_EQ(ints->elem_type, ValueType::kI32);
  EXPECT_EQ(ints->ints, (std::vector<int64_t>{-1, 0, 1, 1 << 30}));
  const Value* floats = f->find("v.f32s");
  ASSERT_NE(floats, nullptr);
  EXPECT_EQ(floats->elem_type, ValueType::kF32);
  EXPECT_EQ(floats->floats, (std::vector<double>{0.5, -2.0, static_cast<double>(1e-5f)}));
  EXPECT_EQ(f->find("v.bools")->ints, (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(f->find("v.u8s")->elem_type, ValueType::kU8);
  EXPECT_EQ(f->find("v.u8s")->ints, (std::vector<int64_t>{0, 255, 7}));
}

TEST(GgufWriter, RoundTripsTensors) {
  auto f = parse_or_fail(test::rich_writer());
  ASSERT_NE(f, nullptr);
  struct Expect {
    const char* name;
    uint32_t type;
    std::vector<int64_t> ne;
    size_t nbytes;
    uint32_t seed;
  };
  const Expect expected[] = {{"t.f32", quant::kF32, {8, 3}, 96, 1},
                             {"t.f16", quant::kF16, {16, 2}, 64, 2},
                             {"t.q8_0", quant::kQ8_0, {64, 2}, 136, 3},
                             {"t.tq2_0", quant::kTQ2_0, {256}, 66, 4},
                             {"t.last", quant::kF32, {8}, 32, 5}};
  ASSERT_EQ(f->tensors().size(), std::size(expected));
  for (size_t k = 0; k < std::size(expected); ++k) {
    const Expect& e = expected[k];
    const TensorInfo& t = f->tensors()[k];
    EXPECT_EQ(t.name, e.name);
    EXPECT_EQ(t.type, e.type) << e.name;
    EXPECT_EQ(t.ne, e.ne) << e.name;
    EXPECT_EQ(t.nbytes, e.nbytes) << e.name;
    EXPECT_EQ(t.offset % 32, 0u) << e.name;
    const std::vector<uint8_t> data = test::random_bytes(e.nbytes, e.seed);
    EXPECT_EQ(std::memcmp(t.data, data.data(), data.size()), 0) << e.name;
  }
  // The last tensor ends the file (its size is a multiple of the alignment).
  const TensorInfo& last = f->tensors().back();
  EXPECT_EQ(f->data_offset() + last.offset + last.nbytes, f->file_size());
}

TEST(GgufWriter, HonoursAlignment) {
  Writer w = test::rich_writer();
  w.set_u32("general.alignment", 256);
  auto f = parse_or_fail(w);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->alignment(), 256u);
  EXPECT_EQ(f->data_offset() % 256, 0u);
  for (const TensorInfo& t : f->tensors()) EXPECT_EQ(t.offset % 256, 0u) << t.name;
  EXPECT_EQ(f->file_size() % 256, 0u);
}

TEST(GgufWriter, SettingAKeyTwiceReplacesItInPlace) {
  Writer w;
  w.set_u32("a", 1);
  w.set_string("b", "x");
  w.set_string("a", "now a string");
  auto f = parse_or_fail(w);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->metadata().size(), 2u);
  EXPECT_EQ(f->metadata()[0].first, "a");
  EXPECT_EQ(f->get_string("a").value(), "now a string");
}

TEST(GgufWriter, WritesAFileAtomically) {
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/model.gguf";
  ASSERT_TRUE(test::rich_writer().write(path).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto f = File::open(path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->path(), path);
  EXPECT_EQ((*f)->tensors().size(), 5u);
  EXPECT_EQ((*f)->get_string("v.string").value(), "hello, gguf");
  std::filesystem::remove_all(dir);
}

TEST(GgufWriter, WriteErrorsAreStatuses) {
  Status s = test::rich_writer().write("/nonexistent/dir/model.gguf");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("/nonexistent/dir/model.gguf.tmp"), std::string::npos) << s.message();

  // A directory as the output: refused before any tensor is produced (a 2B-4T synth had run for minutes, then
  // failed to rename its PATH.tmp onto the directory), and nothing is left beside it.
  const std::string dir = test::temp_dir() + "/out";
  std::filesystem::create_directory(dir);
  Writer deferred;
  deferred.set_string("general.architecture", "llama");
  deferred.add_tensor_deferred("b", quant::kF32, {5});
  bool asked = false;
  s = deferred.write(dir, [&](const std::string&) -> Result<std::vector<uint8_t>> {
    asked = true;
    return std::vector<uint8_t>(20);
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find("'" + dir + "': it is a directory"), std::string::npos) << s.message();
  EXPECT_FALSE(asked);
  EXPECT_FALSE(std::filesystem::exists(dir + ".tmp"));
}

// Deferred tensors stream from a source while the file is written; the bytes equal those of held tensors.
TEST(GgufWriter, DeferredTensorsWriteTheSameBytes) {
  const std::vector<uint8_t> a(12, 7), b(20, 9);  // sizes not multiples of the alignment: padding runs
  Writer held;
  held.set_string("general.architecture", "llama");
  held.add_tensor("a", quant::kF32, {3}, a);
  held.add_tensor("b", quant::kF32, {5}, b);
  auto want = held.to_bytes();
  ASSERT_TRUE(want.ok()) << want.status().to_string();

  Writer deferred;
  deferred.set_string("general.architecture", "llama");
  deferred.add_tensor("a", quant::kF32, {3}, a);
  deferred.add_tensor_deferred("b", quant::kF32, {5});
  EXPECT_FALSE(deferred.to_bytes().ok());  // to_bytes has no source to ask
  const std::string dir = test::temp_dir();
  const std::string path = dir + "/deferred.gguf";
  std::vector<std::string> asked;
  Status s = deferred.write(path, [&](const std::string& name) -> Result<std::vector<uint8_t>> {
    asked.push_back(name);
    return b;
  });
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(asked, std::vector<std::string>{"b"});
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, *want);

  // A source that produces the wrong size, fails, or is missing: an error, and no file left behind.
  const std::string bad = dir + "/bad.gguf";
  s = deferred.write(bad, [](const std::string&) -> Result<std::vector<uint8_t>> { return std::vector<uint8_t>(8); });
  EXPECT_NE(s.message().find("tensor 'b': the source produced 8 bytes"), std::string::npos) << s.to_string();
  s = deferred.write(bad, [](const std::string&) -> Result<std::vector<uint8_t>> { return io_error("disk gone"); });
  EXPECT_NE(s.message().find("disk gone"), std::string::npos) << s.to_string();
  s = deferred.write(bad);
  EXPECT_NE(s.message().find("no TensorSource"), std::string::npos) << s.to_string();
  EXPECT_FALSE(std::filesystem::exists(bad));
  EXPECT_FALSE(std::filesystem::exists(bad + ".tmp"));
  std::filesystem::remove_all(dir);
}

void expect_rejected(const Writer& w, const std::string& needle) {
  auto bytes = w.to_bytes();
  ASSERT_FALSE(bytes.ok()) << "expected an error mentioning: " << needle;
  EXPECT_NE(bytes.status().message().find(needle), std::string::npos) << bytes.status().message();
}

TEST(GgufWriter, RejectsWhatTheReaderWouldReject) {
  {
    Writer w;
    w.add_tensor("short", quant::kF32, {4, 4}, std::vector<uint8_t>(60));
    expect_rejected(w, "tensor 'short': 60 bytes of data, but F32 of this shape needs 64");
  }
  {
    Writer w;
    w.add_tensor("dup", quant::kF32, {1}, std::vector<uint8_t>(4));
    w.add_tensor("dup", quant::kF32, {1}, std::vector<uint8_t>(4));
    expect_rejected(w, "duplicate tensor name 'dup'");
  }
  {
    Writer w;
    w.add_tensor("t", quant::kF32, {1, 1, 1, 1, 1}, std::vector<uint8_t>(4));
    expect_rejected(w, "5 dimensions");
  }
  {
    Writer w;
    w.add_tensor("t", quant::kQ8_0, {33}, std::vector<uint8_t>(34));
    expect_rejected(w, "tensor 't'");
  }
  {
    Writer w;
    w.set_u32("general.alignment", 48);
    expect_rejected(w, "general.alignment");
  }
  {
    Writer w;
    w.set_u64("general.alignment", 1ull << 40);
    expect_rejected(w, "general.alignment");
  }
  {
    Writer w;
    w.set_u64("big", ~0ull);
    expect_rejected(w, "key 'big'");
  }
  {
    Writer w;
    w.set_value("small", test::int_value(ValueType::kU8, 256));
    expect_rejected(w, "does not fit in u8");
  }
  {
    Writer w;
    Value nested;
    nested.type = ValueType::kArray;
    nested.elem_type = ValueType::kArray;
    w.set_value("nested", nested);
    expect_rejected(w, "key 'nested'");
  }
}

}  // namespace
}  // namespace bitnet::gguf
