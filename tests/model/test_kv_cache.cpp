// The KV cache in each element type holds exactly what the type's converter makes of a row (F32: the floats;
// F16: round to nearest even; Q8_0: llama.cpp's quantize_row_q8_0_ref), each head's part at its own (layer, head,
// position), a head's positions head_bytes() apart, and nowhere else; its size; and the head sizes a Q8_0 cache
// refuses.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "core/half.hpp"
#include "model/kv_cache.hpp"
#include "quant/q8_0.hpp"
#include "quant/quant.hpp"

namespace bitnet::model {
namespace {

HParams hparams(int64_t head_dim, int64_t n_head_kv, int64_t n_layer) {
  HParams hp;
  hp.n_layer = n_layer;
  hp.n_head = 2 * n_head_kv;
  hp.n_head_kv = n_head_kv;
  hp.head_dim = head_dim;
  hp.n_embd = head_dim * hp.n_head;
  return hp;
}

TEST(KvCache, RowsHoldWhatTheConvertersMake) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  const HParams hp = hparams(64, 2, 3);
  const int64_t kv_dim = 128, n_ctx = 5;
  for (uint32_t type : {quant::kF32, quant::kF16, quant::kQ8_0}) {
    ASSERT_TRUE(KvCache::check(hp, type).ok());
    KvCache cache(hp, n_ctx, type);
    EXPECT_EQ(cache.type(), type);
    const int64_t row = static_cast<int64_t>(quant::tensor_bytes(type, {kv_dim, 1}).value());
    const int64_t head = static_cast<int64_t>(quant::tensor_bytes(type, {hp.head_dim, 1}).value());
    EXPECT_EQ(cache.head_bytes(), head);
    EXPECT_EQ(cache.bytes(), static_cast<uint64_t>(2 * hp.n_layer * n_ctx * row));
    // Every (layer, position) gets its own rows; all are checked after all are written.
    std::vector<std::vector<float>> ks, vs;
    for (int64_t l = 0; l < hp.n_layer; ++l)
      for (int64_t p = 0; p < n_ctx; ++p) {
        std::vector<float> k(kv_dim), v(kv_dim);
        for (auto& e : k) e = nd(rng);
        for (auto& e : v) e = nd(rng);
        k[3] = 0.0f;
        v[5] = -1e-6f;  // an f16 subnormal
        cache.store(l, p, k.data(), v.data());
        ks.push_back(k);
        vs.push_back(v);
      }
    size_t i = 0;
    for (int64_t l = 0; l < hp.n_layer; ++l)
      for (int64_t p = 0; p < n_ctx; ++p, ++i) {
        for (int kv = 0; kv < 2; ++kv) {
          const std::vector<float>& x = kv == 0 ? ks[i] : vs[i];
          auto want = quant::quantize_tensor(type, x.data(), kv_dim, 1);
          ASSERT_TRUE(want.ok());
          std::vector<uint8_t> got(static_cast<size_t>(row));
          for (int64_t h = 0; h < hp.n_head_kv; ++h) {
            const uint8_t* at = kv == 0 ? cache.k(l, h, p) : cache.v(l, h, p);
            ASSERT_EQ(at, (kv == 0 ? cache.k(l, h, 0) : cache.v(l, h, 0)) + p * head);
            std::memcpy(got.data() + h * head, at, static_cast<size_t>(head));
          }
          ASSERT_EQ(std::memcmp(got.data(), want->data(), static_cast<size_t>(row)), 0)
              << quant::type_name(type) << " layer " << l << " pos " << p << (kv == 0 ? " k" : " v");
          // And the values read back are the inputs within the type's rounding.
          std::vector<float> back(kv_dim);
          ASSERT_TRUE(quant::dequantize_rows(type, got.data(), kv_dim, 1, 0, 1, back.data()).ok());
          for (int64_t e = 0; e < kv_dim; ++e) {
            double bound = 0;
            if (type == quant::kF16) {
              bound = std::max(std::fabs(x[e]) * std::ldexp(1.0, -11), std::ldexp(1.0, -25));  // half an ulp
            } else if (type == quant::kQ8_0) {
              // |x - q d16| <= d/2 (rounding q) + 127 |d - d16| (d stored as f16: relative 2^-11), d = amax/127.
              float amax = 0;
              const int64_t b0 = e / 32 * 32;
              for (int64_t j = b0; j < b0 + 32; ++j) amax = std::max(amax, std::fabs(x[j]));
              const double d = amax / 127.0;
              bound = d / 2 + 127 * d * std::ldexp(1.0, -11);
            }
            ASSERT_LE(std::fabs(back[e] - x[e]), bound) << quant::type_name(type) << " element " << e;
          }
        }
      }
  }
}

TEST(KvCache, F16RoundsToNearestEvenAndQ8_0MatchesItsBlockRule) {
  const HParams hp = hparams(32, 1, 1);
  std::vector<float> k(32), v(32, 0.0f);
  // 1 + 2^-11 lies halfway between two halves: ties go to the even one (1.0); 1 + 3*2^-11 rounds up.
  for (int i = 0; i < 32; ++i) k[i] = static_cast<float>(i) * 0.25f;
  k[0] = 1.0f + std::ldexp(1.0f, -11);
  k[1] = 1.0f + 3 * std::ldexp(1.0f, -11);
  KvCache f16(hp, 1, quant::kF16);
  f16.store(0, 0, k.data(), v.data());
  uint16_t h[2];
  std::memcpy(h, f16.k(0, 0, 0), 4);
  EXPECT_EQ(h[0], 0x3c00);  // 1.0
  EXPECT_EQ(h[1], 0x3c02);  // 1 + 2^-9
  KvCache q8(hp, 1, quant::kQ8_0);
  q8.store(0, 0, k.data(), v.data());
  const uint8_t* blk = q8.k(0, 0, 0);
  uint16_t d;
  std::memcpy(&d, blk, 2);
  EXPECT_EQ(d, float_to_fp16(7.75f / 127.0f));                                       // d = max|x| / 127, stored as f16
  EXPECT_EQ(static_cast<int8_t>(blk[2 + 31]), 127);                                  // the largest value maps to 127
  EXPECT_EQ(static_cast<int8_t>(blk[2 + 2]), std::lround(0.5f / (7.75f / 127.0f)));  // roundf(x / d)
  const uint8_t* vb = q8.v(0, 0, 0);
  std::memcpy(&d, vb, 2);
  EXPECT_EQ(d, 0);  // an all-zero block: d = 0, every q 0
  for (int i = 0; i < 32; ++i) EXPECT_EQ(vb[2 + i], 0);
}

// F32 and F16 rows of heads that are not whole 16s are stored padded with zeros (kernels::kv_row_dim): the values
// at the start, +0.0 after them, head_bytes() and bytes() counting the padding; Q8_0 rows are not padded.
TEST(KvCache, RowsArePaddedWithZerosToWhole16s) {
  const HParams hp = hparams(100, 2, 2);  // 1bitLLM/bitnet_b1_58-3B's heads
  std::vector<float> k(200), v(200);
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = 0.5f + static_cast<float>(i);
    v[i] = -0.25f - static_cast<float>(i);
  }
  for (uint32_t type : {quant::kF32, quant::kF16}) {
    const int64_t elem = type == quant::kF16 ? 2 : 4;
    KvCache cache(hp, 3, type);
    EXPECT_EQ(cache.row_dim(), 112);
    EXPECT_EQ(cache.head_bytes(), 112 * elem);
    EXPECT_EQ(cache.bytes(), static_cast<uint64_t>(2 * 2 * 2 * 3 * 112 * elem));
    EXPECT_EQ(KvCache::bytes_for(hp, 3, type), cache.bytes());
    for (int64_t p = 0; p < 3; ++p) cache.store(1, p, k.data(), v.data());
    for (int64_t h = 0; h < 2; ++h)
      for (int kv = 0; kv < 2; ++kv) {
        const std::vector<float>& x = kv == 0 ? k : v;
        auto want = quant::quantize_tensor(type, x.data() + h * 100, 100, 1);
        ASSERT_TRUE(want.ok());
        const uint8_t* row = kv == 0 ? cache.k(1, h, 2) : cache.v(1, h, 2);
        EXPECT_EQ(std::memcmp(row, want->data(), want->size()), 0) << quant::type_name(type) << " head " << h;
        for (int64_t b = 100 * elem; b < 112 * elem; ++b)
          ASSERT_EQ(row[b], 0) << quant::type_name(type) << " head " << h << " byte " << b;
      }
  }
  const HParams hq = hparams(96, 1, 1);
  KvCache q8(hq, 2, quant::kQ8_0);
  EXPECT_EQ(q8.row_dim(), 96);
  EXPECT_EQ(q8.head_bytes(), 3 * static_cast<int64_t>(quant::kQ8_0BlockBytes));
}

TEST(KvCache, Q8_0NeedsHeadsOfWholeBlocks) {
  for (int64_t hd : {8, 48, 80}) {
    Status s = KvCache::check(hparams(hd, 2, 1), quant::kQ8_0);
    ASSERT_FALSE(s.ok()) << hd;
    EXPECT_NE(s.message().find("multiple of 32"), std::string::npos) << s.message();
    EXPECT_TRUE(KvCache::check(hparams(hd, 2, 1), quant::kF16).ok());
    EXPECT_TRUE(KvCache::check(hparams(hd, 2, 1), quant::kF32).ok());
  }
  EXPECT_TRUE(KvCache::check(hparams(64, 2, 1), quant::kQ8_0).ok());
  EXPECT_FALSE(KvCache::check(hparams(64, 2, 1), quant::kBF16).ok());
}

}  // namespace
}  // namespace bitnet::model
