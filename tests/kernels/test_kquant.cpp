// Q6_K x Q8_K integer dots: the scalar definition against blocks packed here from known integers (the packer is
// first checked against the Q6_K dequantizer), then every ISA's kernel bit-equal to the scalar one on fresh
// random rows of odd and even block counts and token counts, including all-extreme blocks.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "core/half.hpp"
#include "kernels/kquant.hpp"
#include "quant/q6_k.hpp"
#include "quant/quant.hpp"

namespace bitnet::kernels {
namespace {

// Packs codes u[256] (0..63) and sub-block scales sc[16] into one Q6_K block with d = `d_bits` (fp16).
void pack_q6_k(const uint8_t* u, const int8_t* sc, uint16_t d_bits, uint8_t* blk) {
  std::memset(blk, 0, quant::kQ6KBlockBytes);
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    blk[64 * h + l + 32 * (k & 1)] |= static_cast<uint8_t>((u[e] & 0xF) << (k >= 2 ? 4 : 0));
    blk[128 + 32 * h + l] |= static_cast<uint8_t>((u[e] >> 4) << (2 * k));
  }
  std::memcpy(blk + 192, sc, 16);
  std::memcpy(blk + 208, &d_bits, 2);
}

TEST(KQuant, PackerMatchesDequantizerAndRefSumIsExact) {
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  for (int trial = 0; trial < 50; ++trial) {
    uint8_t u[256];
    int8_t sc[16], q8[256];
    for (auto& v : u) v = static_cast<uint8_t>(trial == 0 ? 0 : trial == 1 ? 63 : rng() % 64);
    for (auto& v : sc) v = static_cast<int8_t>(trial < 2 ? -128 : static_cast<int>(rng() % 256) - 128);
    for (auto& v : q8) v = static_cast<int8_t>(trial < 2 ? 127 : static_cast<int>(rng() % 255) - 127);
    uint8_t blk[quant::kQ6KBlockBytes];
    pack_q6_k(u, sc, 0x3C00 /* 1.0 */, blk);
    float deq[256];
    quant::dequantize_q6_k(blk, deq, 256);
    int64_t expect = 0;
    for (int e = 0; e < 256; ++e) {
      ASSERT_EQ(deq[e], static_cast<float>(sc[e / 16] * (u[e] - 32))) << "element " << e << " seed " << seed;
      expect += static_cast<int64_t>(sc[e / 16]) * (u[e] - 32) * q8[e];
    }
    EXPECT_EQ(q6_k_block_isum_ref(blk, q8), expect) << "trial " << trial << " seed " << seed;
  }
}

TEST(KernelParity, Q6KQ8KBitEqualAcrossIsaAndBatch) {
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  int checked = 0;
  for (int64_t blocks : {1, 2, 3, 10}) {
    const int64_t n = 256 * blocks, rows = 7;
    // Real quantized rows, plus one row of random bytes (any scales, any codes) with a sane fp16 d.
    std::vector<float> wf(static_cast<size_t>(n * rows));
    for (auto& v : wf) v = nd(rng);
    auto packed = quant::quantize_tensor(quant::kQ6_K, wf.data(), n, rows);
    ASSERT_TRUE(packed.ok()) << packed.status().to_string();
    std::vector<uint8_t>& w = *packed;
    uint8_t* last = w.data() + (rows - 1) * blocks * quant::kQ6KBlockBytes;
    for (int64_t b = 0; b < blocks; ++b) {
      uint8_t* blk = last + b * quant::kQ6KBlockBytes;
      for (int i = 0; i < 208; ++i) blk[i] = static_cast<uint8_t>(rng());
      const uint16_t d = static_cast<uint16_t>(0x2000 + rng() % 0x1000);
      std::memcpy(blk + 208, &d, 2);
    }
    const FloatRows fr{quant::kQ6_K, w.data(), n, rows};
    for (int64_t n_tokens : {1, 2, 3, 4, 5, 7, 9}) {
      std::vector<float> x(static_cast<size_t>(n * n_tokens));
      for (auto& v : x) v = nd(rng);
      x[0] = 1000.0f;  // an outlier: the rest of its block quantizes to small values
      Q8KActs a;
      size_q8k_acts(n_tokens, n, a);
      prepare_q8k_acts_rows(x.data(), 0, n_tokens, a);
      std::vector<float> ref(static_cast<size_t>(rows * n_tokens));
      q6_k_matmul_scalar(fr, a, ref.data(), rows, 0, rows);
      // The scalar kernel is the per-block definition: check one entry by hand.
      float by_hand = 0.0f;
      for (int64_t b = 0; b < blocks; ++b) {
        const uint8_t* blk = w.data() + b * quant::kQ6KBlockBytes;
        uint16_t dh;
        std::memcpy(&dh, blk + 208, 2);
        by_hand = kquant_accumulate(by_hand, a.d[static_cast<size_t>(b)], fp16_to_float(dh),
                                    q6_k_block_isum_ref(blk, a.q.data() + b * 256));
      }
      ASSERT_EQ(ref[0], by_hand);
      for (int lv = 1; lv <= static_cast<int>(max_supported_isa()); ++lv) {
        const IsaLevel level = static_cast<IsaLevel>(lv);
        const KQuantMatmulFn fn = kquant_matmul(quant::kQ6_K, level);
        ASSERT_NE(fn, nullptr);
        std::vector<float> y(ref.size(), -1.0f);
        // Split rows as threads would, at an odd boundary.
        fn(fr, a, y.data(), rows, 0, 3);
        fn(fr, a, y.data(), rows, 3, rows);
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_EQ(y[i], ref[i]) << isa_name(level) << " blocks " << blocks << " tokens " << n_tokens << " index " << i
                                  << " seed " << seed;
        ++checked;
      }
      // Batch independence: each token alone gives what it gives in the batch.
      for (int64_t t = 0; t < n_tokens; ++t) {
        Q8KActs one;
        size_q8k_acts(1, n, one);
        prepare_q8k_acts_rows(x.data() + t * n, 0, 1, one);
        std::vector<float> y1(static_cast<size_t>(rows));
        kquant_matmul(quant::kQ6_K, max_supported_isa())(fr, one, y1.data(), rows, 0, rows);
        for (int64_t r = 0; r < rows; ++r)
          ASSERT_EQ(y1[static_cast<size_t>(r)], ref[static_cast<size_t>(t * rows + r)]);
      }
    }
  }
  if (max_supported_isa() != IsaLevel::kScalar) {
    EXPECT_GT(checked, 0);
  }
  RecordProperty("isa_checks", checked);
}

}  // namespace
}  // namespace bitnet::kernels
