// GPT-2's byte-to-unicode table, shared by the byte-level BPE encoder and decoder: every byte gets a
// printable code point so that vocabularies and merges can be stored as text ("Ġ" is the byte 0x20).
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace bitnet::byte_level {

// The printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 bytes
// take code points 256, 257, ... in byte order (GPT-2's bytes_to_unicode, which HF tokenizers and
// llama.cpp's unicode_byte_to_utf8 reproduce).
constexpr std::array<uint16_t, 256> make_byte_to_cp() {
  std::array<uint16_t, 256> table{};
  uint16_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    table[b] = printable ? static_cast<uint16_t>(b) : next++;
  }
  return table;
}

inline constexpr std::array<uint16_t, 256> kByteToCp = make_byte_to_cp();
inline constexpr int kMaxCp = 256 + 68;  // one past the largest code point in the table

// Inverse: code point -> byte, or -1 for code points outside the table.
constexpr std::array<int16_t, kMaxCp> make_cp_to_byte() {
  std::array<int16_t, kMaxCp> table{};
  for (auto& t : table) t = -1;
  for (int b = 0; b < 256; ++b) table[kByteToCp[b]] = static_cast<int16_t>(b);
  return table;
}

inline constexpr std::array<int16_t, kMaxCp> kCpToByte = make_cp_to_byte();

// UTF-8 spelling of the code point byte `b` maps to (one or two bytes: every code point is below 0x800).
inline std::string byte_to_utf8(uint8_t b) {
  const uint16_t cp = kByteToCp[b];
  if (cp < 0x80) return std::string(1, static_cast<char>(cp));
  return {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
}

}  // namespace bitnet::byte_level
