// Q6_K x Q8_K and Q8_0 x Q8_0 integer dots: the scalar definitions against blocks packed here from known integers
// (the Q6_K packer is first checked against the Q6_K dequantizer), then every ISA's kernel bit-equal to the scalar
// one on fresh random rows of odd and even block, row and token counts, including all-extreme blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/half.hpp"
#include "kernels/kquant.hpp"
#include "quant/q6_k.hpp"
#include "quant/q8_0.hpp"
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

// Each token alone gives what it gives in the batch (ref: [n_tokens][rows] from the whole batch).
void expect_batch_independent(const FloatRows& fr, const std::vector<float>& x, int64_t n_tokens,
                              const std::vector<float>& ref) {
  const int64_t n = fr.ne0, rows = fr.n_rows;
  for (int64_t t = 0; t < n_tokens; ++t) {
    IntActs one;
    size_int_acts(int_act_type(fr.type), 1, n, one);
    prepare_int_acts_rows(x.data() + t * n, 0, 1, one);
    std::vector<float> y1(static_cast<size_t>(rows));
    kquant_matmul(fr.type, max_supported_isa())(fr, one.view(), y1.data(), rows, 0, rows);
    for (int64_t r = 0; r < rows; ++r)
      ASSERT_EQ(y1[static_cast<size_t>(r)], ref[static_cast<size_t>(t * rows + r)]) << "token " << t << " row " << r;
  }
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
      IntActs a;
      size_int_acts(quant::kQ8_K, n_tokens, n, a);
      prepare_int_acts_rows(x.data(), 0, n_tokens, a);
      std::vector<float> ref(static_cast<size_t>(rows * n_tokens));
      q6_k_matmul_scalar(fr, a.view(), ref.data(), rows, 0, rows);
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
        fn(fr, a.view(), y.data(), rows, 0, 3);
        fn(fr, a.view(), y.data(), rows, 3, rows);
        for (size_t i = 0; i < y.size(); ++i)
          ASSERT_EQ(y[i], ref[i]) << isa_name(level) << " blocks " << blocks << " tokens " << n_tokens << " index " << i
                                  << " seed " << seed;
        ++checked;
      }
      expect_batch_independent(fr, x, n_tokens, ref);
    }
  }
  if (max_supported_isa() != IsaLevel::kScalar) {
    EXPECT_GT(checked, 0);
  }
  RecordProperty("isa_checks", checked);
}

// llama.cpp's x86 activation rule: id = 127 / amax, halves to even, d rounded to fp16; an all-zero block is 0.
TEST(KQuant, Q80ActivationsFollowLlamaCppX86Rule) {
  float x[64] = {};
  x[0] = 127.0f;  // amax 127: id = 1, so x * id is x
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 3.5f;
  x[4] = -0.5f;
  x[5] = 1.49f;
  x[6] = -127.0f;
  int8_t q[64];
  float d[2];
  quant::quantize_q8_0_acts(x, 64, q, d);
  EXPECT_EQ(d[0], 1.0f);
  EXPECT_EQ(q[0], 127);
  EXPECT_EQ(q[1], 2);  // std::round would give 3
  EXPECT_EQ(q[2], -2);
  EXPECT_EQ(q[3], 4);
  EXPECT_EQ(q[4], 0);
  EXPECT_EQ(q[5], 1);
  EXPECT_EQ(q[6], -127);
  EXPECT_EQ(d[1], 0.0f);
  for (int i = 32; i < 64; ++i) ASSERT_EQ(q[i], 0);
  // amax 0.1: d is 0.1 / 127 rounded to fp16 (not the f32 value), and x = amax gives 127.
  float y[32];
  for (int i = 0; i < 32; ++i) y[i] = 0.1f * static_cast<float>(i - 16) / 16.0f;
  y[31] = 0.1f;
  quant::quantize_q8_0_acts(y, 32, q, d);
  EXPECT_EQ(d[0], fp16_to_float(float_to_fp16(0.1f / 127.0f)));
  EXPECT_NE(d[0], 0.1f / 127.0f);
  EXPECT_EQ(q[31], 127);
  EXPECT_EQ(q[0], -127);
  for (int i = 0; i < 32; ++i) {
    const float v = y[i] * (127.0f / 0.1f);
    ASSERT_LE(std::fabs(static_cast<float>(q[i]) - v), 0.5f) << i;
  }
}

// The quantizer is written for the compiler's vectors (one clone per ISA, picked by the CPU); held here to the rule
// stated one element at a time with fmax / fmin, on random blocks with ties, zeros of both signs, NaN and infinities.
TEST(KQuant, Q80ActivationsMatchElementwiseRule) {
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  const float specials[] = {0.0f, -0.0f, 0.5f, -2.5f, NAN, INFINITY, -INFINITY, 1e-30f, 65504.0f, 1e30f};
  constexpr int64_t kBlocks = 64, kN = kBlocks * 32;
  std::vector<float> x(kN);
  for (int64_t b = 0; b < kBlocks; ++b)
    for (int64_t i = 0; i < 32; ++i) {
      float v = b % 8 == 0 ? 0.0f : nd(rng);
      if (b % 8 == 1) v = std::round(v * 2.0f) / 2.0f;  // halves
      if (b % 8 == 2 && rng() % 4 == 0) v = specials[rng() % std::size(specials)];
      x[static_cast<size_t>(b * 32 + i)] = v;
    }
  std::vector<int8_t> q(kN);
  std::vector<float> d(kBlocks);
  quant::quantize_q8_0_acts(x.data(), kN, q.data(), d.data());
  for (int64_t b = 0; b < kBlocks; ++b) {
    const float* xb = x.data() + b * 32;
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const float want_d = fp16_to_float(float_to_fp16(amax / 127.0f));
    ASSERT_EQ(std::memcmp(&d[static_cast<size_t>(b)], &want_d, sizeof want_d), 0) << "block " << b << " seed " << seed;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int i = 0; i < 32; ++i) {
      const float v = std::fmax(-127.0f, std::fmin(127.0f, xb[i] * id));
      const float r = std::nearbyint(v);  // halves to even, as the default rounding mode does
      ASSERT_EQ(q[static_cast<size_t>(b * 32 + i)], static_cast<int8_t>(r))
          << "block " << b << " element " << i << " x " << xb[i] << " seed " << seed;
    }
  }
}

