// Model files mapped with 2 MB pages: the kernels walk every weight page once per prompt batch or generated
// token, and with 4 KB pages nearly each one is a TLB miss, which on a virtual machine is a two-level page walk.
// On a Zen 5 VM the prompt kernel's rearranging of rows, the first code to touch them, waited 9% of the large
// model's prompt processing on these; mapped with 2 MB pages, under 1%.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bitnet {

// Whether the text of /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never") lets advised memory
// have huge pages: the selected mode, in brackets, is always or madvise.
bool huge_pages_allowed(std::string_view thp_enabled);

// Whether to ask for huge pages at all: Linux says huge_pages_allowed, and BITNET_HUGE_PAGES is not 0 (the user's
// switch off).
bool use_huge_pages();

// The FilePmdMapped figure, in bytes, of the mapping that starts at `start` in the text of /proc/<pid>/smaps; -1
// when no mapping starts there or it has no such line.
int64_t pmd_mapped_bytes_in_smaps(std::string_view smaps, uintptr_t start);

// A read-only private mapping of the whole file `fd` (size bytes) at a 2 MB boundary, which 2 MB pages need (the
// kernel aligns large file mappings itself only where the filesystem asks); MAP_FAILED as mmap on failure. Unmap
// with munmap(map, size).
void* map_file_2mb_aligned(int fd, size_t size);

enum class HugeFileMapping {
  kNotTried,     // not Linux, switched off, huge pages not allowed, a small file, a mapping not 2 MB aligned, or
                 // madvise refused
  kAlreadyHuge,  // the page cache held the file in 2 MB folios: each 2 MB maps with one entry
  kReread,       // it did not; dropped from the page cache and read back in 2 MB folios
  kStillSmall,   // not in 2 MB folios, and 2 MB of it read back were not either (a filesystem without large folios,
                 // or /proc/self/smaps unreadable), or the whole read back was not (pages in use elsewhere)
};

// For a read-only file mapping of `size` bytes at `map` (from mmap of `fd`): advises MADV_HUGEPAGE, and where the
// file's pages in the page cache are small folios, which a mapping can only take 4 KB at a time, drops the file's
// cached pages and reads it back through the advised mapping, whose readahead then fills 2 MB folios (2 MB first,
// to see that it does). Files under min_size are left alone. The mapping's own resident pages are released before
// it returns (the caller's accesses map them again: a 2 MB page per fault where the page cache has 2 MB folios),
// so a file the loader mostly repacks does not count in full. The contents are not changed, only where the kernel
// keeps them.
HugeFileMapping map_file_in_huge_pages(int fd, void* map, size_t size, size_t min_size = size_t{64} << 20);

}  // namespace bitnet
