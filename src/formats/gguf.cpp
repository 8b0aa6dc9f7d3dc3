// GGUF reader: parses and validates the header, metadata and tensor descriptors of a v2/v3 file.
// Nothing read from the file is trusted: every count is bounded by the bytes left before anything is
// allocated from it, and all offset arithmetic is checked for overflow.
#include "formats/gguf.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "formats/gguf_values.hpp"
#include "quant/quant.hpp"

namespace bitnet::gguf {
namespace {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

constexpr uint32_t kMaxDims = 4;
// Smallest encodings, used to bound counts before allocating: a metadata entry is at least a key length,
// a value type and a one-byte value; a tensor descriptor at least a name length, n_dims, one dim, a type
// and an offset.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;
// Even a bounded count may claim far more elements than are really there (a parsed value is larger than
// its encoding), so reservations are capped and vectors grow only with what has actually been read.
constexpr uint64_t kMaxReserve = uint64_t{1} << 16;

size_t capped(uint64_t count) { return static_cast<size_t>(std::min(count, kMaxReserve)); }

std::string num(uint64_t v) { return std::to_string(v); }
std::string hex32(uint32_t v) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s += kDigits[(v >> shift) & 0xf];
  return s;
}

// Bounds-checked little-endian cursor over the file image.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  template <class T>
  bool read(T& out) {
    if (left() < sizeof(T)) return false;
    std::memcpy(&out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  // Reads a u64 length and that many bytes. On failure `len` tells the caller what was claimed.
  bool read_string(std::string& out, uint64_t& len) {
    len = 0;
    if (!read(len) || len > left()) return false;
    out.assign(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += len;
    return true;
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

Status truncated(const Cursor& c, const std::string& what) {
  return format_error(what + " runs past the end of the file (at offset " + num(c.pos()) + ", " + num(c.left()) +
                      " bytes left)");
}

Status read_string(Cursor& c, std::string& out, const std::string& what) {
  uint64_t len = 0;
  const uint64_t at = c.pos();
  if (c.read_string(out, len)) return Status::Ok();
  if (c.pos() == at) return truncated(c, what + " length");
  return format_error(what + ": string length " + num(len) + " at offset " + num(at) +
                      " runs past the end of the file (" + num(c.left()) + " bytes left)");
}

template <class T>
Status read_number(Cursor& c, T& out, const std::string& what) {
  return c.read(out) ? Status::Ok() : truncated(c, what);
}

template <class T>
Status read_int(Cursor& c, Value& v, const std::string& what) {
  T x{};
  BITNET_RETURN_IF_ERROR(read_number(c, x, what));
  v.i = static_cast<int64_t>(x);  // NOLINT(bugprone-signed-char-misuse): i8 values are signed
  return Status::Ok();
}

// One scalar of type `t` into v.i / v.f / v.s. `what` names the key (and element) for errors.
Status read_scalar(Cursor& c, ValueType t, Value& v, const std::string& what) {
  switch (t) {
    case ValueType::kU8:
      return read_int<uint8_t>(c, v, what);
    case ValueType::kI8:
      return read_int<int8_t>(c, v, what);
    case ValueType::kU16:
      return read_int<uint16_t>(c, v, what);
    case ValueType::kI16:
      return read_int<int16_t>(c, v, what);
    case ValueType::kU32:
      return read_int<uint32_t>(c, v, what);
    case ValueType::kI32:
      return read_int<int32_t>(c, v, what);
    case ValueType::kI64:
      return read_int<int64_t>(c, v, what);
    case ValueType::kU64: {
      uint64_t x = 0;
      BITNET_RETURN_IF_ERROR(read_number(c, x, what));
      // Values live in an int64; a u64 past its range would silently turn negative.
      if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return out_of_range(what + ": u64 value " + num(x) + " is above INT64_MAX");
      v.i = static_cast<int64_t>(x);
      return Status::Ok();
    }
    case ValueType::kBool: {
      uint8_t x = 0;
      BITNET_RETURN_IF_ERROR(read_number(c, x, what));
      if (x > 1) return format_error(what + ": bool value " + num(x) + " is neither 0 nor 1");
      v.i = x;
      return Status::Ok();
    }
    case ValueType::kF32: {
      float x = 0;
      BITNET_RETURN_IF_ERROR(read_number(c, x, what));
      v.f = x;
      return Status::Ok();
    }
    case ValueType::kF64:
      return read_number(c, v.f, what);
    case ValueType::kString:
      return read_string(c, v.s, what);
    case ValueType::kArray:
      break;
  }
  return internal_error(what + ": read_scalar called on an array");
}

Status read_array(Cursor& c, const std::string& key, Value& v) {
  const std::string what = "key " + in_quotes(key);
  uint32_t elem = 0;
  if (!c.read(elem)) return truncated(c, what + ": array element type");
  if (!is_known_value_type(elem)) return format_error(what + ": unknown array element type " + num(elem));
  v.elem_type = static_cast<ValueType>(elem);
  if (v.elem_type == ValueType::kArray) return unsupported(what + ": nested arrays are not supported");
  uint64_t count = 0;
  if (!c.read(count)) return truncated(c, what + ": array count");
  // Bound the count by the bytes left before reserving anything (a string element is at least its length).
  const uint64_t min_elem = v.elem_type == ValueType::kString ? 8 : value_type_size(v.elem_type);
  if (count > c.left() / min_elem)
    return format_error(what + ": array count " + num(count) + " of " + value_type_name(v.elem_type) +
                        " cannot fit in the " + num(c.left()) + " bytes left in the file");
  const size_t n = static_cast<size_t>(count);
  Value elem_value;
  if (v.elem_type == ValueType::kString) {
    v.strings.reserve(capped(count));
    for (size_t k = 0; k < n; ++k) {
      BITNET_RETURN_IF_ERROR(read_string(c, elem_value.s, what + " element " + num(k)));
      v.strings.push_back(std::move(elem_value.s));
    }
  } else if (v.elem_type == ValueType::kF32 || v.elem_type == ValueType::kF64) {
    v.floats.reserve(capped(count));
    for (size_t k = 0; k < n; ++k) {
      BITNET_RETURN_IF_ERROR(read_scalar(c, v.elem_type, elem_value, what + " element " + num(k)));
      v.floats.push_back(elem_value.f);
    }
  } else {
    v.ints.reserve(capped(count));
    for (size_t k = 0; k < n; ++k) {
      BITNET_RETURN_IF_ERROR(read_scalar(c, v.elem_type, elem_value, what + " element " + num(k)));
      v.ints.push_back(elem_value.i);
    }
  }
  return Status::Ok();
}

Status read_kv(Cursor& c, uint64_t index, std::string& key, Value& v) {
  BITNET_RETURN_IF_ERROR(read_string(c, key, "metadata entry " + num(index) + ": key"));
  uint32_t type = 0;
  if (!c.read(type)) return truncated(c, "key " + in_quotes(key) + ": value type");
  if (!is_known_value_type(type)) return format_error("key " + in_quotes(key) + ": unknown value type " + num(type));
  v.type = static_cast<ValueType>(type);
  if (v.type == ValueType::kArray) return read_array(c, key, v);
  return read_scalar(c, v.type, v, "key " + in_quotes(key));
}

Status read_tensor_info(Cursor& c, uint64_t index, TensorInfo& t) {
  BITNET_RETURN_IF_ERROR(read_string(c, t.name, "tensor " + num(index) + ": name"));
  const std::string what = "tensor " + in_quotes(t.name);
  uint32_t n_dims = 0;
  if (!c.read(n_dims)) return truncated(c, what + ": n_dims");
  if (n_dims < 1 || n_dims > kMaxDims)
    return format_error(what + ": n_dims " + num(n_dims) + " is outside 1.." + num(kMaxDims));
  t.ne.resize(n_dims);
  // Product of the nonzero dims (so a zero cannot hide an overflow of the others), bounded by 2^60: no type
  // takes more than 8 bytes per element, so every later byte count fits in 64 bits without further checks.
  constexpr uint64_t kMaxElements = uint64_t{1} << 60;
  uint64_t product = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    uint64_t dim = 0;
    if (!c.read(dim)) return truncated(c, what + ": ne[" + num(d) + "]");
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return format_error(what + ": ne[" + num(d) + "] is negative (" + std::to_string(static_cast<int64_t>(dim)) +
                          ")");
    if (dim != 0) {
      if (product > kMaxElements / dim)
        return format_error(what + ": element count overflows (shape product past 2^60)");
      product *= dim;
    }
    t.ne[d] = static_cast<int64_t>(dim);
  }
  if (!c.read(t.type)) return truncated(c, what + ": type");
  if (!c.read(t.offset)) return truncated(c, what + ": offset");
  if (quant::find_type(t.type) == nullptr) return unsupported(what + ": unknown tensor type id " + num(t.type));
  if (t.type == quant::kTL2) return Status::Ok();  // sized by resolve_type_39, once every tensor is known
  Result<uint64_t> nbytes = quant::tensor_bytes(t.type, t.ne);
  if (!nbytes.ok()) return nbytes.status().with_context(what + " (" + quant::type_name(t.type) + ")");
  t.nbytes = *nbytes;
  return Status::Ok();
}

Result<uint64_t> read_alignment(const Value* v) {
  if (v == nullptr) return kDefaultAlignment;
  const std::string what = "key 'general.alignment'";
  if (!is_integer_type(v->type)) return format_error(what + " must be an integer, not " + value_type_name(v->type));
  if (v->i <= 0 || !std::has_single_bit(static_cast<uint64_t>(v->i)))
    return format_error(what + ": alignment " + std::to_string(v->i) + " is not a nonzero power of two");
  return static_cast<uint64_t>(v->i);
}

// Type 39 is bitnet.cpp's TL2, and upstream llama.cpp's MXFP4 (32-element blocks of 17 bytes) since 2025. A TL2
// file comes from bitnet.cpp's converter, which writes it only for its "bitnet" and "llama" model classes (and
// this engine knows bitnet.cpp's later names for 2B-4T) and always puts the scale beside it as "<name>_scale", an
// F32 scalar in the 32 bytes ggml counts at the end of the tensor. Anything else with type 39 is taken as MXFP4.
Status resolve_type_39(const File& f, std::vector<TensorInfo>& tensors) {
  const Result<std::string> arch_key = f.get_string_or("general.architecture", "");
  const std::string arch = arch_key.ok() ? *arch_key : "";
  const bool tl2_arch = arch == "bitnet" || arch == "bitnet-b1.58" || arch == "bitnet-25" || arch == "llama";
  for (TensorInfo& t : tensors) {
    if (t.type != quant::kTL2) continue;
    const TensorInfo* scale = f.find_tensor(t.name + "_scale");
    const bool companion = scale != nullptr && scale->type == quant::kF32 && scale->n_elements() == 1;
    if (!tl2_arch || !companion)
      return unsupported("tensor " + in_quotes(t.name) + " has type 39, which in this file (architecture " + in_quotes(arch) +
                         (companion ? "" : ", no F32 '" + t.name + "_scale' tensor") +
                         ") is upstream llama.cpp's MXFP4, not bitnet.cpp's TL2: MXFP4 is not supported");
    Result<uint64_t> nbytes = quant::tensor_bytes(t.type, t.ne);
    if (!nbytes.ok()) return nbytes.status().with_context("tensor " + in_quotes(t.name) + " (TL2)");
    t.nbytes = *nbytes;
  }
  return Status::Ok();
}

// Checks every tensor's offset and extent against the data section and the others, and points it at its data.
// Returns the data section's offset in the file.
Result<uint64_t> place_tensors(std::vector<TensorInfo>& tensors, const uint8_t* base, uint64_t size, uint64_t infos_end,
                               uint64_t alignment) {
  // infos_end <= size, and alignment <= 2^62, so this cannot overflow.
  const uint64_t data_offset = (infos_end + alignment - 1) / alignment * alignment;
  if (tensors.empty()) return data_offset;  // a metadata-only file may end without the padding
  if (data_offset > size)
    return format_error("data section would start at offset " + num(data_offset) + ", past the end of the file (" +
                        num(size) + " bytes)");
  const uint64_t data_size = size - data_offset;
  for (TensorInfo& t : tensors) {
    const std::string what = "tensor " + in_quotes(t.name);
    if (t.offset % alignment != 0)
      return format_error(what + ": offset " + num(t.offset) + " is not a multiple of the alignment " + num(alignment));
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      return format_error(what + ": data [offset " + num(t.offset) + ", " + num(t.nbytes) +
                          " bytes] runs past the end of the file (" + num(size) + " bytes, data section at " +
                          num(data_offset) + ")");
    t.data = base + data_offset + t.offset;
  }
  // Overlap: sorted by offset, each non-empty tensor must end before the next one starts.
  std::vector<const TensorInfo*> order;
  order.reserve(tensors.size());
  for (const TensorInfo& t : tensors)
    if (t.nbytes > 0) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  // The one overlap allowed: bitnet.cpp's converter writes a TL1/TL2 tensor's scale as "<name>_scale" right after
  // its codes, inside the 32 bytes ggml (and quant::tensor_bytes) counts at the end of the tensor.
  const TensorInfo* last = nullptr;  // the tensor reaching furthest so far
  for (const TensorInfo* b : order) {
    if (last != nullptr && last->offset + last->nbytes > b->offset) {
      const bool tl_scale = (last->type == quant::kTL1 || last->type == quant::kTL2) &&
                            b->name == last->name + "_scale" && b->offset >= last->offset + last->nbytes - 32 &&
                            b->offset + b->nbytes <= last->offset + last->nbytes;
      if (!tl_scale)
        return format_error("tensors " + in_quotes(last->name) + " [offset " + num(last->offset) + ", " +
                            num(last->nbytes) + " bytes] and " + in_quotes(b->name) + " [offset " + num(b->offset) + ", " +
                            num(b->nbytes) + " bytes] overlap");
      continue;
    }
    last = b;
  }
  return data_offset;
}

}  // namespace

Result<std::unique_ptr<File>> File::open(const std::string& path, bool weights) {
  auto mapping = MappedFile::open(path, weights);
  if (!mapping.ok()) return mapping.status();
  auto file = parse(std::move(mapping).value());
  if (!file.ok()) return file.status().with_context("'" + path + "'");
  return file;
}

Result<std::unique_ptr<File>> File::from_bytes(std::vector<uint8_t> bytes) {
  return parse(MappedFile::from_bytes(std::move(bytes)));
}

Result<std::unique_ptr<File>> File::parse(std::unique_ptr<MappedFile> mapping) {
  std::unique_ptr<File> f(new File());
  const uint8_t* base = mapping->data();
  const uint64_t size = mapping->size();
  f->mapping_ = std::move(mapping);
  Cursor c(base, size);

  uint32_t magic = 0;
  if (!c.read(magic)) return format_error("not a GGUF file: only " + num(size) + " bytes");
  if (magic != kMagic) return format_error("not a GGUF file: bad magic " + hex32(magic));
  if (!c.read(f->version_)) return truncated(c, "header: version");
  if (f->version_ != 2 && f->version_ != 3) {
    const uint32_t v = f->version_;
    const uint32_t swapped = (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
    if (swapped == 2 || swapped == 3) return unsupported("big-endian GGUF files are not supported");
    return unsupported("GGUF version " + num(f->version_) + " is not supported (only versions 2 and 3)");
  }
  uint64_t n_tensors = 0, n_kv = 0;
  if (!c.read(n_tensors)) return truncated(c, "header: n_tensors");
  if (!c.read(n_kv)) return truncated(c, "header: n_kv");
  if (n_kv > c.left() / kMinKvBytes)
    return format_error("header: n_kv " + num(n_kv) + " cannot fit in the " + num(c.left()) + " bytes left");
  if (n_tensors > (c.left() - n_kv * kMinKvBytes) / kMinTensorInfoBytes)
    return format_error("header: n_tensors " + num(n_tensors) + " cannot fit in the " + num(c.left()) + " bytes left");

  f->kv_.reserve(capped(n_kv));
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::pair<std::string, Value> kv;
    BITNET_RETURN_IF_ERROR(read_kv(c, k, kv.first, kv.second));
    f->kv_.push_back(std::move(kv));
  }
  for (size_t k = 0; k < f->kv_.size(); ++k) {
    if (!f->kv_index_.emplace(f->kv_[k].first, k).second)
      return format_error("duplicate metadata key " + in_quotes(f->kv_[k].first));
  }
  BITNET_ASSIGN_OR_RETURN(f->alignment_, read_alignment(f->find("general.alignment")));

  f->tensors_.reserve(capped(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorInfo t;
    BITNET_RETURN_IF_ERROR(read_tensor_info(c, k, t));
    f->tensors_.push_back(std::move(t));
  }
  for (size_t k = 0; k < f->tensors_.size(); ++k) {
    if (!f->tensor_index_.emplace(f->tensors_[k].name, k).second)
      return format_error("duplicate tensor name " + in_quotes(f->tensors_[k].name));
  }
  BITNET_RETURN_IF_ERROR(resolve_type_39(*f, f->tensors_));
  BITNET_ASSIGN_OR_RETURN(f->data_offset_, place_tensors(f->tensors_, base, size, c.pos(), f->alignment_));
  // The metadata now lives in kv_ and tensors_: its pages leave the resident set (a 2B-4T file's vocabulary is
  // about 3 MB of them); they are read back from the file if anything touches them again.
  f->mapping_->drop_pages(base, static_cast<size_t>(c.pos()));
  return f;
}

}  // namespace bitnet::gguf
