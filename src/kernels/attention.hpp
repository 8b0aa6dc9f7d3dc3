// Attention of one query head over the keys and values of a KV cache stored as F32, F16 or Q8_0 rows (GGUF
// type ids; Q8_0 layout in quant/q8_0.hpp): scores q.k_j, softmax, weighted sum of the v_j. Stored values are
// widened to float exactly; the arithmetic order is fixed by the definitions below, which every ISA follows,
// so results are bit-equal across ISA levels and do not depend on what else is in the batch:
//   query:     against an F16 cache, q is rounded to f16 (nearest even) first, as ggml converts it to the cache's
//              vec_dot_type (llama.cpp, bitnet.cpp); this takes the synthetic fixtures' bitnet.cpp logits from
//              NMSE 4e-4 to 1e-6 (I2_S) and 3e-8 to 3e-11 (F16). An F32 cache takes q as it is.
//   Q8_0 dot:  q is quantized to Q8_0 (quant::quantize_q8_0_acts: llama.cpp's rule for the activations of its
//              q8_0 dot, which its attention also applies to q against a q8_0 K cache), and dot(q, k) is the Q8_0 x
//              Q8_0 integer dot of kernels/kquant.hpp (an exact int32 per 32 elements, acc += (d_q * d_k) * isum
//              block after block); score = dot * scale. A query with a NaN or infinite element scores NaN at
//              every position (quantizing would clamp it to a number). The SIMD levels take their integer matmul,
//              and for a prompt's blocks kernels with positions in lanes (x86/attention_q8_0_*.cpp,
//              arm/attention_q8_0_neon.cpp).
//   dot(q, k): (F32, F16) eight lanes, lane l sums q_i * k_i for i = l (mod 8) in increasing i, each a fused
//              multiply-add (s = fma(q_i, k_i, s): one rounding), lanes combined as ((s0 + s4) + (s2 + s6)) +
//              ((s1 + s5) + (s3 + s7)); score = dot * scale.
//   softmax:   shared code (attend_head): p_j = e_j * (float)(1 / sum_j e_j) with e_j = fast_exp(s_j - max)
//              (core/fast_exp.hpp, within 2 ulp of e^x), the sum in double over 8 lanes (j mod 8) combined as above.
//   out_i:     0, then out_i = fma(p_j, v_ji, out_i) for j = 0, 1, ... (fused: one rounding). Fused, each step
//              is one instruction on every ISA here (AVX2 and AVX-512 FMA, NEON vfmaq), where a rounded product
//              and an add were two: prompt attention ran 1.4x as fast (bitnet-kernel-bench attention_f16).
#pragma once

#include <cstdint>

#include "bitnet/status.hpp"
#include "core/cpu_features.hpp"

namespace bitnet::kernels {

// One query head against positions [0, n_pos) of one KV head.
struct AttnHead {
  const float* q;    // [head_dim]
  const uint8_t* k;  // this KV head's key at position 0; position j starts at k + j * stride
  const uint8_t* v;  // the same for values
  int64_t stride;    // bytes from one position's row to the next
  int64_t head_dim;  // a multiple of 32 for Q8_0 (rows start at block boundaries)
  int64_t n_pos;     // >= 1
  float scale;       // multiplies every q.k
};

// Query heads that read the same KV head (the heads of a GQA group, several tokens of one sequence): query i
// attends to positions [0, n_pos[i]) and writes out[i]. Every query's result is attend_head's, bit for bit; a
// block only lets a kernel widen each stored row once for all of its queries.
inline constexpr int kMaxBlockQueries = 16;
struct AttnBlock {
  const float* q[kMaxBlockQueries];  // [head_dim] each
  float* out[kMaxBlockQueries];      // [head_dim] each
  int64_t n_pos[kMaxBlockQueries];   // >= 1 each
  int n_q;                           // 1..kMaxBlockQueries
  const uint8_t* k;                  // as in AttnHead
  const uint8_t* v;
  int64_t stride;
  int64_t head_dim;
  float scale;
  // Elements a stored row holds: head_dim, or (0) the same; more where the cache pads F32 and F16 rows with zeros to
  // a multiple of 16 (kKvRowMultiple). Such a block is run as one of row_dim elements: its queries copied with
  // zeros past head_dim, its outputs' padding dropped. The bits are head_dim's: a padding element adds
  // fma(0, 0, s) = s to a lane's dot (s is never -0: sums start at +0, and a fused multiply-add gives -0 only when
  // both its product and its addend are -0), and an output element depends on its own column alone.
  int64_t row_dim = 0;

