// Activation preparation, the scalar kernel and the ISA dispatcher for ternary matmuls.
#include "kernels/ternary.hpp"

namespace bitnet::kernels {

void prepare_acts(quant::ActQuant rule, const float* x, int64_t n_tokens, int64_t cols, PreparedActs& out) {
  quantize_acts_ref(rule, x, n_tokens, cols, out.qa);
  const QuantizedActs& qa = out.qa;
  const int64_t groups = cols / qa.group;
  out.sums.assign(static_cast<size_t>(n_tokens * groups), 0);
  for (int64_t t = 0; t < n_tokens; ++t) {
    const int8_t* q = qa.q.data() + t * cols;
    int32_t* s = out.sums.data() + t * groups;
    for (int64_t c = 0; c < cols; ++c) s[c / qa.group] += q[c];
  }
}

void ternary_matmul_scalar(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                           int64_t row_begin, int64_t row_end) {
  ternary_matmul_ref(w, a.qa, y, y_stride, row_begin, row_end);
}

const TernaryKernel& ternary_kernel(IsaLevel level) {
  static const TernaryKernel kScalar{IsaLevel::kScalar, ternary_matmul_scalar};
#if defined(__x86_64__)
  static const TernaryKernel kAvx2{IsaLevel::kAvx2, ternary_matmul_avx2};
  static const TernaryKernel kAvx512{IsaLevel::kAvx512, ternary_matmul_avx512};
  const IsaLevel cap = static_cast<int>(level) < static_cast<int>(max_supported_isa()) ? level : max_supported_isa();
  if (cap == IsaLevel::kAvx512) return kAvx512;
  if (cap == IsaLevel::kAvx2) return kAvx2;
#elif defined(__aarch64__)
  static const TernaryKernel kNeon{IsaLevel::kNeon, ternary_matmul_neon};
  static const TernaryKernel kNeonDot{IsaLevel::kNeonDot, ternary_matmul_neon_dot};
  const IsaLevel cap = static_cast<int>(level) < static_cast<int>(max_supported_isa()) ? level : max_supported_isa();
  if (cap == IsaLevel::kNeonDot) return kNeonDot;
  if (cap == IsaLevel::kNeon) return kNeon;
#else
  (void)level;
#endif
  return kScalar;
}

}  // namespace bitnet::kernels
