// The dense panel layout (quant/ternary.hpp): five weights a byte, made once at load from the row layout.
#include <atomic>
#include <cstring>

#include "quant/row_ranges.hpp"
#include "quant/ternary.hpp"

namespace bitnet::quant {
namespace {

// One panel's block b (row layout, rows rb bytes apart from `rows`) in the panel layout, 512 bytes at out.
void gather_block(const uint8_t* rows, int64_t rb, int64_t b, uint8_t* out) {
  for (int64_t j = 0; j < 8; ++j)
    for (int64_t i = 0; i < kPanelRows; ++i) std::memcpy(out + in_panel(i, 0, j), rows + i * rb + b * 32 + j * 4, 4);
}

// A super-block's five blocks in the panel layout (p: 5 x 512 bytes) as its 2048 dense bytes; false if any of its
// codes is 3. Byte n of block c takes block 4's field c of byte n as its fifth weight. The sum of the codes u
// (= w + 1) by powers of 3 is v + 121, in [0, 242].
bool encode_super_block(const uint8_t* p, uint8_t* out) {
  uint8_t threes = 0;
  for (int c = 0; c < 4; ++c) {
    const int shift = 6 - 2 * c;
    for (int n = 0; n < 512; ++n) {
      const uint8_t b = p[c * 512 + n];
      const uint8_t f = static_cast<uint8_t>((p[4 * 512 + n] >> shift) & 3);
      threes |= static_cast<uint8_t>((b & (b >> 1) & 0x55) | (f & (f >> 1)));
      const uint8_t u =
          static_cast<uint8_t>((b >> 6) + 3 * ((b >> 4) & 3) + 9 * ((b >> 2) & 3) + 27 * (b & 3) + 81 * f);
      out[c * 512 + n] = static_cast<uint8_t>(u >= 121 ? u - 121 : 0x80 | (121 - u));
    }
  }
  return threes == 0;
}

}  // namespace

bool dense_fit(const TernaryMatrix& m) { return panels_fit(m) && m.group == m.cols && m.cols >= kDenseCols; }

bool to_dense_panels(TernaryMatrix& m, const uint8_t* src, uint8_t* codes) {
  const int64_t rb = m.row_bytes(), drb = m.dense_row_bytes();
  const int64_t supers = m.cols / kDenseCols, blocks = m.cols / kTernaryBlock;
  std::atomic<bool> ok{true};
  for_row_ranges(m.rows / kPanelRows, m.cols * kPanelRows, [&](int64_t p_begin, int64_t p_end) {
    alignas(64) uint8_t gathered[5 * 512];
    for (int64_t p = p_begin; p < p_end && ok.load(std::memory_order_relaxed); ++p) {
      const uint8_t* rows = src + p * kPanelRows * rb;
      uint8_t* panel = codes + p * kPanelRows * drb;
      for (int64_t sb = 0; sb < supers; ++sb) {
        for (int64_t c = 0; c < 5; ++c) gather_block(rows, rb, sb * 5 + c, gathered + c * 512);
        if (!encode_super_block(gathered, panel + sb * kDenseBlockBytes)) {
          ok.store(false, std::memory_order_relaxed);
          break;
        }
      }
      for (int64_t b = supers * 5; b < blocks; ++b)
        gather_block(rows, rb, b, panel + supers * kDenseBlockBytes + (b - supers * 5) * 512);
    }
  });
  if (!ok.load()) return false;
  m.panels = m.dense = true;
  return true;
}

}  // namespace bitnet::quant
