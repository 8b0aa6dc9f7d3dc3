// Parity harness: every ternary kernel at every ISA level this machine has, on fresh random data of odd and
// even shapes and token counts, against the scalar reference. Integer dots are exact and the float epilogue
// is shared, so outputs must be bit-equal.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "kernels/ternary.hpp"

namespace bitnet::kernels {
namespace {

quant::TernaryMatrix random_matrix(int64_t rows, int64_t cols, int64_t group, quant::ActQuant rule, std::mt19937& rng) {
  quant::TernaryMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.group = group;
  m.act_quant = rule;
  m.owned.assign(static_cast<size_t>(rows * cols / 4), 0);
  // Mostly -1/0/+1; 1 in 16 is the unused code 3 (+2), which I2_S files are not scanned for: every kernel must
  // agree on it too (and it is the worst case for 16-bit intermediate sums).
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const uint8_t code = rng() % 16 == 0 ? 3 : static_cast<uint8_t>(rng() % 3);
      quant::put_ternary_code(m.owned.data() + r * m.row_bytes(), cols, c, code);
    }
  std::uniform_real_distribution<float> s(0.25f, 4.0f);
  for (int64_t i = 0; i < rows * (cols / group); ++i) m.scales.push_back(s(rng));
  return m;
}

// An ISA level, and at AVX-512 whether AMX tiles take batches of 16 tokens or more (where the CPU has them, or in
// the emulated build) and which build of the kernel runs (AVX2 with or without AVX-VNNI, AVX-512 with or without
// GFNI decoding, where the CPU has them):
// while the AmxSetting of a Variant is alive, AMX is set as it says.
struct Variant {
  IsaLevel level;
  bool amx = false;
  TernaryMatmulFn fn = nullptr;  // nullptr: the dispatcher's for the level
  const char* build = "";
  std::string name() const { return std::string(isa_name(level)) + build + (amx ? "+amx" : ""); }
  TernaryMatmulFn matmul() const { return fn != nullptr ? fn : ternary_kernel(level).matmul; }
};

class AmxSetting {
 public:
  explicit AmxSetting(bool on) : before_(set_amx_enabled(on)) {}
  ~AmxSetting() { set_amx_enabled(before_); }
  AmxSetting(const AmxSetting&) = delete;
  AmxSetting& operator=(const AmxSetting&) = delete;

