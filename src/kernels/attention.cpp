// KV attention: the kernel table (per stored type and ISA level) and the shared softmax.
#include "kernels/attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/fast_exp.hpp"
#include "core/vector_clones.hpp"
#include "kernels/kquant.hpp"
#include "quant/q8_0.hpp"
#include "quant/quant.hpp"

namespace bitnet::kernels {
namespace {

// Scores against a Q8_0 cache: queries q[0..n_q) quantized once, then scores[i * ld + j] = dot(q_i, k_j) * scale for
// j < n_pos (kernels/attention.hpp), the dots from dots(a, scores) for the quantized queries `a`.
constexpr int64_t kQ8MaxDim = 256;  // larger heads take the reference, one query at a time
constexpr int64_t kQ8MaxRowBytes = kQ8MaxDim / quant::kQ8_0BlockElems * quant::kQ8_0BlockBytes;

template <class Dots>
void q8_0_scores(const float* const* q, int n_q, int64_t head_dim, int64_t n_pos, float scale, float* scores,
                 int64_t ld, Dots&& dots) {
  alignas(64) int8_t qq[kMaxBlockQueries * kQ8MaxDim];
  float dq[kMaxBlockQueries * kQ8MaxDim / quant::kQ8_0BlockElems];
  for (int i = 0; i < n_q; ++i)
    quant::quantize_q8_0_acts(q[i], head_dim, qq + i * head_dim, dq + i * (head_dim / quant::kQ8_0BlockElems));
  dots(IntActsView{quant::kQ8_0, n_q, head_dim, qq, dq, nullptr}, scores);
  for (int i = 0; i < n_q; ++i) {
    float* s = scores + i * ld;
    if (!query_is_finite(q[i], head_dim))
      std::fill(s, s + n_pos, std::numeric_limits<float>::quiet_NaN());
    else
      for (int64_t j = 0; j < n_pos; ++j) s[j] *= scale;
  }
}

// The dots through an integer matmul (kMatmul, the level's Q8_0 x Q8_0 kernel) over the key rows. Rows `stride` bytes
// apart that are not packed one after another (the engine's cache packs them) are copied 8 at a time into a packed
// buffer first.
template <KQuantMatmulFn kMatmul>
void matmul_dots(const IntActsView& a, const uint8_t* k, int64_t stride, int64_t n_pos, float* dots, int64_t ld) {
  const int64_t row_bytes = a.cols / quant::kQ8_0BlockElems * quant::kQ8_0BlockBytes;
  if (stride == row_bytes) return kMatmul({quant::kQ8_0, k, a.cols, n_pos}, a, dots, ld, 0, n_pos);
  alignas(64) uint8_t rows[8 * kQ8MaxRowBytes];
  for (int64_t j0 = 0; j0 < n_pos; j0 += 8) {
    const int64_t n = std::min<int64_t>(8, n_pos - j0);
    for (int64_t j = 0; j < n; ++j) std::memcpy(rows + j * row_bytes, k + (j0 + j) * stride, row_bytes);
    kMatmul({quant::kQ8_0, rows, a.cols, n}, a, dots + j0, ld, 0, n);
  }
}

template <KQuantMatmulFn kMatmul>
void q8_0_head_scores(const AttnHead& h, float* scores) {
  if (h.head_dim > kQ8MaxDim) return kv_scores_q8_0_ref(h, scores);
  q8_0_scores(&h.q, 1, h.head_dim, h.n_pos, h.scale, scores, h.n_pos, [&](const IntActsView& a, float* dots) {
    matmul_dots<kMatmul>(a, h.k, h.stride, h.n_pos, dots, h.n_pos);
  });
}

// kLanes: a level's kernel for blocks with positions in lanes (q8_0_dots_avx2, q8_0_dots_avx512, q8_0_dots_neon_dot).
// It takes blocks whose queries stop at different positions (a prompt's); one token's group (generation) takes the
// matmul, whose rows are prefetched.
template <KQuantMatmulFn kMatmul, Q8LanesFn kLanes>
void q8_0_block_scores(const AttnBlock& b, float* scores, int64_t ld) {
  if (b.head_dim > kQ8MaxDim) {
    for (int i = 0; i < b.n_q; ++i) kv_scores_q8_0_ref(b.head(i), scores + i * ld);
    return;
  }
  const int64_t n_pos = b.max_pos();
  q8_0_scores(b.q, b.n_q, b.head_dim, n_pos, b.scale, scores, ld, [&](const IntActsView& a, float* dots) {
    if (!b.one_position() && kLanes(a.q, a.d, b.n_q, b.k, b.stride, b.head_dim, n_pos, dots, ld)) return;
    matmul_dots<kMatmul>(a, b.k, b.stride, n_pos, dots, ld);
  });
}

// A block's weighted sums one query at a time, for a level whose block scores have no block weighted sums beside them.
template <KvWeightedSumFn kSum>
[[maybe_unused]] void each_query_weighted_sum(const AttnBlock& b, const float* p, int64_t ld) {
  for (int i = 0; i < b.n_q; ++i) kSum(b.head(i), p + i * ld, b.out[i]);
}

const KvAttentionKernel kRef[] = {
    {quant::kF32, IsaLevel::kScalar, kv_scores_f32_ref, kv_weighted_sum_f32_ref},
    {quant::kF16, IsaLevel::kScalar, kv_scores_f16_ref, kv_weighted_sum_f16_ref},
    {quant::kQ8_0, IsaLevel::kScalar, kv_scores_q8_0_ref, kv_weighted_sum_q8_0_ref},
};

#if defined(__x86_64__)
const KvAttentionKernel kAvx2[] = {
    {quant::kF32, IsaLevel::kAvx2, kv_scores_f32_avx2, kv_weighted_sum_f32_avx2, kv_block_scores_f32_avx2,
     kv_block_weighted_sum_f32_avx2},
    {quant::kF16, IsaLevel::kAvx2, kv_scores_f16_avx2, kv_weighted_sum_f16_avx2, kv_block_scores_f16_avx2,
     kv_block_weighted_sum_f16_avx2},
    {quant::kQ8_0, IsaLevel::kAvx2, q8_0_head_scores<q8_0_matmul_avx2>, kv_weighted_sum_q8_0_avx2,
     q8_0_block_scores<q8_0_matmul_avx2, q8_0_dots_avx2>, kv_block_weighted_sum_q8_0_avx2},
};
// The AVX2 level on a CPU with AVX-VNNI: Q8_0 scores take vpdpbusd, in the matmul and with positions in lanes (the
// same dots).
const KvAttentionKernel kAvx2Vnni[] = {
    kAvx2[0],
    kAvx2[1],
    {quant::kQ8_0, IsaLevel::kAvx2, q8_0_head_scores<q8_0_matmul_avxvnni>, kv_weighted_sum_q8_0_avx2,
     q8_0_block_scores<q8_0_matmul_avxvnni, q8_0_dots_avxvnni>, kv_block_weighted_sum_q8_0_avx2},
};
// Wider registers change nothing in the definitions but speed: element-wise weighted sums take 16 lanes, and
// blocks of queries score two queries per register, each in an 8-lane half; single queries keep the AVX2 scores
// (their 8-lane order is part of the definition).
const KvAttentionKernel kAvx512[] = {
    {quant::kF32, IsaLevel::kAvx512, kv_scores_f32_avx2, kv_weighted_sum_f32_avx512, kv_block_scores_f32_avx512,
     kv_block_weighted_sum_f32_avx512},
    {quant::kF16, IsaLevel::kAvx512, kv_scores_f16_avx2, kv_weighted_sum_f16_avx512, kv_block_scores_f16_avx512,
     kv_block_weighted_sum_f16_avx512},
    {quant::kQ8_0, IsaLevel::kAvx512, q8_0_head_scores<q8_0_matmul_avx512>, kv_weighted_sum_q8_0_avx512,
     q8_0_block_scores<q8_0_matmul_avx512, q8_0_dots_avx512>, kv_block_weighted_sum_q8_0_avx512},
};
#endif
#if defined(__aarch64__)
const KvAttentionKernel kNeon[] = {
    {quant::kF32, IsaLevel::kNeon, kv_scores_f32_neon, kv_weighted_sum_f32_neon},
    {quant::kF16, IsaLevel::kNeon, kv_scores_f16_neon, kv_weighted_sum_f16_neon},
    {quant::kQ8_0, IsaLevel::kNeon, q8_0_head_scores<q8_0_matmul_neon>, kv_weighted_sum_q8_0_neon},
};
// With dotprod, only Q8_0's scores change: its integer matmul takes sdot, and a block's queries (their weighted sums
// one at a time) take it 4 tokens a pass, or positions in lanes for a prompt's blocks.
const KvAttentionKernel kNeonDot[] = {
    kNeon[0],
    kNeon[1],
    {quant::kQ8_0, IsaLevel::kNeonDot, q8_0_head_scores<q8_0_matmul_neon_dot>, kv_weighted_sum_q8_0_neon,
     q8_0_block_scores<q8_0_matmul_neon_dot, q8_0_dots_neon_dot>, each_query_weighted_sum<kv_weighted_sum_q8_0_neon>},
};
#endif

}  // namespace

bool is_kv_type(uint32_t type) { return type == quant::kF32 || type == quant::kF16 || type == quant::kQ8_0; }

int64_t kv_row_dim(uint32_t type, int64_t head_dim) {
  if (type == quant::kQ8_0) return head_dim;
  return (head_dim + kKvRowMultiple - 1) / kKvRowMultiple * kKvRowMultiple;
}

const KvAttentionKernel* kv_attention_kernel(uint32_t type, IsaLevel level) {
  const int cap = std::min(static_cast<int>(level), static_cast<int>(max_supported_isa()));
  for (size_t i = 0; i < std::size(kRef); ++i) {
    if (kRef[i].type != type) continue;
#if defined(__x86_64__)
    if (cap >= static_cast<int>(IsaLevel::kAvx512)) return &kAvx512[i];
    if (cap >= static_cast<int>(IsaLevel::kAvx2)) return cpu_features().avxvnni ? &kAvx2Vnni[i] : &kAvx2[i];
#elif defined(__aarch64__)
    if (cap >= static_cast<int>(IsaLevel::kNeonDot)) return &kNeonDot[i];
    if (cap >= static_cast<int>(IsaLevel::kNeon)) return &kNeon[i];
#else
    (void)cap;
#endif
    return &kRef[i];
  }
  return nullptr;
}

Status check_kv_type(uint32_t type, int64_t head_dim) {
  if (!is_kv_type(type))
    return invalid_argument("a KV cache holds F32, F16 or Q8_0 values, not " + quant::type_name(type));
  if (head_dim <= 0) return invalid_argument("head_dim must be positive");
  if (type == quant::kQ8_0 && head_dim % 32 != 0)
    return invalid_argument("a Q8_0 KV cache needs head_dim to be a multiple of 32 (its block size); this model's is " +
                            std::to_string(head_dim) + ": use an F16 or F32 KV cache");
  return Status::Ok();
}

// s[j] = e^(s[j] - max) for j < n (fast_exp); returns their sum in double over 8 interleaved partial sums.
// 16 scores a step, each partial sum taking its two in order: the same additions as 8 a step, but the compiler
// widens the 16 e^x to one 512-bit register where it has them (8 a step, it kept to 256 bits, and e^x was a fifth of
// bitnet-kernel-bench attention_f16/head_dim:96/pos:128's time).
BITNET_VECTOR_CLONES static double exp_and_sum(float* s, int64_t n, float max) {
  double part[8] = {};
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    float e[16];
    for (int k = 0; k < 16; ++k) e[k] = fast_exp(s[j + k] - max);
    for (int k = 0; k < 16; ++k) s[j + k] = e[k];
    for (int k = 0; k < 8; ++k) part[k] += e[k];
    for (int k = 0; k < 8; ++k) part[k] += e[k + 8];
  }
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) {
      s[j + k] = fast_exp(s[j + k] - max);
      part[k] += s[j + k];
    }
  for (; j < n; ++j) {
    s[j] = fast_exp(s[j] - max);
    part[j % 8] += s[j];
  }
  return ((part[0] + part[4]) + (part[2] + part[6])) + ((part[1] + part[5]) + (part[3] + part[7]));
}

