// GGUF reader against hostile input: every truncation, targeted lies in each header field, and random
// corruption. Each must give an error (naming the problem where targeted), never a crash or a bad read.
#include <gtest/gtest.h>

#include <random>

#include "formats/gguf.hpp"
#include "formats/gguf_test_util.hpp"
#include "quant/quant.hpp"

namespace bitnet::gguf {
namespace {

using test::RawGguf;

std::vector<uint8_t> rich_bytes() {
  auto bytes = test::rich_writer().to_bytes();
  EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
  return bytes.ok() ? std::move(bytes).value() : std::vector<uint8_t>{};
}

// Reads everything a caller could reach, so a sanitizer sees any pointer that escaped the file.
uint64_t touch(const File& f) {
  uint64_t sum = 0;
  for (const auto& [key, v] : f.metadata()) sum += key.size() + v.s.size() + v.array_size();
  for (const TensorInfo& t : f.tensors())
    for (uint64_t k = 0; k < t.nbytes; ++k) sum += t.data[k];
  return sum;
}

void expect_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
  auto f = File::from_bytes(bytes);
  ASSERT_FALSE(f.ok()) << "accepted a file that should fail with: " << needle;
  EXPECT_NE(f.status().message().find(needle), std::string::npos)
      << "message '" << f.status().message() << "' does not mention '" << needle << "'";
}

TEST(GgufRobust, ValidFileParses) {
  auto f = File::from_bytes(rich_bytes());
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  touch(**f);
}

TEST(GgufRobust, EveryTruncationFails) {
  const std::vector<uint8_t> full = rich_bytes();
  ASSERT_GT(full.size(), 500u);
  for (size_t n = 0; n < full.size(); ++n) {
    auto f = File::from_bytes(std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n)));
    ASSERT_FALSE(f.ok()) << "a file truncated to " << n << " of " << full.size() << " bytes parsed";
    ASSERT_FALSE(f.status().message().empty());
  }
}

TEST(GgufRobust, HeaderLies) {
  expect_error({}, "not a GGUF file");
  expect_error(RawGguf().u32(0x46554746).u32(3).u64(0).u64(0).bytes, "bad magic");
  expect_error(RawGguf().header(1, 0, 0).bytes, "version 1");
  expect_error(RawGguf().header(99, 0, 0).bytes, "version 99");
  expect_error(RawGguf().header(0x03000000, 0, 0).bytes, "big-endian");
  expect_error(RawGguf().header(3, 1ull << 60, 0).bytes, "n_tensors");
  expect_error(RawGguf().header(3, 0, 1ull << 60).bytes, "n_kv");
  expect_error(RawGguf().header(3, ~0ull, ~0ull).bytes, "n_kv");
  EXPECT_EQ(File::from_bytes(RawGguf().header(99, 0, 0).bytes).status().code(), StatusCode::kUnsupported);
}

TEST(GgufRobust, MetadataLies) {
  expect_error(RawGguf().header(3, 0, 1).u64(1ull << 62).zeros(8).bytes, "metadata entry 0: key: string length");
  expect_error(RawGguf().header(3, 0, 1).str("k").u32(8).u64(~0ull).bytes, "key 'k': string length");
  expect_error(RawGguf().header(3, 0, 1).str("k").u32(13).u32(0).bytes, "key 'k': unknown value type 13");
  expect_error(RawGguf().header(3, 0, 1).str("k").u32(9).u32(9).u64(1).u32(4).u64(0).bytes, "key 'k': nested arrays");
  expect_error(RawGguf().header(3, 0, 1).str("k").u32(9).u32(77).u64(0).bytes, "unknown array element type 77");
  expect_error(RawGguf().header(3, 0, 1).str("k").u32(9).u32(4).u64(1ull << 61).zeros(16).bytes,
               "key 'k': array count");
  expect_error(RawGguf().header(3, 0, 1).str("k").u32(9).u32(8).u64(~0ull >> 1).zeros(16).bytes,
               "key 'k': array count");
  expect_error(RawGguf().header(3, 0, 1).str("k").u32(7).u8(2).bytes, "key 'k': bool value 2");
  expect_error(RawGguf().header(3, 0, 1).str("k").u32(9).u32(7).u64(2).u8(1).u8(5).bytes, "key 'k' element 1");
  expect_error(RawGguf().header(3, 0, 1).str("big").u32(10).u64(1ull << 63).bytes, "key 'big'");
  expect_error(RawGguf().header(3, 0, 1).str("big").u32(10).u64(1ull << 63).bytes, "INT64_MAX");
  expect_error(RawGguf().header(3, 0, 2).kv_u32("k", 1).kv_u32("k", 2).bytes, "duplicate metadata key 'k'");
  // A key length that swallows what follows: its name is cut in the message, with its length; its raw bytes are
  // shown escaped.
  const std::string long_key = "general.name\x04" + std::string(5000, 'x');
  expect_error(RawGguf().header(3, 0, 1).str(long_key).u32(13).u32(0).bytes,
               "key 'general.name\\x04" + std::string(87, 'x') + "...' (5013 bytes): unknown value type 13");
}

TEST(GgufRobust, BadAlignment) {
  expect_error(RawGguf().header(3, 0, 1).kv_u32("general.alignment", 0).bytes, "power of two");
  expect_error(RawGguf().header(3, 0, 1).kv_u32("general.alignment", 3).bytes, "alignment 3");
  expect_error(RawGguf().header(3, 0, 1).kv_string("general.alignment", "32").bytes, "must be an integer");
  expect_error(RawGguf().header(3, 0, 1).str("general.alignment").u32(6).put(32.0f).bytes, "must be an integer");
}