 private:
  bool before_;
};

std::vector<Variant> levels_here() {
  std::vector<Variant> v = {{IsaLevel::kScalar}};
#if defined(__x86_64__)
  // AVX2: where the CPU has AVX-VNNI, its build (the dispatcher's) and the plain one
  if (static_cast<int>(max_supported_isa()) >= static_cast<int>(IsaLevel::kAvx2) && cpu_features().avxvnni) {
    v.push_back({IsaLevel::kAvx2, false, ternary_matmul_avx2_vnni, " (vnni)"});
    v.push_back({IsaLevel::kAvx2, false, ternary_matmul_avx2, " (maddubs)"});
  } else if (static_cast<int>(max_supported_isa()) >= static_cast<int>(IsaLevel::kAvx2)) {
    v.push_back({IsaLevel::kAvx2});
  }
  if (max_supported_isa() == IsaLevel::kAvx512) {
    v.push_back({IsaLevel::kAvx512, false, ternary_matmul_avx512, " (shifts)"});
    if (cpu_features().gfni) v.push_back({IsaLevel::kAvx512, false, ternary_matmul_avx512_gfni, " (gfni)"});
    if (cpu_features().amx_int8) v.push_back({IsaLevel::kAvx512, true});
  }
#elif defined(__aarch64__)
  // NEON, and NEON with dotprod where the CPU (or qemu) has it: with i8mm (the dispatcher's) and without
  if (static_cast<int>(max_supported_isa()) >= static_cast<int>(IsaLevel::kNeon)) v.push_back({IsaLevel::kNeon});
  if (max_supported_isa() == IsaLevel::kNeonDot) {
    if (cpu_features().neon_i8mm) v.push_back({IsaLevel::kNeonDot, false, ternary_matmul_neon_i8mm, " (i8mm)"});
    v.push_back({IsaLevel::kNeonDot, false, ternary_matmul_neon_dot, " (sdot)"});
  }
#endif
  return v;
}

// Once per run: which variants are missing here (AMX, AVX-VNNI, VBMI; i8mm on aarch64), said where they are.
void note_absent_variants() {
  static const bool once = [] {
#if defined(__x86_64__)
    if (!cpu_features().amx_int8)
      std::printf("[   NOTE   ] no AMX-INT8 here: the AMX prompt kernel's parity is not checked in this run\n");
    if (max_supported_isa() == IsaLevel::kAvx512 && !cpu_features().avx512vbmi)
      std::printf(
          "[   NOTE   ] no AVX-512 VBMI here: the dense layout's AVX-512 kernels are not checked in this run (the "
          "reference reads it)\n");
    if (!cpu_features().avxvnni)
      std::printf(
          "[   NOTE   ] no AVX-VNNI here: the AVX2 level's AVX-VNNI kernels' parity is not checked in this run\n");
#elif defined(__aarch64__)
    if (!cpu_features().neon_i8mm)
      std::printf("[   NOTE   ] no i8mm here: the smmla prompt kernel's parity is not checked in this run\n");
#endif
    return true;
  }();
  (void)once;
}

struct Shape {
  int64_t rows, cols, tokens;
};

void check_rule(quant::ActQuant rule, const std::vector<Shape>& shapes) {
  std::random_device seed_source;  // fresh data each run; the seed is printed on failure
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  note_absent_variants();
  for (const Variant& v : levels_here()) {
    const AmxSetting amx(v.amx);
    const IsaLevel level = v.level;
    ASSERT_EQ(ternary_kernel(level).isa, level);
#if defined(__x86_64__)
    if (level == IsaLevel::kAvx2 && cpu_features().avxvnni) {  // the dispatcher's AVX2 build is AVX-VNNI's
      ASSERT_EQ(ternary_kernel(level).matmul, ternary_matmul_avx2_vnni);
    }
#elif defined(__aarch64__)
    if (level == IsaLevel::kNeonDot && cpu_features().neon_i8mm) {  // and the dotprod level's is i8mm's
      ASSERT_EQ(ternary_kernel(level).matmul, ternary_matmul_neon_i8mm);
    }
#endif
    const TernaryMatmulFn matmul = v.matmul();
    for (const Shape& sh : shapes) {
      const int64_t group = rule == quant::ActQuant::kQ8K ? 256 : sh.cols;
      auto w = random_matrix(sh.rows, sh.cols, group, rule, rng);
      std::vector<float> x(static_cast<size_t>(sh.tokens * sh.cols));
      for (auto& v : x) v = nd(rng) * (rng() % 7 == 0 ? 20.0f : 1.0f);  // some outliers
      PreparedActs a;
      prepare_acts(rule, x.data(), sh.tokens, sh.cols, a);
      std::vector<float> want(static_cast<size_t>(sh.tokens * sh.rows), -1.0f), got(want.size(), -2.0f);
      ternary_matmul_ref(w, a.qa, want.data(), sh.rows, 0, sh.rows);
      // split rows in two ranges as the thread pool does
      const int64_t mid = sh.rows / 2;
      matmul(w, a, got.data(), sh.rows, 0, mid);
      matmul(w, a, got.data(), sh.rows, mid, sh.rows);
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_EQ(std::memcmp(&want[i], &got[i], 4), 0)
            << v.name() << " " << sh.rows << "x" << sh.cols << " tokens " << sh.tokens << " index " << i << ": "
            << got[i] << " vs reference " << want[i] << " (seed " << seed << ")";
    }
  }
}

TEST(KernelParity, TernaryPerTokenAbsmax) {
  // columns: whole 128-blocks, blocks plus a tail (132, 260, 200, 388), tail only (4, 100); tokens 1..9
  check_rule(quant::ActQuant::kPerTokenAbsmax, {{1, 128, 1},
                                                {3, 128, 2},
                                                {7, 256, 5},
                                                {16, 384, 4},
                                                {5, 260, 3},
                                                {9, 132, 7},
                                                {4, 4, 1},
                                                {3, 100, 6},
                                                {8, 200, 8},
                                                {2, 388, 9},
                                                {33, 2560, 1},
                                                // single tokens, rows in fours (NEON's generation path) and a tail
                                                {9, 260, 1},
                                                {6, 388, 1},
                                                {6, 6912, 9},
                                                // batches of 8 and more (the AVX-512 panel kernel): rows that are
                                                // and are not whole 16-row panels, odd token counts
                                                {16, 128, 8},
                                                {37, 384, 19},
                                                {64, 2560, 16},
                                                {50, 640, 13},
                                                {3, 256, 9},
                                                {21, 260, 11},
                                                // several 128-row chunks per call (double-buffered rearranging)
                                                {600, 256, 9},
                                                {300, 384, 33},
                                                // 16 tokens or more (AMX where present): token tiles in pairs, an odd
                                                // one, a partial last one; panels in pairs, a lone and a partial one
                                                {48, 1536, 64},
                                                {50, 640, 47},
                                                {17, 256, 16},
                                                {83, 2560, 31},
                                                {40, 6912, 48},
                                                // batches with a tail of whole 16s after the blocks (the AVX-512
                                                // panel kernel's short block: bitnet_b1_58-3B's ffn_down has 8640
                                                // columns), tail only, and 16 tokens or more (past AMX)
                                                {37, 8640, 13},
                                                {19, 192, 8},
                                                {40, 144, 17},
                                                {33, 112, 9},
                                                {50, 496, 16},
                                                {24, 8640, 48}});
}

// Single tokens against 8 or more rows of several groups ({19, 768, 1}, {16, 512, 5}) take the generation
// kernels' grouped epilogues (4 rows a step on AVX2, 8 on AVX-512; {40, 768, 1} with its weight scales fetched
// two tiles ahead; 16 or more groups below).
TEST(KernelParity, TernaryQ8K) {
  check_rule(quant::ActQuant::kQ8K, {{1, 256, 1},
                                     {3, 512, 2},
                                     {7, 768, 5},
                                     {16, 256, 4},
                                     {11, 1536, 3},
                                     {2, 2560, 8},
                                     {5, 6912, 9},
                                     {37, 768, 19},
                                     {48, 512, 8},
                                     {17, 1024, 12},
                                     {24, 256, 1},
                                     {17, 256, 5},
                                     {520, 512, 10},
                                     {19, 768, 1},
                                     {16, 512, 5},
                                     {9, 1024, 1},
                                     {40, 768, 1},
                                     // single tokens over many groups (16, 18, and 27 as 2B-4T's ffn_down),
                                     // rows 8-aligned or not
                                     {16, 4096, 1},
                                     {24, 4608, 1},
                                     {21, 6912, 1},
                                     // the AVX-512 prompt kernel's odd panel after pairs (halves of 35 and 48
                                     // rows: 3 panels, the third partial or whole) with its scales panel; 256 groups
                                     {70, 1024, 8},
                                     {96, 768, 9},
                                     {35, 65536, 8},
                                     // 16 tokens or more (AMX where present), several groups
                                     {64, 1024, 40},
                                     {37, 2560, 17},
                                     {16, 6912, 32}});
}

// w (rows' weights in another layout) times fresh activations of `tokens` tokens at every level and build, rows split
// at a panel boundary and inside a panel, against the reference on rows.
void check_layout(const char* layout, const quant::TernaryMatrix& rows, const quant::TernaryMatrix& w,
                  quant::ActQuant rule, int64_t tokens, std::mt19937& rng, unsigned seed) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(tokens * rows.cols));
  for (auto& v : x) v = nd(rng) * (rng() % 7 == 0 ? 20.0f : 1.0f);
  PreparedActs a;
  prepare_acts(rule, x.data(), tokens, rows.cols, a);
  std::vector<float> want(static_cast<size_t>(tokens * rows.rows), -1.0f);
  ternary_matmul_ref(rows, a.qa, want.data(), rows.rows, 0, rows.rows);
  for (const Variant& v : levels_here())
    for (int64_t mid : {rows.rows / 2 / 16 * 16, rows.rows / 2 + 5}) {
      const AmxSetting amx(v.amx);
      std::vector<float> got(want.size(), -2.0f);
      v.matmul()(w, a, got.data(), rows.rows, 0, mid);
      v.matmul()(w, a, got.data(), rows.rows, mid, rows.rows);
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_EQ(std::memcmp(&want[i], &got[i], 4), 0)
            << layout << ", " << v.name() << " " << rows.rows << "x" << rows.cols << " tokens " << tokens
            << " split at " << mid << " index " << i << ": " << got[i] << " vs reference " << want[i] << " (seed "
            << seed << ")";
    }
}

