// GGUF (v2 and v3) reader: metadata key/values and tensor descriptors over a memory-mapped file.
// Every count, length, shape, offset, alignment and size is validated against the file before use;
// a malformed file yields a format_error naming the field or tensor, never a crash or an out-of-bounds read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bitnet/status.hpp"
#include "core/mapped_file.hpp"

namespace bitnet::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint64_t kDefaultAlignment = 32;

enum class ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
const char* value_type_name(ValueType t);

// One metadata value. Scalars live in `i` (all integer types and bool; u64 above INT64_MAX is rejected
// at parse time), `f` (f32/f64) or `s`. Arrays keep their element type in `elem_type` and their elements
// in `ints`, `floats` or `strings`. Nested arrays are rejected by the parser.
struct Value {
  ValueType type = ValueType::kU8;
  ValueType elem_type = ValueType::kU8;
  int64_t i = 0;
  double f = 0.0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;

  bool is_array() const { return type == ValueType::kArray; }
  size_t array_size() const;
};

struct TensorInfo {
  std::string name;
  uint32_t type = 0;            // ggml type id (see quant/quant.hpp)
  std::vector<int64_t> ne;      // dimensions, ne[0] is the contiguous (row) dimension
  uint64_t offset = 0;          // relative to the start of the data section
  uint64_t nbytes = 0;          // size of the tensor's data, from its type and shape
  const uint8_t* data = nullptr;  // points into the file; valid while the File lives

  int64_t n_elements() const;
  int64_t ne0() const { return ne.empty() ? 1 : ne[0]; }
  int64_t n_rows() const;       // n_elements() / ne0()
};

class File {
 public:
  // weights: the caller will run the model (MappedFile::open's 2 MB pages); not for reading the header alone.
  static Result<std::unique_ptr<File>> open(const std::string& path, bool weights = false);
  // Parses a file image held in memory (tests, fuzzing).
  static Result<std::unique_ptr<File>> from_bytes(std::vector<uint8_t> bytes);
  File(const File&) = delete;  // tensors point into the mapping, and the indexes into the vectors
  File& operator=(const File&) = delete;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the data section in the file
  uint64_t file_size() const { return mapping_->size(); }
  // See MappedFile::drop_pages: for tensor bytes the loader has copied into another layout.
  void drop_pages(const uint8_t* p, uint64_t n) const { mapping_->drop_pages(p, static_cast<size_t>(n)); }
  const std::string& path() const { return mapping_->path(); }

  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;
  // Frees the elements of the array value `key` (nothing where it is absent or not an array): for a loader that has
  // copied them elsewhere, as Model::load does the vocabulary's scores and types (take_vocab_from_gguf). The key
  // stays, an empty array of the same element type.
  void release_array(std::string_view key);
  // Moves the strings of the string array `key` out of the file, leaving it as release_array does (empty, where it
  // is absent or holds no strings): for a loader that keeps them, without a second copy.
  std::vector<std::string> take_strings(std::string_view key);

  // Typed getters. A missing key is not_found; a value of the wrong kind is format_error naming the key.
  Result<std::string> get_string(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;     // any integer type or bool
  Result<double> get_float(std::string_view key) const;    // f32/f64, or any integer type
  Result<bool> get_bool(std::string_view key) const;
  // Defaults for optional keys (a present key of the wrong kind is still an error).
  Result<int64_t> get_int_or(std::string_view key, int64_t fallback) const;
  Result<double> get_float_or(std::string_view key, double fallback) const;
  Result<bool> get_bool_or(std::string_view key, bool fallback) const;
  Result<std::string> get_string_or(std::string_view key, std::string fallback) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  File() = default;
  static Result<std::unique_ptr<File>> parse(std::unique_ptr<MappedFile> mapping);

  std::unique_ptr<MappedFile> mapping_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<TensorInfo> tensors_;
  // Name -> index; the views point into kv_ and tensors_, which never change after parsing.
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace bitnet::gguf
