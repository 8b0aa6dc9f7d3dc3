// Scalar reference for ternary matmuls (see ternary_ref.hpp for the numerics and whose they are).
#include "kernels/ref/ternary_ref.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "quant/q8_k.hpp"

namespace bitnet::kernels {

float quantize_row_absmax_ref(const float* x, int64_t n, int8_t* q) {
  // max|x| in float is the same value as in double (max is exact); the floor applies in double.
  float fmax = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    fmax = fmax < a ? a : fmax;
  }
  const double max = std::max(0.00001, static_cast<double>(fmax));
  const float s = static_cast<float>(127.0 / max);
  for (int64_t i = 0; i < n; ++i) q[i] = static_cast<int8_t>(absmax_code(x[i], s));
  return s;
}

void quantize_act_row_ref(quant::ActQuant rule, const float* row, int64_t t, QuantizedActs& out) {
  const int64_t cols = out.cols;
  int8_t* qt = out.q.data() + t * cols;
  if (rule == quant::ActQuant::kQ8K) {
    quant::quantize_q8_k(row, cols, qt, out.scales.data() + t * (cols / 256));
  } else {
    out.scales[static_cast<size_t>(t)] = quantize_row_absmax_ref(row, cols, qt);
  }
}

void quantize_acts_rows_ref(quant::ActQuant rule, const float* x, int64_t t_begin, int64_t t_end, QuantizedActs& out) {
  for (int64_t t = t_begin; t < t_end; ++t) quantize_act_row_ref(rule, x + t * out.cols, t, out);
}

void size_quantized_acts(quant::ActQuant rule, int64_t n_tokens, int64_t cols, QuantizedActs& out) {
  out.rule = rule;
  out.cols = cols;
  out.n_tokens = n_tokens;
  out.group = rule == quant::ActQuant::kQ8K ? 256 : cols;
  out.q.resize(static_cast<size_t>(n_tokens * cols));
  out.scales.resize(static_cast<size_t>(n_tokens * (cols / out.group)));
}

void quantize_acts_ref(quant::ActQuant rule, const float* x, int64_t n_tokens, int64_t cols, QuantizedActs& out) {
  size_quantized_acts(rule, n_tokens, cols, out);
  quantize_acts_rows_ref(rule, x, 0, n_tokens, out);
}

int32_t ternary_dot_ref(const uint8_t* row, int64_t cols, const int8_t* q, int64_t first, int64_t n) {
  int32_t sum = 0;
  for (int64_t j = first; j < first + n; ++j) {
    const int w = static_cast<int>(quant::ternary_code(row, cols, j)) - 1;
    sum += w * q[j - first];
  }
  return sum;
}

namespace {

template <typename T>
void grow(std::vector<T>& v, int64_t n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
}

}  // namespace

void ternary_matmul_ref(const quant::TernaryMatrix& w, const QuantizedActs& a, float* y, int64_t y_stride,
                        int64_t row_begin, int64_t row_end) {
  const int64_t groups = w.groups_per_row();
  // Per-thread buffers that only grow: a model's first calls size them, and later tokens allocate nothing (this
  // is the matmul of every ternary layer where the CPU has no vector level the kernels use).
  static thread_local std::vector<int32_t> idot;
  // A matrix in panels: each row's codes and scales copied out in the row layout first.
  static thread_local std::vector<uint8_t> row_copy;
  static thread_local std::vector<float> scales_copy;
  grow(idot, groups);
  if (w.panels) {
    grow(row_copy, w.row_bytes());
    grow(scales_copy, groups);
  }
  for (int64_t t = 0; t < a.n_tokens; ++t) {
    const int8_t* qt = a.q.data() + t * a.cols;
    const float* at = a.scales.data() + t * (a.cols / a.group);
    for (int64_t r = row_begin; r < row_end; ++r) {
      const uint8_t* row = w.panels ? row_copy.data() : w.row(r);
      const float* ws = w.panels ? scales_copy.data() : w.scales.data() + r * groups;
      if (w.panels) {
        quant::row_codes(w, r, row_copy.data());
        for (int64_t g = 0; g < groups; ++g) scales_copy[static_cast<size_t>(g)] = w.scale(r, g);
      }
      for (int64_t g = 0; g < groups; ++g)
        idot[static_cast<size_t>(g)] = ternary_dot_ref(row, w.cols, qt + g * w.group, g * w.group, w.group);
      y[t * y_stride + r] = ternary_epilogue(a.rule, idot.data(), groups, ws, at);
    }
  }
}

}  // namespace bitnet::kernels
