// AVX-512 VBMI ternary matmul of a few tokens (generation) against a matrix in the dense panel layout
// (quant/ternary.hpp: five weights a byte, 1.6 bits a weight against the panel layout's 2), and the decoding of its
// panels into the panel layout for the prompt kernels. Generation reads every weight once a token: where the memory
// sets its pace, a fifth fewer bytes a token is that much faster. The decode is not free: on Zen 4 this kernel does
// 120-125 G multiply-adds/s a thread from L2 against the 2-bit panel GEMV's 177-179 (vpermi2b competes with
// vpdpbusd), so there it gains in the minutes the memory is slow and is level when it is fast (README). Each code byte
// is decoded with two vpermi2b table lookups by its 7 low bits (the codes of a non-negative v: one byte with fields
// 0..3 at their shifts, and the fifth code) and, where its top bit says v < 0, a masked subtraction (2 - code, field by
// field: 0xAA - fields). Fields 0..3 then take the panel GEMV's masks and arithmetic shifts
// (x86/ternary_avx512_panel_gemv.cpp); the fifth code is its own vpdpbusd's. bitnet-kernel-bench
// ternary/.../tokens:1/avx512-vnni/dense against .../panels. Integer sums exact, the reference's float epilogue lane by
// lane: bit-equal to it.
#if defined(__x86_64__)
#include <cstdint>
#include <cstring>

#include "core/cpu_features.hpp"  // before the target region: code_prefetch.hpp reads it
#include "kernels/ternary.hpp"
#include "kernels/x86/avx512_intrinsics.hpp"

BITNET_AVX512_BEGIN("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/x86/code_prefetch.hpp"
#include "kernels/x86/ternary_avx512_epilogue.hpp"
#include "kernels/x86/ternary_avx512_fields.hpp"

namespace bitnet::kernels {
namespace {

constexpr int64_t kBlockBytes = 512;  // one 128-column block of a panel (the panel layout)
// As in the panel GEMV: every line 10 KB ahead of the one loaded is fetched.
constexpr int64_t kPrefetchAhead = 10240;

// For a byte's 7 low bits i: its codes 0..3 at their shifts, and its fifth code (quant::dense_code).
struct DenseTables {
  alignas(64) uint8_t four[128];
  alignas(64) uint8_t fifth[128];
};
constexpr DenseTables make_tables() {
  DenseTables t{};
  for (int i = 0; i < 128; ++i) {
    int packed = 0;
    for (int s = 0; s < 4; ++s) packed |= quant::dense_code(static_cast<uint8_t>(i), s) << (6 - 2 * s);
    t.four[i] = static_cast<uint8_t>(packed);
    t.fifth[i] = quant::dense_code(static_cast<uint8_t>(i), 4);
  }
  return t;
}
constexpr DenseTables kTables = make_tables();

// The tables in registers, and the decoding of one zmm of dense bytes.
struct Decoder {
  __m512i four_lo, four_hi, fifth_lo, fifth_hi;

  Decoder()
      : four_lo(_mm512_load_si512(kTables.four)),
        four_hi(_mm512_load_si512(kTables.four + 64)),
        fifth_lo(_mm512_load_si512(kTables.fifth)),
        fifth_hi(_mm512_load_si512(kTables.fifth + 64)) {}

  // v's codes: fields 0..3 in `four` (as in the panel layout), the fifth in `fifth`.
  void decode(__m512i v, __m512i& four, __m512i& fifth) const {
    const __mmask64 negative = _mm512_movepi8_mask(v);
    four = _mm512_permutex2var_epi8(four_lo, v, four_hi);
    four = _mm512_mask_sub_epi8(four, negative, _mm512_set1_epi8(static_cast<char>(0xAA)), four);
    fifth = _mm512_permutex2var_epi8(fifth_lo, v, fifth_hi);
    fifth = _mm512_mask_sub_epi8(fifth, negative, _mm512_set1_epi8(2), fifth);
  }
};

// acc_s += field s of `four` times activations q + 32 s (fields 0..3 of a panel-layout zmm: 4 of 128 columns).
inline void add_fields(__m512i& acc0, __m512i& acc1, __m512i& acc2, __m512i& acc3, __m512i four, const int8_t* q) {
  acc0 = _mm512_dpbusd_epi32(acc0, field<0>(four), broadcast4(q));
  acc1 = _mm512_dpbusd_epi32(acc1, field<1>(four), broadcast4(q + 32));
  acc2 = _mm512_dpbusd_epi32(acc2, field<2>(four), broadcast4(q + 64));
  acc3 = _mm512_dpbusd_epi32(acc3, field<3>(four), broadcast4(q + 96));
}

// Panel p (rows 16p .. 16p + 15) times token t, into y_row. Accumulators: one per field (scaled by 4^(3-s), as in
// the panel GEMV) and one for the fifth codes.
void gemv_dense_panel(const quant::TernaryMatrix& w, const PreparedActs& a, const Decoder& dec, int64_t p, int64_t t,
                      float* y_row, bool to_l2) {
  const int64_t cols = w.cols, supers = cols / quant::kDenseCols;
  const uint8_t* base = w.codes() + p * quant::kPanelRows * w.dense_row_bytes();
  const int8_t* act = a.qa.q.data() + t * cols;
  __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512(), acc2 = _mm512_setzero_si512();
  __m512i acc3 = _mm512_setzero_si512(), acc4 = _mm512_setzero_si512();
  for (int64_t sb = 0; sb < supers; ++sb) {
    const uint8_t* ps = base + sb * quant::kDenseBlockBytes;
    const int8_t* q = act + sb * quant::kDenseCols;
    // Line n: dword j = n % 8 of block c = n / 8.
#pragma GCC unroll 1
    for (int n = 0; n < 32; ++n) {
      const uint8_t* line = ps + n * 64;
      prefetch_code_line(reinterpret_cast<uintptr_t>(line) + kPrefetchAhead, to_l2);
      __m512i four, fifth;
      dec.decode(_mm512_loadu_si512(line), four, fifth);
      add_fields(acc0, acc1, acc2, acc3, four, q + (n / 8) * quant::kTernaryBlock + 4 * (n % 8));
      acc4 = _mm512_dpbusd_epi32(acc4, fifth, broadcast4(q + 512 + 32 * (n / 8) + 4 * (n % 8)));
    }
  }
  const uint8_t* tail = base + supers * quant::kDenseBlockBytes;
  for (int64_t b = 0; b < cols % quant::kDenseCols / quant::kTernaryBlock; ++b) {
#pragma GCC unroll 1
    for (int j = 0; j < 8; ++j) {
      const uint8_t* line = tail + b * kBlockBytes + j * 64;
      prefetch_code_line(reinterpret_cast<uintptr_t>(line) + kPrefetchAhead, to_l2);
      add_fields(acc0, acc1, acc2, acc3, _mm512_loadu_si512(line),
                 act + supers * quant::kDenseCols + b * quant::kTernaryBlock + 4 * j);
    }
  }
  const __m512i dots =
      _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(_mm512_srai_epi32(acc0, 6), _mm512_srai_epi32(acc1, 4)),
                                        _mm512_add_epi32(_mm512_srai_epi32(acc2, 2), acc3)),
                       acc4);
  const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(dots, _mm512_set1_epi32(a.sums[static_cast<size_t>(t)])));
  const __m512 ws = _mm512_loadu_ps(w.scales.data() + p * quant::kPanelRows);
  const float* at = a.qa.scales.data() + t;
  _mm512_storeu_ps(y_row + p * quant::kPanelRows, panel_epilogue(a.qa.rule, 0, 1, _mm512_setzero_ps(), f, ws, at));
}

}  // namespace

