// float_to_ternary: float weights that are one magnitude times {-1, 0, +1} into the ternary row layout. llama.cpp's
// converter writes BitNet models so (F32 or F16: the weights already ternarised, times the tensor's absmean scale);
// read that way they take 1.6-2 bits a weight instead of 16 or 32. The test is exact: each element's bits, sign aside,
// are zero or the magnitude's, so the integer products and the one scale reproduce every weight.
#include <atomic>
#include <cstring>
#include <string>

#include "core/half.hpp"
#include "quant/row_ranges.hpp"
#include "quant/ternary.hpp"

namespace bitnet::quant {
namespace {

float magnitude_value(uint32_t type, uint32_t mag) {
  if (type == kF32) return bits_to_float(mag);
  if (type == kF16) return fp16_to_float(static_cast<uint16_t>(mag));
  return bf16_to_float(static_cast<uint16_t>(mag));
}

// Bits of an infinity (and so of the NaNs above it), sign aside.
uint32_t infinity_bits(uint32_t type) { return type == kF32 ? 0x7f800000u : type == kF16 ? 0x7c00u : 0x7f80u; }

// Element i's bits (U: uint32_t for F32, uint16_t for F16 and BF16).
template <typename U>
U bits_at(const uint8_t* data, int64_t i) {
  U u;
  std::memcpy(&u, data + sizeof(U) * i, sizeof(U));
  return u;
}

// Codes (0, 1, 2 for -1, 0, +1) of n elements from `at` into c; nonzero where one is neither 0 nor +-mag. Branch-free,
// so that the compiler vectorises it (a branch an element ran at 4.5 ns a weight).
template <typename U>
U element_codes(const uint8_t* data, int64_t at, int n, U mag, uint8_t* c) {
  constexpr U kSign = static_cast<U>(U{1} << (8 * sizeof(U) - 1));
  U bad = 0;
  for (int i = 0; i < n; ++i) {
    const U u = bits_at<U>(data, at + i);
    const U a = static_cast<U>(u & ~kSign);
    bad |= static_cast<U>((a != 0) & (a != mag));
    c[i] = static_cast<uint8_t>(a == 0 ? 1 : (u & kSign) != 0 ? 0 : 2);
  }
  return bad;
}

// Rows [r_begin, r_end) of `cols` columns into the row layout at `codes`; -1, or the first row holding an element
// that is neither 0 nor +-mag (its codes then unfinished), stopping early where `stop` is set.
template <typename U>
int64_t encode_rows(const uint8_t* data, int64_t cols, int64_t r_begin, int64_t r_end, U mag, uint8_t* codes,
                    const std::atomic<bool>& stop) {
  const int64_t full = cols / kTernaryBlock * kTernaryBlock;
  uint8_t c[kTernaryBlock];
  for (int64_t r = r_begin; r < r_end && !stop.load(std::memory_order_relaxed); ++r) {
    const int64_t base = r * cols;
    uint8_t* row = codes + r * (cols / 4);
    U bad = 0;
    for (int64_t b = 0; b < full; b += kTernaryBlock) {  // column 128b' + 32j + k in byte k at shift 6 - 2j
      bad |= element_codes<U>(data, base + b, kTernaryBlock, mag, c);
      uint8_t* out = row + b / 4;
      for (int k = 0; k < 32; ++k)
        out[k] = static_cast<uint8_t>(c[k] << 6 | c[k + 32] << 4 | c[k + 64] << 2 | c[k + 96]);
    }
    for (int64_t at = full; at < cols; at += 4) {  // the tail: column c in byte c / 4 at shift 2 (c % 4)
      bad |= element_codes<U>(data, base + at, 4, mag, c);
      row[at / 4] = static_cast<uint8_t>(c[0] | c[1] << 2 | c[2] << 4 | c[3] << 6);
    }
    if (bad != 0) return r;
  }
  return -1;
}

}  // namespace

Result<TernaryMatrix> float_to_ternary(uint32_t type, const uint8_t* data, int64_t ne0, int64_t n_rows, uint8_t* dst) {
  if (type != kF32 && type != kF16 && type != kBF16)
    return invalid_argument("float_to_ternary: " + type_name(type) + " is not F32, F16 or BF16");
  if (ne0 <= 0 || n_rows <= 0 || ne0 % 4 != 0)
    return format_error(type_name(type) + ": rows of " + std::to_string(ne0) +
                        " columns (ternary rows need a multiple of 4)");
  const bool f32 = type == kF32;
  const uint32_t sign = f32 ? 0x80000000u : 0x8000u;
  const auto bits = [&](int64_t i) -> uint32_t {
    return f32 ? bits_at<uint32_t>(data, i) : bits_at<uint16_t>(data, i);
  };
  const int64_t n = ne0 * n_rows;
  // The magnitude: the first nonzero element's (an all-zero tensor has none, and any scale does).
  uint32_t mag = 0;
  for (int64_t i = 0; i < n && mag == 0; ++i) mag = bits(i) & (sign - 1);
  if (mag >= infinity_bits(type))
    return format_error(type_name(type) + " holds an infinity or NaN: not ternary weights");

  TernaryMatrix m;
  m.rows = n_rows;
  m.cols = ne0;
  m.group = ne0;  // one scale a tensor, repeated a row, as I2_S's
  m.act_quant = ActQuant::kPerTokenAbsmax;
  m.scales.assign(static_cast<size_t>(n_rows), mag == 0 ? 1.0f : magnitude_value(type, mag));
  uint8_t* codes = dst;
  if (codes == nullptr) {
    m.owned.resize(static_cast<size_t>(n_rows * m.row_bytes()));
    codes = m.owned.data();
  }
  m.view = dst;

  // Rows in parallel, every range stopping once one finds a row holding anything else; the error names that row's
  // first such element (of the lowest such row found).
  std::atomic<bool> stop{false};
  std::atomic<int64_t> bad_row{n_rows};
  for_row_ranges(n_rows, ne0, [&](int64_t r_begin, int64_t r_end) {
    const int64_t r = f32 ? encode_rows<uint32_t>(data, ne0, r_begin, r_end, mag, codes, stop)
                          : encode_rows<uint16_t>(data, ne0, r_begin, r_end, static_cast<uint16_t>(mag), codes, stop);
    if (r < 0) return;
    stop.store(true, std::memory_order_relaxed);
    int64_t seen = bad_row.load(std::memory_order_relaxed);
    while (r < seen && !bad_row.compare_exchange_weak(seen, r, std::memory_order_relaxed)) {
    }
  });
  if (const int64_t r = bad_row.load(); r < n_rows) {
    int64_t i = r * ne0;
    for (uint32_t a = bits(i) & (sign - 1); a == 0 || a == mag; a = bits(i) & (sign - 1)) ++i;
    const float v = magnitude_value(type, bits(i) & (sign - 1));
    return format_error(type_name(type) + " row " + std::to_string(r) + ", column " + std::to_string(i % ne0) +
                        " holds " + std::to_string(bits(i) & sign ? -v : v) + ", neither 0 nor +-" +
                        std::to_string(magnitude_value(type, mag)) + ": not ternary weights");
  }
  return m;
}

}  // namespace bitnet::quant
