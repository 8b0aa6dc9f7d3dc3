// Attention over F32, F16 and Q8_0 KV rows: every fast kernel bit-equal to the scalar reference at every ISA
// level this machine has (the arithmetic order is part of the definition, kernels/attention.hpp), on random data,
// odd and even context lengths, several head sizes, a second KV head of a GQA row; and the reference against
// attention computed in double from the same stored values, within a bound derived below.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/half.hpp"
#include "kernels/attention.hpp"
#include "kernels/kquant.hpp"
#include "quant/q8_0.hpp"
#include "quant/quant.hpp"

namespace bitnet::kernels {
namespace {

// A KV cache layer of n_pos positions, each a row of n_kv_heads heads of head_dim values stored as `type`.
struct Layer {
  uint32_t type;
  int64_t head_dim, n_kv_heads, n_pos, row_bytes;
  std::vector<uint8_t> k, v;
  std::vector<float> kf, vf;  // the stored values, widened to float ([n_pos][n_kv_heads * head_dim])
};

Layer make_layer(uint32_t type, int64_t head_dim, int64_t n_kv_heads, int64_t n_pos, std::mt19937& rng) {
  Layer L{type, head_dim, n_kv_heads, n_pos, 0, {}, {}, {}, {}};
  const int64_t kv_dim = head_dim * n_kv_heads;
  L.row_bytes = static_cast<int64_t>(quant::tensor_bytes(type, {kv_dim, 1}).value());
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (auto* pair : {&L.k, &L.v}) {
    std::vector<float> x(static_cast<size_t>(kv_dim * n_pos));
    // Keys with a spread of magnitudes, so softmax is neither flat nor one-hot.
    for (auto& e : x) e = nd(rng) * 2.0f;
    auto packed = quant::quantize_tensor(type, x.data(), kv_dim, n_pos);
    EXPECT_TRUE(packed.ok()) << packed.status().to_string();
    *pair = std::move(packed).value();
    // Q8_0's quantizer stores -127..127, but a file or another engine may store -128: a value in about one block in
    // eight is set to it (every kernel must take it exactly).
    if (type == quant::kQ8_0)
      for (size_t b = 0; b + quant::kQ8_0BlockBytes <= pair->size(); b += quant::kQ8_0BlockBytes)
        if (rng() % 8 == 0) (*pair)[b + 2 + rng() % quant::kQ8_0BlockElems] = 0x80;
    std::vector<float>& f = pair == &L.k ? L.kf : L.vf;
    f.resize(x.size());
    EXPECT_TRUE(quant::dequantize_rows(type, pair->data(), kv_dim, n_pos, 0, n_pos, f.data()).ok());
  }
  return L;
}

AttnHead head_of(const Layer& L, const float* q, int64_t kvh, int64_t n_pos) {
  const int64_t head_bytes = L.row_bytes / L.n_kv_heads;
  return {q,
          L.k.data() + kvh * head_bytes,
          L.v.data() + kvh * head_bytes,
          L.row_bytes,
          L.head_dim,
          n_pos,
          1.0f / std::sqrt(static_cast<float>(L.head_dim))};
}

// A block of n_q queries over KV head kvh of L (queries, outputs and positions still to be set).
AttnBlock block_of(const Layer& L, int64_t kvh, int n_q) {
  const AttnHead h = head_of(L, nullptr, kvh, 1);
  AttnBlock b = {};
  b.n_q = n_q;
  b.k = h.k;
  b.v = h.v;
  b.stride = h.stride;
  b.head_dim = h.head_dim;
  b.scale = h.scale;
  return b;
}

const KvAttentionKernel& ref_kernel(uint32_t type) { return *kv_attention_kernel(type, IsaLevel::kScalar); }

struct Shape {
  uint32_t type;
  int64_t head_dim;
};

const Shape kShapes[] = {
    {quant::kF32, 8},    {quant::kF32, 12},   {quant::kF32, 64},   {quant::kF32, 100}, {quant::kF16, 8},
    {quant::kF16, 12},   {quant::kF16, 32},   {quant::kF16, 128},  {quant::kF16, 72},  {quant::kF16, 96},
    {quant::kF16, 200},  {quant::kF32, 40},   {quant::kQ8_0, 32},  {quant::kQ8_0, 64}, {quant::kQ8_0, 96},
    {quant::kQ8_0, 128}, {quant::kQ8_0, 256}, {quant::kQ8_0, 288},  // the largest head the Q8_0 kernels take, and one
                                                                    // past it
};
const int64_t kPositions[] = {1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 129};

TEST(KvAttention, FastKernelsBitEqualReference) {
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  int checked = 0;
  for (const Shape& s : kShapes) {
    // Two KV heads a position (a head's rows are not packed one after another), and one (packed, as the engine's
    // cache stores each head's rows).
    const Layer layers[] = {make_layer(s.type, s.head_dim, 2, 129, rng), make_layer(s.type, s.head_dim, 1, 129, rng)};
    std::vector<float> q(static_cast<size_t>(s.head_dim));
    for (auto& e : q) e = nd(rng);
    // Values an F16 cache's query rounding takes to f16 subnormals, and a tie between two of them.
    q[1] = 3.1e-6f;
    q[2] = -1.5f * std::ldexp(1.0f, -24);
    for (IsaLevel level : {IsaLevel::kAvx2, IsaLevel::kAvx512}) {
      if (static_cast<int>(level) > static_cast<int>(max_supported_isa())) continue;
      const KvAttentionKernel* fast = kv_attention_kernel(s.type, level);
      ASSERT_NE(fast, nullptr);
      ASSERT_NE(fast->scores, kv_attention_kernel(s.type, IsaLevel::kScalar)->scores) << "no fast kernel";
      for (int64_t n_pos : kPositions) {
        for (int64_t kvh : {0, 1, 2}) {
          const Layer& L = layers[kvh / 2];
          const AttnHead h = head_of(L, q.data(), kvh % 2, n_pos);
          std::vector<float> sr(n_pos), sf(n_pos), out_r(s.head_dim), out_f(s.head_dim), p(n_pos);
          ref_kernel(s.type).scores(h, sr.data());
          fast->scores(h, sf.data());
          const std::string where = quant::type_name(s.type) + " head_dim " + std::to_string(s.head_dim) + " n_pos " +
                                    std::to_string(n_pos) + " kv head " + std::to_string(kvh) + " " + isa_name(level) +
                                    " seed " + std::to_string(seed);
          ASSERT_EQ(std::memcmp(sr.data(), sf.data(), sr.size() * 4), 0) << "scores, " << where;
          for (auto& e : p) e = std::fabs(nd(rng));
          ref_kernel(s.type).weighted_sum(h, p.data(), out_r.data());
          fast->weighted_sum(h, p.data(), out_f.data());
          ASSERT_EQ(std::memcmp(out_r.data(), out_f.data(), out_r.size() * 4), 0) << "weighted sum, " << where;
          attend_head(ref_kernel(s.type), h, sr.data(), out_r.data());
          attend_head(*fast, h, sf.data(), out_f.data());
          ASSERT_EQ(std::memcmp(out_r.data(), out_f.data(), out_r.size() * 4), 0) << "attend_head, " << where;
          ++checked;
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no fast attention kernels for this CPU: only the scalar reference exists";
}

// A query with a NaN, or an infinite element (inf - inf in softmax), makes its whole score row NaN: every output is
// then the canonical quiet NaN, at every ISA level, alone (attend_head) and in a block of 8 beside ordinary queries,
// which keep their own results (which of two NaNs an operation passes on depends on operand order, which each
// compiled vector clone of softmax chooses for itself: without the canonical NaN the bits depended on the CPU).
TEST(KvAttention, NanRowsGiveTheCanonicalNanEverywhere) {
  std::mt19937 rng(17);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const uint32_t canonical = 0x7fc00000u;
  for (const Shape& s : kShapes) {
    const Layer L = make_layer(s.type, s.head_dim, 1, 70, rng);
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      std::vector<std::vector<float>> q(8, std::vector<float>(s.head_dim));
      for (auto& row : q)
        for (auto& e : row) e = nd(rng);
      q[3][1] = bad;
      for (IsaLevel level : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvx512}) {
        if (static_cast<int>(level) > static_cast<int>(max_supported_isa())) continue;
        const KvAttentionKernel& kernel = *kv_attention_kernel(s.type, level);
        const std::string where = quant::type_name(s.type) + " head_dim " + std::to_string(s.head_dim) + " " +
                                  isa_name(level) + (std::isnan(bad) ? " NaN" : " inf");
        std::vector<float> out(s.head_dim), scratch(8 * 70);
        attend_head(kernel, head_of(L, q[3].data(), 0, 70), scratch.data(), out.data());
        for (float v : out) {
          uint32_t bits;
          std::memcpy(&bits, &v, 4);
          ASSERT_EQ(bits, canonical) << "attend_head, " << where;
        }
        std::vector<std::vector<float>> outs(8, std::vector<float>(s.head_dim));
        AttnBlock b = block_of(L, 0, 8);
        for (int i = 0; i < 8; ++i) {
          b.q[i] = q[i].data();
          b.out[i] = outs[i].data();
          b.n_pos[i] = 63 + i;
        }
        attend_block(kernel, b, scratch.data());
        for (int i = 0; i < 8; ++i) {
          std::vector<float> want(s.head_dim);
          attend_head(ref_kernel(s.type), head_of(L, q[i].data(), 0, 63 + i), scratch.data(), want.data());
          ASSERT_EQ(std::memcmp(want.data(), outs[i].data(), want.size() * 4), 0)
              << "attend_block query " << i << ", " << where;
        }
      }
    }
  }
}

// Blocks of queries over one KV head (attend_block and the block kernels) give every query exactly what it gets
// alone from the reference: block sizes 1..16 (odd ones leave half a register pair), each query with its own
// context length (equal, rising as a prompt's, random), on the shapes above (head sizes the block kernels do not
// take go one query at a time).
TEST(KvAttention, BlocksBitEqualSingleQueries) {
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  int blocked = 0;
  for (const Shape& s : kShapes) {
    // Up to 600 positions: AVX2 takes blocks whose last query reaches 64 positions, one query at a time below.
    // Every other shape packs a KV head's rows one after another (one KV head, as the engine's cache).
    const int64_t n_kv = (&s - kShapes) % 2 == 0 ? 2 : 1;
    const Layer L = make_layer(s.type, s.head_dim, n_kv, 600, rng);
    for (IsaLevel level : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvx512}) {
      if (static_cast<int>(level) > static_cast<int>(max_supported_isa())) continue;
      const KvAttentionKernel* kernel = kv_attention_kernel(s.type, level);
      ASSERT_NE(kernel, nullptr);
      for (int n_q : {1, 2, 3, 4, 5, 7, 8, 9, 16}) {
        for (int lengths = 0; lengths < 5; ++lengths) {
          std::vector<std::vector<float>> q(n_q, std::vector<float>(s.head_dim));
          std::vector<std::vector<float>> out(n_q, std::vector<float>(s.head_dim, NAN));
          AttnBlock b = block_of(L, n_kv - 1, n_q);
          for (int i = 0; i < n_q; ++i) {
            for (auto& e : q[i]) e = nd(rng);
            b.q[i] = q[i].data();
            b.out[i] = out[i].data();
            // 40: one at a time; 57 + i: blocks of 8 and more reach 64; 505 + i: many runs; random; 300 for all
            // (one token's GQA group, as generation runs it: the kernels prefetch rows ahead).
            b.n_pos[i] = lengths == 0   ? 40
                         : lengths == 1 ? 57 + i
                         : lengths == 2 ? 505 + i
                         : lengths == 3 ? 1 + static_cast<int64_t>(rng() % 600)
                                        : 300;
          }
          const int64_t ld = b.max_pos();
          const std::string where = quant::type_name(s.type) + " head_dim " + std::to_string(s.head_dim) + " queries " +
                                    std::to_string(n_q) + " lengths " + std::to_string(lengths) + " " +
                                    isa_name(level) + " seed " + std::to_string(seed);
          // The block kernels alone, on arbitrary weights p.
          if (kernel->block_scores != nullptr) {
            std::vector<float> sb(static_cast<size_t>(n_q * ld)), p(sb.size());
            kernel->block_scores(b, sb.data(), ld);
            for (auto& e : p) e = std::fabs(nd(rng));
            kernel->block_weighted_sum(b, p.data(), ld);
            for (int i = 0; i < n_q; ++i) {
              const AttnHead hi = b.head(i);
              std::vector<float> sr(static_cast<size_t>(hi.n_pos)), o(s.head_dim);
              ref_kernel(s.type).scores(hi, sr.data());
              ASSERT_EQ(std::memcmp(sr.data(), sb.data() + i * ld, sr.size() * 4), 0)
                  << "block scores, query " << i << ", " << where;
              ref_kernel(s.type).weighted_sum(hi, p.data() + i * ld, o.data());
              ASSERT_EQ(std::memcmp(o.data(), out[i].data(), o.size() * 4), 0)
                  << "block weighted sum, query " << i << ", " << where;
            }
            ++blocked;
          }
          // The whole of attention.
          std::vector<float> scratch(static_cast<size_t>(n_q * ld));
          attend_block(*kernel, b, scratch.data());
          for (int i = 0; i < n_q; ++i) {
            std::vector<float> sr(static_cast<size_t>(b.n_pos[i])), o(s.head_dim);
            attend_head(ref_kernel(s.type), b.head(i), sr.data(), o.data());
            ASSERT_EQ(std::memcmp(o.data(), out[i].data(), o.size() * 4), 0)
                << "attend_block, query " << i << ", " << where;
          }
        }
      }
    }
  }
#if defined(__x86_64__)
  if (static_cast<int>(max_supported_isa()) >= static_cast<int>(IsaLevel::kAvx2)) {
    EXPECT_GT(blocked, 0) << "the x86 block kernels were never used";
  }
#endif
}

// One token's block in pieces, as generation shares it out among threads (block_scores_range, softmax_scores,
// block_weighted_sum_columns): every query's result is attend_block's, bit for bit, with the positions and the
// columns cut at random places, on the shapes above, blocks of 1..16 queries.
TEST(KvAttention, PiecesBitEqualWholeBlocks) {
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (const Shape& s : kShapes) {
    const int64_t n_kv = (&s - kShapes) % 2 == 0 ? 2 : 1;
    const Layer L = make_layer(s.type, s.head_dim, n_kv, 700, rng);
    for (IsaLevel level : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvx512}) {
      if (static_cast<int>(level) > static_cast<int>(max_supported_isa())) continue;
      const KvAttentionKernel& kernel = *kv_attention_kernel(s.type, level);
      for (int n_q : {1, 4, 5, 16}) {
        for (int64_t n_pos : {1, 63, 700}) {
          std::vector<std::vector<float>> q(n_q, std::vector<float>(s.head_dim));
          std::vector<std::vector<float>> whole(n_q, std::vector<float>(s.head_dim, NAN)), parts = whole;
          AttnBlock b = block_of(L, n_kv - 1, n_q);
          for (int i = 0; i < n_q; ++i) {
            for (auto& e : q[i]) e = nd(rng);
            b.q[i] = q[i].data();
            b.out[i] = whole[i].data();
            b.n_pos[i] = n_pos;
          }
          std::vector<float> scratch(static_cast<size_t>(n_q * n_pos));
          attend_block(kernel, b, scratch.data());
          for (int i = 0; i < n_q; ++i) b.out[i] = parts[i].data();
          const int64_t ld = n_pos + 3;  // rows not packed
          std::vector<float> sc(static_cast<size_t>(n_q * ld), NAN);
          for (int64_t j0 = 0, j1; j0 < n_pos; j0 = j1) {
            j1 = std::min<int64_t>(n_pos, j0 + 1 + static_cast<int64_t>(rng() % 200));
            block_scores_range(kernel, b, j0, j1, sc.data(), ld);
          }
          for (int i = 0; i < n_q; ++i) softmax_scores(sc.data() + i * ld, n_pos);
          for (int64_t c0 = 0, c1; c0 < s.head_dim; c0 = c1) {
            c1 = std::min<int64_t>(s.head_dim, c0 + 32 * (1 + static_cast<int64_t>(rng() % 3)));
            block_weighted_sum_columns(kernel, b, sc.data(), ld, c0, c1);
          }
          for (int i = 0; i < n_q; ++i)
            ASSERT_EQ(std::memcmp(whole[i].data(), parts[i].data(), whole[i].size() * 4), 0)
                << quant::type_name(s.type) << " head_dim " << s.head_dim << " queries " << n_q << " positions "
                << n_pos << " query " << i << " " << isa_name(level) << " seed " << seed;
        }
      }
    }
  }
}

// Rows stored padded with zeros (the F32 and F16 caches' rows: AttnBlock::row_dim, kKvRowMultiple): a block of
// head_dim elements over them, whole (attend_block) or in pieces (block_scores_range, softmax_scores,
// block_weighted_sum_columns), gives every query the reference's bits for head_dim unpadded, at every level, for
// heads that are not whole 16s (1bitLLM/bitnet_b1_58-3B's 100) and some that are.
TEST(KvAttention, PaddedRowsBitEqualUnpaddedReference) {
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (uint32_t type : {quant::kF32, quant::kF16}) {
    for (int64_t hd : {4, 8, 12, 20, 32, 40, 72, 100, 200, 260}) {
      const int64_t row_dim = kv_row_dim(type, hd);
      ASSERT_EQ(row_dim % kKvRowMultiple, 0);
      ASSERT_GE(row_dim, hd);
      ASSERT_LT(row_dim, hd + kKvRowMultiple);
      Layer L = make_layer(type, row_dim, 1, 300, rng);
      const int64_t elem = type == quant::kF16 ? 2 : 4;
      for (int64_t j = 0; j < L.n_pos; ++j)
        for (auto* rows : {&L.k, &L.v})
          std::memset(rows->data() + j * L.row_bytes + hd * elem, 0, static_cast<size_t>((row_dim - hd) * elem));
      const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
      for (IsaLevel level : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvx512}) {
        if (static_cast<int>(level) > static_cast<int>(max_supported_isa())) continue;
        const KvAttentionKernel& kernel = *kv_attention_kernel(type, level);
        for (int n_q : {1, 3, 8, 16}) {
          for (int whole = 0; whole < 2; ++whole) {
            std::vector<std::vector<float>> q(n_q, std::vector<float>(hd)), out(n_q, std::vector<float>(hd, NAN));
            AttnBlock b = {};
            b.n_q = n_q;
            b.k = L.k.data();
            b.v = L.v.data();
            b.stride = L.row_bytes;
            b.head_dim = hd;
            b.row_dim = row_dim;
            b.scale = scale;
            for (int i = 0; i < n_q; ++i) {
              for (auto& e : q[i]) e = nd(rng);
              b.q[i] = q[i].data();
              b.out[i] = out[i].data();
              b.n_pos[i] = whole ? 57 + 13 * i : 300;  // pieces: one token's block, all at one position
            }
            const int64_t ld = b.max_pos();
            std::vector<float> sc(static_cast<size_t>(n_q * ld), NAN);
            if (whole) {
              attend_block(kernel, b, sc.data());
            } else {
              for (int64_t j0 = 0, j1; j0 < ld; j0 = j1) {
                j1 = std::min<int64_t>(ld, j0 + 1 + static_cast<int64_t>(rng() % 200));
                block_scores_range(kernel, b, j0, j1, sc.data(), ld);
              }
              for (int i = 0; i < n_q; ++i) softmax_scores(sc.data() + i * ld, ld);
              for (int64_t c0 = 0, c1; c0 < hd; c0 = c1) {
                c1 = std::min<int64_t>(hd, c0 + 32 * (1 + static_cast<int64_t>(rng() % 3)));
                block_weighted_sum_columns(kernel, b, sc.data(), ld, c0, c1);
              }
            }
            for (int i = 0; i < n_q; ++i) {
              const AttnHead h{q[i].data(), L.k.data(), L.v.data(), L.row_bytes, hd, b.n_pos[i], scale};
              std::vector<float> want(hd), scratch(static_cast<size_t>(h.n_pos));
              attend_head(ref_kernel(type), h, scratch.data(), want.data());
              ASSERT_EQ(std::memcmp(want.data(), out[i].data(), want.size() * 4), 0)
                  << quant::type_name(type) << " head_dim " << hd << " row_dim " << row_dim << " queries " << n_q
                  << (whole ? " whole" : " in pieces") << " query " << i << " " << isa_name(level) << " seed " << seed;
            }
          }
        }
      }
    }
  }
}

// The reference against attention in double over the same stored values (and the same query: rounded to f16
// against an F16 cache). Bound (u = 2^-24, gamma_n = nu/(1-nu),
// Higham Thm 3.1): each score errs by e_j <= gamma_{d+1} * scale * sum_i |q_i k_ji| (d products summed, then the
// scale); exp(s_j - max) then errs relatively by rho <= expm1(2E + u R) + 4u (E = max e_j, R = max |s_j - max|
// for the subtraction's rounding; fast_exp is within 2 ulp, FastExp test, and an ulp is at most 2u relative);
// normalising costs 2 rho + 3u (sum in double, 1/sum to
// float, the product); the weighted sum adds gamma_n on sum_j p_j |v_ji|. So |out_i - exact_i| <=
// ((1 + r) gamma_n + r) sum_j p_j |v_ji| with r = 2 rho + 3u, taken twice over for the second-order terms.
TEST(KvAttention, ReferenceMatchesDoubleWithinDerivedBound) {
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const double u = std::ldexp(1.0, -24);
  auto gamma = [&](double n) { return n * u / (1 - n * u); };
  for (const Shape& s : kShapes) {
    const Layer L = make_layer(s.type, s.head_dim, 2, 129, rng);
    const int64_t kv_dim = s.head_dim * 2;
    std::vector<float> q(static_cast<size_t>(s.head_dim));
    for (auto& e : q) e = nd(rng);
    // The query as the definition takes it (rounded to f16 against an F16 cache, quantized to Q8_0 against a Q8_0
    // one: there the integer sums are exact and the float steps, (d_q * d_k) * isum added block after block, then
    // the scale, are d / 32 + 3 roundings, within the gamma_{d+1} below).
    std::vector<double> qd(q.begin(), q.end());
    if (s.type == quant::kF16)
      for (size_t i = 0; i < q.size(); ++i) qd[i] = fp16_to_float(float_to_fp16(q[i]));
    if (s.type == quant::kQ8_0) {
      std::vector<int8_t> qq(q.size());
      std::vector<float> dq(q.size() / 32);
      quant::quantize_q8_0_acts(q.data(), s.head_dim, qq.data(), dq.data());
      for (size_t i = 0; i < q.size(); ++i) qd[i] = static_cast<double>(qq[i]) * dq[i / 32];
    }
    for (int64_t n_pos : kPositions) {
      const int64_t kvh = n_pos % 2;
      const AttnHead h = head_of(L, q.data(), kvh, n_pos);
      std::vector<float> scratch(n_pos), out(s.head_dim);
      attend_head(ref_kernel(s.type), h, scratch.data(), out.data());
      std::vector<double> sc(n_pos);
      double E = 0, max = -INFINITY;
      for (int64_t j = 0; j < n_pos; ++j) {
        double dot = 0, mag = 0;
        for (int64_t i = 0; i < s.head_dim; ++i) {
          const double kq = qd[i] * L.kf[j * kv_dim + kvh * s.head_dim + i];
          dot += kq;
          mag += std::fabs(kq);
        }
        sc[j] = dot * h.scale;
        E = std::max(E, gamma(static_cast<double>(s.head_dim + 1)) * h.scale * mag);
        max = std::max(max, sc[j]);
      }
      double sum = 0, R = 0;
      for (int64_t j = 0; j < n_pos; ++j) {
        R = std::max(R, max - sc[j]);
        sc[j] = std::exp(sc[j] - max);
        sum += sc[j];
      }
      const double rho = std::expm1(2 * E + u * (R + 2 * E)) + 4 * u;
      const double r = 2 * rho + 3 * u;
      for (int64_t i = 0; i < s.head_dim; ++i) {
        double exact = 0, mag = 0;
        for (int64_t j = 0; j < n_pos; ++j) {
          const double vj = L.vf[j * kv_dim + kvh * s.head_dim + i];
          exact += sc[j] / sum * vj;
          mag += sc[j] / sum * std::fabs(vj);
        }
        const double bound = 2 * ((1 + r) * gamma(static_cast<double>(n_pos)) + r) * mag;
        ASSERT_NEAR(out[i], exact, bound) << quant::type_name(s.type) << " head_dim " << s.head_dim << " n_pos "
                                          << n_pos << " i " << i << " seed " << seed;
      }
    }
  }
}

#if defined(__x86_64__)
// Each x86 kernel for Q8_0 dots with positions in lanes (AVX2, AVX2 with AVX-VNNI, AVX-512 VNNI), called directly so
// that every one this CPU has runs (the level tables pick one per level), against the scalar Q8_0 x Q8_0 matmul over
// the same key rows: bit-equal. Keys strided as a cache row of two KV heads, with -128 values; query bytes over the
// whole int8 range (-128 included, which the quantizer never makes but the dots take exactly).
TEST(KernelParity, Q80LanesDotsEveryX86Variant) {
  struct Variant {
    const char* name;
    Q8LanesFn fn;
  };
  std::vector<Variant> variants;
  if (static_cast<int>(max_supported_isa()) >= static_cast<int>(IsaLevel::kAvx2))
    variants.push_back({"avx2", q8_0_dots_avx2});
  if (static_cast<int>(max_supported_isa()) >= static_cast<int>(IsaLevel::kAvx2) && cpu_features().avxvnni)
    variants.push_back({"avx2+vnni", q8_0_dots_avxvnni});
  if (max_supported_isa() == IsaLevel::kAvx512) variants.push_back({"avx512-vnni", q8_0_dots_avx512});
  if (variants.empty()) GTEST_SKIP() << "no x86 lanes kernel on this CPU";
  std::random_device seed_source;
  const unsigned seed = seed_source();
  std::mt19937 rng(seed);
  int checked = 0;
  for (int64_t head_dim : {32, 96, 128, 256}) {
    const int64_t nb = head_dim / quant::kQ8_0BlockElems, head_bytes = nb * quant::kQ8_0BlockBytes;
    const int64_t stride = 2 * head_bytes;  // a row of two KV heads; the second is read
    const int64_t max_pos = 67;
    std::vector<uint8_t> keys(static_cast<size_t>(stride * max_pos));
    for (auto& e : keys) e = static_cast<uint8_t>(rng());
    for (int64_t j = 0; j < max_pos; ++j)
      for (int64_t b = 0; b < 2 * nb; ++b) {
        uint8_t* blk = keys.data() + j * stride + b * quant::kQ8_0BlockBytes;
        const uint16_t d = static_cast<uint16_t>(0x2800 + rng() % 0x1000);  // fp16 scales 2^-5 .. 2^-3
        std::memcpy(blk, &d, 2);
        if (j % 5 == 0) std::memset(blk + 2, 0x80, quant::kQ8_0BlockElems);  // all -128
      }
    // The second head's rows packed one after another, for the matmul.
    std::vector<uint8_t> packed(static_cast<size_t>(head_bytes * max_pos));
    for (int64_t j = 0; j < max_pos; ++j)
      std::memcpy(packed.data() + j * head_bytes, keys.data() + j * stride + head_bytes, head_bytes);
    for (int n_q : {1, 3, 8, 11, 16}) {
      std::vector<int8_t> qq(static_cast<size_t>(n_q * head_dim));
      for (auto& e : qq) e = static_cast<int8_t>(rng());
      std::vector<float> dq(static_cast<size_t>(n_q * nb));
      for (auto& e : dq) e = std::ldexp(1.0f + static_cast<float>(rng() % 1024) / 1024.0f, -7);
      for (int64_t n_pos : {1, 7, 8, 9, 31, 67}) {
        const int64_t ld = n_pos + 3;
        std::vector<float> ref(static_cast<size_t>(n_q * ld), 0.0f);
        q8_0_matmul_scalar({quant::kQ8_0, packed.data(), head_dim, n_pos},
                           IntActsView{quant::kQ8_0, n_q, head_dim, qq.data(), dq.data(), nullptr}, ref.data(), ld, 0,
                           n_pos);
        for (const Variant& v : variants) {
          std::vector<float> dots(ref.size(), 0.0f);
          ASSERT_TRUE(
              v.fn(qq.data(), dq.data(), n_q, keys.data() + head_bytes, stride, head_dim, n_pos, dots.data(), ld))
              << v.name;
          for (int i = 0; i < n_q; ++i)
            for (int64_t j = 0; j < n_pos; ++j)
              ASSERT_EQ(dots[static_cast<size_t>(i * ld + j)], ref[static_cast<size_t>(i * ld + j)])
                  << v.name << " head_dim " << head_dim << " queries " << n_q << " positions " << n_pos << " query "
                  << i << " key " << j << " seed " << seed;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 0);
  RecordProperty("variants", static_cast<int>(variants.size()));
}
#endif

TEST(KvAttention, TypesAndHeadSizes) {
  EXPECT_TRUE(check_kv_type(quant::kF32, 8).ok());
  EXPECT_TRUE(check_kv_type(quant::kF16, 12).ok());
  EXPECT_TRUE(check_kv_type(quant::kQ8_0, 128).ok());
  Status s = check_kv_type(quant::kQ8_0, 48);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("multiple of 32"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("48"), std::string::npos) << s.message();
  Status t = check_kv_type(quant::kQ4_0, 64);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.message().find("Q4_0"), std::string::npos) << t.message();
  EXPECT_EQ(kv_attention_kernel(quant::kQ4_0, IsaLevel::kAvx2), nullptr);
  for (uint32_t type : {quant::kF32, quant::kF16, quant::kQ8_0}) {
    ASSERT_NE(kv_attention_kernel(type, IsaLevel::kScalar), nullptr);
    EXPECT_EQ(kv_attention_kernel(type, IsaLevel::kScalar)->isa, IsaLevel::kScalar);
  }
}

}  // namespace
}  // namespace bitnet::kernels
