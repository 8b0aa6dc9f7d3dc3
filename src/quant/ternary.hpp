// The engine's compute layout for ternary weights: bitnet.cpp I2_S's own 128-column blocks, so I2_S tensors
// are used in place from the mapped file and every other ternary type is repacked into it once, at load.
#pragma once

#include <cstdint>
#include <vector>

#include "bitnet/status.hpp"
#include "core/aligned.hpp"
#include "quant/quant.hpp"
#include "quant/tl_config.hpp"

namespace bitnet::quant {

// Layout of one row of `cols` columns (cols % 4 == 0), cols / 4 bytes, code = w + 1 (0 -> -1, 1 -> 0,
// 2 -> +1; 3 reads as +2 everywhere, as in bitnet.cpp's kernels and dequantize_i2_s):
//  - each full 128-column block b is 32 bytes; column 128b + 32j + k sits in byte 32b + k at shift 6 - 2j,
//    so (byte >> (6 - 2j)) & 3 over the block's 32 bytes lines up with 32 consecutive activations;
//  - the cols % 128 tail columns, after the full blocks: column c in byte c / 4 at shift 2 * (c % 4).
// Rows of a multiple of 128 columns are exactly I2_S's bytes (whose blocks run over the flattened tensor).
// I2_S and TQ* files have whole blocks (128, 256 columns); the tail serves TL1/TL2 matrices repacked at load
// (bitnet_b1_58-3B's ffn_down: 8640 columns) and float ones ternarized.
inline constexpr int64_t kTernaryBlock = 128;

inline int ternary_code_shift(int64_t cols, int64_t c) {
  return c < cols / kTernaryBlock * kTernaryBlock ? 6 - 2 * static_cast<int>(c % kTernaryBlock / 32)
                                                  : 2 * static_cast<int>(c % 4);
}
inline int64_t ternary_code_byte(int64_t cols, int64_t c) {
  return c < cols / kTernaryBlock * kTernaryBlock ? c / kTernaryBlock * 32 + c % 32 : c / 4;
}
inline uint8_t ternary_code(const uint8_t* row, int64_t cols, int64_t c) {
  return static_cast<uint8_t>((row[ternary_code_byte(cols, c)] >> ternary_code_shift(cols, c)) & 3);
}
// ORs code (0..3) of column c into a zeroed row.
inline void put_ternary_code(uint8_t* row, int64_t cols, int64_t c, uint8_t code) {
  row[ternary_code_byte(cols, c)] |= static_cast<uint8_t>(code << ternary_code_shift(cols, c));
}

// The panel layout (TernaryMatrix::panels), which the AVX-512 kernels read: rows in panels of 16, panel p (rows
// 16p .. 16p + 15) in the bytes those rows take in the row layout. Within a panel, each 128-column block b is 512
// bytes: for dword j (0..7) of the block's 32 row-layout bytes, 64 bytes whose dword i is row 16p + i's dword j.
// A weight scale per group (groups > 1) lies at ((r / 16) * groups + g) * 16 + r % 16: a panel's 16 rows of group
// g side by side. Only for matrices whose rows are whole panels and whose groups whole blocks (panels_fit).
inline constexpr int64_t kPanelRows = 16;
// Byte offset, within its panel, of dword j of 128-column block b of the panel's row i.
constexpr int64_t in_panel(int64_t i, int64_t b, int64_t j) { return b * 512 + j * 64 + i * 4; }

// The dense panel layout (TernaryMatrix::dense, with `panels`): 1.6 bits a weight, what the AVX-512 generation kernel
// reads where the CPU has VBMI (kernels::ternary_wants_dense). Rows in 16-row panels of dense_row_bytes() a row.
// Within a panel, each 640-column super-block (five 128-column blocks) takes 2048 bytes: for c = 0..3, the 512 bytes
// the panel layout gives block c, each byte also carrying a fifth weight, column 512 + 32c + 4j + k of the super-block
// for byte k of dword j (block 4's field c in the panel layout). A byte's weights w0..w3 (the fields at shifts 6, 4,
// 2, 0) and w4 (the fifth) make v = w0 + 3 w1 + 9 w2 + 27 w3 + 81 w4, in [-121, 121], stored as v where v >= 0 and as
// 0x80 | -v where v < 0. The columns past the last super-block (whole blocks) follow in the panel layout, 512 bytes a
// block. One weight scale a row (group == cols), row-major. No code 3 in the super-blocks (to_dense_panels).
inline constexpr int64_t kDenseCols = 640;
inline constexpr int64_t kDenseBlockBytes = 2048;  // a super-block of one panel: 640 columns x 16 rows

// Code (0..2) s of a dense byte (s = 0..3: the field at shift 6 - 2s; s = 4: the fifth weight). Its 7 low bits i
// stand for u = 121 + i, whose base-3 digits are the codes of v = u - 121 >= 0; the top bit negates each weight
// (code 2 - d). Any byte decodes (i past 121 as (121 + i) mod 243), the same here and in the kernels' tables.
constexpr uint8_t dense_code(uint8_t byte, int s) {
  int u = (121 + (byte & 0x7f)) % 243;
  for (int k = 0; k < s; ++k) u /= 3;
  const int d = u % 3;
  return static_cast<uint8_t>(byte & 0x80 ? 2 - d : d);
}

struct TernaryMatrix {
  int64_t rows = 0;   // output features
  int64_t cols = 0;   // input features (the dot-product length)
  int64_t group = 0;  // columns sharing one weight scale: 256 for TQ1_0/TQ2_0, cols for per-tensor scales
  ActQuant act_quant = ActQuant::kPerTokenAbsmax;
  // The codes, rows * row_bytes() bytes in the layout above: `view` when they lie elsewhere (an I2_S tensor used
  // in place in the mapped file, or a loader's buffer of repacked codes; either must outlive this matrix), else
  // `owned`.
  const uint8_t* view = nullptr;
  ByteBuffer owned;
  // rows * (cols / group) scales: weight (r, j) = (code - 1) * scale(r, j / group); row-major unless `panels`.
  std::vector<float> scales;
  // Codes (and scales, if more than one per row) in the panel layout above, not the row layout.
  bool panels = false;
  // With panels: the codes in the dense panel layout (rows * dense_row_bytes() bytes).
  bool dense = false;

