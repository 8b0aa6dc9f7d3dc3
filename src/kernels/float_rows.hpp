// Fast dot products of one weight row stored in a float type (F32, F16, BF16) with float activations: output heads and
// float linear layers (Q6_K and Q8_0 take integer dots instead: kquant.hpp). Each has
// a scalar twin (dequantize the row, then kernels::dot_f32); results differ from it only by float summation
// order (bound in the parity test).
#pragma once

#include <cstdint>

#include "core/cpu_features.hpp"

namespace bitnet::kernels {

using RowDotFn = float (*)(const uint8_t* row, const float* x, int64_t n);

// The fast row dot for `type` at or below `level`, or nullptr (callers then use the scalar path).
RowDotFn float_row_dot(uint32_t type, IsaLevel level);

#if defined(__x86_64__)
float row_dot_f32_avx2(const uint8_t* row, const float* x, int64_t n);
float row_dot_f16_avx2(const uint8_t* row, const float* x, int64_t n);
float row_dot_bf16_avx2(const uint8_t* row, const float* x, int64_t n);
#elif defined(__aarch64__)
float row_dot_f32_neon(const uint8_t* row, const float* x, int64_t n);
float row_dot_f16_neon(const uint8_t* row, const float* x, int64_t n);
float row_dot_bf16_neon(const uint8_t* row, const float* x, int64_t n);
#endif

}  // namespace bitnet::kernels

#include "bitnet/status.hpp"
#include "kernels/ref/float_ref.hpp"

namespace bitnet::kernels {

// y[t * y_stride + r] = W[r] . x[t] for rows [row_begin, row_end) with `dot` (from float_row_dot); falls back to
// float_matmul_ref (scratch: ne0 floats) when dot is nullptr.
Status float_matmul(const FloatRows& w, RowDotFn dot, const float* x, int64_t n_tokens, float* y, int64_t y_stride,
                    int64_t row_begin, int64_t row_end, float* scratch);

}  // namespace bitnet::kernels