// The largest s[j], j < n, in interleaved lanes (a vector max; folded one at a time it was a chain of dependent
// maxss, 3 cycles a score: 60% of the softmax outside e^x). Only a zero's sign can depend on the order (max(-0, +0)),
// and s[j] - (+0) and s[j] - (-0) have the same e^x; a NaN score is passed over either way (as std::max does).
// 16 lanes, which the compiler widens to one 512-bit register where it has them.
BITNET_VECTOR_CLONES static float max_of(const float* s, int64_t n) {
  float m[16];
  for (float& v : m) v = -INFINITY;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int k = 0; k < 16; ++k) m[k] = m[k] < s[j + k] ? s[j + k] : m[k];
  for (; j < n; ++j) m[0] = m[0] < s[j] ? s[j] : m[0];
  float max = m[0];
  for (int k = 1; k < 16; ++k) max = max < m[k] ? m[k] : max;
  return max;
}

BITNET_VECTOR_CLONES static void scale_scores(float* s, int64_t n, float inv) {
  for (int64_t j = 0; j < n; ++j) s[j] *= inv;
}

// s[j] for j < n: scores in, softmax out. A row whose sum is NaN (a NaN score, or inf - inf) comes out all the
// canonical quiet NaN: where an operation meets two NaNs, the one it passes on depends on its operands' order, which
// each vector clone's code chooses for itself, so those rows' bits would depend on the CPU.
static void softmax(float* s, int64_t n) {
  const float max = max_of(s, n);
  const double sum = exp_and_sum(s, n, max);
  if (std::isnan(sum)) {
    std::fill(s, s + n, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  scale_scores(s, n, static_cast<float>(1.0 / sum));
}

void softmax_scores(float* s, int64_t n) { softmax(s, n); }

// Blocks whose stored rows are longer than their heads (AttnBlock::row_dim): run as blocks of row_dim elements.
static bool padded(const AttnBlock& b) { return b.row_dim > b.head_dim; }

// b as a block of b.row_dim elements: its queries copied, with zeros after head_dim, into this thread's buffer, and
// (with_outputs) its outputs pointed at that buffer too, for unpad_outputs to copy back. The buffer only grows.
static AttnBlock pad_block(const AttnBlock& b, bool with_outputs) {
  thread_local std::vector<float> buf;
  const size_t row = static_cast<size_t>(b.row_dim);
  if (buf.size() < 2 * row * static_cast<size_t>(b.n_q)) buf.resize(2 * row * static_cast<size_t>(b.n_q));
  AttnBlock r = b;
  r.head_dim = b.row_dim;
  r.row_dim = 0;
  for (int i = 0; i < b.n_q; ++i) {
    float* q = buf.data() + static_cast<size_t>(i) * row;
    std::copy(b.q[i], b.q[i] + b.head_dim, q);
    std::fill(q + b.head_dim, q + b.row_dim, 0.0f);
    r.q[i] = q;
    if (with_outputs) r.out[i] = buf.data() + (static_cast<size_t>(b.n_q) + static_cast<size_t>(i)) * row;
  }
  return r;
}

// Output columns [c0, c1) of padded run r back into b's outputs.
static void unpad_outputs(const AttnBlock& b, const AttnBlock& r, int64_t c0, int64_t c1) {
  for (int i = 0; i < b.n_q; ++i) std::copy(r.out[i] + c0, r.out[i] + c1, b.out[i] + c0);
}

// Whether attend_block (and its pieces below) take the level's block kernels for b, or one query at a time. A lone
// query (generation without GQA) takes the single-query kernels: a block kernel would only widen rows into a buffer
// it reads once (AVX2 generation at 1920 positions of the large model spent 60% of its time in block kernels).
static bool takes_block_kernels(const KvAttentionKernel& kernel, const AttnBlock& b) {
  return kernel.block_scores != nullptr && kernel.block_weighted_sum != nullptr && b.n_q > 1;
}

void block_scores_range(const KvAttentionKernel& kernel, const AttnBlock& b, int64_t j0, int64_t j1, float* scores,
                        int64_t ld) {
  if (padded(b)) return block_scores_range(kernel, pad_block(b, /*with_outputs=*/false), j0, j1, scores, ld);
  AttnBlock r = b;
  r.k = b.k + j0 * b.stride;
  for (int i = 0; i < b.n_q; ++i) r.n_pos[i] = j1 - j0;
  float* s = scores + j0;
  if (!takes_block_kernels(kernel, b)) {
    for (int i = 0; i < b.n_q; ++i) kernel.scores(r.head(i), s + i * ld);
    return;
  }
  kernel.block_scores(r, s, ld);
}

void block_weighted_sum_columns(const KvAttentionKernel& kernel, const AttnBlock& b, const float* p, int64_t ld,
                                int64_t c0, int64_t c1) {
  if (padded(b) && c1 == b.head_dim) {  // the last columns: with the padding after them
    const AttnBlock r = pad_block(b, /*with_outputs=*/true);
    block_weighted_sum_columns(kernel, r, p, ld, c0, r.head_dim);
    unpad_outputs(b, r, c0, c1);
    return;
  }
  AttnBlock r = b;
  // Where column c0's stored value begins in a row.
  r.v = b.v + (kernel.type == quant::kQ8_0 ? c0 / quant::kQ8_0BlockElems * quant::kQ8_0BlockBytes
                                           : c0 * (kernel.type == quant::kF16 ? 2 : 4));
  r.head_dim = c1 - c0;
  r.row_dim = 0;
  for (int i = 0; i < b.n_q; ++i) r.out[i] = b.out[i] + c0;
  if (!takes_block_kernels(kernel, b)) {
    for (int i = 0; i < b.n_q; ++i) kernel.weighted_sum(r.head(i), p + i * ld, r.out[i]);
    return;
  }
  kernel.block_weighted_sum(r, p, ld);
}

void attend_head(const KvAttentionKernel& kernel, const AttnHead& h, float* scratch, float* out) {
  kernel.scores(h, scratch);
  softmax(scratch, h.n_pos);
  kernel.weighted_sum(h, scratch, out);
}

int64_t AttnBlock::max_pos() const {
  int64_t m = 0;
  for (int i = 0; i < n_q; ++i) m = std::max(m, n_pos[i]);
  return m;
}

bool AttnBlock::one_position() const {
  for (int i = 1; i < n_q; ++i)
    if (n_pos[i] != n_pos[0]) return false;
  return true;
}

void attend_block(const KvAttentionKernel& kernel, const AttnBlock& b, float* scratch) {
  if (padded(b)) {
    const AttnBlock r = pad_block(b, /*with_outputs=*/true);
    attend_block(kernel, r, scratch);
    unpad_outputs(b, r, 0, b.head_dim);
    return;
  }
  if (!takes_block_kernels(kernel, b)) {
    for (int i = 0; i < b.n_q; ++i) attend_head(kernel, b.head(i), scratch, b.out[i]);
    return;
  }
  const int64_t ld = b.max_pos();
  kernel.block_scores(b, scratch, ld);
  for (int i = 0; i < b.n_q; ++i) softmax(scratch + i * ld, b.n_pos[i]);
  kernel.block_weighted_sum(b, scratch, ld);
}

}  // namespace bitnet::kernels
