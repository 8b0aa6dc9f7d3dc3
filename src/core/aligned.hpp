// A std::allocator that returns 64-byte (cache-line) aligned storage: buffers that SIMD kernels read with
// 512-bit loads, where a misaligned base splits every load across two cache lines (measured: prompt
// processing 20% slower on 2B-4T when the activation buffer happened to land off a line).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace bitnet {

template <class T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) {}  // NOLINT: rebinding must be implicit
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, kAlign); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace bitnet
