// bitnet.cpp's lookup-table formats TL1 (GGUF type 38, ARM) and TL2 (type 39, x86): sizes, the kernel tilings
// their layouts depend on, and exact pack/unpack of ternary weights. The engine does not compute in these
// layouts: the loader unpacks them into quant::TernaryMatrix (see tl_to_ternary), like every ternary type.
//
// Facts as read in microsoft/BitNet's utils/convert-hf-to-gguf-bitnet.py (preprocess_weights_tl1/_tl2,
// process_tl1, preprocess_{two,three}_weights_tl2), utils/codegen_tl{1,2}.py, setup_env.py, and ggml.c's
// ggml_nbytes in the llama.cpp fork bitnet.cpp builds (Eddie-Wang1120/llama.cpp):
//  - A weight tensor of M rows (output features) and K columns (GGUF ne = [K, M]) holds sign(w) in {-1,0,+1}
//    (|w| < 1e-6 -> 0) and ONE f32 scale, max|w| of the tensor, which the kernels read right after the packed
//    bytes (TL1: at byte M*K/4; TL2: at P rounded up to 32, P below). The converter writes the scale as a
//    separate F32 tensor "<name>_scale" that lands exactly there; ggml counts it in the tensor's size:
//    TL1 = M*K/4 + 32 bytes, TL2 = roundup32(P) + 32 with P = (K-256)*M/3*5/8 + 256*M/2*4/8 (C integer order).
//  - The byte order is a tiling chosen per (M, K) by the kernel config bitnet.cpp was BUILT with
//    (include/kernel_config.ini: BM rows per tile, BK columns per tile, bm rows per SIMD block). The file does
//    not record it, so a tensor can only be decoded with the right config (see tl_config.hpp).
//  - TL1: each pair of weights (a, b) along a row is one 4-bit index 3a + b + 4 (0..8), two per byte.
//  - TL2: the first K - K % BK columns go in triples (a, b, c) -> v = 9a + 3b + c; |v| (0..13) is a 4-bit index,
//    two per byte, and the sign of v (1 if negative) is one bit in a separate sign area; the last K % BK columns
//    go in pairs as TL1 does (tiled with BK = 32, bm = 32). Zero bytes pad the codes up to P.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "bitnet/status.hpp"
#include "quant/tl_config.hpp"

namespace bitnet::quant {

// Byte offset of the per-tensor scale from the start of a TL1/TL2 tensor (M rows of K): where bitnet.cpp's
// transform reads it. Everything before it is packed codes (and, for TL2, zero padding). Validates the shape
// (TL2: 2-D, K >= 256, as ggml_nbytes' formula assumes).
Result<uint64_t> tl_scale_offset(uint32_t type, int64_t k, int64_t m);

// Packs row-major ternary weights w[m * K + k] in {-1, 0, +1} into the tensor's first tl_scale_offset bytes, in
// the layout the converter writes for `config` (which must pass check_tl_config for this type and shape).
Result<std::vector<uint8_t>> tl_pack(uint32_t type, const TlKernelConfig& config, const int8_t* w);

// The inverse: `data` holds at least tl_scale_offset bytes; writes M*K weights to w. An index that no weights
// give (TL1 and TL2 pairs: 9..15; TL2 triples: 14, 15) is a format error naming the row and column.
Status tl_unpack(uint32_t type, const TlKernelConfig& config, const uint8_t* data, int8_t* w);

// The same, one row tile (config.bm_tile rows) at a time, in parallel: each tile's weights (bm_tile rows of K,
// row-major) are unpacked into a buffer of the thread's and passed to consume(first_row, weights) on that thread,
// while they are still in cache. `scratch` holds the buffers (grown as needed; reuse it across tensors). consume
// sees only tiles that unpack without error; on an error the result is tl_unpack's error.
using TileConsumer = std::function<void(int64_t first_row, const int8_t* weights)>;
Status tl_unpack_tiles(uint32_t type, const TlKernelConfig& config, const uint8_t* data, std::vector<int8_t>& scratch,
                       const TileConsumer& consume);

// The converter's quantisation of a float tensor [M][K]: sign with |w| < 1e-6 -> 0, scale = max|w| (f32).
// Returns the whole tensor (tensor_bytes bytes: codes, padding, then the scale at tl_scale_offset, zero-padded).
Result<std::vector<uint8_t>> tl_quantize(uint32_t type, const TlKernelConfig& config, const float* src);

}  // namespace bitnet::quant