  const uint8_t* codes() const { return view != nullptr ? view : owned.data(); }
  // Row r's codes in the row layout; not for a matrix in panels (row_codes copies one out).
  const uint8_t* row(int64_t r) const { return codes() + r * row_bytes(); }
  int64_t row_bytes() const { return cols / 4; }
  // What a row takes in the dense panel layout: 128 bytes a super-block, then 32 a block.
  int64_t dense_row_bytes() const { return cols / kDenseCols * 128 + cols % kDenseCols / 4; }
  // What a row's codes take in this matrix's layout (row r's start at r * stored_row_bytes() where r % 16 == 0).
  int64_t stored_row_bytes() const { return dense ? dense_row_bytes() : row_bytes(); }
  int64_t groups_per_row() const { return group == 0 ? 0 : cols / group; }
  uint8_t code(int64_t r, int64_t c) const;
  float scale(int64_t r, int64_t g) const {
    const int64_t groups = groups_per_row();
    return scales[static_cast<size_t>(
        panels && groups > 1 ? ((r / kPanelRows) * groups + g) * kPanelRows + r % kPanelRows : r * groups + g)];
  }
  int weight(int64_t r, int64_t c) const { return static_cast<int>(code(r, c)) - 1; }
};

// Whether m (in the row layout) can be put in panels: rows a multiple of 16, columns and groups of whole blocks.
bool panels_fit(const TernaryMatrix& m);
// Puts m's codes and scales in the panel layout, in place: `codes` is m.codes(), writable (m's own or a loader's
// buffer). Needs panels_fit(m).
void to_panels(TernaryMatrix& m, uint8_t* codes);
// The same from the row layout at `src` (m's rows * row_bytes() bytes; src == codes is in place) into `codes`, which
// m must then view (or own) for its codes to be read.
void to_panels(TernaryMatrix& m, const uint8_t* src, uint8_t* codes);
// Whether m (in the row layout) can be put in the dense panel layout: panels_fit, one scale a row, and at least one
// super-block.
bool dense_fit(const TernaryMatrix& m);
// m's codes from the row layout at `src` into the dense panel layout at `codes` (rows * dense_row_bytes() bytes),
// which m must then view (or own). Needs dense_fit(m). False, with m unchanged, where a super-block holds a code 3
// (+2, which I2_S files may hold and five weights a byte cannot): m then stays in rows.
bool to_dense_panels(TernaryMatrix& m, const uint8_t* src, uint8_t* codes);
// Row r's codes in the row layout, into out (row_bytes() bytes), whichever layout m has.
void row_codes(const TernaryMatrix& m, int64_t r, uint8_t* out);

// The compute layout of a ternary tensor [n_rows][ne0] of type TQ1_0, TQ2_0 or I2_S (data: tensor_bytes
// bytes; rows are whole blocks of the type, else a format error). I2_S is a view of `data`, which must outlive
// the result; TQ* are repacked. TQ* code 3 is a format error (llama.cpp's TQ2_0 has no meaning for it); I2_S is not
// scanned. Any other type is invalid_argument.
// `dst` (optional, not for I2_S): where the repacked codes go, n_rows * ne0 / 4 bytes that must outlive the result
// (its `view`); without it the result owns them.
Result<TernaryMatrix> to_ternary(uint32_t type, const uint8_t* data, int64_t ne0, int64_t n_rows,
                                 uint8_t* dst = nullptr);

// Float weights (F32, F16 or BF16, [n_rows][ne0] at data) that are one magnitude times {-1, 0, +1}, as llama.cpp's
// converter writes BitNet models: in the row layout, that magnitude the scale of every row (group = ne0), activations
// quantized per token (the BitNet recipe, as for I2_S). The test is exact (each element's bits, sign aside, are 0 or
// the magnitude's). A format error naming an element where the tensor holds anything else (or an infinity or NaN),
// or where ne0 is not a multiple of 4; invalid_argument for another type. `dst` as for to_ternary.
Result<TernaryMatrix> float_to_ternary(uint32_t type, const uint8_t* data, int64_t ne0, int64_t n_rows,
                                       uint8_t* dst = nullptr);

// The same for bitnet.cpp's TL1/TL2 (quant/tl.hpp): `data` holds tensor_bytes bytes, laid out by `config` (whose
// m, k must be n_rows, ne0); unpacked and repacked, with the f32 scale the kernels read at tl_scale_offset
// repeated per row. Invalid indices are format errors; a config that cannot tile the shape is unsupported.
// `scratch` (optional) holds the one-byte-per-weight buffers of the row tiles being unpacked (tl_unpack_tiles)
// between calls: a loader passes one for all of a file's tensors, so its pages are faulted in once. `dst` as for
// to_ternary.
Result<TernaryMatrix> to_ternary_tl(uint32_t type, const uint8_t* data, int64_t ne0, int64_t n_rows,
                                    const TlKernelConfig& config, std::vector<int8_t>* scratch = nullptr,
                                    uint8_t* dst = nullptr);

}  // namespace bitnet::quant
