// Scalar reference matmul over dequantized weight rows.
#include "kernels/ref/float_ref.hpp"

#include "quant/quant.hpp"

namespace bitnet::kernels {

float dot_f32(const float* a, const float* b, int64_t n) {
  // Four partial sums: lets the compiler vectorise without -ffast-math, and is what every fast kernel
  // approximates anyway (float addition order differs between kernels; the bound is in the tests).
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

Status float_matmul_ref(const FloatRows& w, const float* x, int64_t n_tokens, float* y, int64_t y_stride,
                        int64_t row_begin, int64_t row_end, float* scratch) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* row;
    if (w.type == quant::kF32) {
      row = reinterpret_cast<const float*>(w.data) + r * w.ne0;
    } else {
      BITNET_RETURN_IF_ERROR(quant::dequantize_rows(w.type, w.data, w.ne0, w.n_rows, r, 1, scratch));
      row = scratch;
    }
    for (int64_t t = 0; t < n_tokens; ++t) y[t * y_stride + r] = dot_f32(row, x + t * w.ne0, w.ne0);
  }
  return Status::Ok();
}

}  // namespace bitnet::kernels
