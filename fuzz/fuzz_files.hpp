// What the libFuzzer targets share: a scratch path per process, writing an input there, and reading the file the
// engine maps back from an exact-size heap copy, so that AddressSanitizer sees a read past the file's end (a mapping
// is whole pages: a read a few bytes past the end of a file lands in the last page's zero tail, unseen).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace bitnet::fuzz {

// "<tmp>/bitnet-fuzz-<pid>-<name>": one per process, so parallel fuzzing jobs do not share files; removed at exit.
std::string scratch_path(const std::string& name);

bool write_file(const std::string& path, const uint8_t* data, size_t size);

// From now on, the library's mmap of `path` (the inode it names now) is served from a heap buffer of the file's
// exact size, and its munmap frees that buffer; every other mapping goes to the kernel (fuzz_files.cpp).
void map_from_heap(const std::string& path);

}  // namespace bitnet::fuzz
