// The one table of weight types, and the tensor-level helpers built on it.
#include <limits>

#include "quant/float_types.hpp"
#include "quant/i2_s.hpp"
#include "quant/q4_0.hpp"
#include "quant/q6_k.hpp"
#include "quant/q8_0.hpp"
#include "quant/q8_k.hpp"
#include "quant/quant.hpp"
#include "quant/tl.hpp"
#include "quant/tq1_0.hpp"
#include "quant/tq2_0.hpp"

namespace bitnet::quant {
namespace {

// Known types. Those with a null dequantize are named in errors but cannot be loaded yet.
const TypeTraits kTypes[] = {
    {kF32, "F32", 1, 4, false, ActQuant::kNone, dequantize_f32, quantize_f32},
    {kF16, "F16", 1, 2, false, ActQuant::kNone, dequantize_f16, quantize_f16},
    {kBF16, "BF16", 1, 2, false, ActQuant::kNone, dequantize_bf16, quantize_bf16},
    {kQ4_0, "Q4_0", 32, 18, false, ActQuant::kNone, dequantize_q4_0, quantize_q4_0},
    {kQ4_1, "Q4_1", 32, 20, false, ActQuant::kNone, nullptr, nullptr},
    {kQ5_0, "Q5_0", 32, 22, false, ActQuant::kNone, nullptr, nullptr},
    {kQ5_1, "Q5_1", 32, 24, false, ActQuant::kNone, nullptr, nullptr},
    {kQ8_0, "Q8_0", 32, 34, false, ActQuant::kNone, dequantize_q8_0, quantize_q8_0},
    {kQ8_1, "Q8_1", 32, 36, false, ActQuant::kNone, nullptr, nullptr},
    {kQ2_K, "Q2_K", 256, 84, false, ActQuant::kNone, nullptr, nullptr},
    {kQ3_K, "Q3_K", 256, 110, false, ActQuant::kNone, nullptr, nullptr},
    {kQ4_K, "Q4_K", 256, 144, false, ActQuant::kNone, nullptr, nullptr},
    {kQ5_K, "Q5_K", 256, 176, false, ActQuant::kNone, nullptr, nullptr},
    {kQ6_K, "Q6_K", 256, 210, false, ActQuant::kNone, dequantize_q6_k, quantize_q6_k},
    {kQ8_K, "Q8_K", 256, 292, false, ActQuant::kNone, dequantize_q8_k, quantize_q8_k_blocks},
    {kI8, "I8", 1, 1, false, ActQuant::kNone, nullptr, nullptr},
    {kI16, "I16", 1, 2, false, ActQuant::kNone, nullptr, nullptr},
    {kI32, "I32", 1, 4, false, ActQuant::kNone, nullptr, nullptr},
    {kI64, "I64", 1, 8, false, ActQuant::kNone, nullptr, nullptr},
    {kF64, "F64", 1, 8, false, ActQuant::kNone, nullptr, nullptr},
    {kTQ1_0, "TQ1_0", 256, 54, true, ActQuant::kQ8K, dequantize_tq1_0, quantize_tq1_0},
    {kTQ2_0, "TQ2_0", 256, 66, true, ActQuant::kQ8K, dequantize_tq2_0, quantize_tq2_0},
    // I2_S: 4 codes per byte in blocks of 128; the per-tensor scale makes tensor_bytes special, and its
    // dequantize/quantize entries take the WHOLE tensor (codes then scale), see quant/i2_s.hpp.
    {kI2_S, "I2_S", 128, 32, true, ActQuant::kPerTokenAbsmax, dequantize_i2_s, quantize_i2_s},
    // bitnet.cpp's TL1/TL2: layouts tiled by a kernel config (quant/tl.hpp); loaded through to_ternary only, with
    // the config, so they have no element-wise dequantize. Their sizes are ggml's, see tensor_bytes.
    {kTL1, "TL1", 1, 1, true, ActQuant::kPerTokenAbsmax, nullptr, nullptr},
    {kTL2, "TL2", 1, 1, true, ActQuant::kPerTokenAbsmax, nullptr, nullptr},
};

}  // namespace

const TypeTraits* find_type(uint32_t id) {
  for (const auto& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

std::string type_name(uint32_t id) {
  const TypeTraits* t = find_type(id);
  return t ? std::string(t->name) : "type " + std::to_string(id);
}

bool is_supported(uint32_t id) {
  const TypeTraits* t = find_type(id);
  return t != nullptr && (t->dequantize != nullptr || id == kTL1 || id == kTL2);
}

Result<uint64_t> tensor_bytes(uint32_t type, std::span<const int64_t> ne) {
  const TypeTraits* t = find_type(type);
  if (t == nullptr) return unsupported("unknown tensor type id " + std::to_string(type));
  if (ne.empty()) return format_error("tensor has no dimensions");
  if (type == kTL1 || type == kTL2) {
    // ggml_nbytes of bitnet.cpp's fork: the codes up to where the kernels read the scale, plus 32 bytes.
    for (size_t d = 2; d < ne.size(); ++d)
      if (ne[d] != 1) return format_error(std::string(t->name) + " tensors are 2-D");
    BITNET_ASSIGN_OR_RETURN(uint64_t at, tl_scale_offset(type, ne[0], ne.size() > 1 ? ne[1] : 1));
    return at + 32;
  }
  uint64_t n = 1;
  for (int64_t d : ne) {
    if (d < 0) return format_error("negative dimension " + std::to_string(d));
    if (d != 0 && n > std::numeric_limits<uint64_t>::max() / 4 / static_cast<uint64_t>(d))
      return format_error("tensor shape overflows");
    n *= static_cast<uint64_t>(d);
  }
  if (ne[0] % t->block_elems != 0)
    return format_error("row length " + std::to_string(ne[0]) + " is not a multiple of " + t->name + "'s block size " +
                        std::to_string(t->block_elems));
  if (type == kI2_S) return n / 4 + 32;
  const uint64_t blocks = n / static_cast<uint64_t>(t->block_elems);
  if (blocks > std::numeric_limits<uint64_t>::max() / t->block_bytes) return format_error("tensor shape overflows");
  return blocks * t->block_bytes;
}

Status dequantize_rows(uint32_t type, const uint8_t* data, int64_t ne0, int64_t n_rows, int64_t row_begin,
                       int64_t row_count, float* out) {
  const TypeTraits* t = find_type(type);
  if (t == nullptr || t->dequantize == nullptr) return unsupported("cannot dequantize " + type_name(type));
  BITNET_ASSIGN_OR_RETURN(uint64_t nbytes, tensor_bytes(type, {ne0, n_rows}));  // validates the shape
  (void)nbytes;
  if (row_begin < 0 || row_count < 0 || row_begin > n_rows - row_count)
    return out_of_range("rows [" + std::to_string(row_begin) + ", +" + std::to_string(row_count) +
                        ") outside a tensor of " + std::to_string(n_rows) + " rows");
  if (type == kI2_S) {
    // One scale for the whole tensor, after all the codes: decode by element index.
    dequantize_i2_s_range(data, ne0 * n_rows, row_begin * ne0, (row_begin + row_count) * ne0, out);
    return Status::Ok();
  }
  const uint64_t row_bytes = static_cast<uint64_t>(ne0 / t->block_elems) * t->block_bytes;
  for (int64_t r = 0; r < row_count; ++r)
    t->dequantize(data + static_cast<uint64_t>(row_begin + r) * row_bytes, out + r * ne0, ne0);
  return Status::Ok();
}

Result<std::vector<uint8_t>> quantize_tensor(uint32_t type, const float* src, int64_t ne0, int64_t n_rows) {
  const TypeTraits* t = find_type(type);
  if (t == nullptr || t->quantize == nullptr) return unsupported("cannot quantize to " + type_name(type));
  BITNET_ASSIGN_OR_RETURN(uint64_t nbytes, tensor_bytes(type, {ne0, n_rows}));
  std::vector<uint8_t> out(nbytes);
  if (type == kI2_S) {
    quantize_i2_s(src, out.data(), ne0 * n_rows);  // per-tensor scale: the whole tensor at once
    return out;
  }
  const uint64_t row_bytes = static_cast<uint64_t>(ne0 / t->block_elems) * t->block_bytes;
  for (int64_t r = 0; r < n_rows; ++r)
    t->quantize(src + r * ne0, out.data() + static_cast<uint64_t>(r) * row_bytes, ne0);
  return out;
}

}  // namespace bitnet::quant
