// fuzz_files.hpp: mmap, munmap and madvise are defined here, in the fuzz target, ahead of libc's: a mapping of the
// file named by map_from_heap is a heap copy of its exact size (which ASan can bound); the rest are the system calls.
#include "fuzz_files.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

namespace bitnet::fuzz {
namespace {

struct HeapMapping {
  void* data = nullptr;
  size_t size = 0;
};

dev_t g_device = 0;
ino_t g_inode = 0;
bool g_active = false;
HeapMapping g_mappings[16];  // a model file is mapped once or twice at a time (weights, vocabulary)

bool is_target(int fd) {
  struct stat st {};
  return g_active && ::fstat(fd, &st) == 0 && st.st_dev == g_device && st.st_ino == g_inode;
}

void* copy_to_heap(int fd, size_t size) {
  for (HeapMapping& m : g_mappings) {
    if (m.data != nullptr) continue;
    void* p = nullptr;
    if (posix_memalign(&p, 4096, size == 0 ? 1 : size) != 0) return MAP_FAILED;
    size_t got = 0;
    while (got < size) {
      const ssize_t r = ::pread(fd, static_cast<char*>(p) + got, size - got, static_cast<off_t>(got));
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    std::memset(static_cast<char*>(p) + got, 0, size - got);  // a mapping past the end reads zeros too
    m = {p, size};
    return p;
  }
  return MAP_FAILED;
}

}  // namespace

std::string scratch_path(const std::string& name) {
  // Removed when the process exits normally (libFuzzer's -runs and -max_total_time end in exit()); a crash's _Exit
  // leaves them, beside the crash input.
  static std::vector<std::string>* paths = nullptr;
  if (paths == nullptr) {
    paths = new std::vector<std::string>();
    std::atexit([] {
      for (const std::string& p : *paths) ::unlink(p.c_str());
    });
  }
  std::string path =
      (std::filesystem::temp_directory_path() / ("bitnet-fuzz-" + std::to_string(::getpid()) + "-" + name)).string();
  paths->push_back(path);
  return path;
}

bool write_file(const std::string& path, const uint8_t* data, size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < size) {
    const ssize_t w = ::write(fd, data + done, size - done);
    if (w <= 0) break;
    done += static_cast<size_t>(w);
  }
  ::close(fd);
  return done == size;
}

void map_from_heap(const std::string& path) {
  struct stat st {};
  g_active = ::stat(path.c_str(), &st) == 0;
  g_device = st.st_dev;
  g_inode = st.st_ino;
}

}  // namespace bitnet::fuzz

using bitnet::fuzz::g_mappings;

extern "C" void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t offset) {
  if (fd >= 0 && offset == 0 && (flags & MAP_FIXED) == 0 && bitnet::fuzz::is_target(fd))
    return bitnet::fuzz::copy_to_heap(fd, len);
  return reinterpret_cast<void*>(::syscall(SYS_mmap, addr, len, prot, flags, fd, offset));
}

extern "C" int munmap(void* addr, size_t len) {
  for (auto& m : g_mappings) {
    if (m.data != nullptr && m.data == addr) {
      std::free(m.data);
      m = {};
      return 0;
    }
  }
  return static_cast<int>(::syscall(SYS_munmap, addr, len));
}

// Advice on a heap copy (huge pages, dropping read pages) is accepted and ignored.
extern "C" int madvise(void* addr, size_t len, int advice) {
  const auto a = reinterpret_cast<uintptr_t>(addr);
  for (const auto& m : g_mappings) {
    const auto begin = reinterpret_cast<uintptr_t>(m.data);
    if (m.data != nullptr && a >= begin && a < begin + m.size + 4096) return 0;
  }
  return static_cast<int>(::syscall(SYS_madvise, addr, len, advice));
}
