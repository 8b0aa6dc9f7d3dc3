// Dispatch for the float row dots.
#include "kernels/float_rows.hpp"

#include <algorithm>

#include "quant/quant.hpp"

namespace bitnet::kernels {

RowDotFn float_row_dot(uint32_t type, IsaLevel level) {
#if defined(__x86_64__)
  const int cap = static_cast<int>(level) < static_cast<int>(max_supported_isa())
                      ? static_cast<int>(level)
                      : static_cast<int>(max_supported_isa());
  if (cap >= static_cast<int>(IsaLevel::kAvx2)) {
    switch (type) {
      case quant::kF32:
        return row_dot_f32_avx2;
      case quant::kF16: return row_dot_f16_avx2;
      case quant::kBF16: return row_dot_bf16_avx2;
      default:
        break;
    }
  }
#elif defined(__aarch64__)
  if (static_cast<int>(level) >= static_cast<int>(IsaLevel::kNeon) &&
      static_cast<int>(max_supported_isa()) >= static_cast<int>(IsaLevel::kNeon)) {
    switch (type) {
      case quant::kF32:
        return row_dot_f32_neon;
      case quant::kF16: return row_dot_f16_neon;
      case quant::kBF16: return row_dot_bf16_neon;
      default:
        break;
    }
  }
#else
  (void)type;
  (void)level;
#endif
  return nullptr;
}

}  // namespace bitnet::kernels

namespace bitnet::kernels {

Status float_matmul(const FloatRows& w, RowDotFn dot, const float* x, int64_t n_tokens, float* y, int64_t y_stride,
                    int64_t row_begin, int64_t row_end, float* scratch) {
  if (dot == nullptr) return float_matmul_ref(w, x, n_tokens, y, y_stride, row_begin, row_end, scratch);
  BITNET_ASSIGN_OR_RETURN(const uint64_t row_bytes, quant::tensor_bytes(w.type, {w.ne0, 1}));
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* row = w.data + static_cast<uint64_t>(r) * row_bytes;
    for (int64_t t = 0; t < n_tokens; ++t) y[t * y_stride + r] = dot(row, x + t * w.ne0, w.ne0);
  }
  return Status::Ok();
}

}  // namespace bitnet::kernels