// Matrices in the panel layout (quant/ternary.hpp; the loader makes them for AVX-512 and AVX2) against the reference
// on the same weights in rows, at every level and build (AVX2 with and without AVX-VNNI): single tokens and small
// batches (the panel generation kernels), batches of 8 and more (the prompt kernels reading panels), rows split at a
// panel boundary and inside a panel (its rows outside whole panels go to the reference).
void check_panels(quant::ActQuant rule, const std::vector<Shape>& shapes) {
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  for (const Shape& sh : shapes) {
    const int64_t group = rule == quant::ActQuant::kQ8K ? 256 : sh.cols;
    const quant::TernaryMatrix rows = random_matrix(sh.rows, sh.cols, group, rule, rng);
    quant::TernaryMatrix w = random_matrix(0, sh.cols, group, rule, rng);
    w.rows = rows.rows;
    w.owned = rows.owned;
    w.scales = rows.scales;
    ASSERT_TRUE(quant::panels_fit(w));
    quant::to_panels(w, w.owned.data());
    ASSERT_NO_FATAL_FAILURE(check_layout("panels", rows, w, rule, sh.tokens, rng, seed));
  }
}

TEST(KernelParity, TernaryPanels) {
  check_panels(quant::ActQuant::kPerTokenAbsmax, {{16, 128, 1},
                                                  {32, 384, 1},
                                                  {48, 2560, 1},
                                                  {64, 1536, 2},
                                                  {16, 6912, 3},
                                                  {48, 512, 4},  // generation tokens in pairs: two, one left
                                                  {32, 1280, 6},
                                                  {96, 256, 7},
                                                  {32, 640, 8},
                                                  {48, 384, 9},
                                                  {144, 1536, 19},
                                                  {272, 256, 16},
                                                  {80, 640, 45}});
  check_panels(quant::ActQuant::kQ8K, {{16, 256, 1},
                                       {32, 512, 1},
                                       {48, 2560, 1},
                                       {16, 6912, 1},
                                       {64, 768, 2},
                                       {32, 4096, 5},
                                       {48, 768, 6},
                                       {80, 1536, 8},
                                       {48, 512, 9},
                                       {160, 768, 17},
                                       {48, 1024, 33},
                                       // 256 groups, the most the kernels take
                                       {32, 65536, 1},
                                       {32, 65536, 9}});
}

