// The dense panel layout (quant/ternary.hpp): five weights a byte, made once at load from the row layout.
#include <atomic>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>

#include "core/cpu_features.hpp"
#endif
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

// One panel (rows rb bytes apart from `rows`) into its dense bytes at `panel`: its super-blocks, then its whole
// blocks past them in the panel layout; false if a super-block holds a code 3.
bool dense_panel_scalar(const uint8_t* rows, int64_t rb, int64_t supers, int64_t blocks, uint8_t* panel) {
  alignas(64) uint8_t gathered[5 * 512];
  for (int64_t sb = 0; sb < supers; ++sb) {
    for (int64_t c = 0; c < 5; ++c) gather_block(rows, rb, sb * 5 + c, gathered + c * 512);
    if (!encode_super_block(gathered, panel + sb * kDenseBlockBytes)) return false;
  }
  for (int64_t b = supers * 5; b < blocks; ++b)
    gather_block(rows, rb, b, panel + supers * kDenseBlockBytes + (b - supers * 5) * 512);
  return true;
}

#if defined(__x86_64__)
// dense_panel_scalar with AVX2. The encoding is byte by byte, so it runs on each row's 32 bytes of a block as they lie
// in the row layout (byte n of block c with byte n of block 4): u = the high nibble's two codes (1, 3) + the low
// nibble's (9, 27) + the fifth's (81), three table lookups (pshufb) and two adds. Then eight rows' 32 encoded bytes
// are transposed by dwords into the panel order (dword j of row i to j * 64 + i * 4), as the blocks past the
// super-blocks are without encoding. The scalar path gathers the panel first and takes ~20 operations a byte: it was
// a third of loading a 2B-4T I2_S file.
__attribute__((target("avx2"))) void store_panel_dwords(const __m256i* r, uint8_t* out) {
  __m256i t[8], u[8];
  for (int j = 0; j < 8; j += 2) {
    t[j] = _mm256_unpacklo_epi32(r[j], r[j + 1]);      // rows j, j + 1: dwords 0, 1 | 4, 5
    t[j + 1] = _mm256_unpackhi_epi32(r[j], r[j + 1]);  // dwords 2, 3 | 6, 7
  }
  for (int h = 0; h < 8; h += 4) {
    u[h] = _mm256_unpacklo_epi64(t[h], t[h + 2]);          // rows h .. h + 3: dword 0 | 4
    u[h + 1] = _mm256_unpackhi_epi64(t[h], t[h + 2]);      // dword 1 | 5
    u[h + 2] = _mm256_unpacklo_epi64(t[h + 1], t[h + 3]);  // dword 2 | 6
    u[h + 3] = _mm256_unpackhi_epi64(t[h + 1], t[h + 3]);  // dword 3 | 7
  }
  for (int j = 0; j < 4; ++j) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + j * 64), _mm256_permute2x128_si256(u[j], u[j + 4], 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + (j + 4) * 64),
                        _mm256_permute2x128_si256(u[j], u[j + 4], 0x31));
  }
}

