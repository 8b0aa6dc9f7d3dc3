// TL1/TL2 pack and unpack (layouts described in quant/tl.hpp). One walker per byte kind enumerates, in file
// order, which weights each byte holds; pack uses them (pinned to the converter by the golden digests in
// tests/quant/test_quant_tl.cpp), and so does unpack for pairs; TL2's triples and signs it decodes in one fused
// pass. Unpack looks each byte up in a table of its weights (after a scan for invalid indices; where there is one,
// a checked pass names it), held to pack by the exact round-trip tests.
//
// The converter builds the order with numpy reshapes/transposes; unrolled, with rows m = i0*BM + rb*bm + r
// and column groups (pairs or triples) g along a row:
//  TL1 (by = 256 / bm): for i0 < M/BM, kb < K/BK, rb < BM/bm, yb < BK/by, r16 < bm/16, q < by/4, r < 16:
//    byte = idx(m, g) << 4 | idx(m, g + 1), m = ... + r16*16 + r, g = kb*BK/2 + yb*by/2 + 2q.
//  TL2 triples (K3 = K - K % BK columns, bm = 32, by = 6): for i0, kb < K3/BK, rb, yb < BK/6, then 32 bytes
//    p = 8s + e holding row r = 8*kSwap[s] + e: byte = |v(m, g)| << 4 | |v(m, g + 1)|, g = kb*BK/3 + 2yb.
//  TL2 signs, after all triple bytes: for i0, kb, rb, yq < BK/24, 16 little-endian u16 words w < 16: bit 15 - i
//    of word w is the sign of triple kb*BK/3 + 8yq + i/2 in row r = 16*(i%2) + w.
//  TL2 pairs (the last K % BK columns, as TL1 with BK = 32, bm = 32, by = 4), after the signs: for i0,
//    kb < (K%BK)/32, rb, yb < 8, then 32 bytes p = 8s + e holding row r = 8*kSwap[s] + e:
//    byte = idx(m, g) << 4 | idx(m, g + 1) over pairs g = kb*16 + 2yb of those columns.
#include "quant/tl.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/cpu_features.hpp"
#include "core/thread_pool.hpp"
#include "quant/block_util.hpp"
#include "quant/quant.hpp"

