#include "core/huge_pages.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>
#include <string>

#include "core/aligned.hpp"

#if defined(__linux__)
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace bitnet {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

[[maybe_unused]] std::string read_all(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return in ? text.str() : std::string();
}

// Bytes of `map` mapped with 2 MB entries, after a read of each 2 MB (which maps a whole 2 MB folio, or only a
// few 4 KB pages around the byte).
[[maybe_unused]] int64_t touch_and_count(const void* map, size_t size) {
  const volatile uint8_t* p = static_cast<const volatile uint8_t*>(map);
  for (size_t at = 0; at + kHugePage <= size; at += kHugePage) (void)p[at];
  return pmd_mapped_bytes_in_smaps(read_all("/proc/self/smaps"), reinterpret_cast<uintptr_t>(map));
}

#if defined(__linux__)
size_t page_rounded(size_t n) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

// [start, start + n) at a 2 MB boundary, n a whole number of pages, mapped with prot and flags (anonymous); 0 on
// failure. One huge page more than n is mapped, so that an aligned start lies inside, and the slack given back.
uintptr_t map_2mb_aligned(size_t n, int prot, int flags) {
  void* p = ::mmap(nullptr, n + kHugePage, prot, flags | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return 0;
  const uintptr_t base = reinterpret_cast<uintptr_t>(p);
  const uintptr_t start = (base + kHugePage - 1) / kHugePage * kHugePage;
  if (start > base) ::munmap(p, start - base);
  if (base + kHugePage > start) ::munmap(reinterpret_cast<void*>(start + n), base + kHugePage - start);
  return start;
}
#endif

}  // namespace

bool huge_pages_allowed(std::string_view thp_enabled) {
  return thp_enabled.find("[always]") != std::string_view::npos ||
         thp_enabled.find("[madvise]") != std::string_view::npos;
}

bool use_huge_pages() {
#if defined(__linux__)
  if (const char* env = std::getenv("BITNET_HUGE_PAGES"); env != nullptr && std::string_view(env) == "0") return false;
  return huge_pages_allowed(read_all("/sys/kernel/mm/transparent_hugepage/enabled"));
#else
  return false;
#endif
}

void* allocate_huge(size_t n, bool small_pages_first) {
#if defined(__linux__)
  const uintptr_t start = map_2mb_aligned(page_rounded(n), PROT_READ | PROT_WRITE, MAP_PRIVATE);
  if (start == 0) throw std::bad_alloc();
  if (small_pages_first) {
    ::madvise(reinterpret_cast<void*>(start), page_rounded(n), MADV_NOHUGEPAGE);
    return reinterpret_cast<void*>(start);
  }
  // The whole 2 MB only: a last partial one as a huge page would be resident in full (a 2B-4T TQ2_0 file's 4.4 MB
  // matrices took 6 MB each, 167 MB more in all).
  static const bool advise = use_huge_pages();
  if (advise) ::madvise(reinterpret_cast<void*>(start), n / kHugePage * kHugePage, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(start);
#else
  (void)small_pages_first;
  return ::operator new (n, std::align_val_t{kHugePage});
#endif
}

void free_huge(void* p, size_t n) {
#if defined(__linux__)
  ::munmap(p, page_rounded(n));
#else
  (void)n;
  ::operator delete (p, std::align_val_t{kHugePage});
#endif
}

int64_t pmd_mapped_bytes_in_smaps(std::string_view smaps, uintptr_t start) {
  // A mapping's block opens with "start-end perms offset dev inode [path]", addresses in lower-case hex without
  // 0x; its fields follow as "Name:   value kB" lines until the next such header.
  char head[32];
  std::snprintf(head, sizeof head, "%lx-", static_cast<unsigned long>(start));
  const std::string_view want(head);
  size_t pos = 0;
  bool inside = false;
  while (pos < smaps.size()) {
    size_t end = smaps.find('\n', pos);
    if (end == std::string_view::npos) end = smaps.size();
    const std::string_view line = smaps.substr(pos, end - pos);
    pos = end + 1;
    const size_t colon = line.find(':');
    const size_t dash = line.find('-');
    const bool header = dash != std::string_view::npos && (colon == std::string_view::npos || dash < colon);
    if (header) {
      if (inside) return -1;  // the block ended without the line
      inside = line.substr(0, want.size()) == want;
      continue;
    }
    constexpr std::string_view kField = "FilePmdMapped:";
    if (inside && line.substr(0, kField.size()) == kField) {
      int64_t kb = 0;
      size_t i = kField.size();
      while (i < line.size() && line[i] == ' ') ++i;
      if (i == line.size() || line[i] < '0' || line[i] > '9') return -1;
      for (; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) kb = kb * 10 + (line[i] - '0');
      return kb * 1024;
    }
  }
  return -1;
}

void* map_file_2mb_aligned(int fd, size_t size) {
#if defined(__linux__)
  // An aligned reservation, the file mapped over it.
  const size_t n = page_rounded(size);
  const uintptr_t start = map_2mb_aligned(n, PROT_NONE, MAP_PRIVATE | MAP_NORESERVE);
  if (start == 0) return MAP_FAILED;
  void* map = ::mmap(reinterpret_cast<void*>(start), size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
  if (map == MAP_FAILED) ::munmap(reinterpret_cast<void*>(start), n);
  return map;
#else
  (void)fd, (void)size;
  return reinterpret_cast<void*>(-1);
#endif
}

HugeFileMapping map_file_in_huge_pages(int fd, void* map, size_t size, size_t min_size) {
#if defined(__linux__)
  const size_t whole = size / kHugePage * kHugePage;  // a partial last 2 MB cannot map as one
  if (size < min_size || whole == 0 || reinterpret_cast<uintptr_t>(map) % kHugePage != 0 || !use_huge_pages())
    return HugeFileMapping::kNotTried;
  if (::madvise(map, size, MADV_HUGEPAGE) != 0) return HugeFileMapping::kNotTried;
  // 90%: pages another process has mapped stay where they are, and a few small folios do little harm.
  const auto mostly_huge = [&](int64_t bytes) { return bytes >= 0 && static_cast<size_t>(bytes) >= whole / 10 * 9; };
  // Dropped from this process's mapping first: the page cache drops only pages no one maps. Dirty pages (a file
  // just written) are not dropped (their writeback is only started); they stay small.
  const auto drop = [&](size_t at, size_t n) {
    ::madvise(static_cast<uint8_t*>(map) + at, n, MADV_DONTNEED);
    ::posix_fadvise(fd, static_cast<off_t>(at), static_cast<off_t>(n), POSIX_FADV_DONTNEED);
  };
  HugeFileMapping result = HugeFileMapping::kAlreadyHuge;
  if (!mostly_huge(touch_and_count(map, size))) {
    // One 2 MB first, the last whole one: where the page cache has no large folios (ext4 before Linux 6.16, say),
    // reading the whole file back would cost a disk read at every load and gain nothing; this costs 2 MB. It is
    // counted without it before it is read back: it may have been in a 2 MB folio already.
    const size_t probe = whole - kHugePage;
    ::madvise(static_cast<uint8_t*>(map) + probe, kHugePage, MADV_DONTNEED);
    const int64_t without = pmd_mapped_bytes_in_smaps(read_all("/proc/self/smaps"), reinterpret_cast<uintptr_t>(map));
    drop(probe, kHugePage);
    if (without < 0 || touch_and_count(map, size) < without + static_cast<int64_t>(kHugePage)) {
      result = HugeFileMapping::kStillSmall;
    } else {
      drop(0, size);
      result = mostly_huge(touch_and_count(map, size)) ? HugeFileMapping::kReread : HugeFileMapping::kStillSmall;
    }
  }
  ::madvise(map, size, MADV_DONTNEED);  // read-only file pages: they stay in the page cache
  return result;
#else
  (void)fd, (void)map, (void)size, (void)min_size;
  return HugeFileMapping::kNotTried;
#endif
}

}  // namespace bitnet
