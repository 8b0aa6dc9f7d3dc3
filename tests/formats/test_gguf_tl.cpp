// GGUF with bitnet.cpp's TL1/TL2 tensors: written as its converter writes them (codes, then "<name>_scale" in the
// 32 bytes ggml counts at the end of the tensor), read back with that one overlap allowed, and type 39 told apart
// from upstream llama.cpp's MXFP4 by the architecture and the scale tensor.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "formats/gguf.hpp"
#include "formats/gguf_writer.hpp"
#include "quant/quant.hpp"
#include "quant/tl.hpp"

namespace bitnet::gguf {
namespace {

// A file holding one TL weight [K=256, M=32] named "w" and its scale 0.5, for architecture `arch`.
std::vector<uint8_t> tl_file(uint32_t type, const std::string& arch) {
  Writer w;
  w.set_string("general.architecture", arch);
  const uint64_t codes = quant::tl_scale_offset(type, 256, 32).value();
  w.add_tensor("w", type, {256, 32}, std::vector<uint8_t>(codes, 0x44));
  std::vector<uint8_t> scale(4);
  const float half = 0.5f;
  std::memcpy(scale.data(), &half, 4);
  w.add_tensor("w_scale", quant::kF32, {1}, scale);
  w.add_tensor("after", quant::kF32, {8}, std::vector<uint8_t>(32, 0));
  return w.to_bytes().value();
}

// Renames a tensor in a file image (same length), e.g. to detach the scale from its weight.
void rename(std::vector<uint8_t>& bytes, const std::string& from, const std::string& to) {
  auto it = std::search(bytes.begin(), bytes.end(), from.begin(), from.end());
  ASSERT_NE(it, bytes.end());
  std::copy(to.begin(), to.end(), it);
}

TEST(GgufTl, ScaleLiesInTheWeightsCountedTail) {
  for (uint32_t type : {uint32_t{quant::kTL1}, uint32_t{quant::kTL2}}) {
    auto f = File::from_bytes(tl_file(type, "bitnet"));
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    const TensorInfo* w = (*f)->find_tensor("w");
    const TensorInfo* s = (*f)->find_tensor("w_scale");
    ASSERT_NE(w, nullptr);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(w->type, type);
    EXPECT_EQ(w->nbytes, quant::tensor_bytes(type, {256, 32}).value());
    EXPECT_EQ(s->offset, w->offset + w->nbytes - 32);  // where bitnet.cpp's kernels read the scale
    float v = 0;
    std::memcpy(&v, w->data + quant::tl_scale_offset(type, 256, 32).value(), 4);
    EXPECT_EQ(v, 0.5f);
  }
}

TEST(GgufTl, OnlyTheScaleMayOverlap) {
  std::vector<uint8_t> bytes = tl_file(quant::kTL1, "bitnet");
  rename(bytes, "w_scale", "w_other");
  auto f = File::from_bytes(bytes);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kFormatError);
  EXPECT_NE(f.status().message().find("overlap"), std::string::npos) << f.status().to_string();
}

TEST(GgufTl, Type39IsTl2OnlyInBitnetCppFiles) {
  for (const char* arch : {"bitnet", "llama", "bitnet-b1.58"})
    EXPECT_TRUE(File::from_bytes(tl_file(quant::kTL2, arch)).ok());
  auto gpt = File::from_bytes(tl_file(quant::kTL2, "gpt-oss"));
  ASSERT_FALSE(gpt.ok());
  EXPECT_EQ(gpt.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(gpt.status().message().find("upstream llama.cpp's MXFP4"), std::string::npos) << gpt.status().to_string();
  std::vector<uint8_t> bytes = tl_file(quant::kTL2, "llama");
  rename(bytes, "w_scale", "w_other");
  auto lone = File::from_bytes(bytes);
  ASSERT_FALSE(lone.ok());
  EXPECT_EQ(lone.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(lone.status().message().find("no F32 'w_scale' tensor"), std::string::npos) << lone.status().to_string();
}

TEST(GgufTl, WriterKeepsTheConvertersLayout) {
  Writer w;
  w.add_tensor("w", quant::kTL2, {256, 32}, std::vector<uint8_t>(quant::tl_scale_offset(quant::kTL2, 256, 32).value()));
  auto bytes = w.to_bytes();
  ASSERT_FALSE(bytes.ok());
  EXPECT_NE(bytes.status().message().find("must be followed by its scale"), std::string::npos);
  // Full tensor_bytes (with the tail) is not what is written.
  Writer v;
  v.add_tensor("w", quant::kTL1, {256, 32}, std::vector<uint8_t>(quant::tensor_bytes(quant::kTL1, {256, 32}).value()));
  v.add_tensor("w_scale", quant::kF32, {1}, std::vector<uint8_t>(4));
  EXPECT_EQ(v.to_bytes().status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bitnet::gguf
