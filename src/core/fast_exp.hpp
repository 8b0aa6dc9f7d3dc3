// A vectorizable e^v for activation functions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace bitnet {

// e^v within about 1 ulp for v in [-87, 88] (clamped there, so 2^n stays a normal float): v = n ln 2 + r with
// n rounded to nearest (1.5 * 2^23 trick), ln 2 split in two so n ln 2 is exact to float precision, then Cephes'
// degree-6 polynomial for e^r, times 2^n built in the exponent bits. Straight-line float and int operations, so
// the compiler vectorizes loops calling it (std::exp is a call per value: SiLU took 12% of prompt time on the
// large model). NaN stays NaN; -inf gives e^-87, +inf e^88.
inline float fast_exp(float v) {
  v = std::min(std::max(v, -87.0f), 88.0f);
  const float n = (v * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = v - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n == n ? n : 0.0f) + 127) << 23;  // NaN: no float-to-int of NaN
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

}  // namespace bitnet