namespace bitnet::quant {
namespace {

// The converter's weight[:, [0, 1, 2, 3], :] = weight[:, [0, 2, 1, 3], :] on each 32-byte row of TL2 index bytes.
constexpr int kSwap[4] = {0, 2, 1, 3};

// Bytes of pairs per row tile (bm_tile rows), as walk_pairs lays them out.
int64_t pair_bytes_per_tile(int64_t cols, int64_t bm_tile, int64_t bk, int64_t bm, bool tl2_swap) {
  const int64_t by = tl2_swap ? 4 : 256 / bm;
  const int64_t per_yb = tl2_swap ? 32 : bm / 16 * (by / 4) * 16;  // bytes of one yb step
  return (cols / bk) * (bm_tile / bm) * (bk / by) * per_yb;
}

// f(byte, row, first_group): TL1 pairs, or TL2's trailing pairs (columns from col0, tiled with bk, bm, by), for
// the row tiles i0 in [i_begin, i_end) (all of them by default).
template <typename F>
void walk_pairs(int64_t m_rows, int64_t cols, int64_t bm_tile, int64_t bk, int64_t bm, bool tl2_swap, F&& f,
                int64_t i_begin = 0, int64_t i_end = -1) {
  const int64_t by = tl2_swap ? 4 : 256 / bm;
  if (i_end < 0) i_end = m_rows / bm_tile;
  int64_t pos = i_begin * pair_bytes_per_tile(cols, bm_tile, bk, bm, tl2_swap);
  for (int64_t i0 = i_begin; i0 < i_end; ++i0)
    for (int64_t kb = 0; kb < cols / bk; ++kb)
      for (int64_t rb = 0; rb < bm_tile / bm; ++rb)
        for (int64_t yb = 0; yb < bk / by; ++yb) {
          const int64_t row0 = i0 * bm_tile + rb * bm, g0 = kb * bk / 2 + yb * by / 2;
          if (tl2_swap) {  // 32 rows, one pair of groups each
            for (int64_t p = 0; p < 32; ++p) f(pos++, row0 + 8 * kSwap[p / 8] + p % 8, g0);
          } else {
            for (int64_t r16 = 0; r16 < bm / 16; ++r16)
              for (int64_t q = 0; q < by / 4; ++q)
                for (int64_t r = 0; r < 16; ++r) f(pos++, row0 + r16 * 16 + r, g0 + 2 * q);
          }
        }
}

// f(byte, row, first_triple) over TL2's triple index bytes.
template <typename F>
void walk_triples(int64_t m_rows, int64_t k3, int64_t bm_tile, int64_t bk, F&& f) {
  int64_t pos = 0;
  for (int64_t i0 = 0; i0 < m_rows / bm_tile; ++i0)
    for (int64_t kb = 0; kb < k3 / bk; ++kb)
      for (int64_t rb = 0; rb < bm_tile / 32; ++rb)
        for (int64_t yb = 0; yb < bk / 6; ++yb)
          for (int64_t p = 0; p < 32; ++p)
            f(pos++, i0 * bm_tile + rb * 32 + 8 * kSwap[p / 8] + p % 8, kb * bk / 3 + 2 * yb);
}

// f(byte, bit, row, triple) over TL2's sign bits.
template <typename F>
void walk_signs(int64_t m_rows, int64_t k3, int64_t bm_tile, int64_t bk, F&& f) {
  int64_t pos = 0;
  for (int64_t i0 = 0; i0 < m_rows / bm_tile; ++i0)
    for (int64_t kb = 0; kb < k3 / bk; ++kb)
      for (int64_t rb = 0; rb < bm_tile / 32; ++rb)
        for (int64_t yq = 0; yq < bk / 24; ++yq, pos += 32)
          for (int64_t w = 0; w < 16; ++w)
            for (int i = 0; i < 16; ++i) {
              const int bit = 15 - i;  // of the little-endian u16 at pos + 2w
              f(pos + 2 * w + bit / 8, bit % 8, i0 * bm_tile + rb * 32 + 16 * (i % 2) + w,
                kb * bk / 3 + 8 * yq + i / 2);
            }
}

Status bad_index(uint32_t type, int64_t row, int64_t col, int index) {
  return format_error(type_name(type) + " row " + std::to_string(row) + ", column " + std::to_string(col) +
                      ": invalid index " + std::to_string(index));
}

Status check_shape(uint32_t type, const TlKernelConfig& c) {
  BITNET_RETURN_IF_ERROR(check_tl_config(type, c));
  BITNET_ASSIGN_OR_RETURN(uint64_t at, tl_scale_offset(type, c.k, c.m));
  (void)at;
  return Status::Ok();
}

// TL2's packed bytes before padding: triple indices, their signs, then the pairs.
struct Tl2Parts {
  int64_t k3, k2, triples_bytes, signs_bytes, pairs_bytes;
};
Tl2Parts tl2_parts(const TlKernelConfig& c) {
  const int64_t k2 = c.k % c.bk, k3 = c.k - k2;
  return {k3, k2, c.m * k3 / 6, c.m * k3 / 24, c.m * k2 / 4};
}

}  // namespace

Result<uint64_t> tl_scale_offset(uint32_t type, int64_t k, int64_t m) {
  if (k < 0 || m < 0) return format_error("negative dimension");
  if (k > (int64_t{1} << 31) || m > (int64_t{1} << 31)) return format_error("tensor shape overflows");
  const uint64_t n = static_cast<uint64_t>(k) * static_cast<uint64_t>(m);
  if (type == kTL1) return n / 4;
  if (type != kTL2) return invalid_argument(type_name(type) + " is not TL1 or TL2");
  if (k < 256)
    return format_error("TL2 rows of " + std::to_string(k) + " columns: below 256, which ggml's TL2 size assumes");
  // ggml_nbytes: (ne0 - 256) * ne1 / 3 * 5 / 8 + 256 * ne1 / 2 * 4 / 8, rounded up to 32.
  const uint64_t p = (static_cast<uint64_t>(k - 256) * static_cast<uint64_t>(m)) / 3 * 5 / 8 +
                     256 * static_cast<uint64_t>(m) / 2 * 4 / 8;
  return (p + 31) / 32 * 32;
}

Result<std::vector<uint8_t>> tl_pack(uint32_t type, const TlKernelConfig& c, const int8_t* w) {
  BITNET_RETURN_IF_ERROR(check_shape(type, c));
  BITNET_ASSIGN_OR_RETURN(uint64_t size, tl_scale_offset(type, c.k, c.m));
  std::vector<uint8_t> out(size, 0);
  auto at = [&](int64_t row, int64_t col) { return static_cast<int>(w[row * c.k + col]); };
  auto pair = [&](int64_t row, int64_t col) { return static_cast<uint8_t>(3 * at(row, col) + at(row, col + 1) + 4); };
  if (type == kTL1) {
    walk_pairs(c.m, c.k, c.bm_tile, c.bk, c.bm_simd, false, [&](int64_t pos, int64_t row, int64_t g) {
      out[pos] = static_cast<uint8_t>(pair(row, 2 * g) << 4 | pair(row, 2 * g + 2));
    });
    return out;
  }
  const Tl2Parts s = tl2_parts(c);
  auto triple = [&](int64_t row, int64_t t) {
    return 9 * at(row, 3 * t) + 3 * at(row, 3 * t + 1) + at(row, 3 * t + 2);
  };
  walk_triples(c.m, s.k3, c.bm_tile, c.bk, [&](int64_t pos, int64_t row, int64_t t) {
    out[pos] = static_cast<uint8_t>(std::abs(triple(row, t)) << 4 | std::abs(triple(row, t + 1)));
  });
  uint8_t* signs = out.data() + s.triples_bytes;
  walk_signs(c.m, s.k3, c.bm_tile, c.bk, [&](int64_t pos, int bit, int64_t row, int64_t t) {
    if (triple(row, t) < 0) signs[pos] |= static_cast<uint8_t>(1 << bit);
  });
  uint8_t* pairs = signs + s.signs_bytes;
  walk_pairs(c.m, s.k2, c.bm_tile, 32, 32, true, [&](int64_t pos, int64_t row, int64_t g) {
    pairs[pos] = static_cast<uint8_t>(pair(row, s.k3 + 2 * g) << 4 | pair(row, s.k3 + 2 * g + 2));
  });
  return out;
}

namespace {

// Balanced ternary digits (a, b, c) of v = 9a + 3b + c in -13..13: digits[v + 13].
struct TripleDigits {
  int8_t d[27][3];
};
const TripleDigits& triple_digits() {
  static const TripleDigits t = [] {
    TripleDigits r{};
    for (int v0 = -13; v0 <= 13; ++v0) {
      int v = v0;
      for (int d = 2; d >= 0; --d) {
        const int digit = ((v % 3) + 4) % 3 - 1;
        r.d[v0 + 13][d] = static_cast<int8_t>(digit);
        v = (v - digit) / 3;
      }
    }
    return r;
  }();
  return t;
}

// Both triples of a TL2 index byte x under each pair of signs: e[s][x] holds, in bytes 0-2, the digits of the
// triple of magnitude x >> 4 (negative where s & 1), in bytes 3-5 those of x & 15 (negative where s & 2); zeros for
// a magnitude over 13, which no triple gives (unpack_triples_fast looks for those first). 8 KB: one load per byte of
// the file, where decoding each triple on its own took 78% of a TL2 file's load.
struct TriplePairTable {
  uint64_t e[4][256];
};
const TriplePairTable& triple_pair_table() {
  static const TriplePairTable t = [] {
    TriplePairTable r{};
    const TripleDigits& digits = triple_digits();
    for (int sg = 0; sg < 4; ++sg)
      for (int x = 0; x < 256; ++x) {
        const int mag[2] = {x >> 4, x & 15};
        uint8_t bytes[8] = {};
        for (int h = 0; h < 2; ++h) {
          if (mag[h] > 13) continue;
          const int v = (sg >> h) & 1 ? -mag[h] : mag[h];
          std::memcpy(bytes + 3 * h, digits.d[v + 13], 3);
        }
        std::memcpy(&r.e[sg][x], bytes, 8);
      }
    return r;
  }();
  return t;
}

// TL2's triples and their signs for the row tiles [i_begin, i_end) (into w, which starts at the first row of tile
// i_begin), in the order of walk_triples, each with walk_signs' bit: the 32-byte sign block yb / 4 of the tile, bit 15
// - i of u16 word r % 16, i = 2 * (2 * (yb % 4) + h) + r / 16. Returns false, having written nothing, where an index
// byte holds a magnitude over 13.
bool unpack_triples_fast(const TlKernelConfig& c, const Tl2Parts& s, const uint8_t* data, int8_t* w, int64_t i_begin,
                         int64_t i_end) {
  const TriplePairTable& table = triple_pair_table();
  const uint8_t* signs = data + s.triples_bytes;
  const int64_t n_kb = s.k3 / c.bk, n_rb = c.bm_tile / 32;
  const uint8_t* const first = data + i_begin * n_kb * n_rb * (c.bk / 6) * 32;
  const uint8_t* const last = data + i_end * n_kb * n_rb * (c.bk / 6) * 32;
  // A magnitude m >= 14 has bit 4 of m + 2 set (a loop the compiler vectorizes, apart from the decode below).
  unsigned bad = 0;
  for (const uint8_t* x = first; x < last; ++x) bad |= (((*x >> 4) + 2u) | ((*x & 15u) + 2u)) & 16u;
  if (bad != 0) return false;
  const uint8_t* tb = first;
  const int64_t k = c.k;  // a local: stores through w may alias c, so c.k was reloaded after every one
  for (int64_t i0 = i_begin; i0 < i_end; ++i0)
    for (int64_t kb = 0; kb < n_kb; ++kb)
      for (int64_t rb = 0; rb < n_rb; ++rb) {
        int8_t* block = w + ((i0 - i_begin) * c.bm_tile + rb * 32) * k;
        for (int64_t yb = 0; yb < c.bk / 6; ++yb, tb += 32) {
          const uint8_t* sb = signs + (((i0 * n_kb + kb) * n_rb + rb) * (c.bk / 24) + yb / 4) * 32;
          const int first_bit = 15 - 4 * static_cast<int>(yb % 4);  // of the first triple, rows 0-15
          int8_t* out = block + 3 * (kb * c.bk / 3 + 2 * yb);
#pragma GCC unroll 32
          for (int p = 0; p < 32; ++p) {
            const int r = 8 * kSwap[p / 8] + p % 8;  // unrolled: a constant, as the offsets below
            const unsigned lo8 = sb[2 * (r % 16)], hi8 = sb[2 * (r % 16) + 1];
            const unsigned word = lo8 | hi8 << 8;  // the little-endian u16
            const int bit = first_bit - r / 16;
            const unsigned sg = ((word >> bit) & 1u) | ((word >> (bit - 2)) & 1u) << 1;
            const uint64_t e = table.e[sg][tb[p]];
            const uint32_t lo = static_cast<uint32_t>(e);  // two stores from the register, not a copy via memory
            const uint16_t hi = static_cast<uint16_t>(e >> 32);
            std::memcpy(out + r * k, &lo, 4);
            std::memcpy(out + r * k + 4, &hi, 2);
          }
        }
      }
  return true;
}

#if defined(__x86_64__)
// unpack_triples_fast with AVX2 forming each 32-byte group's table indices (index byte | sign bits << 8): every
// row's two sign bits come out of the group's 16 sign words in four shifts (rows r and r + 16 share word r, one bit
// apart), and packus, then unpacklo/hi with the index bytes, interleave the lanes exactly as kSwap orders the rows,
// so slot r of the 32 indices is row r. Then a row is one table load and one 8-byte store: its two bytes past the six
// digits are the next group's first two, stored after them; the row's last group stores 4 + 2 bytes where nothing
// follows (no trailing pairs). About 4 instructions a byte, where the scalar loop's sign bits took 17. Magnitudes
// over 13 are looked for on the way (where the scalar loop scans first): false then, the weights written garbage.
__attribute__((target("avx2"))) bool unpack_triples_avx2(const TlKernelConfig& c, const Tl2Parts& s,
                                                         const uint8_t* data, int8_t* w, int64_t i_begin,
                                                         int64_t i_end) {
  const TriplePairTable& table = triple_pair_table();
  const uint64_t* flat = &table.e[0][0];  // e[sg][x] at sg * 256 + x
  const uint8_t* signs = data + s.triples_bytes;
  const int64_t n_kb = s.k3 / c.bk, n_rb = c.bm_tile / 32, n_yb = c.bk / 6;
  const __m256i one = _mm256_set1_epi16(1), two = _mm256_set1_epi16(2);
  const __m256i low4 = _mm256_set1_epi8(15), max_magnitude = _mm256_set1_epi8(13);
  __m256i bad = _mm256_setzero_si256();  // bytes with a magnitude over 13, checked at the end
  const uint8_t* tb = data + i_begin * n_kb * n_rb * n_yb * 32;
  const int64_t k = c.k;
  alignas(32) uint16_t idx[32];
  for (int64_t i0 = i_begin; i0 < i_end; ++i0)
    for (int64_t kb = 0; kb < n_kb; ++kb)
      for (int64_t rb = 0; rb < n_rb; ++rb) {
        int8_t* block = w + ((i0 - i_begin) * c.bm_tile + rb * 32) * k + kb * c.bk;
        const uint8_t* sb = signs + ((i0 * n_kb + kb) * n_rb + rb) * (c.bk / 24) * 32;
        for (int64_t yb = 0; yb < n_yb; ++yb, tb += 32) {
          const __m256i words = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sb + yb / 4 * 32));
          const int b0 = 15 - 4 * static_cast<int>(yb % 4);  // rows 0-15, first triple; b0 - 1 for rows 16-31
          const __m128i n0 = _mm_cvtsi32_si128(b0), n1 = _mm_cvtsi32_si128(b0 - 1), n3 = _mm_cvtsi32_si128(b0 - 3);
          // Bit 0: the first triple's sign (bit b0, or b0 - 1), bit 1: the second's (two bits lower).
          const __m256i rows0 = _mm256_or_si256(_mm256_and_si256(_mm256_srl_epi16(words, n0), one),
                                                _mm256_and_si256(_mm256_srl_epi16(words, n3), two));
          const __m256i rows16 =
              _mm256_or_si256(_mm256_and_si256(_mm256_srl_epi16(words, n1), one),
                              _mm256_and_si256(_mm256_srl_epi16(_mm256_slli_epi16(words, 1), n3), two));
          const __m256i sg = _mm256_packus_epi16(rows0, rows16);
          const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tb));
          const __m256i high = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
          bad = _mm256_or_si256(bad,
                                _mm256_cmpgt_epi8(_mm256_max_epu8(high, _mm256_and_si256(bytes, low4)), max_magnitude));
          _mm256_store_si256(reinterpret_cast<__m256i*>(idx), _mm256_unpacklo_epi8(bytes, sg));
          _mm256_store_si256(reinterpret_cast<__m256i*>(idx + 16), _mm256_unpackhi_epi8(bytes, sg));
          int8_t* out = block + 6 * yb;
          if (kb == n_kb - 1 && yb == n_yb - 1 && s.k2 == 0) {
            for (int r = 0; r < 32; ++r) {
              const uint64_t e = flat[idx[r]];
              const uint32_t lo = static_cast<uint32_t>(e);
              const uint16_t hi = static_cast<uint16_t>(e >> 32);
              std::memcpy(out + r * k, &lo, 4);
              std::memcpy(out + r * k + 4, &hi, 2);
            }
          } else {
#pragma GCC unroll 32
            for (int r = 0; r < 32; ++r) std::memcpy(out + r * k, &flat[idx[r]], 8);
          }
        }
      }
  return _mm256_testz_si256(bad, bad) != 0;
}
#endif