// Matrices in the dense panel layout (five weights a byte; the loader makes them for AVX-512 with VBMI) against the
// reference on the same weights in rows, at every level: single tokens and small batches (the dense generation
// kernel), batches of 8 and more (the prompt kernels, on panels decoded from it), 16 and more (AMX where present),
// rows split at a panel boundary and inside a panel. Super-blocks alone, and with tails of 1, 2 and 4 blocks. The
// codes are the reference's random ones with no 3 in the super-blocks (the layout has none; the tail keeps them).
TEST(KernelParity, TernaryDense) {
  note_absent_variants();
  std::mt19937 rng(std::random_device{}());
  const unsigned seed = static_cast<unsigned>(rng());
  rng.seed(seed);
  const quant::ActQuant rule = quant::ActQuant::kPerTokenAbsmax;
  for (const Shape& sh : std::vector<Shape>{{16, 640, 1},
                                            {32, 1280, 2},
                                            {48, 768, 3},
                                            {64, 2560, 4},
                                            {32, 3200, 6},
                                            {64, 2560, 1},
                                            {16, 6912, 1},
                                            {32, 1536, 7},
                                            {96, 1920, 8},
                                            {48, 896, 9},
                                            {32, 2560, 17},
                                            {80, 1536, 33}}) {
    quant::TernaryMatrix rows = random_matrix(sh.rows, sh.cols, sh.cols, rule, rng);
    for (int64_t r = 0; r < sh.rows; ++r)  // 3 -> 2 in the super-blocks: clear the low bit of every field at 3
      for (int64_t i = 0; i < sh.cols / quant::kDenseCols * quant::kDenseCols / 4; ++i) {
        uint8_t& b = rows.owned.data()[r * rows.row_bytes() + i];
        b = static_cast<uint8_t>(b & ~(b & (b >> 1) & 0x55));
      }
    quant::TernaryMatrix w = rows;
    ASSERT_TRUE(quant::dense_fit(w));
    std::vector<uint8_t> codes(static_cast<size_t>(sh.rows * w.dense_row_bytes()));
    ASSERT_TRUE(quant::to_dense_panels(w, rows.codes(), codes.data()));
    w.owned.clear();
    w.view = codes.data();
    ASSERT_NO_FATAL_FAILURE(check_layout("dense", rows, w, rule, sh.tokens, rng, seed));
  }
}

