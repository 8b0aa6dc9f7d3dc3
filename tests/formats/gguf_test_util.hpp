// Test helper: builds GGUF images byte by byte, so tests can write headers that lie in exactly one place.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/gguf_writer.hpp"
#include "quant/quant.hpp"

namespace bitnet::test {

class RawGguf {
 public:
  template <class T>
  RawGguf& put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    bytes.insert(bytes.end(), tmp, tmp + sizeof(T));
    return *this;
  }
  RawGguf& u8(uint8_t v) { return put(v); }
  RawGguf& u32(uint32_t v) { return put(v); }
  RawGguf& u64(uint64_t v) { return put(v); }
  RawGguf& str(const std::string& s) {
    u64(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  // magic "GGUF", version, n_tensors, n_kv
  RawGguf& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    return u32(0x46554747).u32(version).u64(n_tensors).u64(n_kv);
  }
  RawGguf& kv_u32(const std::string& key, uint32_t v) { return str(key).u32(4).u32(v); }
  RawGguf& kv_string(const std::string& key, const std::string& v) { return str(key).u32(8).str(v); }
  RawGguf& tensor(const std::string& name, const std::vector<uint64_t>& ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) u64(d);
    return u32(type).u64(offset);
  }
  RawGguf& pad(uint64_t alignment) {
    bytes.resize((bytes.size() + alignment - 1) / alignment * alignment, 0);
    return *this;
  }
  RawGguf& zeros(size_t n) {
    bytes.resize(bytes.size() + n, 0);
    return *this;
  }
  std::vector<uint8_t> bytes;
};

inline std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (uint8_t& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

inline gguf::Value int_value(gguf::ValueType t, int64_t i) {
  gguf::Value v;
  v.type = t;
  v.i = i;
  return v;
}

// A small file with every value type, arrays of strings/ints/floats/bools and five tensors (F32, F16, Q8_0,
// TQ2_0, F32). The last tensor is exactly one alignment unit long, so the file ends with tensor data and
// truncating it anywhere must be detected.
inline gguf::Writer rich_writer() {
  using gguf::ValueType;
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_value("v.u8", int_value(ValueType::kU8, 200));
  w.set_value("v.i8", int_value(ValueType::kI8, -100));
  w.set_value("v.u16", int_value(ValueType::kU16, 60000));
  w.set_value("v.i16", int_value(ValueType::kI16, -30000));
  w.set_u32("v.u32", 4000000000u);
  w.set_i32("v.i32", -2000000000);
  w.set_f32("v.f32", 0.125f);
  w.set_bool("v.bool", true);
  w.set_string("v.string", "hello, gguf");
  w.set_u64("v.u64", 1ull << 40);
  w.set_i64("v.i64", -(1ll << 50));
  w.set_f64("v.f64", 3.141592653589793);
  w.set_string_array("v.strings", {"<unk>", "<s>", "</s>", "", "a longer token"});
  w.set_i32_array("v.i32s", {-1, 0, 1, 1 << 30});
  w.set_f32_array("v.f32s", {0.5f, -2.0f, 1e-5f});
  gguf::Value bools;
  bools.type = ValueType::kArray;
  bools.elem_type = ValueType::kBool;
  bools.ints = {1, 0, 1};
  w.set_value("v.bools", bools);
  gguf::Value u8s;
  u8s.type = ValueType::kArray;
  u8s.elem_type = ValueType::kU8;
  u8s.ints = {0, 255, 7};
  w.set_value("v.u8s", u8s);
  w.add_tensor("t.f32", quant::kF32, {8, 3}, random_bytes(8 * 3 * 4, 1));
  w.add_tensor("t.f16", quant::kF16, {16, 2}, random_bytes(16 * 2 * 2, 2));
  w.add_tensor("t.q8_0", quant::kQ8_0, {64, 2}, random_bytes(4 * 34, 3));
  w.add_tensor("t.tq2_0", quant::kTQ2_0, {256}, random_bytes(66, 4));
  w.add_tensor("t.last", quant::kF32, {8}, random_bytes(32, 5));
  return w;
}

}  // namespace bitnet::test
