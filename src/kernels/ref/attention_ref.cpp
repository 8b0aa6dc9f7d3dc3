// Scalar reference attention over F32, F16 and Q8_0 KV rows: each stored value is widened to float (exactly),
// the query rounded to f16 against an F16 cache, then the arithmetic of kernels/attention.hpp in its order; Q8_0
// scores are integer dots with the query quantized to Q8_0 (kernels/kquant.hpp's definition).
#include <cmath>
#include <cstring>
#include <limits>

#include "core/half.hpp"
#include "core/vector_clones.hpp"
#include "kernels/attention.hpp"
#include "kernels/kquant.hpp"
#include "quant/q8_0.hpp"
#include "quant/quant.hpp"

namespace bitnet::kernels {
namespace {

// Element i of a stored row, as float.
template <uint32_t kType>
float kv_elem(const uint8_t* row, int64_t i);

template <>
float kv_elem<quant::kF32>(const uint8_t* row, int64_t i) {
  float f;
  std::memcpy(&f, row + 4 * i, 4);
  return f;
}

template <>
float kv_elem<quant::kF16>(const uint8_t* row, int64_t i) {
  uint16_t h;
  std::memcpy(&h, row + 2 * i, 2);
  return fp16_to_float(h);
}

// Q8_0: q * d, exact in float (8 x 11 significant bits).
template <>
float kv_elem<quant::kQ8_0>(const uint8_t* row, int64_t i) {
  const uint8_t* block = row + (i / quant::kQ8_0BlockElems) * quant::kQ8_0BlockBytes;
  uint16_t d;
  std::memcpy(&d, block, 2);
  return static_cast<float>(static_cast<int8_t>(block[2 + i % quant::kQ8_0BlockElems])) * fp16_to_float(d);
}

// Element i of the query as the dot product takes it: rounded to f16 against an F16 cache.
template <uint32_t kType>
float q_elem(const float* q, int64_t i) {
  return kType == quant::kF16 ? fp16_to_float(float_to_fp16(q[i])) : q[i];
}

template <uint32_t kType>
void scores_ref(const AttnHead& h, float* scores) {
  for (int64_t j = 0; j < h.n_pos; ++j) {
    const uint8_t* row = h.k + j * h.stride;
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t i = 0; i < h.head_dim; ++i)
      s[i % 8] = std::fma(q_elem<kType>(h.q, i), kv_elem<kType>(row, i), s[i % 8]);
    const float dot = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
    scores[j] = dot * h.scale;
  }
}

template <uint32_t kType>
void weighted_sum_ref(const AttnHead& h, const float* p, float* out) {
  for (int64_t i = 0; i < h.head_dim; ++i) out[i] = 0.0f;
  for (int64_t j = 0; j < h.n_pos; ++j) {
    const uint8_t* row = h.v + j * h.stride;
    for (int64_t i = 0; i < h.head_dim; ++i) out[i] = std::fma(p[j], kv_elem<kType>(row, i), out[i]);
  }
}

}  // namespace

void kv_scores_f32_ref(const AttnHead& h, float* scores) { scores_ref<quant::kF32>(h, scores); }
void kv_scores_f16_ref(const AttnHead& h, float* scores) { scores_ref<quant::kF16>(h, scores); }
// Without an early exit, so that the compiler's vectors take it (a query is at most a few hundred values).
BITNET_VECTOR_CLONES bool query_is_finite(const float* q, int64_t n) {
  int finite = 1;
  for (int64_t i = 0; i < n; ++i) finite &= std::fabs(q[i]) <= std::numeric_limits<float>::max();
  return finite != 0;
}

// Block after block (each quantized once), every position's sum taking the block's term in turn: the same float
// steps, per position, as one position at a time.
void kv_scores_q8_0_ref(const AttnHead& h, float* scores) {
  if (!query_is_finite(h.q, h.head_dim)) {
    for (int64_t j = 0; j < h.n_pos; ++j) scores[j] = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  for (int64_t j = 0; j < h.n_pos; ++j) scores[j] = 0.0f;
  for (int64_t b = 0; b < h.head_dim / quant::kQ8_0BlockElems; ++b) {
    int8_t qb[quant::kQ8_0BlockElems];
    float dq;
    quant::quantize_q8_0_acts(h.q + b * quant::kQ8_0BlockElems, quant::kQ8_0BlockElems, qb, &dq);
    for (int64_t j = 0; j < h.n_pos; ++j) {
      const uint8_t* block = h.k + j * h.stride + b * quant::kQ8_0BlockBytes;
      uint16_t dk;
      std::memcpy(&dk, block, 2);
      scores[j] = kquant_accumulate(scores[j], dq, fp16_to_float(dk), q8_0_block_isum_ref(block, qb));
    }
  }
  for (int64_t j = 0; j < h.n_pos; ++j) scores[j] *= h.scale;
}
void kv_weighted_sum_f32_ref(const AttnHead& h, const float* p, float* out) {
  weighted_sum_ref<quant::kF32>(h, p, out);
}
void kv_weighted_sum_f16_ref(const AttnHead& h, const float* p, float* out) {
  weighted_sum_ref<quant::kF16>(h, p, out);
}
void kv_weighted_sum_q8_0_ref(const AttnHead& h, const float* p, float* out) {
  weighted_sum_ref<quant::kQ8_0>(h, p, out);
}

}  // namespace bitnet::kernels