// The same with each triple checked as it comes: the first invalid one (in file order) as a format error.
Status unpack_triples_checked(uint32_t type, const TlKernelConfig& c, const Tl2Parts& s, const uint8_t* data, int8_t* w,
                              int64_t i_begin, int64_t i_end) {
  const TripleDigits& digits = triple_digits();
  const uint8_t* signs = data + s.triples_bytes;
  const int64_t n_kb = s.k3 / c.bk, n_rb = c.bm_tile / 32;
  const uint8_t* tb = data + i_begin * n_kb * n_rb * (c.bk / 6) * 32;
  for (int64_t i0 = i_begin; i0 < i_end; ++i0)
    for (int64_t kb = 0; kb < n_kb; ++kb)
      for (int64_t rb = 0; rb < n_rb; ++rb)
        for (int64_t yb = 0; yb < c.bk / 6; ++yb, tb += 32) {
          const uint8_t* sb = signs + (((i0 * n_kb + kb) * n_rb + rb) * (c.bk / 24) + yb / 4) * 32;
          const int64_t t0 = kb * c.bk / 3 + 2 * yb;
          for (int p = 0; p < 32; ++p) {
            const int r = 8 * kSwap[p / 8] + p % 8;
            const int64_t row = i0 * c.bm_tile + rb * 32 + r;
            for (int h = 0; h < 2; ++h) {
              const int magnitude = h == 0 ? tb[p] >> 4 : tb[p] & 15;
              if (magnitude > 13) return bad_index(type, row, 3 * (t0 + h), magnitude);
              const int bit = 15 - (2 * (2 * static_cast<int>(yb % 4) + h) + r / 16);
              const bool negative = (sb[2 * (r % 16) + bit / 8] >> (bit % 8)) & 1;
              std::memcpy(w + (row - i_begin * c.bm_tile) * c.k + 3 * (t0 + h),
                          digits.d[(negative ? -magnitude : magnitude) + 13], 3);
            }
          }
        }
  return Status::Ok();
}