__attribute__((target("avx2"))) bool dense_panel_avx2(const uint8_t* rows, int64_t rb, int64_t supers, int64_t blocks,
                                                      uint8_t* panel) {
  // u's parts by nibble: low nibble x (fields at shifts 2, 0) 9 ((x >> 2) & 3) + 27 (x & 3); high nibble h (shifts
  // 6, 4) (h >> 2) + 3 (h & 3); the fifth code f: 81 f (a code 3 wraps: the panel is refused then).
  const __m256i lo_table = _mm256_setr_epi8(0, 27, 54, 81, 9, 36, 63, 90, 18, 45, 72, 99, 27, 54, 81, 108, 0, 27, 54,
                                            81, 9, 36, 63, 90, 18, 45, 72, 99, 27, 54, 81, 108);
  const __m256i hi_table = _mm256_setr_epi8(0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12, 0, 3, 6, 9, 1, 4, 7, 10,
                                            2, 5, 8, 11, 3, 6, 9, 12);
  const __m256i fifth_table =
      _mm256_setr_epi8(0, 81, static_cast<char>(162), static_cast<char>(243), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 81,
                       static_cast<char>(162), static_cast<char>(243), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i nibble = _mm256_set1_epi8(15), two_bits = _mm256_set1_epi8(3), odd_fields = _mm256_set1_epi8(0x55);
  const __m256i zero = _mm256_set1_epi8(121), sign = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256i r[8];
  for (int64_t sb = 0; sb < supers; ++sb) {
    __m256i threes = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m128i shift = _mm_cvtsi32_si128(6 - 2 * c);
      for (int h = 0; h < 2; ++h) {
        for (int i = 0; i < 8; ++i) {
          const uint8_t* row = rows + (8 * h + i) * rb + sb * 5 * 32;
          const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c * 32));
          const __m256i f = _mm256_and_si256(
              _mm256_srl_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 4 * 32)), shift), two_bits);
          threes = _mm256_or_si256(threes, _mm256_and_si256(_mm256_and_si256(b, _mm256_srli_epi16(b, 1)), odd_fields));
          threes = _mm256_or_si256(threes, _mm256_and_si256(f, _mm256_srli_epi16(f, 1)));
          const __m256i u = _mm256_add_epi8(
              _mm256_add_epi8(_mm256_shuffle_epi8(lo_table, _mm256_and_si256(b, nibble)),
                              _mm256_shuffle_epi8(hi_table, _mm256_and_si256(_mm256_srli_epi16(b, 4), nibble))),
              _mm256_shuffle_epi8(fifth_table, f));
          // u >= 121: u - 121; else 0x80 | (121 - u)
          const __m256i at_least = _mm256_cmpeq_epi8(_mm256_max_epu8(u, zero), u);
          r[i] =
              _mm256_blendv_epi8(_mm256_or_si256(sign, _mm256_sub_epi8(zero, u)), _mm256_sub_epi8(u, zero), at_least);
        }
        store_panel_dwords(r, panel + sb * kDenseBlockBytes + c * 512 + 32 * h);
      }
    }
    if (!_mm256_testz_si256(threes, threes)) return false;
  }
  for (int64_t b = supers * 5; b < blocks; ++b)
    for (int h = 0; h < 2; ++h) {
      for (int i = 0; i < 8; ++i)
        r[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows + (8 * h + i) * rb + b * 32));
      store_panel_dwords(r, panel + supers * kDenseBlockBytes + (b - supers * 5) * 512 + 32 * h);
    }
  return true;
}
#endif

}  // namespace

bool dense_fit(const TernaryMatrix& m) { return panels_fit(m) && m.group == m.cols && m.cols >= kDenseCols; }

bool to_dense_panels(TernaryMatrix& m, const uint8_t* src, uint8_t* codes) {
  const int64_t rb = m.row_bytes(), drb = m.dense_row_bytes();
  const int64_t supers = m.cols / kDenseCols, blocks = m.cols / kTernaryBlock;
  // The AVX2 encoder wherever the level is AVX2 or higher (the dense layout is made only where AVX-512 runs; tests
  // walk the levels, the scalar one being the reference).
  auto encode_panel = dense_panel_scalar;
#if defined(__x86_64__)
  if (static_cast<int>(active_isa()) >= static_cast<int>(IsaLevel::kAvx2)) encode_panel = dense_panel_avx2;
#endif
  std::atomic<bool> ok{true};
  for_row_ranges(m.rows / kPanelRows, m.cols * kPanelRows, [&](int64_t p_begin, int64_t p_end) {
    for (int64_t p = p_begin; p < p_end && ok.load(std::memory_order_relaxed); ++p)
      if (!encode_panel(src + p * kPanelRows * rb, rb, supers, blocks, codes + p * kPanelRows * drb))
        ok.store(false, std::memory_order_relaxed);
  });
  if (!ok.load()) return false;
  m.panels = m.dense = true;
  return true;
}

}  // namespace bitnet::quant
