// GGUF v3 writer: metadata in insertion order, tensor descriptors, then the tensor data, each tensor
// padded to the alignment (as llama.cpp writes it, so its readers find the padding they expect).
#include "formats/gguf_writer.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "formats/gguf_values.hpp"
#include "quant/quant.hpp"

namespace bitnet::gguf {
namespace {

constexpr uint32_t kVersion = 3;
constexpr int64_t kMaxAlignment = int64_t{1} << 20;

// Bytes written for a tensor: tensor_bytes, except TL1/TL2, whose last 32 counted bytes hold the "<name>_scale"
// tensor that follows them (bitnet.cpp's converter writes only the codes).
Result<uint64_t> stored_bytes(uint32_t type, const std::vector<int64_t>& ne) {
  BITNET_ASSIGN_OR_RETURN(uint64_t n, quant::tensor_bytes(type, ne));
  return type == quant::kTL1 || type == quant::kTL2 ? n - 32 : n;
}

class Out {
 public:
  template <class T>
  void put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  void pad(uint64_t alignment) { bytes.resize((bytes.size() + alignment - 1) / alignment * alignment, 0); }
  std::vector<uint8_t> bytes;
};

bool fits(ValueType t, int64_t v) {
  switch (t) {
    case ValueType::kU8:
      return v >= 0 && v <= std::numeric_limits<uint8_t>::max();
    case ValueType::kI8:
      return v >= std::numeric_limits<int8_t>::min() && v <= std::numeric_limits<int8_t>::max();
    case ValueType::kU16:
      return v >= 0 && v <= std::numeric_limits<uint16_t>::max();
    case ValueType::kI16:
      return v >= std::numeric_limits<int16_t>::min() && v <= std::numeric_limits<int16_t>::max();
    case ValueType::kU32:
      return v >= 0 && v <= std::numeric_limits<uint32_t>::max();
    case ValueType::kI32:
      return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
    case ValueType::kU64:
      return v >= 0;  // the reader keeps values in int64 and rejects larger u64
    case ValueType::kBool:
      return v == 0 || v == 1;
    default:
      return true;
  }
}

// Writes one scalar of type t from i/f/s, checking that an integer fits its declared type.
Status put_scalar(Out& out, ValueType t, int64_t i, double f, const std::string& s, const std::string& what) {
  if (!fits(t, i))
    return invalid_argument(what + ": value " + std::to_string(i) + " does not fit in " + value_type_name(t));
  switch (t) {
    case ValueType::kU8:
    case ValueType::kBool:
      out.put(static_cast<uint8_t>(i));
      break;
    case ValueType::kI8:
      out.put(static_cast<int8_t>(i));
      break;
    case ValueType::kU16:
      out.put(static_cast<uint16_t>(i));
      break;
    case ValueType::kI16:
      out.put(static_cast<int16_t>(i));
      break;
    case ValueType::kU32:
      out.put(static_cast<uint32_t>(i));
      break;
    case ValueType::kI32:
      out.put(static_cast<int32_t>(i));
      break;
    case ValueType::kU64:
      out.put(static_cast<uint64_t>(i));
      break;
    case ValueType::kI64:
      out.put(i);
      break;
    case ValueType::kF32:
      out.put(static_cast<float>(f));
      break;
    case ValueType::kF64:
      out.put(f);
      break;
    case ValueType::kString:
      out.str(s);
      break;
    case ValueType::kArray:
      return invalid_argument(what + ": nested arrays are not supported");
  }
  return Status::Ok();
}

Status put_value(Out& out, const std::string& key, const Value& v) {
  const std::string what = "key '" + key + "'";
  out.str(key);
  if (!is_known_value_type(static_cast<uint32_t>(v.type)))
    return invalid_argument(what + ": unknown value type " + std::to_string(static_cast<uint32_t>(v.type)));
  out.put(static_cast<uint32_t>(v.type));
  if (!v.is_array()) return put_scalar(out, v.type, v.i, v.f, v.s, what);
  if (!is_known_value_type(static_cast<uint32_t>(v.elem_type)) || v.elem_type == ValueType::kArray)
    return invalid_argument(what + ": bad array element type " + std::to_string(static_cast<uint32_t>(v.elem_type)));
  out.put(static_cast<uint32_t>(v.elem_type));
  out.put(static_cast<uint64_t>(v.array_size()));
  static const std::string kNone;
  for (size_t k = 0; k < v.array_size(); ++k) {
    const std::string elem = what + " element " + std::to_string(k);
    if (v.elem_type == ValueType::kString) {
      out.str(v.strings[k]);
    } else if (v.elem_type == ValueType::kF32 || v.elem_type == ValueType::kF64) {
      BITNET_RETURN_IF_ERROR(put_scalar(out, v.elem_type, 0, v.floats[k], kNone, elem));
    } else {
      BITNET_RETURN_IF_ERROR(put_scalar(out, v.elem_type, v.ints[k], 0.0, kNone, elem));
    }
  }
  return Status::Ok();
}

Value scalar(ValueType t) {
  Value v;
  v.type = t;
  return v;
}

Value array_of(ValueType elem) {
  Value v;
  v.type = ValueType::kArray;
  v.elem_type = elem;
  return v;
}

}  // namespace

void Writer::set(const std::string& key, Value v) {
  for (Entry& e : kv_) {
    if (e.key == key) {
      e.value = std::move(v);
      return;
    }
  }
  kv_.push_back({key, std::move(v)});
}

void Writer::set_value(const std::string& key, Value v) { set(key, std::move(v)); }

void Writer::set_u32(const std::string& key, uint32_t x) {
  Value v = scalar(ValueType::kU32);
  v.i = x;
  set(key, std::move(v));
}

void Writer::set_i32(const std::string& key, int32_t x) {
  Value v = scalar(ValueType::kI32);
  v.i = x;
  set(key, std::move(v));
}

void Writer::set_u64(const std::string& key, uint64_t x) {
  Value v = scalar(ValueType::kU64);
  // Above INT64_MAX this wraps negative, which to_bytes() reports (the reader would reject it).
  v.i = static_cast<int64_t>(x);
  set(key, std::move(v));
}

void Writer::set_i64(const std::string& key, int64_t x) {
  Value v = scalar(ValueType::kI64);
  v.i = x;
  set(key, std::move(v));
}

void Writer::set_f32(const std::string& key, float x) {
  Value v = scalar(ValueType::kF32);
  v.f = x;
  set(key, std::move(v));
}

void Writer::set_f64(const std::string& key, double x) {
  Value v = scalar(ValueType::kF64);
  v.f = x;
  set(key, std::move(v));
}

void Writer::set_bool(const std::string& key, bool x) {
  Value v = scalar(ValueType::kBool);
  v.i = x ? 1 : 0;
  set(key, std::move(v));
}

void Writer::set_string(const std::string& key, const std::string& x) {
  Value v = scalar(ValueType::kString);
  v.s = x;
  set(key, std::move(v));
}

void Writer::set_string_array(const std::string& key, const std::vector<std::string>& x) {
  Value v = array_of(ValueType::kString);
  v.strings = x;
  set(key, std::move(v));
}

void Writer::set_f32_array(const std::string& key, const std::vector<float>& x) {
  Value v = array_of(ValueType::kF32);
  v.floats.assign(x.begin(), x.end());
  set(key, std::move(v));
}

void Writer::set_i32_array(const std::string& key, const std::vector<int32_t>& x) {
  Value v = array_of(ValueType::kI32);
  v.ints.assign(x.begin(), x.end());
  set(key, std::move(v));
}

void Writer::add_tensor(const std::string& name, uint32_t type, const std::vector<int64_t>& ne,
                        std::vector<uint8_t> data) {
  tensors_.push_back({name, type, ne, std::move(data)});
}

void Writer::add_tensor_deferred(const std::string& name, uint32_t type, const std::vector<int64_t>& ne) {
  tensors_.push_back({name, type, ne, {}, true});
}

Result<std::vector<uint8_t>> Writer::header(uint64_t& alignment) const {
  alignment = kDefaultAlignment;
  for (const Entry& e : kv_) {
    if (e.key != "general.alignment") continue;
    const Value& v = e.value;
    // The padding is materialised in memory, so an absurd alignment is refused rather than allocated.
    if (!is_integer_type(v.type) || v.i <= 0 || (v.i & (v.i - 1)) != 0 || v.i > kMaxAlignment)
      return invalid_argument("key 'general.alignment' must be an integer power of two up to " +
                              std::to_string(kMaxAlignment));
    alignment = static_cast<uint64_t>(v.i);
  }

  Out out;
  out.put(kMagic);
  out.put(kVersion);
  out.put(static_cast<uint64_t>(tensors_.size()));
  out.put(static_cast<uint64_t>(kv_.size()));
  for (const Entry& e : kv_) BITNET_RETURN_IF_ERROR(put_value(out, e.key, e.value));

  std::unordered_set<std::string> names;
  uint64_t offset = 0;  // of the next tensor, relative to the data section
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Tensor& t = tensors_[i];
    const std::string what = "tensor '" + t.name + "'";
    if (!names.insert(t.name).second) return invalid_argument("duplicate tensor name '" + t.name + "'");
    if (t.ne.empty() || t.ne.size() > 4)
      return invalid_argument(what + ": " + std::to_string(t.ne.size()) + " dimensions (1..4 allowed)");
    Result<uint64_t> nbytes = stored_bytes(t.type, t.ne);
    if (!nbytes.ok()) return nbytes.status().with_context(what);
    if (t.type == quant::kTL1 || t.type == quant::kTL2) {
      // As bitnet.cpp's converter: the scale follows as "<name>_scale", where the kernels read it.
      const Tensor* next = i + 1 < tensors_.size() ? &tensors_[i + 1] : nullptr;
      if (next == nullptr || next->name != t.name + "_scale" || next->type != quant::kF32 ||
          next->ne != std::vector<int64_t>{1})
        return invalid_argument(what + ": a " + quant::type_name(t.type) +
                                " tensor must be followed by its scale, an F32 [1] tensor '" + t.name + "_scale'");
      if (*nbytes % alignment != 0)
        return invalid_argument(what + ": its " + std::to_string(*nbytes) +
                                " bytes of codes are not a multiple of the alignment " + std::to_string(alignment) +
                                ", so its scale would not sit where bitnet.cpp reads it");
    }
    if (!t.deferred && *nbytes != t.data.size())
      return invalid_argument(what + ": " + std::to_string(t.data.size()) + " bytes of data, but " +
                              quant::type_name(t.type) + " of this shape needs " + std::to_string(*nbytes));
    out.str(t.name);
    out.put(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) out.put(static_cast<uint64_t>(d));
    out.put(t.type);
    out.put(offset);
    offset += (*nbytes + alignment - 1) / alignment * alignment;
  }
  out.pad(alignment);
  return std::move(out.bytes);
}