void ternary_gemv_dense_avx512(const quant::TernaryMatrix& w, const PreparedActs& a, float* y, int64_t y_stride,
                               int64_t row_begin, int64_t row_end) {
  const int64_t pb = row_begin / quant::kPanelRows, pe = row_end / quant::kPanelRows;
  // Two tokens or more: the decode once a panel, not once a token (bitnet-kernel-bench l2_1536x512/tokens:4/.../dense:
  // 124 -> 150-152 G multiply-adds/s; 2-bit panels 177-180).
  if (a.qa.n_tokens > 1) {
    uint8_t* panel = kernel_scratch(static_cast<size_t>(quant::kPanelRows * w.row_bytes()));
    for (int64_t p = pb; p < pe; ++p) {
      ternary_dense_to_panels(w, p * quant::kPanelRows, (p + 1) * quant::kPanelRows, panel);
      ternary_gemv_panel_at_avx512(w, a, panel, p, y, y_stride);
    }
    return;
  }
  const Decoder dec;
  const bool to_l2 = code_prefetch_to_l2();
  for (int64_t p = pb; p < pe; ++p) gemv_dense_panel(w, a, dec, p, 0, y, to_l2);
}

void ternary_dense_to_panels(const quant::TernaryMatrix& w, int64_t row_begin, int64_t row_end, uint8_t* dst) {
  const Decoder dec;
  const bool to_l2 = code_prefetch_to_l2();
  const int64_t drb = w.dense_row_bytes(), rb = w.row_bytes(), supers = w.cols / quant::kDenseCols;
  const int64_t p0 = row_begin / quant::kPanelRows;
  for (int64_t p = p0; p < row_end / quant::kPanelRows; ++p) {
    const uint8_t* src = w.codes() + p * quant::kPanelRows * drb;
    uint8_t* out = dst + (p - p0) * quant::kPanelRows * rb;
    for (int64_t sb = 0; sb < supers; ++sb) {
      const uint8_t* ps = src + sb * quant::kDenseBlockBytes;
      uint8_t* po = out + sb * 5 * kBlockBytes;
      for (int j = 0; j < 8; ++j) {
        __m512i fifths = _mm512_setzero_si512();
        for (int c = 0; c < 4; ++c) {
          __m512i four, fifth;
          const uint8_t* line = ps + c * kBlockBytes + j * 64;
          prefetch_code_line(reinterpret_cast<uintptr_t>(line) + kPrefetchAhead, to_l2);
          dec.decode(_mm512_loadu_si512(line), four, fifth);
          _mm512_storeu_si512(po + c * kBlockBytes + j * 64, four);
          // block 4's field c (a code of at most 2, shifted within its byte)
          fifths = _mm512_or_si512(fifths, _mm512_sll_epi16(fifth, _mm_cvtsi32_si128(6 - 2 * c)));
        }
        _mm512_storeu_si512(po + 4 * kBlockBytes + j * 64, fifths);
      }
    }
    std::memcpy(out + supers * 5 * kBlockBytes, src + supers * quant::kDenseBlockBytes,
                static_cast<size_t>(w.cols % quant::kDenseCols / quant::kTernaryBlock * kBlockBytes));
  }
}

}  // namespace bitnet::kernels

#pragma GCC diagnostic pop
BITNET_AVX512_END
#endif
