// A std::allocator that returns 64-byte (cache-line) aligned storage: buffers that SIMD kernels read with
// 512-bit loads, where a misaligned base splits every load across two cache lines (measured: prompt
// processing 20% slower on 2B-4T when the activation buffer happened to land off a line).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

namespace bitnet {

// n bytes (n >= 2 MB) of their own anonymous mapping, 2 MB aligned and advised MADV_HUGEPAGE where
// use_huge_pages() (core/huge_pages.hpp) says so: a mapping of their own, so the advice ends with them (advised
// heap memory would keep it for whatever reuses it); throws std::bad_alloc. Freed by free_huge(p, n). Off Linux,
// 2 MB aligned operator new. small_pages_first: advised MADV_NOHUGEPAGE instead, so that its pages come 4 KB at a
// time whatever the system's THP mode (core/huge_page_buffer.hpp moves them to 2 MB pages later).
void* allocate_huge(std::size_t n, bool small_pages_first = false);
void free_huge(void* p, std::size_t n);

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

// For big buffers filled right after allocation (repacked weights): resize() leaves elements uninitialized
// instead of zeroing them, and allocations of 2 MB or more come from allocate_huge, so that transparent huge pages
// can back them (one page fault per 2 MB instead of per 4 KB, and one TLB entry). Loading a 2B-4T TQ2_0 file spent
// half its time zeroing and faulting in the 0.5 GB repack buffer before this.
template <class T>
struct LargeBufferAllocator {
  using value_type = T;
  static constexpr std::size_t kHuge = std::size_t{2} << 20;
  LargeBufferAllocator() = default;
  template <class U>
  LargeBufferAllocator(const LargeBufferAllocator<U>&) {}  // NOLINT: rebinding must be implicit
  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes >= kHuge) return static_cast<T*>(allocate_huge(bytes));
    return static_cast<T*>(::operator new (bytes, std::align_val_t{64}));
  }
  void deallocate(T* p, std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes >= kHuge) return free_huge(p, bytes);
    ::operator delete (p, std::align_val_t{64});
  }
  template <class U>
  void construct(U* p) {
    ::new (static_cast<void*>(p)) U;  // default-initialization: no zeroing
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  bool operator==(const LargeBufferAllocator<U>&) const {
    return true;
  }
};

using ByteBuffer = std::vector<uint8_t, LargeBufferAllocator<uint8_t>>;

}  // namespace bitnet
