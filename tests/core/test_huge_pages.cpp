// Huge page mappings of model files: the sysfs mode and smaps parsing, and a file mapped through
// map_file_in_huge_pages still reads back its bytes, in 2 MB pages where the outcome says so.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/aligned.hpp"
#include "core/huge_pages.hpp"
#include "test_util.hpp"

#if defined(__linux__)
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace bitnet {
namespace {

TEST(HugePages, AllowedOnlyInAlwaysOrMadviseMode) {
  EXPECT_TRUE(huge_pages_allowed("always [madvise] never\n"));
  EXPECT_TRUE(huge_pages_allowed("[always] madvise never\n"));
  EXPECT_FALSE(huge_pages_allowed("always madvise [never]\n"));
  EXPECT_FALSE(huge_pages_allowed(""));
}

TEST(HugePages, ReadsFilePmdMappedOfTheMappingAtStart) {
  const std::string smaps =
      "7f0000000000-7f0000400000 r--p 00000000 fe:00 12 /models/a.gguf\n"
      "Size:               4096 kB\n"
      "Rss:                4096 kB\n"
      "FilePmdMapped:      2048 kB\n"
      "VmFlags: rd mr mw me hg\n"
      "7f0000400000-7f0000600000 rw-p 00000000 00:00 0\n"
      "Size:               2048 kB\n"
      "AnonHugePages:      2048 kB\n"
      "7f0000600000-7f0000a00000 r--p 00000000 fe:00 13 /models/b.gguf\n"
      "Rss:                   0 kB\n"
      "FilePmdMapped:         0 kB\n";
  EXPECT_EQ(pmd_mapped_bytes_in_smaps(smaps, 0x7f0000000000), 2048 * 1024);
  EXPECT_EQ(pmd_mapped_bytes_in_smaps(smaps, 0x7f0000600000), 0);
  EXPECT_EQ(pmd_mapped_bytes_in_smaps(smaps, 0x7f0000400000), -1);  // its block has no such line
  EXPECT_EQ(pmd_mapped_bytes_in_smaps(smaps, 0x7f0000200000), -1);  // no mapping starts there
  EXPECT_EQ(pmd_mapped_bytes_in_smaps("", 0x7f0000000000), -1);
}

#if defined(__linux__)
constexpr size_t kHuge = size_t{2} << 20;

std::string read_proc(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Written 4 KB at a time and synced: the page cache then holds small folios, clean, as for a file a converter wrote
// in small pieces.
void write_in_small_pieces(const std::string& path, const std::vector<uint8_t>& bytes) {
  const int out = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(out, 0);
  for (size_t at = 0; at < bytes.size(); at += 4096) {
    const size_t n = std::min<size_t>(4096, bytes.size() - at);
    ASSERT_EQ(::write(out, bytes.data() + at, n), static_cast<ssize_t>(n));
  }
  ASSERT_EQ(::fsync(out), 0);
  ::close(out);
}

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> bytes(n);
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>(i * 131 + i / 4093);
  return bytes;
}

// Anonymous PROT_NONE mappings (a reservation's leftovers) in /proc/self/maps that overlap [begin, end).
int reservations_overlapping(uintptr_t begin, uintptr_t end) {
  std::istringstream maps(read_proc("/proc/self/maps"));
  std::string line;
  int n = 0;
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms, offset, dev, inode;
    fields >> range >> perms >> offset >> dev >> inode;
    const unsigned long lo = std::stoul(range.substr(0, range.find('-')), nullptr, 16);
    const unsigned long hi = std::stoul(range.substr(range.find('-') + 1), nullptr, 16);
    if (lo < end && hi > begin && perms == "---p" && inode == "0") ++n;
  }
  return n;
}

// A file of `bytes` written in small pieces, open and mapped at a 2 MB boundary; unmapped and closed at the end.
struct TestMapping {
  explicit TestMapping(const std::string& name, std::vector<uint8_t> contents) : bytes(std::move(contents)) {
    const std::string path = test::temp_dir() + "/" + name;
    write_in_small_pieces(path, bytes);
    fd = ::open(path.c_str(), O_RDONLY);
    if (fd >= 0) map = map_file_2mb_aligned(fd, bytes.size());
  }
  ~TestMapping() {
    if (map != MAP_FAILED) ::munmap(map, bytes.size());
    if (fd >= 0) ::close(fd);
  }
  TestMapping(const TestMapping&) = delete;
  TestMapping& operator=(const TestMapping&) = delete;
  bool ok() const { return fd >= 0 && map != MAP_FAILED; }
  uintptr_t address() const { return reinterpret_cast<uintptr_t>(map); }
  const uint8_t* data() const { return static_cast<const uint8_t*>(map); }
  std::vector<uint8_t> contents_now() const { return std::vector<uint8_t>(data(), data() + bytes.size()); }

  std::vector<uint8_t> bytes;
  int fd = -1;
  void* map = MAP_FAILED;
};

TEST(HugePages, MappedFileKeepsItsBytes) {
  TestMapping m("weights.bin", pattern(3 * kHuge + 12345));
  ASSERT_TRUE(m.ok());
  const std::vector<uint8_t>& bytes = m.bytes;
  const int fd = m.fd;
  void* map = m.map;
  const uintptr_t aligned = m.address();
  EXPECT_EQ(aligned % kHuge, 0u);
  // The reservation's slack before and after was given back.
  EXPECT_EQ(reservations_overlapping(aligned - kHuge, aligned + bytes.size() + kHuge), 0);

  const HugeFileMapping small = map_file_in_huge_pages(fd, map, bytes.size(), bytes.size() + 1);
  EXPECT_EQ(small, HugeFileMapping::kNotTried);  // under min_size
  const HugeFileMapping unaligned = map_file_in_huge_pages(fd, static_cast<uint8_t*>(map) + 4096, 2 * kHuge, 0);
  EXPECT_EQ(unaligned, HugeFileMapping::kNotTried);

  const HugeFileMapping got = map_file_in_huge_pages(fd, map, bytes.size(), 0);
  if (!use_huge_pages()) {
    EXPECT_EQ(got, HugeFileMapping::kNotTried);
  } else {
    EXPECT_NE(got, HugeFileMapping::kNotTried);
    static const char* const kNames[] = {"not tried", "already in 2 MB folios", "read back in 2 MB folios",
                                         "kept in small folios (by this filesystem or kernel)"};
    std::printf("[ note ] the test file was %s\n", kNames[static_cast<int>(got)]);
  }
  EXPECT_EQ(m.contents_now(), bytes);
  if (got == HugeFileMapping::kAlreadyHuge || got == HugeFileMapping::kReread) {
    // Touched again (above), each whole 2 MB maps as one entry.
    EXPECT_GE(pmd_mapped_bytes_in_smaps(read_proc("/proc/self/smaps"), aligned), static_cast<int64_t>(2 * kHuge));
    // A second call finds them so.
    EXPECT_EQ(map_file_in_huge_pages(fd, map, bytes.size(), 0), HugeFileMapping::kAlreadyHuge);
    EXPECT_EQ(m.contents_now(), bytes);
  }

  // Switched off by the user (and the variable put back as it was).
  const char* was = std::getenv("BITNET_HUGE_PAGES");
  const std::string saved = was != nullptr ? was : "";
  ::setenv("BITNET_HUGE_PAGES", "0", 1);
  EXPECT_FALSE(use_huge_pages());
  EXPECT_EQ(map_file_in_huge_pages(fd, map, bytes.size(), 0), HugeFileMapping::kNotTried);
  if (was != nullptr) {
    ::setenv("BITNET_HUGE_PAGES", saved.c_str(), 1);
  } else {
    ::unsetenv("BITNET_HUGE_PAGES");
  }
}

// The 2 MB read back first, to see whether this kernel gives the file 2 MB folios, was already in one: the file is
// still read back (counting it as it was made that look like a filesystem without large folios, for good).
TEST(HugePages, ReadsBackAFileWhoseProbedPartWasHugeAlready) {
  if (!use_huge_pages()) GTEST_SKIP() << "huge pages are not allowed here";
  TestMapping m("mixed.bin", pattern(8 * kHuge));
  ASSERT_TRUE(m.ok());
  const std::vector<uint8_t>& bytes = m.bytes;
  const int fd = m.fd;
  void* map = m.map;
  const uintptr_t aligned = m.address();
  const uint8_t* last = m.data() + 7 * kHuge;
  // The last 2 MB alone read back through an advised mapping.
  ASSERT_EQ(::madvise(map, bytes.size(), MADV_HUGEPAGE), 0);
  ::posix_fadvise(fd, static_cast<off_t>(7 * kHuge), static_cast<off_t>(kHuge), POSIX_FADV_DONTNEED);
  EXPECT_EQ(*static_cast<const volatile uint8_t*>(last), bytes[7 * kHuge]);
  const int64_t huge_now = pmd_mapped_bytes_in_smaps(read_proc("/proc/self/smaps"), aligned);
  if (huge_now != static_cast<int64_t>(kHuge))
    GTEST_SKIP() << "this filesystem or kernel did not read the last 2 MB back as one folio (2 MB mapped: " << huge_now
                 << " bytes)";
  ::madvise(map, bytes.size(), MADV_DONTNEED);
  EXPECT_EQ(map_file_in_huge_pages(fd, map, bytes.size(), 0), HugeFileMapping::kReread);
  EXPECT_EQ(m.contents_now(), bytes);
  EXPECT_EQ(pmd_mapped_bytes_in_smaps(read_proc("/proc/self/smaps"), aligned), static_cast<int64_t>(8 * kHuge));
}

TEST(HugePages, LargeBuffersAre2MbAlignedAndUsable) {
  for (size_t n : {kHuge, kHuge + 1, 5 * kHuge + 4097}) {
    auto* p = static_cast<uint8_t*>(allocate_huge(n));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kHuge, 0u);
    for (size_t i = 0; i < n; i += 4096) p[i] = static_cast<uint8_t>(i);
    p[n - 1] = 7;
    EXPECT_EQ(p[n - 1], 7);
    free_huge(p, n);
  }
  ByteBuffer b;
  b.resize(3 * kHuge);  // through LargeBufferAllocator
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kHuge, 0u);
  b[b.size() - 1] = 1;
  EXPECT_EQ(b.back(), 1);
}
#endif

}  // namespace
}  // namespace bitnet