// Both pairs of a TL1/TL2 pair byte x: bytes 0-1 the weights (a, b) of index x >> 4 = 3a + b + 4, bytes 2-3 those
// of x & 15 (four consecutive columns of one row); zeros for an index over 8, which no pair gives.
struct PairTable {
  uint32_t e[256];
};
const PairTable& pair_table() {
  static const PairTable t = [] {
    PairTable r{};
    for (int x = 0; x < 256; ++x) {
      int8_t w[4] = {};
      const int idx[2] = {x >> 4, x & 15};
      for (int h = 0; h < 2; ++h)
        if (idx[h] <= 8) {
          const int a = idx[h] / 3 - 1;
          w[2 * h] = static_cast<int8_t>(a);
          w[2 * h + 1] = static_cast<int8_t>(idx[h] - 4 - 3 * a);
        }
      std::memcpy(&r.e[x], w, 4);
    }
    return r;
  }();
  return t;
}

// The pairs of row tiles [i_begin, i_end) (bytes from `bytes`, as walk_pairs orders them; columns from col0; w
// starts at the first row of tile i_begin), one table load and one 4-byte store a byte. Returns false, having written
// nothing, where an index is over 8.
bool unpack_pairs_fast(const TlKernelConfig& c, const uint8_t* bytes, int64_t cols, int64_t col0, int64_t bk,
                       int64_t bm, bool tl2_swap, int8_t* w, int64_t i_begin, int64_t i_end) {
  const int64_t per_tile = pair_bytes_per_tile(cols, c.bm_tile, bk, bm, tl2_swap);
  unsigned bad = 0;  // an index n >= 9 has bit 4 of n + 7 set
  for (const uint8_t* x = bytes + i_begin * per_tile; x < bytes + i_end * per_tile; ++x)
    bad |= (((*x >> 4) + 7u) | ((*x & 15u) + 7u)) & 16u;
  if (bad != 0) return false;
  const PairTable& table = pair_table();
  const int64_t k = c.k, row0 = i_begin * c.bm_tile;  // locals, as in unpack_triples_fast
  walk_pairs(
      c.m, cols, c.bm_tile, bk, bm, tl2_swap,
      [&](int64_t pos, int64_t row, int64_t g) {
        const uint32_t e = table.e[bytes[pos]];
        std::memcpy(w + (row - row0) * k + col0 + 2 * g, &e, 4);
      },
      i_begin, i_end);
  return true;
}