// The largest integer partial sums a kernel can meet: every code 3 (+2 when read), and every code 2 (+1: kernels
// may sum ternary codes further in 16 bits), against activations all at the rules' extreme (-127), and at -128
// (set by hand: the quantizers do not produce it, but a kernel's bound must hold for any int8), over rows long
// enough for a 16-bit intermediate summed too far to overflow; batches of 1-4 tokens and of 8 or more (AVX2 takes
// different paths for them); in rows, and in panels where the rows are whole panels.
TEST(KernelParity, ExtremeSumsAreExact) {
  int dense_checked = 0;
  for (quant::ActQuant rule : {quant::ActQuant::kPerTokenAbsmax, quant::ActQuant::kQ8K}) {
    for (const Shape& sh : std::vector<Shape>{{20, 6912, 1},
                                              {33, 2560, 9},
                                              {16, 4096, 4},
                                              {12, 6912, 8},
                                              {10, 4096, 9},
                                              {8, 4224, 8},
                                              {6, 1536, 8},
                                              {20, 6912, 17},
                                              {33, 4096, 32},
                                              {12, 8640, 9},  // a tail of 64 after 67 blocks
                                              // whole 16-row panels (also tried in the panel layout)
                                              {32, 6912, 1},
                                              {48, 4096, 16}}) {
      for (uint8_t fill : {uint8_t{0xff}, uint8_t{0xaa}}) {
        for (bool min_int8 : {false, true}) {
          const int64_t group = rule == quant::ActQuant::kQ8K ? 256 : sh.cols;
          if (sh.cols % group != 0) continue;
          quant::TernaryMatrix w;
          w.rows = sh.rows;
          w.cols = sh.cols;
          w.group = group;
          w.act_quant = rule;
          w.owned.assign(static_cast<size_t>(sh.rows * sh.cols / 4), fill);
          w.scales.assign(static_cast<size_t>(sh.rows * (sh.cols / group)), 1.0f);
          std::vector<float> x(static_cast<size_t>(sh.tokens * sh.cols), -1.0f);
          PreparedActs a;
          prepare_acts(rule, x.data(), sh.tokens, sh.cols, a);
          ASSERT_LE(a.qa.q[0], -127);
          if (min_int8) {
            std::fill(a.qa.q.begin(), a.qa.q.end(), int8_t{-128});
            std::fill(a.sums.begin(), a.sums.end(), static_cast<int32_t>(-128 * group));
            std::fill(a.pairs.begin(), a.pairs.end(), int8_t{-128});  // q's copy for i8mm (aarch64), if any
          }
          std::vector<float> want(static_cast<size_t>(sh.tokens * sh.rows));
          ternary_matmul_ref(w, a.qa, want.data(), sh.rows, 0, sh.rows);
          // the same matrix in panels too, where its rows are whole panels
          quant::TernaryMatrix wp = w;
          const bool panels = quant::panels_fit(wp);
          if (panels) quant::to_panels(wp, wp.owned.data());
          // and in the dense panel layout, where it fits and holds no code 3 (fill 0xaa: every weight +1)
          quant::TernaryMatrix wd = w;
          std::vector<uint8_t> dense_codes(static_cast<size_t>(sh.rows * w.dense_row_bytes()));
          const bool dense = quant::dense_fit(wd) && quant::to_dense_panels(wd, w.codes(), dense_codes.data());
          if (dense) {
            wd.owned.clear();
            wd.view = dense_codes.data();
            ++dense_checked;
          }
          for (const Variant& v : levels_here()) {
            const AmxSetting amx(v.amx);
            for (const quant::TernaryMatrix* m : {&w, &wp, &wd}) {
              if ((m == &wp && !panels) || (m == &wd && !dense)) continue;
              std::vector<float> got(want.size(), 0.0f);
              v.matmul()(*m, a, got.data(), sh.rows, 0, sh.rows);
              ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * 4), 0)
                  << v.name()
                  << (m == &wp   ? " panels "
                      : m == &wd ? " dense "
                                 : " ")
                  << sh.rows << "x" << sh.cols << " tokens " << sh.tokens << " fill " << int{fill}
                  << (min_int8 ? " at -128" : " at -127") << ": " << got[0] << " vs reference " << want[0];
            }
          }
        }
      }
    }
  }
  EXPECT_GT(dense_checked, 0);
}

