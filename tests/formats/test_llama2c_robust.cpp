// llama2.c and bitllama2.c files with hostile headers: an error naming the problem, never a crash or UB.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bitnet/bitnet.hpp"
#include "test_util.hpp"

namespace bitnet {
namespace {

// A file of `header` (the seven int32 fields dim .. seq) after `prefix`, padded with zero bytes to `size`.
std::string write_header(const std::string& name, const std::vector<uint8_t>& prefix, const int32_t (&h)[7],
                         size_t size) {
  std::vector<uint8_t> bytes(prefix);
  const size_t at = bytes.size();
  bytes.resize(std::max(size, at + sizeof h));
  std::memcpy(bytes.data() + at, h, sizeof h);
  const std::string path = test::temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::ssize(bytes));
  return path;
}

TEST(Llama2cRobust, MostNegativeVocabularyIsRefused) {
  // vocab = INT32_MIN: its sign says "unshared classifier", and it has no magnitude in int32.
  const int32_t h[7] = {16, 32, 1, 2, 1, INT32_MIN, 8};
  const std::string out = test::temp_dir() + "/out.gguf";
  const std::vector<uint8_t> ak42 = {0x32, 0x34, 0x6b, 0x61, 1, 0, 0, 0};  // "ak42" little-endian, version 1
  for (const auto& [kind, prefix, size] :
       {std::tuple{"llama2c", std::vector<uint8_t>{}, size_t{96}}, std::tuple{"bitllama2c", ak42, size_t{260}}}) {
    const std::string in = write_header(std::string(kind) + ".bin", prefix, h, size);
    const Status s = convert_llama2c(kind, in, "/nonexistent/tokenizer.bin", out);
    ASSERT_FALSE(s.ok()) << kind;
    EXPECT_NE(s.message().find("llama2.c header"), std::string::npos) << kind << ": " << s.to_string();
  }
}

}  // namespace
}  // namespace bitnet