// tl_unpack for the row tiles i0 in [i_begin, i_end): their weights only, into w from the first row of tile i_begin,
// so tiles can be unpacked in parallel and one at a time. An error from a TL2 triple returns before the pairs are
// read; *in_pairs says whether the error came from the pairs (TL1's are all pairs).
Status unpack_tiles(uint32_t type, const TlKernelConfig& c, const uint8_t* data, int8_t* w, int64_t i_begin,
                    int64_t i_end, bool* in_pairs) {
  *in_pairs = true;
  Status error = Status::Ok();
  // Writes the pair with index `idx` at (row, col), (row, col + 1); idx = 3a + b + 4.
  auto put_pair = [&](int64_t row, int64_t col, int idx) {
    if (idx > 8) {
      if (error.ok()) error = bad_index(type, row, col, idx);
      return;
    }
    const int a = idx / 3 - 1;  // idx - 4 = 3a + b with b in {-1, 0, +1}
    int8_t* at = w + (row - i_begin * c.bm_tile) * c.k + col;
    at[0] = static_cast<int8_t>(a);
    at[1] = static_cast<int8_t>(idx - 4 - 3 * a);
  };
  if (type == kTL1) {
    if (unpack_pairs_fast(c, data, c.k, 0, c.bk, c.bm_simd, false, w, i_begin, i_end)) return Status::Ok();
    walk_pairs(
        c.m, c.k, c.bm_tile, c.bk, c.bm_simd, false,
        [&](int64_t pos, int64_t row, int64_t g) {
          put_pair(row, 2 * g, data[pos] >> 4);
          put_pair(row, 2 * g + 2, data[pos] & 15);
        },
        i_begin, i_end);
    return error;
  }
  const Tl2Parts s = tl2_parts(c);
  const uint8_t* signs = data + s.triples_bytes;
  bool fast;
#if defined(__x86_64__)
  if (static_cast<int>(active_isa()) >= static_cast<int>(IsaLevel::kAvx2))
    fast = unpack_triples_avx2(c, s, data, w, i_begin, i_end);
  else
#endif
    fast = unpack_triples_fast(c, s, data, w, i_begin, i_end);
  if (!fast) {
    Status bad = unpack_triples_checked(type, c, s, data, w, i_begin, i_end);
    if (!bad.ok()) {
      *in_pairs = false;
      return bad;
    }
  }
  const uint8_t* pairs = signs + s.signs_bytes;
  if (unpack_pairs_fast(c, pairs, s.k2, s.k3, 32, 32, true, w, i_begin, i_end)) return Status::Ok();
  walk_pairs(
      c.m, s.k2, c.bm_tile, 32, 32, true,
      [&](int64_t pos, int64_t row, int64_t g) {
        put_pair(row, s.k3 + 2 * g, pairs[pos] >> 4);
        put_pair(row, s.k3 + 2 * g + 2, pairs[pos] & 15);
      },
      i_begin, i_end);
  return error;
}

}  // namespace