TEST(KernelParity, PreparedActsKeepNaturalOrderAndSumGroups) {
  std::mt19937 rng(5);
  std::vector<float> x(2 * 512);
  for (auto& v : x) v = static_cast<float>(static_cast<int>(rng() % 200) - 100);
  for (quant::ActQuant rule : {quant::ActQuant::kPerTokenAbsmax, quant::ActQuant::kQ8K}) {
    PreparedActs a;
    prepare_acts(rule, x.data(), 2, 512, a);
    QuantizedActs want;
    quantize_acts_ref(rule, x.data(), 2, 512, want);
    EXPECT_EQ(a.qa.q, want.q);
    const int64_t group = rule == quant::ActQuant::kQ8K ? 256 : 512;
    ASSERT_EQ(a.sums.size(), static_cast<size_t>(2 * 512 / group));
    for (int64_t g = 0; g < 2 * 512 / group; ++g) {
      int32_t sum = 0;
      for (int64_t c = 0; c < group; ++c) sum += want.q[static_cast<size_t>(g * group + c)];
      EXPECT_EQ(a.sums[static_cast<size_t>(g)], sum);
    }
  }
}

// One token prepared from a row held elsewhere (the forward pass's sub-norms quantize from a scratch row), at an odd
// offset, tokens in reverse order: the scalar reference's codes and scales and the group sums of those codes, at
// every ISA level.
TEST(KernelParity, PreparedTokenFromAnyRowMatchesReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t n = 3, cols = 768;
  std::vector<float> x(static_cast<size_t>(n * cols));
  for (auto& v : x) v = nd(rng) * (rng() % 7 == 0 ? 20.0f : 1.0f);
  const IsaLevel before = active_isa();
  int last_level = -1;
  for (const Variant& v : levels_here()) {
    if (static_cast<int>(v.level) == last_level) continue;  // the quantizers depend on the level alone
    last_level = static_cast<int>(v.level);
    const IsaLevel level = v.level;
    set_active_isa(level);  // the quantizer is picked by the active level
    for (quant::ActQuant rule : {quant::ActQuant::kPerTokenAbsmax, quant::ActQuant::kQ8K}) {
      QuantizedActs want;
      quantize_acts_ref(rule, x.data(), n, cols, want);
      PreparedActs got;
      size_prepared_acts(rule, n, cols, got);
      std::vector<float> buffer(static_cast<size_t>(cols + 1));
      for (int64_t t = n - 1; t >= 0; --t) {
        std::copy(x.begin() + t * cols, x.begin() + (t + 1) * cols, buffer.begin() + 1);
        prepare_acts_token(buffer.data() + 1, t, got);
      }
      EXPECT_EQ(got.qa.q, want.q) << isa_name(level);
      EXPECT_EQ(got.qa.scales, want.scales) << isa_name(level);
      const int64_t group = want.group, groups = cols / group;
      ASSERT_EQ(got.sums.size(), static_cast<size_t>(n * groups));
      for (int64_t t = 0; t < n; ++t)
        for (int64_t g = 0; g < groups; ++g) {
          int32_t sum = 0;
          for (int64_t c = 0; c < group; ++c) sum += want.q[static_cast<size_t>(t * cols + g * group + c)];
          EXPECT_EQ(got.sums[static_cast<size_t>(t * groups + g)], sum) << isa_name(level) << " token " << t;
        }
      // With i8mm (aarch64), the tokens zipped in pairs 8 columns at a time, the odd last one twice; else none.
      const int64_t full = cols / 128 * 128;
      ASSERT_EQ(got.pairs.size(), cpu_features().neon_i8mm ? static_cast<size_t>((n + 1) / 2 * full * 2) : 0u);
      for (size_t i = 0; i < got.pairs.size(); ++i) {
        const int64_t p = static_cast<int64_t>(i) / (full * 2), k = static_cast<int64_t>(i) % (full * 2) / 16;
        const int64_t half = static_cast<int64_t>(i) % 16 / 8, t = std::min(2 * p + half, n - 1);
        ASSERT_EQ(got.pairs[i], want.q[static_cast<size_t>(t * cols + 8 * k + static_cast<int64_t>(i) % 8)])
            << isa_name(level) << " byte " << i;
      }
    }
  }
  set_active_isa(before);
}

