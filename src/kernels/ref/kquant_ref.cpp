// Scalar Q6_K x Q8_K: the definition the SIMD kernels are held to, plus Q8_K activation preparation and the
// dispatcher.
#include <cstring>

#include "core/half.hpp"
#include "kernels/kquant.hpp"
#include "quant/q6_k.hpp"
#include "quant/q8_k.hpp"
#include "quant/quant.hpp"

namespace bitnet::kernels {

void size_q8k_acts(int64_t n_tokens, int64_t cols, Q8KActs& out) {
  out.n_tokens = n_tokens;
  out.cols = cols;
  out.q.resize(static_cast<size_t>(n_tokens * cols));
  out.d.resize(static_cast<size_t>(n_tokens * (cols / quant::kQ8KBlockElems)));
  out.bsums.resize(static_cast<size_t>(n_tokens * (cols / 16)));
}

void prepare_q8k_acts_rows(const float* x, int64_t t_begin, int64_t t_end, Q8KActs& out) {
  const int64_t cols = out.cols;
  for (int64_t t = t_begin; t < t_end; ++t)
    quant::quantize_q8_k(x + t * cols, cols, out.q.data() + t * cols, out.d.data() + t * (cols / quant::kQ8KBlockElems),
                         out.bsums.data() + t * (cols / 16));
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

void q6_k_matmul_scalar(const FloatRows& w, const Q8KActs& a, float* y, int64_t y_stride, int64_t row_begin,
                        int64_t row_end) {
  const int64_t nb = w.ne0 / quant::kQ6KBlockElems;
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* row = w.data + r * nb * quant::kQ6KBlockBytes;
    for (int64_t t = 0; t < a.n_tokens; ++t) {
      float acc = 0.0f;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = row + b * quant::kQ6KBlockBytes;
        uint16_t dh;
        std::memcpy(&dh, blk + 208, sizeof dh);
        const int32_t isum = q6_k_block_isum_ref(blk, a.q.data() + t * a.cols + b * quant::kQ8KBlockElems);
        acc = kquant_accumulate(acc, a.d[static_cast<size_t>(t * nb + b)], fp16_to_float(dh), isum);
      }
      y[t * y_stride + r] = acc;
    }
  }
}

KQuantMatmulFn kquant_matmul(uint32_t type, IsaLevel level) {
  if (type != quant::kQ6_K) return nullptr;
#if defined(__x86_64__)
  const int cap = static_cast<int>(level) < static_cast<int>(max_supported_isa())
                      ? static_cast<int>(level)
                      : static_cast<int>(max_supported_isa());
  if (cap >= static_cast<int>(IsaLevel::kAvx512)) return q6_k_matmul_avx512;
  if (cap >= static_cast<int>(IsaLevel::kAvx2)) return q6_k_matmul_avx2;
#elif defined(__aarch64__)
  const int cap = static_cast<int>(level) < static_cast<int>(max_supported_isa())
                      ? static_cast<int>(level)
                      : static_cast<int>(max_supported_isa());
  if (cap >= static_cast<int>(IsaLevel::kNeonDot)) return q6_k_matmul_neon_dot;
  if (cap >= static_cast<int>(IsaLevel::kNeon)) return q6_k_matmul_neon;
#else
  (void)level;
#endif
  return q6_k_matmul_scalar;
}

}  // namespace bitnet::kernels