Status tl_unpack_tiles(uint32_t type, const TlKernelConfig& c, const uint8_t* data, std::vector<int8_t>& scratch,
                       const TileConsumer& consume) {
  BITNET_RETURN_IF_ERROR(check_shape(type, c));
  // Contiguous ranges of row tiles on up to 8 threads (a 2B-4T TL2 file took 4.6 s to load on one, before the byte
  // tables), each through its own tile buffer. The error reported is the one a single pass over the whole tensor
  // reports, whatever the thread count: the first bad TL2 triple in tile order, else the first bad pair. So a thread
  // goes on past a tile with a bad pair (a later tile may hold a bad triple), and stops at a bad triple.
  const int64_t tiles = c.m / c.bm_tile, tile_weights = c.bm_tile * c.k;
  const int64_t n_threads =
      std::max<int64_t>(1, std::min<int64_t>({tiles, 8, static_cast<int64_t>(ThreadPool::default_threads())}));
  if (scratch.size() < static_cast<size_t>(n_threads * tile_weights))
    scratch.resize(static_cast<size_t>(n_threads * tile_weights));
  std::vector<Status> triple_error(static_cast<size_t>(n_threads)), pair_error(static_cast<size_t>(n_threads));
  auto unpack_range = [&](int64_t i) {
    int8_t* buf = scratch.data() + i * tile_weights;
    for (int64_t i0 = i * tiles / n_threads; i0 < (i + 1) * tiles / n_threads; ++i0) {
      bool in_pairs = true;
      Status st = unpack_tiles(type, c, data, buf, i0, i0 + 1, &in_pairs);
      if (st.ok()) {
        consume(i0 * c.bm_tile, buf);
      } else if (!in_pairs) {
        triple_error[static_cast<size_t>(i)] = std::move(st);
        return;
      } else if (pair_error[static_cast<size_t>(i)].ok()) {
        pair_error[static_cast<size_t>(i)] = std::move(st);
      }
    }
  };
  run_on_threads(n_threads, unpack_range);
  for (const Status& e : triple_error)
    if (!e.ok()) return e;
  for (const Status& e : pair_error)
    if (!e.ok()) return e;
  return Status::Ok();
}

