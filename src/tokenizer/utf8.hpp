// UTF-8 helpers shared by the encoder (splitting text into characters) and the streaming decoder
// (holding back a sequence cut between tokens). Both must survive arbitrary bytes, so nothing here trusts input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bitnet::utf8 {

// Length a lead byte announces: 1 for ASCII, 2..4 for a lead byte, 0 for a continuation byte or a byte
// that can never start a sequence (0xF8..0xFF).
inline size_t announced_length(uint8_t b) {
  if (b < 0x80) return 1;
  if (b < 0xC0) return 0;
  if (b < 0xE0) return 2;
  if (b < 0xF0) return 3;
  if (b < 0xF8) return 4;
  return 0;
}

inline bool is_continuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Bytes of the character starting at `pos`: the announced length when all its continuation bytes are there,
// otherwise 1 (a bad or truncated sequence becomes a one-byte symbol of its own).
inline size_t char_length(std::string_view s, size_t pos) {
  const size_t n = announced_length(static_cast<uint8_t>(s[pos]));
  if (n <= 1 || pos + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k) {
    if (!is_continuation(static_cast<uint8_t>(s[pos + k]))) return 1;
  }
  return n;
}

// How many bytes at the end of `s` are the start of a valid-so-far sequence still waiting for continuation
// bytes (0..3). Everything before them can be handed out without cutting a character.
inline size_t incomplete_tail(std::string_view s) {
  const size_t look = s.size() < 4 ? s.size() : 4;
  for (size_t back = 1; back <= look; ++back) {
    const uint8_t b = static_cast<uint8_t>(s[s.size() - back]);
    if (is_continuation(b)) continue;
    const size_t need = announced_length(b);
    // A lead byte whose sequence is not complete yet; every byte after it is a continuation byte.
    return (need > back) ? back : 0;
  }
  return 0;  // only continuation bytes: stray, nothing will complete them
}

}  // namespace bitnet::utf8
