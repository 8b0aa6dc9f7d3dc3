// Weight types: one descriptor per ggml tensor type, registered in one table (quant/types.cpp).
// A descriptor gives the block geometry and the reference (scalar, exact) dequantize/quantize.
// Adding a type = one descriptor file + one table entry + its test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "bitnet/status.hpp"

namespace bitnet::quant {

// ggml type ids as stored in GGUF files. I2_S/TL1/TL2 are bitnet.cpp's; upstream llama.cpp reuses 39 for
// MXFP4, so 39 must be told apart by the file's architecture and tensor sizes, never by the id alone.
enum TypeId : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28, kBF16 = 30,
  kTQ1_0 = 34, kTQ2_0 = 35, kI2_S = 36, kTL1 = 38, kTL2 = 39,
};

// How activations are quantized before a ternary dot product: the rule of the format's reference engine.
enum class ActQuant {
  kNone,            // float weights: activations stay float
  kPerTokenAbsmax,  // BitNet b1.58 / bitnet.cpp I2_S: s = 127/max(max|x|, 1e-5), q = clamp(round(x*s), -128, 127)
  kQ8K,             // llama.cpp TQ1_0/TQ2_0 (vec_dot_type Q8_K): per 256 values, see quant/q8_k.hpp
};

using DequantizeFn = void (*)(const uint8_t* src, float* dst, int64_t n);
using QuantizeFn = void (*)(const float* src, uint8_t* dst, int64_t n);

struct TypeTraits {
  uint32_t id;
  const char* name;       // "F32", "TQ2_0", "I2_S", ...
  int64_t block_elems;    // elements per block (1 for F32/F16/BF16)
  size_t block_bytes;     // bytes per block
  bool ternary;           // weights in {-1, 0, +1} times scales
  ActQuant act_quant;     // activation rule for matmuls with this weight type
  // Reference conversion of n elements (n a multiple of block_elems) starting at a block boundary.
  // nullptr where the type is known (for error messages) but not supported.
  DequantizeFn dequantize;
  QuantizeFn quantize;    // nullptr where not provided
};

// nullptr for ids this engine has never heard of.
const TypeTraits* find_type(uint32_t id);
// "TQ2_0", or "type 123" for unknown ids.
std::string type_name(uint32_t id);
// Whether the type can be loaded: dequantize is available, or (TL1/TL2) the loader unpacks it with its kernel
// config (quant/tl.hpp, to_ternary_tl).
bool is_supported(uint32_t id);

// Bytes a tensor of this type and shape occupies (also for known types that cannot be dequantized yet, so
// a file holding them can still be opened and described), validating: known type, ne0 a multiple of
// the block size, no negative dims, no overflow. I2_S is n/4 bytes of codes plus 32 bytes holding the
// per-tensor f32 scale (bitnet.cpp's layout), and needs ne0 % 128 == 0. TL1/TL2 are ggml's sizes for bitnet.cpp's
// LUT layouts (2-D only; see quant/tl.hpp): for type 39, callers must first have decided it is TL2 and not
// upstream llama.cpp's MXFP4 (formats/gguf.cpp does, from the architecture and the tensor's "_scale" companion).
Result<uint64_t> tensor_bytes(uint32_t type, std::span<const int64_t> ne);
// The same for a shape written out ({ne0, n_rows}): no vector is built (dequantize_rows runs per generated token).
inline Result<uint64_t> tensor_bytes(uint32_t type, std::initializer_list<int64_t> ne) {
  return tensor_bytes(type, std::span<const int64_t>(ne.begin(), ne.size()));
}

// Reference dequantization of rows [row_begin, row_begin + row_count) of a tensor with rows of ne0
// elements and n_rows rows in all (I2_S needs the total to find its trailing scale). out holds
// row_count * ne0 floats. `data` must hold tensor_bytes(type, {ne0, n_rows}) bytes.
Status dequantize_rows(uint32_t type, const uint8_t* data, int64_t ne0, int64_t n_rows, int64_t row_begin,
                       int64_t row_count, float* out);

// Reference quantization of a whole tensor [n_rows][ne0] into the type's layout (tensor_bytes bytes).
// Ternary types round to {-1,0,+1} relative to their scale: I2_S takes scale = max|w| of the tensor and the
// sign of each weight (|w| < 1e-6 -> 0), as bitnet.cpp's quantize_i2_s (exact for tensors that already are
// ternary times one scale); TQ* use llama.cpp's per-block rule (d = max|x|, lround(x/d)).
Result<std::vector<uint8_t>> quantize_tensor(uint32_t type, const float* src, int64_t ne0, int64_t n_rows);

}  // namespace bitnet::quant