Result<std::vector<uint8_t>> Writer::to_bytes() const {
  for (const Tensor& t : tensors_)
    if (t.deferred)
      return invalid_argument("tensor '" + t.name + "' has deferred data: write it to a file with a TensorSource");
  uint64_t alignment = 0;
  BITNET_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, header(alignment));
  for (const Tensor& t : tensors_) {
    bytes.insert(bytes.end(), t.data.begin(), t.data.end());
    bytes.resize((bytes.size() + alignment - 1) / alignment * alignment, 0);
  }
  return bytes;
}

namespace {

// PATH.tmp being written; removed unless commit() renamed it to PATH.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {}
  ~TempFile() {
    if (f_ != nullptr) std::fclose(f_);
    if (!committed_) std::remove(tmp_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  Status open() {
    // Refused before the work of writing: the rename at the end would fail on a directory.
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      return io_error("cannot write '" + path_ + "': it is a directory (name a file in it)");
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (f_ == nullptr) return io_error("cannot create '" + tmp_ + "': " + std::strerror(errno));
    return Status::Ok();
  }
  Status put(const uint8_t* p, size_t n) {
    if (n > 0 && std::fwrite(p, 1, n, f_) != n) return io_error("cannot write '" + tmp_ + "': " + std::strerror(errno));
    return Status::Ok();
  }
  Status commit() {
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) return io_error("cannot write '" + tmp_ + "': " + std::strerror(errno));
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
      return io_error("cannot rename '" + tmp_ + "' to '" + path_ + "': " + std::strerror(errno));
    committed_ = true;
    return Status::Ok();
  }

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

}  // namespace

Status Writer::write(const std::string& path, const TensorSource& source) const {
  uint64_t alignment = 0;
  BITNET_ASSIGN_OR_RETURN(std::vector<uint8_t> head, header(alignment));
  // Write beside the target and rename, so a reader never sees a half-written file under the final name.
  TempFile file(path);
  BITNET_RETURN_IF_ERROR(file.open());
  BITNET_RETURN_IF_ERROR(file.put(head.data(), head.size()));
  const std::vector<uint8_t> zeros(alignment, 0);
  for (const Tensor& t : tensors_) {
    std::vector<uint8_t> produced;
    if (t.deferred) {
      if (!source) return invalid_argument("tensor '" + t.name + "' has deferred data but no TensorSource was given");
      BITNET_ASSIGN_OR_RETURN(produced, source(t.name));
      // header() validated the shape, so stored_bytes succeeds here.
      BITNET_ASSIGN_OR_RETURN(uint64_t want, stored_bytes(t.type, t.ne));
      if (produced.size() != want)
        return invalid_argument("tensor '" + t.name + "': the source produced " + std::to_string(produced.size()) +
                                " bytes, but " + quant::type_name(t.type) + " of this shape needs " +
                                std::to_string(want));
    }
    const std::vector<uint8_t>& data = t.deferred ? produced : t.data;
    BITNET_RETURN_IF_ERROR(file.put(data.data(), data.size()));
    const size_t rem = data.size() % alignment;
    if (rem != 0) BITNET_RETURN_IF_ERROR(file.put(zeros.data(), alignment - rem));
  }
  return file.commit();
}

}  // namespace bitnet::gguf
