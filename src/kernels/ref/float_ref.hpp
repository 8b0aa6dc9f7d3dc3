// Scalar reference matmul for weights stored in a float or block-quantized (non-ternary) type:
// each weight row is dequantized once per call and dotted with every token's activations.
#pragma once

#include <cstdint>

#include "bitnet/status.hpp"

namespace bitnet::kernels {

// A weight matrix [n_rows][ne0] in any dequantizable type, pointing into the model file.
struct FloatRows {
  uint32_t type = 0;
  const uint8_t* data = nullptr;
  int64_t ne0 = 0;
  int64_t n_rows = 0;
};

float dot_f32(const float* a, const float* b, int64_t n);

// y[t * y_stride + r] = W[r] . x[t] for rows [row_begin, row_end) and tokens [0, n_tokens).
// scratch holds ne0 floats (one dequantized row).
Status float_matmul_ref(const FloatRows& w, const float* x, int64_t n_tokens, float* y, int64_t y_stride,
                        int64_t row_begin, int64_t row_end, float* scratch);

}  // namespace bitnet::kernels