  int64_t max_pos() const;  // the largest n_pos[i]
  // Whether every query stops at one position: one token's heads (a GQA group), as generation runs them, whose rows
  // come from memory (the AVX-512 block kernels prefetch them then: x86/attention_block_avx512.cpp).
  bool one_position() const;
  AttnHead head(int i) const { return {q[i], k, v, stride, head_dim, n_pos[i], scale}; }
};

using KvScoresFn = void (*)(const AttnHead& h, float* scores);                    // scores[j], j < n_pos
using KvWeightedSumFn = void (*)(const AttnHead& h, const float* p, float* out);  // out[head_dim]
// Block forms: scores[i * ld + j] for j < n_pos[i] (entries up to max_pos() may be written too); out[i] from
// p[i * ld + j], j < n_pos[i]. Each is the single-query kernel's result for every query, bit for bit.
using KvBlockScoresFn = void (*)(const AttnBlock& b, float* scores, int64_t ld);
using KvBlockWeightedSumFn = void (*)(const AttnBlock& b, const float* p, int64_t ld);

struct KvAttentionKernel {
  uint32_t type;
  IsaLevel isa;
  KvScoresFn scores;
  KvWeightedSumFn weighted_sum;
  KvBlockScoresFn block_scores = nullptr;  // nullptr: one query at a time
  KvBlockWeightedSumFn block_weighted_sum = nullptr;
};

// Whether `type` can hold a KV cache (F32, F16, Q8_0).
bool is_kv_type(uint32_t type);
// F32 and F16 caches store a head's row padded with zeros to a multiple of this (AttnBlock::row_dim), so that every
// level's kernels take any head size (the block kernels want whole 16s: 1bitLLM/bitnet_b1_58-3B's heads of 100
// went to the scalar reference, a third of its prompt time). Q8_0 rows are whole blocks of 32 already.
inline constexpr int64_t kKvRowMultiple = 16;
// The elements a cache of `type` stores for a head of head_dim: head_dim rounded up to kKvRowMultiple for F32 and
// F16, head_dim itself for Q8_0.
int64_t kv_row_dim(uint32_t type, int64_t head_dim);
// The fastest kernel for a KV cache of `type` at or below `level` (the scalar reference where no fast one
// exists); nullptr when `type` is not a KV type.
const KvAttentionKernel* kv_attention_kernel(uint32_t type, IsaLevel level);
// A clear error unless `type` can hold the keys and values of heads of head_dim elements.
Status check_kv_type(uint32_t type, int64_t head_dim);

// Whether every q[i], i < n, is a number other than an infinity.
bool query_is_finite(const float* q, int64_t n);

// out = softmax(scores) . V for one head; scratch holds n_pos floats.
void attend_head(const KvAttentionKernel& kernel, const AttnHead& h, float* scratch, float* out);
// attend_head for every query of the block; scratch holds n_q * b.max_pos() floats.
void attend_block(const KvAttentionKernel& kernel, const AttnBlock& b, float* scratch);

// attend_block in three steps that threads can share out in pieces, for a block whose queries all stop at one
// position (b.one_position(): one token's GQA group, as generation runs it). However the ranges are cut, every
// result is attend_block's, bit for bit (a score depends on its position's key alone, an output element on its
// column of values alone):
//   block_scores_range:         scores[i * ld + j] for positions j0 <= j < j1 <= n_pos, every query i;
//   softmax_scores:             one query's n scores in place, as attend_block's softmax;
//   block_weighted_sum_columns: out[i][c] for columns c0 <= c < c1, every query i, from p[i * ld + j]; c0 a
//                               multiple of 32 (a Q8_0 block), c1 one too or head_dim.
void block_scores_range(const KvAttentionKernel& kernel, const AttnBlock& b, int64_t j0, int64_t j1, float* scores,
                        int64_t ld);
void softmax_scores(float* s, int64_t n);
void block_weighted_sum_columns(const KvAttentionKernel& kernel, const AttnBlock& b, const float* p, int64_t ld,
                                int64_t c0, int64_t c1);

// The scalar references (the definitions above, one per stored type).
void kv_scores_f32_ref(const AttnHead& h, float* scores);
void kv_scores_f16_ref(const AttnHead& h, float* scores);
void kv_scores_q8_0_ref(const AttnHead& h, float* scores);
void kv_weighted_sum_f32_ref(const AttnHead& h, const float* p, float* out);
void kv_weighted_sum_f16_ref(const AttnHead& h, const float* p, float* out);
void kv_weighted_sum_q8_0_ref(const AttnHead& h, const float* p, float* out);

#if defined(__x86_64__)
// AVX2 + FMA + F16C. head_dim not a multiple of 8 falls back to the reference inside.
void kv_scores_f32_avx2(const AttnHead& h, float* scores);
void kv_scores_f16_avx2(const AttnHead& h, float* scores);
void kv_weighted_sum_f32_avx2(const AttnHead& h, const float* p, float* out);
void kv_weighted_sum_f16_avx2(const AttnHead& h, const float* p, float* out);
void kv_weighted_sum_q8_0_avx2(const AttnHead& h, const float* p, float* out);
// AVX2 blocks (x86/attention_block_avx2.cpp; F32 and F16, and Q8_0's weighted sums): each stored row widened
// once for every query of the block, scores in tiles of 2 queries x 4 positions. Shapes they do not take (head_dim
// not a multiple of 8, or over 256) and blocks of under 64 positions (where one query at a time is as fast or
// faster) go one query at a time through the kernels above.
void kv_block_scores_f32_avx2(const AttnBlock& b, float* scores, int64_t ld);
void kv_block_scores_f16_avx2(const AttnBlock& b, float* scores, int64_t ld);
void kv_block_weighted_sum_f32_avx2(const AttnBlock& b, const float* p, int64_t ld);
void kv_block_weighted_sum_f16_avx2(const AttnBlock& b, const float* p, int64_t ld);
void kv_block_weighted_sum_q8_0_avx2(const AttnBlock& b, const float* p, int64_t ld);
// AVX-512 weighted sums (x86/attention_avx512.cpp): the same element-wise operations, 16 elements at a time.
void kv_weighted_sum_f32_avx512(const AttnHead& h, const float* p, float* out);
void kv_weighted_sum_f16_avx512(const AttnHead& h, const float* p, float* out);
void kv_weighted_sum_q8_0_avx512(const AttnHead& h, const float* p, float* out);
// AVX-512 blocks (x86/attention_block_avx512.cpp): each stored row widened once for every query of the block; two
// queries per register for the scores (one in each 256-bit half, lanes as the AVX2 kernels'). Shapes they do not
// take (head_dim not a multiple of 16, or over 256) go one query at a time through the kernels above.
void kv_block_scores_f32_avx512(const AttnBlock& b, float* scores, int64_t ld);
void kv_block_scores_f16_avx512(const AttnBlock& b, float* scores, int64_t ld);
void kv_block_weighted_sum_f32_avx512(const AttnBlock& b, const float* p, int64_t ld);
void kv_block_weighted_sum_f16_avx512(const AttnBlock& b, const float* p, int64_t ld);
void kv_block_weighted_sum_q8_0_avx512(const AttnBlock& b, const float* p, int64_t ld);
#endif
// Dots of n_q queries quantized to Q8_0 (qq[n_q][head_dim], dq[n_q][head_dim / 32]) with key rows k + j * stride:
// dots[i * ld + j] = the Q8_0 dot (above, before the scale) for j < n_pos. False, with nothing written, for shapes
// the kernel does not take.
using Q8LanesFn = bool (*)(const int8_t* qq, const float* dq, int n_q, const uint8_t* k, int64_t stride,
                           int64_t head_dim, int64_t n_pos, float* dots, int64_t ld);
#if defined(__x86_64__)
// AVX2 (x86/attention_q8_0_avx2.cpp) and AVX-512 VNNI (x86/attention_q8_0_avx512.cpp): 8 or 16 positions in the lanes
// of a register, each block of that many keys transposed once for all the queries; head_dim up to 256.
bool q8_0_dots_avx2(const int8_t* qq, const float* dq, int n_q, const uint8_t* k, int64_t stride, int64_t head_dim,
                    int64_t n_pos, float* dots, int64_t ld);
// AVX-VNNI (x86/attention_q8_0_avxvnni.cpp): q8_0_dots_avx2 with {vex} vpdpbusd, for the AVX2 level where the CPU has
// it.
bool q8_0_dots_avxvnni(const int8_t* qq, const float* dq, int n_q, const uint8_t* k, int64_t stride, int64_t head_dim,
                       int64_t n_pos, float* dots, int64_t ld);
bool q8_0_dots_avx512(const int8_t* qq, const float* dq, int n_q, const uint8_t* k, int64_t stride, int64_t head_dim,
                      int64_t n_pos, float* dots, int64_t ld);
#endif
#if defined(__aarch64__)
// NEON (arm/attention_neon.cpp): the AVX2 kernels' order on two float32x4 registers per 8 lanes; F32, F16 and Q8_0.
void kv_scores_f32_neon(const AttnHead& h, float* scores);
void kv_scores_f16_neon(const AttnHead& h, float* scores);
void kv_weighted_sum_f32_neon(const AttnHead& h, const float* p, float* out);
void kv_weighted_sum_f16_neon(const AttnHead& h, const float* p, float* out);
void kv_weighted_sum_q8_0_neon(const AttnHead& h, const float* p, float* out);
// NEON dotprod (arm/attention_q8_0_neon.cpp): Q8LanesFn with 4 positions in the lanes of a register.
bool q8_0_dots_neon_dot(const int8_t* qq, const float* dq, int n_q, const uint8_t* k, int64_t stride, int64_t head_dim,
                        int64_t n_pos, float* dots, int64_t ld);
#endif

}  // namespace bitnet::kernels
