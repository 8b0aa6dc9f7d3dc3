// Internal helpers shared by the GGUF reader and writer: facts about metadata value types.
#pragma once

#include <cstdint>

#include "formats/gguf.hpp"

namespace bitnet::gguf {

// Whether `id` names a value type of the GGUF spec (0..12).
inline bool is_known_value_type(uint32_t id) { return id <= static_cast<uint32_t>(ValueType::kF64); }
// Integer types: every fixed-width signed/unsigned type. Bool is separate (get_int still accepts it).
bool is_integer_type(ValueType t);
bool is_float_type(ValueType t);
// Encoded size of one scalar of a fixed-size type; 0 for strings and arrays.
uint64_t value_type_size(ValueType t);

}  // namespace bitnet::gguf
