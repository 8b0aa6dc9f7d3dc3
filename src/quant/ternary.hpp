// The engine's portable compute layout for ternary weights, made once at load from any ternary type.
// Kernels (src/kernels) read this; the per-ISA repacks of issue "Fast CPU kernels" start from it.
#pragma once

#include <cstdint>
#include <vector>

#include "bitnet/status.hpp"
#include "quant/quant.hpp"

namespace bitnet::quant {

struct TernaryMatrix {
  int64_t rows = 0;   // output features
  int64_t cols = 0;   // input features (the dot-product length)
  int64_t group = 0;  // columns sharing one weight scale: 256 for TQ1_0/TQ2_0, cols for per-tensor scales
  ActQuant act_quant = ActQuant::kPerTokenAbsmax;
  // Row-major 2-bit codes, 4 per byte: element j of a row sits in bits 2*(j%4)+1..2*(j%4) of byte j/4 of
  // that row; code = w + 1 (0 -> -1, 1 -> 0, 2 -> +1; 3 never occurs). Rows are cols/4 bytes (cols % 4 == 0).
  std::vector<uint8_t> codes;
  // rows * (cols / group) scales, row-major: weight (r, j) = (code - 1) * scales[r * (cols/group) + j/group].
  std::vector<float> scales;

  int64_t row_bytes() const { return cols / 4; }
  int64_t groups_per_row() const { return group == 0 ? 0 : cols / group; }
  int weight(int64_t r, int64_t c) const {
    return static_cast<int>((codes[static_cast<size_t>(r * row_bytes() + c / 4)] >> (2 * (c % 4))) & 3) - 1;
  }
};

// Unpacks a ternary tensor [n_rows][ne0] of type TQ1_0, TQ2_0 or I2_S (data: tensor_bytes bytes) into the
// compute layout. Any other type is invalid_argument.
Result<TernaryMatrix> to_ternary(uint32_t type, const uint8_t* data, int64_t ne0, int64_t n_rows);

}  // namespace bitnet::quant
