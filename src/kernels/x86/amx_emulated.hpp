// Portable versions of the AMX intrinsics the AMX kernel uses (x86/ternary_avx512_amx.cpp), for the build configured
// with BITNET_EMULATE_AVX512=ON, where cpu_features() reports AMX-INT8 as it reports AVX-512: the kernel's logic is
// then tested against the scalar reference on CPUs without AMX. Written from Intel's descriptions (palette 1: eight
// tiles of up to 16 rows x 64 bytes): one thread's tile state, tdpbsud's 32-bit sums wrapping, never saturating.
// Logic only, not speed.
#pragma once

#include <cstdint>
#include <cstring>

namespace bitnet::amx_emulated {

struct TileState {
  uint16_t colsb[8] = {};
  uint8_t rows[8] = {};
  alignas(64) uint8_t data[8][16][64] = {};
};

inline TileState& tiles() {
  static thread_local TileState state;
  return state;
}

// The 64-byte configuration: palette at byte 0, bytes per row of tile i at 16 + 2i, rows of tile i at 48 + i.
inline void loadconfig(const void* config) {
  const auto* c = static_cast<const uint8_t*>(config);
  TileState& s = tiles();
  for (int i = 0; i < 8; ++i) {
    std::memcpy(&s.colsb[i], c + 16 + 2 * i, 2);
    s.rows[i] = c[48 + i];
  }
}
inline void release() { tiles() = TileState{}; }
inline void zero(int t) { std::memset(tiles().data[t], 0, sizeof(tiles().data[t])); }
inline void loadd(int t, const void* base, int64_t stride) {
  TileState& s = tiles();
  for (int r = 0; r < s.rows[t]; ++r)
    std::memcpy(s.data[t][r], static_cast<const uint8_t*>(base) + r * stride, s.colsb[t]);
}
inline void stored(int t, void* base, int64_t stride) {
  TileState& s = tiles();
  for (int r = 0; r < s.rows[t]; ++r) std::memcpy(static_cast<uint8_t*>(base) + r * stride, s.data[t][r], s.colsb[t]);
}
// c[m][n] += sum over k < colsb(a) / 4 and i < 4 of int8 a[m][4k + i] * uint8 b[k][4n + i].
inline void dpbsud(int c, int a, int b) {
  TileState& s = tiles();
  for (int m = 0; m < s.rows[c]; ++m)
    for (int n = 0; n < s.colsb[c] / 4; ++n) {
      int32_t acc;
      std::memcpy(&acc, &s.data[c][m][4 * n], 4);
      uint32_t sum = static_cast<uint32_t>(acc);
      for (int k = 0; k < s.colsb[a] / 4; ++k)
        for (int i = 0; i < 4; ++i)
          sum += static_cast<uint32_t>(static_cast<int8_t>(s.data[a][m][4 * k + i]) * s.data[b][k][4 * n + i]);
      acc = static_cast<int32_t>(sum);
      std::memcpy(&s.data[c][m][4 * n], &acc, 4);
    }
}

}  // namespace bitnet::amx_emulated

#define _tile_loadconfig(config) bitnet::amx_emulated::loadconfig(config)
#define _tile_release() bitnet::amx_emulated::release()
#define _tile_zero(t) bitnet::amx_emulated::zero(t)
#define _tile_loadd(t, base, stride) bitnet::amx_emulated::loadd(t, base, stride)
#define _tile_stored(t, base, stride) bitnet::amx_emulated::stored(t, base, stride)
#define _tile_dpbsud(c, a, b) bitnet::amx_emulated::dpbsud(c, a, b)