#if defined(__x86_64__)
// The AVX2 and AVX-512 absmax quantizers against the scalar one, bit for bit (and the AVX-512 one's sum of codes):
// odd and even lengths, random scales, exact ties (x * s landing on k + 0.5), values beyond the clamp after
// rounding, zeros, NaN and infinities.
TEST(KernelParity, AbsmaxQuantizersAvx2Avx512) {
  if (static_cast<int>(max_supported_isa()) < static_cast<int>(IsaLevel::kAvx2)) GTEST_SKIP() << "no AVX2 here";
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int64_t n : {1, 7, 8, 31, 32, 33, 100, 2560, 6913}) {
    for (int variant = 0; variant < 6; ++variant) {
      std::vector<float> x(static_cast<size_t>(n));
      const float scale = std::ldexp(1.0f, static_cast<int>(rng() % 40) - 20);
      for (auto& v : x) v = nd(rng) * scale;
      if (variant == 1) {  // exact halves: with max 127 the scale is 1, so x * s = x
        for (auto& v : x)
          v = static_cast<float>(static_cast<int>(rng() % 254) - 127) + 0.5f * static_cast<float>(rng() % 2);
        x[0] = 127.0f;
      }
      if (variant == 2) std::fill(x.begin(), x.end(), 0.0f);
      if (variant == 3) x[rng() % x.size()] = std::nanf("");
      if (variant == 4) x[rng() % x.size()] = -INFINITY;
      if (variant == 5) x[rng() % x.size()] = 1e30f;
      std::vector<int8_t> qr(x.size()), qa(x.size());
      const float sr = quantize_row_absmax_ref(x.data(), n, qr.data());
      const float sa = quantize_row_absmax_avx2(x.data(), n, qa.data());
      ASSERT_EQ(std::memcmp(&sr, &sa, sizeof sr), 0) << "n " << n << " variant " << variant << " seed " << seed;
      ASSERT_EQ(qr, qa) << "n " << n << " variant " << variant << " seed " << seed;
      if (static_cast<int>(max_supported_isa()) < static_cast<int>(IsaLevel::kAvx512)) continue;
      std::vector<int8_t> q5(x.size());
      int32_t sum5 = 0x7fffffff;
      const float s5 = quantize_row_absmax_avx512(x.data(), n, q5.data(), &sum5);
      ASSERT_EQ(std::memcmp(&sr, &s5, sizeof sr), 0) << "AVX-512 n " << n << " variant " << variant << " seed " << seed;
      ASSERT_EQ(qr, q5) << "AVX-512 n " << n << " variant " << variant << " seed " << seed;
      int32_t want = 0;
      for (int8_t v : qr) want += v;
      ASSERT_EQ(sum5, want) << "AVX-512 n " << n << " variant " << variant << " seed " << seed;
    }
  }
}
#endif

}  // namespace
}  // namespace bitnet::kernels
