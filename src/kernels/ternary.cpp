// Activation preparation, the scalar kernel and the ISA dispatcher for ternary matmuls.
#include "kernels/ternary.hpp"

#include <cstring>

namespace bitnet::kernels {

void size_prepared_acts(quant::ActQuant rule, int64_t n_tokens, int64_t cols, PreparedActs& out) {
  size_quantized_acts(rule, n_tokens, cols, out.qa);
  out.sums.resize(static_cast<size_t>(n_tokens * (cols / out.qa.group)));
  if (cpu_features().neon_i8mm && n_tokens >= 2)
    out.pairs.resize(static_cast<size_t>((n_tokens + 1) / 2 * (cols / 128 * 128) * 2));
  else
    out.pairs.clear();
}

namespace {

// Token t's quantized activations q into its half of out.pairs (both halves for an odd last token).
void zip_token(const int8_t* q, int64_t t, PreparedActs& out) {
  const int64_t full = out.qa.cols / 128 * 128;
  int8_t* dst = out.pairs.data() + (t / 2) * full * 2;
  const bool both = t % 2 == 0 && t + 1 == out.qa.n_tokens;
  for (int64_t c = 0; c < full; c += 8) {
    std::memcpy(dst + 2 * c + 8 * (t % 2), q + c, 8);
    if (both) std::memcpy(dst + 2 * c + 8, q + c, 8);
  }
}

}  // namespace

void prepare_acts_token(const float* row, int64_t t, PreparedActs& out) {
  QuantizedActs& qa = out.qa;
  const int64_t cols = qa.cols, group = qa.group, groups = cols / group;
  int8_t* q = qa.q.data() + t * cols;
#if defined(__x86_64__)
  if (qa.rule == quant::ActQuant::kPerTokenAbsmax && active_isa() == IsaLevel::kAvx512 && group == cols) {
    qa.scales[static_cast<size_t>(t)] = quantize_row_absmax_avx512(row, cols, q, out.sums.data() + t);
    return;
  }
  if (qa.rule == quant::ActQuant::kPerTokenAbsmax &&
      static_cast<int>(active_isa()) >= static_cast<int>(IsaLevel::kAvx2))
    qa.scales[static_cast<size_t>(t)] = quantize_row_absmax_avx2(row, cols, q);
  else
    quantize_act_row_ref(qa.rule, row, t, qa);
#else
  quantize_act_row_ref(qa.rule, row, t, qa);
#endif
  int32_t* s = out.sums.data() + t * groups;
  for (int64_t g = 0; g < groups; ++g) {
    int32_t sum = 0;
    for (int64_t c = 0; c < group; ++c) sum += q[g * group + c];
    s[g] = sum;
  }
  if (!out.pairs.empty()) zip_token(q, t, out);
}

void prepare_acts_rows(const float* x, int64_t t_begin, int64_t t_end, PreparedActs& out) {
  for (int64_t t = t_begin; t < t_end; ++t) prepare_acts_token(x + t * out.qa.cols, t, out);
}

uint8_t* kernel_scratch(size_t bytes) {
  static thread_local AlignedVector<uint8_t> scratch;
  if (scratch.size() < bytes) scratch.resize(bytes);
  return scratch.data();
}

void prepare_acts(quant::ActQuant rule, const float* x, int64_t n_tokens, int64_t cols, PreparedActs& out) {
  size_prepared_acts(rule, n_tokens, cols, out);
  prepare_acts_rows(x, 0, n_tokens, out);
}

void ternary_matmul_scalar(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                           int64_t row_begin, int64_t row_end) {
  ternary_matmul_ref(w, a.qa, y, y_stride, row_begin, row_end);
}

bool ternary_wants_panels(const quant::TernaryMatrix& m) {
#if defined(__x86_64__)
  if (active_isa() == IsaLevel::kAvx2)
    return quant::panels_fit(m) && ((m.group == m.cols && m.act_quant == quant::ActQuant::kPerTokenAbsmax) ||
                                    (m.group == 256 && m.act_quant == quant::ActQuant::kQ8K && m.cols / 256 <= 256));
  return active_isa() == IsaLevel::kAvx512 && quant::panels_fit(m) && m.cols / m.group <= 256 &&
         m.group <= kPanelGemvMaxGroup;
#else
  (void)m;
  return false;
#endif
}

bool ternary_wants_dense(const quant::TernaryMatrix& m) {
#if defined(__x86_64__)
  return ternary_wants_panels(m) && active_isa() == IsaLevel::kAvx512 && cpu_features().avx512vbmi &&
         quant::dense_fit(m);
#else
  (void)m;
  return false;
#endif
}

const TernaryKernel& ternary_kernel(IsaLevel level) {
  static const TernaryKernel kScalar{IsaLevel::kScalar, ternary_matmul_scalar};
#if defined(__x86_64__)
  static const TernaryKernel kAvx2{IsaLevel::kAvx2,
                                   cpu_features().avxvnni ? ternary_matmul_avx2_vnni : ternary_matmul_avx2};
  static const TernaryKernel kAvx512{IsaLevel::kAvx512,
                                     cpu_features().gfni ? ternary_matmul_avx512_gfni : ternary_matmul_avx512};
  const IsaLevel cap = static_cast<int>(level) < static_cast<int>(max_supported_isa()) ? level : max_supported_isa();
  if (cap == IsaLevel::kAvx512) return kAvx512;
  if (cap == IsaLevel::kAvx2) return kAvx2;
#elif defined(__aarch64__)
  static const TernaryKernel kNeon{IsaLevel::kNeon, ternary_matmul_neon};
  static const TernaryKernel kNeonDot{IsaLevel::kNeonDot,
                                      cpu_features().neon_i8mm ? ternary_matmul_neon_i8mm : ternary_matmul_neon_dot};
  const IsaLevel cap = static_cast<int>(level) < static_cast<int>(max_supported_isa()) ? level : max_supported_isa();
  if (cap == IsaLevel::kNeonDot) return kNeonDot;
  if (cap == IsaLevel::kNeon) return kNeon;
#else
  (void)level;
#endif
  return kScalar;
}

}  // namespace bitnet::kernels