// One tensor descriptor followed by a data section of `data_bytes` bytes.
std::vector<uint8_t> one_tensor(const std::vector<uint64_t>& ne, uint32_t type, uint64_t offset,
                                size_t data_bytes = 64) {
  return RawGguf().header(3, 1, 0).tensor("t", ne, type, offset).pad(32).zeros(data_bytes).bytes;
}

TEST(GgufRobust, TensorLies) {
  expect_error(one_tensor({}, quant::kF32, 0), "tensor 't': n_dims 0");
  expect_error(one_tensor({1, 1, 1, 1, 1}, quant::kF32, 0), "tensor 't': n_dims 5");
  expect_error(one_tensor({4, ~0ull}, quant::kF32, 0), "tensor 't': ne[1] is negative (-1)");
  expect_error(one_tensor({1ull << 32, 1ull << 32}, quant::kF32, 0), "element count overflows");
  expect_error(one_tensor({0, 1ull << 40, 1ull << 40}, quant::kF32, 0), "element count overflows");
  // 2^62 eight-byte elements: the byte count would wrap to 0 if only the element count were checked.
  expect_error(one_tensor({1ull << 31, 1ull << 31}, quant::kF64, 0), "element count overflows");
  expect_error(one_tensor({4}, 200, 0), "tensor 't': unknown tensor type id 200");
  expect_error(one_tensor({33}, quant::kQ8_0, 0), "tensor 't' (Q8_0)");
  expect_error(one_tensor({4}, quant::kF32, 4), "tensor 't': offset 4 is not a multiple of the alignment 32");
  expect_error(one_tensor({16}, quant::kF32, 32), "tensor 't': data [offset 32, 64 bytes] runs past the end");
  expect_error(one_tensor({16}, quant::kF32, ~0ull - 31), "runs past the end");
  expect_error(one_tensor({16}, quant::kF32, 0, 63), "runs past the end");
  expect_error(RawGguf().header(3, 1, 0).tensor("t", {4}, quant::kF32, 0).bytes, "data section");
  // Truncated inside a descriptor: the message names the tensor and the field.
  const std::string name(24, 'n');
  expect_error(RawGguf().header(3, 1, 0).str(name).u32(2).u64(4).bytes, "tensor '" + name + "': ne[1]");
}

TEST(GgufRobust, DuplicateAndOverlappingTensors) {
  expect_error(RawGguf()
                   .header(3, 2, 0)
                   .tensor("t", {8}, quant::kF32, 0)
                   .tensor("t", {8}, quant::kF32, 32)
                   .pad(32)
                   .zeros(64)
                   .bytes,
               "duplicate tensor name 't'");
  expect_error(RawGguf()
                   .header(3, 2, 0)
                   .tensor("a", {16}, quant::kF32, 0)
                   .tensor("b", {16}, quant::kF32, 32)
                   .pad(32)
                   .zeros(96)
                   .bytes,
               "tensors 'a' [offset 0, 64 bytes] and 'b' [offset 32, 64 bytes] overlap");
  // Listed out of order but disjoint: fine.
  auto ok = File::from_bytes(RawGguf()
                                 .header(3, 2, 0)
                                 .tensor("b", {8}, quant::kF32, 32)
                                 .tensor("a", {8}, quant::kF32, 0)
                                 .pad(32)
                                 .zeros(64)
                                 .bytes);
  EXPECT_TRUE(ok.ok()) << ok.status().to_string();
}

TEST(GgufRobust, RandomCorruptionNeverCrashes) {
  const std::vector<uint8_t> valid = rich_bytes();
  ASSERT_FALSE(valid.empty());
  std::mt19937 rng(20240611);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  // Values that tend to sit on edges of the checks: zero, all ones, sign bits, powers of two.
  const uint64_t kEdges[] = {0,
                             1,
                             0x7f,
                             0x80,
                             0xff,
                             0xffff,
                             0x7fffffff,
                             0xffffffff,
                             1ull << 32,
                             1ull << 62,
                             0x7fffffffffffffffull,
                             0x8000000000000000ull,
                             ~0ull};
  int accepted = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::vector<uint8_t> bytes = valid;
    switch (iter % 3) {
      case 0:  // one random byte
        bytes[pick(bytes.size())] = static_cast<uint8_t>(rng());
        break;
      case 1:  // a few random bytes
        for (int k = 0, n = 2 + static_cast<int>(pick(7)); k < n; ++k)
          bytes[pick(bytes.size())] = static_cast<uint8_t>(rng());
        break;
      default: {  // an edge value written over 4 or 8 bytes
        const uint64_t v = kEdges[pick(std::size(kEdges))];
        const size_t width = pick(2) ? 8 : 4;
        const size_t at = pick(bytes.size() - width);
        std::memcpy(bytes.data() + at, &v, width);
      }
    }
    auto f = File::from_bytes(std::move(bytes));
    if (f.ok()) {
      ++accepted;
      touch(**f);
    } else {
      ASSERT_FALSE(f.status().message().empty());
    }
  }
  // Corrupting tensor data or string contents leaves a valid file; header hits must not all be accepted.
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, 4000);
}

}  // namespace
}  // namespace bitnet::gguf
