// Scalar Q6_K x Q8_K and Q8_0 x Q8_0: the definitions the SIMD kernels are held to, plus activation preparation
// and the dispatcher.
#include <cstring>

#include "core/half.hpp"
#include "kernels/kquant.hpp"
#include "quant/q6_k.hpp"
#include "quant/q8_0.hpp"
#include "quant/q8_k.hpp"
#include "quant/quant.hpp"

namespace bitnet::kernels {

uint32_t int_act_type(uint32_t type) {
  if (type == quant::kQ6_K) return quant::kQ8_K;
  if (type == quant::kQ8_0) return quant::kQ8_0;
  return 0;
}

void size_int_acts(uint32_t act_type, int64_t n_tokens, int64_t cols, IntActs& out) {
  const int64_t block = act_type == quant::kQ8_0 ? quant::kQ8_0BlockElems : quant::kQ8KBlockElems;
  out.type = act_type;
  out.n_tokens = n_tokens;
  out.cols = cols;
  out.q.resize(static_cast<size_t>(n_tokens * cols));
  out.d.resize(static_cast<size_t>(n_tokens * (cols / block)));
  out.bsums.resize(act_type == quant::kQ8_0 ? 0 : static_cast<size_t>(n_tokens * (cols / 16)));
}

void prepare_int_acts_rows(const float* x, int64_t t_begin, int64_t t_end, IntActs& out) {
  const int64_t cols = out.cols;
  for (int64_t t = t_begin; t < t_end; ++t) {
    if (out.type == quant::kQ8_0)
      quant::quantize_q8_0_acts(x + t * cols, cols, out.q.data() + t * cols,
                                out.d.data() + t * (cols / quant::kQ8_0BlockElems));
    else
      quant::quantize_q8_k(x + t * cols, cols, out.q.data() + t * cols,
                           out.d.data() + t * (cols / quant::kQ8KBlockElems), out.bsums.data() + t * (cols / 16));
  }
}

// Element e = 128h + 32k + l (h < 2, k < 4, l < 32): low nibble of ql[64h + l + 32(k & 1)] (the high nibble
// for k >= 2), high two bits (qh[32h + l] >> 2k) & 3, sub-block scale sc[e / 16]; value q - 32.
int32_t q6_k_block_isum_ref(const uint8_t* block, const int8_t* q8) {
  const uint8_t* ql = block;
  const uint8_t* qh = block + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(block + 192);
  int32_t isum = 0;
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 4; ++k) {
      int32_t sub[2] = {0, 0};
      for (int l = 0; l < 32; ++l) {
        const int lo = (ql[64 * h + l + 32 * (k & 1)] >> (k >= 2 ? 4 : 0)) & 0xF;
        const int hi = (qh[32 * h + l] >> (2 * k)) & 3;
        const int e = 128 * h + 32 * k + l;
        sub[l / 16] += ((lo | (hi << 4)) - 32) * q8[e];
      }
      const int e0 = 128 * h + 32 * k;
      isum += sc[e0 / 16] * sub[0] + sc[e0 / 16 + 1] * sub[1];
    }
  return isum;
}

int32_t q8_0_block_isum_ref(const uint8_t* block, const int8_t* q8) {
  int32_t isum = 0;
  for (int i = 0; i < 32; ++i) isum += static_cast<int8_t>(block[2 + i]) * q8[i];
  return isum;
}

namespace {

// The scalar definition for a weight type whose blocks hold kElems weights in kBytes bytes, the fp16 weight scale
// at byte kDAt: each block's exact isum, then the shared float step, block after block.
template <int64_t kElems, int64_t kBytes, int64_t kDAt, int32_t (*kIsum)(const uint8_t*, const int8_t*)>
void blocks_matmul_scalar(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                          int64_t row_end) {
  const int64_t nb = w.ne0 / kElems;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* row = w.data + r * nb * kBytes;
    for (int64_t t = 0; t < a.n_tokens; ++t) {
      float acc = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = row + b * kBytes;
        uint16_t dh;
        std::memcpy(&dh, blk + kDAt, sizeof dh);
        const int32_t isum = kIsum(blk, a.q + t * a.cols + b * kElems);
        acc = kquant_accumulate(acc, a.d[static_cast<size_t>(t * nb + b)], fp16_to_float(dh), isum);
      }
      y[t * y_stride + r] = acc;
    }
  }
}

}  // namespace

void q6_k_matmul_scalar(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end) {
  blocks_matmul_scalar<quant::kQ6KBlockElems, quant::kQ6KBlockBytes, 208, q6_k_block_isum_ref>(w, a, y, y_stride,
                                                                                               row_begin, row_end);
}

void q8_0_matmul_scalar(const FloatRows& w, const IntActsView& a, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end) {
  blocks_matmul_scalar<quant::kQ8_0BlockElems, quant::kQ8_0BlockBytes, 0, q8_0_block_isum_ref>(w, a, y, y_stride,
                                                                                               row_begin, row_end);
}

KQuantMatmulFn kquant_matmul(uint32_t type, IsaLevel level) {
  if (type != quant::kQ6_K && type != quant::kQ8_0) return nullptr;
  const bool q6 = type == quant::kQ6_K;
#if defined(__x86_64__)
  const int cap = static_cast<int>(level) < static_cast<int>(max_supported_isa())
                      ? static_cast<int>(level)
                      : static_cast<int>(max_supported_isa());
  if (cap >= static_cast<int>(IsaLevel::kAvx512)) return q6 ? q6_k_matmul_avx512 : q8_0_matmul_avx512;
  if (cap >= static_cast<int>(IsaLevel::kAvx2))
    return q6 ? q6_k_matmul_avx2 : cpu_features().avxvnni ? q8_0_matmul_avxvnni : q8_0_matmul_avx2;
#elif defined(__aarch64__)
  const int cap = static_cast<int>(level) < static_cast<int>(max_supported_isa())
                      ? static_cast<int>(level)
                      : static_cast<int>(max_supported_isa());
  if (cap >= static_cast<int>(IsaLevel::kNeonDot)) return q6 ? q6_k_matmul_neon_dot : q8_0_matmul_neon_dot;
  if (cap >= static_cast<int>(IsaLevel::kNeon)) return q6 ? q6_k_matmul_neon : q8_0_matmul_neon;
#else
  (void)level;
#endif
  return q6 ? q6_k_matmul_scalar : q8_0_matmul_scalar;
}

}  // namespace bitnet::kernels
