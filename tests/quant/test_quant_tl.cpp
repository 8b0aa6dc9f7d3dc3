// TL1/TL2 (bitnet.cpp's LUT layouts): the packer against digests of the converter's own packing, exact round
// trips on real and odd shapes, sizes as ggml counts them, and clear errors for what cannot be decoded.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/cpu_features.hpp"
#include "quant/quant.hpp"
#include "quant/ternary.hpp"
#include "quant/tl.hpp"
#include "quant_test_util.hpp"

namespace bitnet::quant {
namespace {

uint64_t fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

// The matrix the digests were taken on: (m*131 + k*31 + (m*k) % 11 + (m*m*k) % 7) % 3 - 1.
std::vector<int8_t> formula_matrix(int64_t m_rows, int64_t k_cols) {
  std::vector<int8_t> w(static_cast<size_t>(m_rows * k_cols));
  for (int64_t m = 0; m < m_rows; ++m)
    for (int64_t k = 0; k < k_cols; ++k)
      w[static_cast<size_t>(m * k_cols + k)] =
          static_cast<int8_t>((m * 131 + k * 31 + (m * k) % 11 + (m * m * k) % 7) % 3 - 1);
  return w;
}

std::vector<int8_t> random_ternary(int64_t n, uint64_t seed) {
  test::Lcg rng(seed);
  std::vector<int8_t> w(static_cast<size_t>(n));
  for (int8_t& x : w) x = static_cast<int8_t>(rng.trit());
  return w;
}

// Digests of the bytes that microsoft/BitNet's utils/convert-hf-to-gguf-bitnet.py (commit 09074a0e, functions
// preprocess_weights_tl1 / preprocess_weights_tl2, transcribed into a numpy script with the kernel config passed
// in) writes for formula_matrix(M, K) * 0.25; `size` is the converter's byte count (TL2: before GGUF's padding).
TEST(QuantTl, PackMatchesTheConvertersBytes) {
  struct Golden {
    uint32_t type;
    TlKernelConfig config;
    size_t size;
    uint64_t fnv;
  };
  const Golden cases[] = {
      {kTL1, {256, 256, 128, 128, 32}, 16384, 0x5b7ebd5e06fc5efaull},
      {kTL1, {96, 192, 96, 64, 32}, 4608, 0x15e2c34b8879acb2ull},
      {kTL1, {1536, 1536, 128, 64, 64}, 589824, 0x1ae0f240bf3dfb34ull},
      {kTL1, {3200, 3200, 320, 128, 64}, 2560000, 0xa14c2571f0bc5497ull},
      {kTL2, {128, 256, 128, 96, 32}, 8192, 0xcd63697899768c38ull},
      {kTL2, {96, 320, 96, 96, 32}, 7424, 0x56f702dc71e55191ull},
      {kTL2, {32, 272, 32, 48, 32}, 2154, 0x0b3234cd9915377dull},
      {kTL2, {1536, 1536, 128, 192, 32}, 507904, 0x0dba2796fcf32192ull},
      {kTL2, {1536, 4096, 256, 96, 32}, 1327104, 0x87b59ca2e612ddd2ull},
      {kTL2, {3200, 3200, 320, 96, 32}, 2167466, 0x5962bb4eb2d88e5cull},
      {kTL2, {640, 2560, 128, 96, 32}, 348160, 0x10504160dcc2d2d2ull},
  };
  for (const Golden& g : cases) {
    const std::vector<int8_t> w = formula_matrix(g.config.m, g.config.k);
    auto packed = tl_pack(g.type, g.config, w.data());
    ASSERT_TRUE(packed.ok()) << packed.status().to_string();
    ASSERT_GE(packed->size(), g.size);
    ASSERT_LT(packed->size(), g.size + 32);  // TL2: rounded up to 32, where the scale goes
    EXPECT_EQ(fnv1a(packed->data(), g.size), g.fnv) << type_name(g.type) << " " << g.config.m << " x " << g.config.k;
    for (size_t i = g.size; i < packed->size(); ++i) ASSERT_EQ((*packed)[i], 0);
  }
}

TEST(QuantTl, RoundTripsExactly) {
  std::vector<std::pair<uint32_t, TlKernelConfig>> cases;
  // bitnet.cpp's configs (large, 3B, 8B), the 2B-4T shapes with this engine's default configs, and odd tilings.
  for (uint32_t type : {uint32_t{kTL1}, uint32_t{kTL2}}) {
    for (auto [m, k] : {std::pair<int64_t, int64_t>{1536, 4096}, {4096, 1536}, {3200, 3200}, {1024, 4096}})
      cases.push_back({type, *builtin_tl_config(type, m, k)});
    for (auto [m, k] : {std::pair<int64_t, int64_t>{2560, 2560}, {640, 2560}, {6912, 2560}, {2560, 6912}})
      cases.push_back({type, default_tl_config(type, m, k).value()});
  }
  cases.push_back({kTL1, {96, 192, 96, 64, 32}});
  cases.push_back({kTL1, {64, 8, 64, 4, 64}});
  cases.push_back({kTL2, {32, 272, 32, 48, 32}});   // K % BK = 32
  cases.push_back({kTL2, {64, 512, 64, 192, 32}});  // K % BK = 128
  cases.push_back({kTL2, {96, 480, 96, 216, 32}});  // K % BK = 48 is no multiple of 32: refused below
  uint64_t seed = 1;
  for (const auto& [type, c] : cases) {
    const std::vector<int8_t> w = random_ternary(c.m * c.k, seed++);
    auto packed = tl_pack(type, c, w.data());
    if (c.bk == 216) {
      ASSERT_FALSE(packed.ok());
      EXPECT_EQ(packed.status().code(), StatusCode::kUnsupported);
      continue;
    }
    ASSERT_TRUE(packed.ok()) << packed.status().to_string();
    EXPECT_EQ(packed->size(), tl_scale_offset(type, c.k, c.m).value());
    // Every level this CPU has: TL2's triples take an AVX2 path (sign bits in vectors, 8-byte row stores).
    const IsaLevel before = active_isa();
    for (int level = 0; level <= static_cast<int>(max_supported_isa()); ++level) {
      set_active_isa(static_cast<IsaLevel>(level));
      std::vector<int8_t> back(w.size(), 9);
      ASSERT_TRUE(tl_unpack(type, c, packed->data(), back.data()).ok());
      ASSERT_EQ(back, w) << type_name(type) << " " << c.m << " x " << c.k << " at " << isa_name(active_isa());
    }
    set_active_isa(before);
  }
}

// tl_quantize + to_ternary_tl give exactly the weights and scale that I2_S gives for the same tensor.
TEST(QuantTl, ToTernaryMatchesI2s) {
  for (uint32_t type : {uint32_t{kTL1}, uint32_t{kTL2}}) {
    const TlKernelConfig c = default_tl_config(type, 128, 384).value();
    std::vector<float> x = test::ternary_data(c.m, c.k, c.k, 7);
    for (float& v : x) v *= 0.375f;
    auto tl = tl_quantize(type, c, x.data());
    ASSERT_TRUE(tl.ok()) << tl.status().to_string();
    EXPECT_EQ(tl->size(), tensor_bytes(type, {c.k, c.m}).value());
    auto i2 = quantize_tensor(kI2_S, x.data(), c.k, c.m);
    ASSERT_TRUE(i2.ok());
    auto a = to_ternary_tl(type, tl->data(), c.k, c.m, c);
    auto b = to_ternary(kI2_S, i2->data(), c.k, c.m);
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(a->scales, b->scales);
    EXPECT_EQ(a->scales[0], 0.375f);
    EXPECT_EQ(a->group, b->group);
    EXPECT_EQ(a->act_quant, b->act_quant);
    EXPECT_EQ(std::vector<uint8_t>(a->codes(), a->codes() + c.m * c.k / 4),
              std::vector<uint8_t>(b->codes(), b->codes() + c.m * c.k / 4));
    // The same into a given buffer, which the matrix then views.
    std::vector<uint8_t> dst(static_cast<size_t>(c.m * c.k / 4));
    auto d = to_ternary_tl(type, tl->data(), c.k, c.m, c, nullptr, dst.data());
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    EXPECT_EQ(d->view, dst.data());
    EXPECT_TRUE(d->owned.empty());
    EXPECT_EQ(dst, std::vector<uint8_t>(b->codes(), b->codes() + c.m * c.k / 4));
  }
}

// Rows whose length is no multiple of 128 (3B's 8640, 3200) keep their last columns in the layout's tail.
TEST(QuantTl, ToTernaryKeepsEveryColumn) {
  for (auto [type, c] : {std::pair<uint32_t, TlKernelConfig>{kTL2, {32, 272, 32, 48, 32}},
                         std::pair<uint32_t, TlKernelConfig>{kTL1, {96, 192, 96, 64, 32}}}) {
    const std::vector<int8_t> w = random_ternary(c.m * c.k, 11);
    std::vector<uint8_t> bytes = tl_pack(type, c, w.data()).value();
    bytes.resize(bytes.size() + 32, 0);
    test::put_f32(bytes, bytes.size() - 32, 0.25f);
    auto m = to_ternary_tl(type, bytes.data(), c.k, c.m, c);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    EXPECT_EQ(m->scales, std::vector<float>(static_cast<size_t>(c.m), 0.25f));
    for (int64_t r = 0; r < c.m; ++r)
      for (int64_t k = 0; k < c.k; ++k)
        ASSERT_EQ(m->weight(r, k), w[static_cast<size_t>(r * c.k + k)]) << r << ", " << k;
  }
}

TEST(QuantTl, SizesAreGgmls) {
  // TL1: M*K/4 + 32; TL2: roundup32((K-256)*M/3*5/8 + 256*M/2*4/8) + 32.
  EXPECT_EQ(tensor_bytes(kTL1, {1536, 4096}).value(), 1536u * 4096 / 4 + 32);
  EXPECT_EQ(tensor_bytes(kTL2, {4096, 1536}).value(), 1327104u + 32);
  EXPECT_EQ(tensor_bytes(kTL2, {272, 32}).value(), 2176u + 32);  // 2154 rounded up to 32
  EXPECT_EQ(tl_scale_offset(kTL2, 272, 32).value(), 2176u);
  EXPECT_EQ(tensor_bytes(kTL2, {128, 4}).status().code(), StatusCode::kFormatError);  // K < 256
  EXPECT_EQ(tensor_bytes(kTL2, {256, 4, 2}).status().code(), StatusCode::kFormatError);
  EXPECT_TRUE(is_supported(kTL1));
  EXPECT_TRUE(is_supported(kTL2));
}

TEST(QuantTl, ConfigsAreCheckedAndFound) {
  EXPECT_EQ(*builtin_tl_config(kTL2, 3200, 8640), (TlKernelConfig{3200, 8640, 160, 96, 32}));
  EXPECT_EQ(*builtin_tl_config(kTL1, 4096, 14336), (TlKernelConfig{4096, 14336, 128, 64, 64}));
  EXPECT_EQ(builtin_tl_config(kTL2, 2560, 2560), nullptr);  // no 2B-4T config upstream
  for (uint32_t type : {uint32_t{kTL1}, uint32_t{kTL2}})
    for (int64_t m : {1536, 3200, 8640, 14336, 1024, 4096})
      for (int64_t k : {1536, 3200, 4096, 8640, 14336})
        if (const TlKernelConfig* c = builtin_tl_config(type, m, k)) {
          EXPECT_TRUE(check_tl_config(type, *c).ok()) << check_tl_config(type, *c).to_string();
        }
  struct Bad {
    uint32_t type;
    TlKernelConfig c;
    std::string needle;
  };
  const Bad bad[] = {
      {kTL1, {100, 256, 64, 128, 32}, "M is not a multiple of BM"},
      {kTL1, {128, 256, 128, 128, 16}, "bm must be 32 or 64"},
      {kTL1, {128, 200, 128, 128, 32}, "K is not a multiple of BK"},
      {kTL2, {128, 256, 128, 96, 64}, "bm must be 32"},
      {kTL2, {128, 256, 128, 100, 32}, "BK is not a multiple of 24"},
      {kTL2, {128, 600, 128, 288, 32}, "K % BK is not a multiple of 32"},
      {kTL2, {128, 600, 128, 312, 32}, "K % BK exceeds 256"},
      {kTL2, {128, 192, 128, 96, 32}, "K is below 256"},
  };
  for (const Bad& b : bad) {
    Status s = check_tl_config(b.type, b.c);
    EXPECT_EQ(s.code(), StatusCode::kUnsupported) << b.needle;
    EXPECT_NE(s.message().find(b.needle), std::string::npos) << s.to_string();
  }
  auto none = find_tl_config(kTL2, 2560, 2560, {});
  EXPECT_EQ(none.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(none.status().message().find("2560 rows x 2560 columns: no known kernel config"), std::string::npos);
  const TlKernelConfig mine{2560, 2560, 128, 96, 32};
  EXPECT_EQ(find_tl_config(kTL2, 2560, 2560, {mine}).value(), mine);
  auto parsed = parse_tl_configs({2560, 2560, 128, 96, 32, 640, 2560, 128, 96, 32});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(serialize_tl_configs(*parsed), (std::vector<int32_t>{2560, 2560, 128, 96, 32, 640, 2560, 128, 96, 32}));
  EXPECT_EQ(parse_tl_configs({1, 2, 3}).status().code(), StatusCode::kFormatError);
  EXPECT_EQ(parse_tl_configs({1, 2, 3, 4, 0}).status().code(), StatusCode::kFormatError);
}

TEST(QuantTl, InvalidIndicesNameTheWeight) {
  const TlKernelConfig c1{96, 192, 96, 64, 32};
  const std::vector<int8_t> w1 = random_ternary(c1.m * c1.k, 5);
  std::vector<uint8_t> p1 = tl_pack(kTL1, c1, w1.data()).value();
  p1[0] = 0x94;  // first byte: rows 0, pairs 0 and 1; index 9 is no pair of trits
  std::vector<int8_t> out(w1.size());
  Status s = tl_unpack(kTL1, c1, p1.data(), out.data());
  EXPECT_EQ(s.code(), StatusCode::kFormatError);
  EXPECT_NE(s.message().find("TL1 row 0, column 0: invalid index 9"), std::string::npos) << s.to_string();

  const TlKernelConfig c2{32, 272, 32, 48, 32};
  const std::vector<int8_t> w2 = random_ternary(c2.m * c2.k, 6);
  std::vector<uint8_t> p2 = tl_pack(kTL2, c2, w2.data()).value();
  std::vector<uint8_t> q2 = p2;
  q2[0] = 0xe0;  // triple magnitude 14 (row 0, triple 0)
  out.assign(w2.size(), 0);
  s = tl_unpack(kTL2, c2, q2.data(), out.data());
  EXPECT_EQ(s.code(), StatusCode::kFormatError);
  EXPECT_NE(s.message().find("TL2 row 0, column 0: invalid index 14"), std::string::npos) << s.to_string();
  // The trailing pairs (columns 240..271) start after 32*240/6 triple bytes and 32*240/24 sign bytes.
  q2 = p2;
  q2[32 * 240 / 6 + 32 * 240 / 24] = 0x0f;
  s = tl_unpack(kTL2, c2, q2.data(), out.data());
  EXPECT_EQ(s.code(), StatusCode::kFormatError);
  EXPECT_NE(s.message().find("TL2 row 0, column 242: invalid index 15"), std::string::npos) << s.to_string();
}

// Row tiles are unpacked one at a time (on several threads where there are CPUs): a bad triple anywhere is reported
// before a bad pair in an earlier tile, as one pass over the whole tensor reports it, at every ISA level.
TEST(QuantTl, ABadTripleOutranksAnEarlierBadPair) {
  const TlKernelConfig c{96, 272, 32, 48, 32};  // three row tiles of 32 rows; columns 240..271 in pairs
  const std::vector<int8_t> w = random_ternary(c.m * c.k, 7);
  std::vector<uint8_t> p = tl_pack(kTL2, c, w.data()).value();
  const int64_t tile_triples = 32 * 240 / 6, triples = c.m * 240 / 6, signs = c.m * 240 / 24;
  const std::vector<uint8_t> good = p;
  p[triples + signs] = 0x0f;       // tile 0, row 0: the pair at column 242 has index 15
  p[2 * tile_triples + 1] = 0xe0;  // tile 2, triple byte 1 (row 65): magnitude 14
  const IsaLevel before = active_isa();
  for (int level = 0; level <= static_cast<int>(max_supported_isa()); ++level) {
    set_active_isa(static_cast<IsaLevel>(level));
    std::vector<int8_t> out(w.size());
    Status s = tl_unpack(kTL2, c, p.data(), out.data());
    EXPECT_EQ(s.code(), StatusCode::kFormatError);
    EXPECT_NE(s.message().find("TL2 row 65, column 0: invalid index 14"), std::string::npos) << s.to_string();
    std::vector<uint8_t> pair_only = p;  // without the bad triple, the pair is the error
    pair_only[2 * tile_triples + 1] = good[2 * tile_triples + 1];
    s = tl_unpack(kTL2, c, pair_only.data(), out.data());
    EXPECT_NE(s.message().find("TL2 row 0, column 242: invalid index 15"), std::string::npos) << s.to_string();
    ASSERT_TRUE(tl_unpack(kTL2, c, good.data(), out.data()).ok());
    EXPECT_EQ(out, w);
  }
  set_active_isa(before);
}

TEST(QuantTl, ToTernaryTlRejectsAMismatchedConfig) {
  std::vector<uint8_t> data(tensor_bytes(kTL2, {256, 128}).value(), 0x44);
  auto m = to_ternary_tl(kTL2, data.data(), 256, 128, {128, 512, 128, 96, 32});
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  m = to_ternary_tl(kI2_S, data.data(), 256, 128, {128, 256, 128, 96, 32});
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
  m = to_ternary_tl(kTL2, data.data(), 256, 128, {128, 256, 128, 100, 32});
  EXPECT_EQ(m.status().code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace bitnet::quant
