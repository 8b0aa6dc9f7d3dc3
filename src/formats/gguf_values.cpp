// GGUF metadata values and tensor descriptors: type names, typed getters with kind checks, lookups.
#include "formats/gguf_values.hpp"

#include <string>

#include "formats/gguf.hpp"

namespace bitnet::gguf {

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::kU8:
      return "u8";
    case ValueType::kI8:
      return "i8";
    case ValueType::kU16:
      return "u16";
    case ValueType::kI16:
      return "i16";
    case ValueType::kU32:
      return "u32";
    case ValueType::kI32:
      return "i32";
    case ValueType::kF32:
      return "f32";
    case ValueType::kBool:
      return "bool";
    case ValueType::kString:
      return "string";
    case ValueType::kArray:
      return "array";
    case ValueType::kU64:
      return "u64";
    case ValueType::kI64:
      return "i64";
    case ValueType::kF64:
      return "f64";
  }
  return "unknown";
}

bool is_integer_type(ValueType t) {
  switch (t) {
    case ValueType::kU8:
    case ValueType::kI8:
    case ValueType::kU16:
    case ValueType::kI16:
    case ValueType::kU32:
    case ValueType::kI32:
    case ValueType::kU64:
    case ValueType::kI64:
      return true;
    default:
      return false;
  }
}

bool is_float_type(ValueType t) { return t == ValueType::kF32 || t == ValueType::kF64; }

uint64_t value_type_size(ValueType t) {
  switch (t) {
    case ValueType::kU8:
    case ValueType::kI8:
    case ValueType::kBool:
      return 1;
    case ValueType::kU16:
    case ValueType::kI16:
      return 2;
    case ValueType::kU32:
    case ValueType::kI32:
    case ValueType::kF32:
      return 4;
    case ValueType::kU64:
    case ValueType::kI64:
    case ValueType::kF64:
      return 8;
    case ValueType::kString:
    case ValueType::kArray:
      return 0;
  }
  return 0;
}

size_t Value::array_size() const {
  if (!is_array()) return 0;
  if (elem_type == ValueType::kString) return strings.size();
  if (is_float_type(elem_type)) return floats.size();
  return ints.size();
}

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;  // the parser has checked that the product fits
  return n;
}

int64_t TensorInfo::n_rows() const {
  // Product of the outer dims rather than n_elements() / ne0, so a zero-length row does not divide by zero.
  int64_t n = 1;
  for (size_t k = 1; k < ne.size(); ++k) n *= ne[k];
  return n;
}

namespace {

std::string kind_of(const Value& v) {
  if (v.is_array()) return std::string("array of ") + value_type_name(v.elem_type);
  return value_type_name(v.type);
}

Status wrong_kind(std::string_view key, const Value& v, const char* wanted) {
  return format_error("key '" + std::string(key) + "' is " + kind_of(v) + ", not " + wanted);
}

}  // namespace

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

void File::release_array(std::string_view key) {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end() || !kv_[it->second].second.is_array()) return;
  Value& v = kv_[it->second].second;
  std::vector<int64_t>().swap(v.ints);
  std::vector<double>().swap(v.floats);
  std::vector<std::string>().swap(v.strings);
}

std::vector<std::string> File::take_strings(std::string_view key) {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end() || !kv_[it->second].second.is_array()) return {};
  std::vector<std::string> out;
  out.swap(kv_[it->second].second.strings);
  return out;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<std::string> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return not_found("key '" + std::string(key) + "' not found");
  if (v->type != ValueType::kString) return wrong_kind(key, *v, "a string");
  return v->s;
}

Result<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return not_found("key '" + std::string(key) + "' not found");
  if (!is_integer_type(v->type) && v->type != ValueType::kBool) return wrong_kind(key, *v, "an integer");
  return v->i;
}

Result<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return not_found("key '" + std::string(key) + "' not found");
  if (is_float_type(v->type)) return v->f;
  if (is_integer_type(v->type)) return static_cast<double>(v->i);
  return wrong_kind(key, *v, "a number");
}

Result<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return not_found("key '" + std::string(key) + "' not found");
  if (v->type != ValueType::kBool) return wrong_kind(key, *v, "a bool");
  return v->i != 0;
}

Result<int64_t> File::get_int_or(std::string_view key, int64_t fallback) const {
  return find(key) == nullptr ? Result<int64_t>(fallback) : get_int(key);
}

Result<double> File::get_float_or(std::string_view key, double fallback) const {
  return find(key) == nullptr ? Result<double>(fallback) : get_float(key);
}

Result<bool> File::get_bool_or(std::string_view key, bool fallback) const {
  return find(key) == nullptr ? Result<bool>(fallback) : get_bool(key);
}

Result<std::string> File::get_string_or(std::string_view key, std::string fallback) const {
  return find(key) == nullptr ? Result<std::string>(std::move(fallback)) : get_string(key);
}

}  // namespace bitnet::gguf
