// Read-only memory-mapped file (or an owned in-memory buffer with the same interface, for tests and
// converters). Model weights stay in the page cache; nothing is copied unless a layout change needs it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bitnet/status.hpp"

namespace bitnet {

class MappedFile {
 public:
  // weights: the file holds a model's weights, which the kernels read again and again: mapped in 2 MB pages where
  // the system allows (map_file_in_huge_pages).
  static Result<std::unique_ptr<MappedFile>> open(const std::string& path, bool weights = false);
  static std::unique_ptr<MappedFile> from_bytes(std::vector<uint8_t> bytes);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Drops the whole pages inside [p, p + n) from this process's resident set (madvise DONTNEED) when the file
  // is memory-mapped: for bytes already copied elsewhere (a repacked tensor). They are read back from the file
  // if touched again. A no-op for in-memory files.
  void drop_pages(const uint8_t* p, size_t n) const;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* map_ = nullptr;  // non-null when memory-mapped
  std::vector<uint8_t> owned_;
  std::string path_;
};

// Whole-file read into memory (for small files: tokenizer files, id lists).
Result<std::string> read_text_file(const std::string& path);

}  // namespace bitnet