TEST(KernelParity, Q80Q80BitEqualAcrossIsaAndBatch) {
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  int checked = 0;
  for (int64_t blocks : {1, 2, 3, 7, 80}) {
    for (int64_t rows : {5, 17}) {
      const int64_t n = 32 * blocks;
      std::vector<float> wf(static_cast<size_t>(n * rows));
      for (auto& v : wf) v = nd(rng);
      auto packed = quant::quantize_tensor(quant::kQ8_0, wf.data(), n, rows);
      ASSERT_TRUE(packed.ok()) << packed.status().to_string();
      std::vector<uint8_t>& w = *packed;
      // Row 1: any bytes (-128 included) with sane fp16 scales; row 2: all -128 under the largest scale.
      for (int64_t b = 0; b < blocks; ++b) {
        uint8_t* blk = w.data() + (1 * blocks + b) * quant::kQ8_0BlockBytes;
        for (int i = 2; i < 34; ++i) blk[i] = static_cast<uint8_t>(rng());
        const uint16_t d = static_cast<uint16_t>(0x2000 + rng() % 0x1000);
        std::memcpy(blk, &d, 2);
        blk = w.data() + (2 * blocks + b) * quant::kQ8_0BlockBytes;
        std::memset(blk + 2, 0x80, 32);
        const uint16_t big = 0x7bff;  // 65504
        std::memcpy(blk, &big, 2);
      }
      const FloatRows fr{quant::kQ8_0, w.data(), n, rows};
      for (int64_t n_tokens : {1, 2, 3, 4, 5, 9}) {
        std::vector<float> x(static_cast<size_t>(n * n_tokens));
        for (auto& v : x) v = nd(rng);
        x[0] = 1000.0f;
        for (int i = 0; i < 32 && n_tokens > 1; ++i) x[static_cast<size_t>(n + i)] = i % 2 ? -50.0f : 50.0f;
        IntActs a;
        size_int_acts(int_act_type(quant::kQ8_0), n_tokens, n, a);
        prepare_int_acts_rows(x.data(), 0, n_tokens, a);
        std::vector<float> ref(static_cast<size_t>(rows * n_tokens));
        q8_0_matmul_scalar(fr, a.view(), ref.data(), rows, 0, rows);
        // The scalar kernel against integers summed here, for row 1 (random bytes) and the last token.
        float by_hand = 0.0f;
        const int64_t t = n_tokens - 1;
        for (int64_t b = 0; b < blocks; ++b) {
          const uint8_t* blk = w.data() + (blocks + b) * quant::kQ8_0BlockBytes;
          int32_t isum = 0;
          for (int i = 0; i < 32; ++i)
            isum += static_cast<int8_t>(blk[2 + i]) * a.q[static_cast<size_t>(t * n + b * 32 + i)];
          ASSERT_EQ(q8_0_block_isum_ref(blk, a.q.data() + t * n + b * 32), isum);
          uint16_t dh;
          std::memcpy(&dh, blk, 2);
          by_hand = kquant_accumulate(by_hand, a.d[static_cast<size_t>(t * blocks + b)], fp16_to_float(dh), isum);
        }
        ASSERT_EQ(ref[static_cast<size_t>(t * rows + 1)], by_hand);
        // Each level's kernel, and on a CPU with AVX-VNNI the plain AVX2 one too (the level table takes the other).
        std::vector<std::pair<std::string, KQuantMatmulFn>> kernels;
        for (int lv = 1; lv <= static_cast<int>(max_supported_isa()); ++lv) {
          const IsaLevel level = static_cast<IsaLevel>(lv);
          const bool vnni = level == IsaLevel::kAvx2 && cpu_features().avxvnni;
          kernels.emplace_back(std::string(isa_name(level)) + (vnni ? " (AVX-VNNI)" : ""),
                               kquant_matmul(quant::kQ8_0, level));
        }
#if defined(__x86_64__)
        if (static_cast<int>(max_supported_isa()) >= static_cast<int>(IsaLevel::kAvx2) && cpu_features().avxvnni)
          kernels.emplace_back("avx2 without AVX-VNNI", q8_0_matmul_avx2);
#endif
        for (const auto& [name, fn] : kernels) {
          ASSERT_NE(fn, nullptr);
          std::vector<float> y(ref.size(), -1.0f);
          fn(fr, a.view(), y.data(), rows, 0, 3);  // split as threads would, at odd boundaries
          fn(fr, a.view(), y.data(), rows, 3, 4);
          fn(fr, a.view(), y.data(), rows, 4, rows);
          for (size_t i = 0; i < y.size(); ++i)
            ASSERT_EQ(y[i], ref[i]) << name << " blocks " << blocks << " rows " << rows << " tokens " << n_tokens
                                    << " index " << i << " seed " << seed;
          ++checked;
        }
        expect_batch_independent(fr, x, n_tokens, ref);
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
