// GGUF v3 writer: collects metadata and tensors in memory order and writes a file that this reader and
// llama.cpp's read back. Tensor data is aligned to `general.alignment` (32 unless set).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bitnet/status.hpp"
#include "formats/gguf.hpp"

namespace bitnet::gguf {

class Writer {
 public:
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, const std::string& v);
  void set_string_array(const std::string& key, const std::vector<std::string>& v);
  void set_f32_array(const std::string& key, const std::vector<float>& v);
  void set_i32_array(const std::string& key, const std::vector<int32_t>& v);
  void set_i64(const std::string& key, int64_t v);
  void set_f64(const std::string& key, double v);
  // Any value the reader can return (other scalar widths, arrays of any element type; e.g. metadata copied
  // from another file). Checked in write(): integers must fit their type, bools be 0/1, arrays not nest.
  void set_value(const std::string& key, Value v);
  // Setting a key twice replaces the earlier value (keeps its position).

  // `data` must hold exactly the bytes the type and shape need (quant::tensor_bytes); checked in write().
  void add_tensor(const std::string& name, uint32_t type, const std::vector<int64_t>& ne, std::vector<uint8_t> data);

  // Serialises to bytes (for tests) or to a file (written to PATH.tmp, then renamed).
  Result<std::vector<uint8_t>> to_bytes() const;
  Status write(const std::string& path) const;

 private:
  struct Entry {
    std::string key;
    Value value;
  };
  struct Tensor {
    std::string name;
    uint32_t type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> data;
  };
  void set(const std::string& key, Value v);
  std::vector<Entry> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace bitnet::gguf
