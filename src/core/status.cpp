// Status: names and formatting of error codes.
#include "bitnet/status.hpp"

#include <algorithm>

namespace bitnet {

const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kIoError: return "I/O error";
    case StatusCode::kFormatError: return "format error";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kOutOfRange: return "out of range";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown error";
}

namespace {

// Length of the valid UTF-8 sequence at s[i] (RFC 3629: no overlong forms, surrogates or code points past
// U+10FFFF) that is no C1 control, 0 if there is none.
size_t utf8_length(const std::string& s, size_t i) {
  const auto at = [&](size_t j) { return static_cast<unsigned char>(s[j]); };
  const unsigned char c = at(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf;  // the range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
    if (c == 0xc2) lo = 0xa0;  // U+0080..U+009F are the C1 controls (0x9b is a terminal's CSI): escaped
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (i + n > s.size() || at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t j = 2; j < n; ++j)
    if (at(i + j) < 0x80 || at(i + j) > 0xbf) return 0;
  return n;
}

bool plain(unsigned char c) { return (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\t'; }

}  // namespace

std::string printable(std::string s) {
  size_t i = 0;
  while (i < s.size() && plain(static_cast<unsigned char>(s[i]))) ++i;
  if (i == s.size()) return s;  // the usual case: nothing to escape
  std::string out = s.substr(0, i);
  static const char kHex[] = "0123456789abcdef";
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (plain(c)) {
      out += static_cast<char>(c);
      ++i;
    } else if (const size_t n = c >= 0x80 ? utf8_length(s, i) : 0; n > 0) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
    }
  }
  return out;
}

// Built by appending: `"'" + std::string(s) + "'"` trips a GCC 12 -Wrestrict false positive (PR 105329).
std::string in_quotes(std::string_view s) {
  constexpr size_t kMax = 120, kKept = 100;
  std::string r;
  r.reserve(std::min(s.size(), kMax) + 32);
  r += '\'';
  if (s.size() <= kMax) {
    r.append(s);
    r += '\'';
  } else {
    r.append(s.substr(0, kKept));
    r += "...' (" + std::to_string(s.size()) + " bytes)";
  }
  return r;
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(status_code_name(code_)) + ": " + message_;
}

Status Status::with_context(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

}  // namespace bitnet
