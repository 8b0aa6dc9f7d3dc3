// to_ternary: I2_S in place; TQ1_0 / TQ2_0 repacked into the same layout (quant/ternary.hpp). TQ*: one scale per
// 256-column block (the block's fp16 d); I2_S: one scale per tensor, repeated per row.
#include "quant/ternary.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "quant/block_util.hpp"
#include "quant/i2_s.hpp"
#include "quant/row_ranges.hpp"
#include "quant/tl.hpp"
#include "quant/tq1_0.hpp"
#include "quant/tq2_0.hpp"

namespace bitnet::quant {
namespace {

Status invalid_code(uint32_t type, int64_t r, int64_t j) {
  return format_error(type_name(type) + " row " + std::to_string(r) + ", column " + std::to_string(j) +
                      ": invalid 2-bit code 3 (only 0, 1, 2 encode -1, 0, +1)");
}

}  // namespace

Result<TernaryMatrix> to_ternary(uint32_t type, const uint8_t* data, int64_t ne0, int64_t n_rows, uint8_t* dst) {
  const TypeTraits* t = find_type(type);
  if (type == kTL1 || type == kTL2)
    return invalid_argument("to_ternary: " + type_name(type) + " needs its kernel config: use to_ternary_tl");
  if (t == nullptr || (type != kTQ1_0 && type != kTQ2_0 && type != kI2_S))
    return invalid_argument("to_ternary: " + type_name(type) + " is not a ternary type (TQ1_0, TQ2_0 or I2_S)");
  BITNET_ASSIGN_OR_RETURN(uint64_t nbytes, tensor_bytes(type, {ne0, n_rows}));
  (void)nbytes;  // validates the shape (block multiple, no overflow); data must hold this many bytes
  if (ne0 % 4 != 0)
    return format_error(type_name(type) + ": rows of " + std::to_string(ne0) + " columns (not a multiple of 4)");
  TernaryMatrix m;
  m.rows = n_rows;
  m.cols = ne0;
  m.act_quant = t->act_quant;

  if (type == kI2_S) {
    const int64_t n = ne0 * n_rows;
    m.group = ne0;
    m.scales.assign(static_cast<size_t>(ne0 == 0 ? 0 : n_rows), i2_s_scale(data, n));
    m.view = data;  // rows are whole 128-blocks (tensor_bytes checked): the file's bytes are the compute layout
    return m;
  }

  const bool tq1 = type == kTQ1_0;
  const int64_t block_bytes = static_cast<int64_t>(t->block_bytes);
  const int64_t blocks_per_row = ne0 / 256;
  m.group = 256;
  uint8_t* codes = dst;
  if (codes == nullptr) {
    m.owned.resize(static_cast<size_t>(n_rows * m.row_bytes()));
    codes = m.owned.data();
  }
  m.view = dst;
  m.scales.resize(static_cast<size_t>(n_rows * blocks_per_row));
  // Rows in parallel (a 2B-4T TQ2_0 file repacks 2.1 G weights). Each 256-column block becomes two 128-column
  // blocks of the compute layout (64 bytes).
  std::atomic<int64_t> bad_row{-1}, bad_col{-1};
  auto repack = [&](int64_t r_begin, int64_t r_end) {
    for (int64_t r = r_begin; r < r_end; ++r) {
      uint8_t* row = codes + r * m.row_bytes();
      for (int64_t b = 0; b < blocks_per_row; ++b) {
        const uint8_t* block = data + (r * blocks_per_row + b) * block_bytes;
        uint8_t* out = row + 64 * b;
        if (tq1) {  // every TQ1_0 byte decodes to trits 0..2: no code 3 to look for
          m.scales[static_cast<size_t>(r * blocks_per_row + b)] = tq1_0_scale(block);
          tq1_0_compute_codes(block, out);
          continue;
        }
        // TQ2_0 byte 32h + j holds codes 128h + 32k + j at shift 2k; the compute layout wants them at 6 - 2k: the
        // same byte with its four 2-bit fields in reverse order. A field of 3 has both bits set.
        m.scales[static_cast<size_t>(r * blocks_per_row + b)] = tq2_0_scale(block);
        uint8_t any3 = 0;
        for (int i = 0; i < 64; ++i) {
          uint8_t x = block[i];
          any3 |= static_cast<uint8_t>(x & (x >> 1) & 0x55);
          x = static_cast<uint8_t>(((x & 0x33) << 2) | ((x >> 2) & 0x33));
          out[i] = static_cast<uint8_t>((x << 4) | (x >> 4));
        }
        if (any3 == 0) continue;
        uint8_t unpacked[256];  // a code 3 in this block: its column, for the error
        tq2_0_unpack_codes(block, unpacked);
        for (int i = 0; i < 256; ++i)
          if (unpacked[i] == 3) {
            int64_t expected = -1;
            if (bad_row.compare_exchange_strong(expected, r)) bad_col = b * 256 + i;
            return;
          }
      }
    }
  };
  for_row_ranges(n_rows, ne0, repack);
  if (bad_row >= 0) return invalid_code(type, bad_row, bad_col);
  return m;
}

Result<TernaryMatrix> to_ternary_tl(uint32_t type, const uint8_t* data, int64_t ne0, int64_t n_rows,
                                    const TlKernelConfig& config, std::vector<int8_t>* scratch, uint8_t* dst) {
  if (type != kTL1 && type != kTL2) return invalid_argument("to_ternary_tl: " + type_name(type) + " is not TL1 or TL2");
  if (config.k != ne0 || config.m != n_rows)
    return invalid_argument("to_ternary_tl: the kernel config is for " + std::to_string(config.m) + " x " +
                            std::to_string(config.k) + ", the tensor is " + std::to_string(n_rows) + " x " +
                            std::to_string(ne0));
  BITNET_RETURN_IF_ERROR(check_tl_config(type, config));
  BITNET_ASSIGN_OR_RETURN(uint64_t scale_at, tl_scale_offset(type, ne0, n_rows));
  TernaryMatrix m;
  m.rows = n_rows;
  m.cols = ne0;  // a multiple of 4: the configs tile K by pairs in groups of 4 (TL1) or 8 columns (TL2)
  m.group = ne0;
  m.act_quant = ActQuant::kPerTokenAbsmax;
  m.scales.assign(static_cast<size_t>(n_rows), load_f32(data + scale_at));
  uint8_t* codes = dst;
  if (codes == nullptr) {
    m.owned.resize(static_cast<size_t>(n_rows * m.row_bytes()));  // not zeroed: whole blocks are written below
    codes = m.owned.data();
  }
  m.view = dst;
  const int64_t full = ne0 / kTernaryBlock * kTernaryBlock;
  // Each row tile is packed into the compute layout as soon as it is unpacked (one weight a byte), while its bytes
  // are in cache: unpacking the whole tensor first wrote and read back a byte per weight through memory.
  std::vector<int8_t> own;
  BITNET_RETURN_IF_ERROR(
      tl_unpack_tiles(type, config, data, scratch != nullptr ? *scratch : own, [&](int64_t r0, const int8_t* w) {
        for (int64_t r = r0; r < r0 + config.bm_tile; ++r) {
          uint8_t* row = codes + r * m.row_bytes();
          std::fill(row + full / 4, row + m.row_bytes(), uint8_t{0});  // the tail's codes are ORed in
          const int8_t* src = w + (r - r0) * ne0;
          // Whole 128-column blocks directly: byte k holds columns k, k+32, k+64, k+96 at shifts 6, 4, 2, 0.
          for (int64_t b = 0; b < full; b += kTernaryBlock)
            for (int64_t k = 0; k < 32; ++k)
              row[b / 4 + k] = static_cast<uint8_t>((src[b + k] + 1) << 6 | (src[b + k + 32] + 1) << 4 |
                                                    (src[b + k + 64] + 1) << 2 | (src[b + k + 96] + 1));
          for (int64_t c = full; c < ne0; ++c) put_ternary_code(row, ne0, c, static_cast<uint8_t>(src[c] + 1));
        }
      }));
  return m;
}

namespace {

// Byte offset of row r's dword j of 128-column block b in the panel layout.
inline int64_t panel_dword(const TernaryMatrix& m, int64_t r, int64_t b, int64_t j) {
  return r / kPanelRows * kPanelRows * m.row_bytes() + in_panel(r % kPanelRows, b, j);
}

}  // namespace

uint8_t TernaryMatrix::code(int64_t r, int64_t c) const {
  if (!panels) return ternary_code(row(r), cols, c);
  if (dense) {
    const uint8_t* panel = codes() + r / kPanelRows * kPanelRows * dense_row_bytes();
    const int64_t i = r % kPanelRows, sb = c / kDenseCols, k = c % 32;
    if (sb == cols / kDenseCols) {  // past the super-blocks: the panel layout
      const int64_t cr = c - sb * kDenseCols;
      const uint8_t byte = panel[sb * kDenseBlockBytes + in_panel(i, cr / kTernaryBlock, k / 4) + k % 4];
      return static_cast<uint8_t>((byte >> (6 - 2 * (cr % kTernaryBlock / 32))) & 3);
    }
    const int64_t cc = c % kDenseCols;  // block cc / 128 (field cc % 128 / 32), or the fifth weight of block cc' / 32
    const int64_t block = cc < 512 ? cc / kTernaryBlock : (cc - 512) / 32;
    const uint8_t byte = panel[sb * kDenseBlockBytes + in_panel(i, block, k / 4) + k % 4];
    return dense_code(byte, cc < 512 ? static_cast<int>(cc % kTernaryBlock / 32) : 4);
  }
  const int64_t k = c % 32;  // the byte of its block in the row layout
  const uint8_t byte = codes()[panel_dword(*this, r, c / kTernaryBlock, k / 4) + k % 4];
  return static_cast<uint8_t>((byte >> (6 - 2 * (c % kTernaryBlock / 32))) & 3);
}

bool panels_fit(const TernaryMatrix& m) {
  return !m.panels && m.rows > 0 && m.rows % kPanelRows == 0 && m.cols > 0 && m.cols % kTernaryBlock == 0 &&
         m.group > 0 && m.group % kTernaryBlock == 0 && m.cols % m.group == 0;
}

void to_panels(TernaryMatrix& m, uint8_t* codes) { to_panels(m, codes, codes); }

void to_panels(TernaryMatrix& m, const uint8_t* src, uint8_t* codes) {
  const int64_t rb = m.row_bytes(), blocks = m.cols / kTernaryBlock, groups = m.groups_per_row();
  // Panels in parallel; in place, each through a copy of its 16 rows (at most 16 x 1728 bytes for 2B-4T's
  // ffn_down). Scales through a copy of the panel's (which take the same 16 * groups floats in either layout).
  const bool in_place = src == codes;
  for_row_ranges(m.rows / kPanelRows, m.cols * kPanelRows, [&](int64_t p_begin, int64_t p_end) {
    std::vector<uint8_t> rows(static_cast<size_t>(in_place ? kPanelRows * rb : 0));
    std::vector<float> scales(static_cast<size_t>(groups > 1 ? kPanelRows * groups : 0));
    for (int64_t p = p_begin; p < p_end; ++p) {
      uint8_t* panel = codes + panel_dword(m, p * kPanelRows, 0, 0);  // where its rows lay
      const uint8_t* from = src + (panel - codes);
      if (in_place) from = static_cast<const uint8_t*>(std::memcpy(rows.data(), panel, rows.size()));
      // Written in order, 64 bytes (16 rows' dword j of block b) at a time. Row by row, each 4-byte store went 64
      // bytes past the one before, its offset recomputed from m each time: loading 2B-4T TQ2_0 spent 490-520 perf
      // samples here, and 200-220 this way (3 loads each).
      for (int64_t b = 0; b < blocks; ++b)
        for (int64_t j = 0; j < 8; ++j)
          for (int64_t i = 0; i < kPanelRows; ++i)
            std::memcpy(panel + in_panel(i, b, j), from + i * rb + b * 32 + j * 4, 4);
      if (groups == 1) continue;
      float* ps = m.scales.data() + p * kPanelRows * groups;
      std::copy(ps, ps + scales.size(), scales.begin());
      for (int64_t i = 0; i < kPanelRows; ++i)
        for (int64_t g = 0; g < groups; ++g) ps[g * kPanelRows + i] = scales[static_cast<size_t>(i * groups + g)];
    }
  });
  m.panels = true;
}

void row_codes(const TernaryMatrix& m, int64_t r, uint8_t* out) {
  if (!m.panels) {
    std::memcpy(out, m.row(r), static_cast<size_t>(m.row_bytes()));
    return;
  }
  if (m.dense) {  // the reference's way in: each byte's five codes to their columns, then the tail's blocks
    std::memset(out, 0, static_cast<size_t>(m.row_bytes()));
    const uint8_t* panel = m.codes() + r / kPanelRows * kPanelRows * m.dense_row_bytes();
    const int64_t supers = m.cols / kDenseCols;
    for (int64_t sb = 0; sb < supers; ++sb)
      for (int64_t c = 0; c < 4; ++c)
        for (int64_t k = 0; k < 32; ++k) {  // byte k of the block: dword k / 4
          const uint8_t byte = panel[sb * kDenseBlockBytes + in_panel(r % kPanelRows, c, k / 4) + k % 4];
          for (int s = 0; s < 4; ++s)
            put_ternary_code(out, m.cols, sb * kDenseCols + c * kTernaryBlock + 32 * s + k, dense_code(byte, s));
          put_ternary_code(out, m.cols, sb * kDenseCols + 512 + 32 * c + k, dense_code(byte, 4));
        }
    for (int64_t b = 0; b < m.cols % kDenseCols / kTernaryBlock; ++b)
      for (int64_t j = 0; j < 8; ++j)
        std::memcpy(out + (supers * 5 + b) * 32 + j * 4,
                    panel + supers * kDenseBlockBytes + in_panel(r % kPanelRows, b, j), 4);
    return;
  }
  for (int64_t b = 0; b < m.cols / kTernaryBlock; ++b)
    for (int64_t j = 0; j < 8; ++j) std::memcpy(out + b * 32 + j * 4, m.codes() + panel_dword(m, r, b, j), 4);
}

}  // namespace bitnet::quant
