// GGUF v3 writer: collects metadata and tensors in memory order and writes a file that this reader and
// llama.cpp's read back. Tensor data is aligned to `general.alignment` (32 unless set).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bitnet/status.hpp"
#include "formats/gguf.hpp"

namespace bitnet::gguf {

// Produces the bytes of a tensor declared with add_tensor_deferred when write() reaches it (called once per
// such tensor, in file order).
using TensorSource = std::function<Result<std::vector<uint8_t>>(const std::string& name)>;

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
  // TL1/TL2 (bitnet.cpp) are written as its converter writes them: `data` is the codes only (tensor_bytes - 32,
  // a multiple of the alignment), and the next tensor must be its F32 [1] scale "<name>_scale", which so lands
  // in the 32 bytes ggml counts at the end of the tensor, where bitnet.cpp's kernels read it.
  void add_tensor(const std::string& name, uint32_t type, const std::vector<int64_t>& ne, std::vector<uint8_t> data);
  // Declares a tensor whose bytes come from the TensorSource given to write(), so a file larger than memory
  // is never held whole: only one deferred tensor's bytes exist at a time.
  void add_tensor_deferred(const std::string& name, uint32_t type, const std::vector<int64_t>& ne);

  // Serialises to bytes (for tests; no deferred tensors) or to a file (written to PATH.tmp, then renamed;
  // tensors are streamed out one at a time). `source` is needed only when tensors were deferred.
  Result<std::vector<uint8_t>> to_bytes() const;
  Status write(const std::string& path, const TensorSource& source = {}) const;

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
    bool deferred = false;
  };
  void set(const std::string& key, Value v);
  // Metadata, tensor descriptors and the padding up to the data section; checks every held tensor's size.
  Result<std::vector<uint8_t>> header(uint64_t& alignment) const;
  std::vector<Entry> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace bitnet::gguf
