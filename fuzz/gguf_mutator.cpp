// A GGUF-aware mutator for the model target (libFuzzer's LLVMFuzzerCustomMutator): byte flips seldom hit the header
// fields that matter, and changing the data section rarely matters at all. It walks the header (GGUF v2/v3: magic,
// version, tensor and key counts, then keys, values and tensor descriptors), and either sets one of its numeric
// fields (a count, length, value type, scalar, array element, dimension, tensor type or offset) to a boundary value
// or a nearby one, or runs libFuzzer's own mutator on the header bytes alone, the data kept behind them.
#include <cstdint>
#include <cstring>
#include <vector>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

struct Field {
  size_t at;
  uint8_t width;
};

// The header's numeric fields, in file order, up to where it stops parsing; returns the header's length.
class HeaderScan {
 public:
  HeaderScan(const uint8_t* d, size_t n) : d_(d), n_(n) {}

  size_t run(std::vector<Field>& fields) {
    f_ = &fields;
    if (n_ < 24) return 0;
    p_ = 4;
    field(4);  // version
    const uint64_t n_tensors = u64();
    field(8);
    const uint64_t n_keys = u64();
    field(8);
    for (uint64_t k = 0; k < n_keys && k < 100000; ++k) {
      if (!string() || !has(4)) return p_;
      const uint32_t type = u32();
      field(4);
      if (type == 9) {
        if (!array()) return p_;
      } else if (!scalar(type)) {
        return p_;
      }
    }
    for (uint64_t t = 0; t < n_tensors && t < 100000; ++t) {
      if (!string() || !has(4)) return p_;
      const uint32_t n_dims = u32();
      field(4);
      for (uint32_t i = 0; i < n_dims && i < 8; ++i) {
        if (!has(8)) return p_;
        field(8);
      }
      if (!has(12)) return p_;
      field(4);  // type
      field(8);  // offset
    }
    return p_;
  }

 private:
  bool has(size_t k) const { return p_ + k <= n_; }
  uint32_t u32() const {
    uint32_t v;
    std::memcpy(&v, d_ + p_, 4);
    return v;
  }
  uint64_t u64() const {
    uint64_t v;
    std::memcpy(&v, d_ + p_, 8);
    return v;
  }
  void field(uint8_t width) {
    f_->push_back({p_, width});
    p_ += width;
  }
  bool string() {
    if (!has(8)) return false;
    const uint64_t len = u64();
    field(8);
    if (len > n_ - p_) return false;
    p_ += len;
    return true;
  }
  bool scalar(uint32_t type) {
    static constexpr uint8_t kWidth[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};  // by GGUF value type
    if (type == 8) return string();
    if (type > 12 || type == 9 || !has(kWidth[type])) return false;
    field(kWidth[type]);
    return true;
  }
  bool array() {
    if (!has(12)) return false;
    const uint32_t elem = u32();
    field(4);
    const uint64_t count = u64();
    field(8);
    const size_t first = f_->size();
    for (uint64_t i = 0; i < count && i < (uint64_t{1} << 22); ++i)
      if (!scalar(elem)) return false;
    // At most 64 of an array's elements, spread over it: a vocabulary's thousands would drown the other fields.
    const size_t n = f_->size() - first;
    if (n > 64) {
      std::vector<Field> kept;
      for (size_t i = first; i < f_->size(); i += n / 64 + 1) kept.push_back((*f_)[i]);
      f_->resize(first);
      f_->insert(f_->end(), kept.begin(), kept.end());
    }
    return true;
  }

  const uint8_t* d_;
  size_t n_;
  size_t p_ = 0;
  std::vector<Field>* f_ = nullptr;
};

uint64_t next(unsigned& s) {
  s = s * 1103515245u + 12345u;
  return (s >> 8) ^ (uint64_t{s} << 20);
}

void set_field(uint8_t* data, const Field& f, unsigned& s) {
  // clang-format off
  static constexpr uint64_t kBoundaries[] = {0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 33, 63, 64, 127, 128, 255, 256, 257,
                                             1000, 1023, 1024, 4096, 65535, 65536, 1u << 24, (1u << 24) + 1,
                                             0x7fffffff, 0x80000000u, 0xffffffffu, uint64_t{1} << 32,
                                             uint64_t{1} << 40, 0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull};
  // clang-format on
  uint64_t v = 0;
  std::memcpy(&v, data + f.at, f.width);
  switch (next(s) % 4) {
    case 0: v = kBoundaries[next(s) % (sizeof kBoundaries / sizeof kBoundaries[0])]; break;
    case 1: v += next(s) % 9 - 4; break;
    case 2: v = next(s) % 2 ? v * 2 : v / 2; break;
    default: v = next(s); break;
  }
  std::memcpy(data + f.at, &v, f.width);  // little-endian: the low bytes
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  unsigned s = seed != 0 ? seed : 1;
  std::vector<Field> fields;
  const size_t header = HeaderScan(data, size).run(fields);
  const unsigned pick = next(s) % 100;
  if (pick < 55 && !fields.empty()) {
    const int times = next(s) % 3 == 0 ? 1 + static_cast<int>(next(s) % 3) : 1;
    for (int t = 0; t < times; ++t) set_field(data, fields[next(s) % fields.size()], s);
    return size;
  }
  if (pick < 90 && header > 24 && header < size) {
    const size_t tail = size - header;
    const size_t room = max_size > size ? max_size - size : 0;
    std::vector<uint8_t> head(data, data + header);
    head.resize(header + (room < 256 ? room : 256));
    const size_t new_header = LLVMFuzzerMutate(head.data(), header, head.size());
    if (new_header + tail > max_size) return size;
    std::memmove(data + new_header, data + header, tail);
    std::memcpy(data, head.data(), new_header);
    return new_header + tail;
  }
  return LLVMFuzzerMutate(data, size, max_size);
}