Status tl_unpack(uint32_t type, const TlKernelConfig& c, const uint8_t* data, int8_t* w) {
  std::vector<int8_t> scratch;
  return tl_unpack_tiles(type, c, data, scratch, [&](int64_t row0, const int8_t* tile) {
    std::memcpy(w + row0 * c.k, tile, static_cast<size_t>(c.bm_tile * c.k));
  });
}

Result<std::vector<uint8_t>> tl_quantize(uint32_t type, const TlKernelConfig& c, const float* src) {
  BITNET_RETURN_IF_ERROR(check_shape(type, c));
  const int64_t n = c.m * c.k;
  std::vector<int8_t> w(static_cast<size_t>(n));
  float amax = 0.0f;  // np.max(np.abs(x)) of the float32 tensor
  for (int64_t i = 0; i < n; ++i) {
    const float a = std::fabs(src[i]);
    if (a > amax) amax = a;
    w[static_cast<size_t>(i)] = static_cast<int8_t>(a < 1e-6f ? 0 : (src[i] > 0 ? 1 : -1));
  }
  BITNET_ASSIGN_OR_RETURN(std::vector<uint8_t> out, tl_pack(type, c, w.data()));
  const size_t at = out.size();
  out.resize(at + 32, 0);
  store_f32(out.data() + at, amax);
  return out;
}

}  // namespace bitnet::quant
