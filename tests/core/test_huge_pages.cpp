// Huge page mappings of model files: the sysfs mode and smaps parsing, and a file mapped through
// map_file_in_huge_pages still reads back its bytes, in 2 MB pages where the outcome says so.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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
std::string self_smaps() {
  std::ifstream in("/proc/self/smaps");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(HugePages, MappedFileKeepsItsBytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const std::string path = test::temp_dir() + "/weights.bin";
  std::vector<uint8_t> bytes(3 * kHuge + 12345);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 131 + i / 4093);
  {
    // Written 4 KB at a time and synced: the page cache then holds small folios, clean, as a file written by a
    // converter does, and the re-reading path runs (where the kernel has large folios for this filesystem).
    const int out = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(out, 0);
    for (size_t at = 0; at < bytes.size(); at += 4096) {
      const size_t n = std::min<size_t>(4096, bytes.size() - at);
      ASSERT_EQ(::write(out, bytes.data() + at, n), static_cast<ssize_t>(n));
    }
    ASSERT_EQ(::fsync(out), 0);
    ::close(out);
  }
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  void* map = map_file_2mb_aligned(fd, bytes.size());
  ASSERT_NE(map, MAP_FAILED);
  const uintptr_t aligned = reinterpret_cast<uintptr_t>(map);
  EXPECT_EQ(aligned % kHuge, 0u);
  const auto* data = static_cast<const uint8_t*>(map);

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
  EXPECT_EQ(std::vector<uint8_t>(data, data + bytes.size()), bytes);
  if (got == HugeFileMapping::kAlreadyHuge || got == HugeFileMapping::kReread) {
    // Touched again (above), each whole 2 MB maps as one entry.
    EXPECT_GE(pmd_mapped_bytes_in_smaps(self_smaps(), aligned), static_cast<int64_t>(2 * kHuge));
    // A second call finds them so.
    EXPECT_EQ(map_file_in_huge_pages(fd, map, bytes.size(), 0), HugeFileMapping::kAlreadyHuge);
    EXPECT_EQ(std::vector<uint8_t>(data, data + bytes.size()), bytes);
  }

  // Switched off by the user.
  ::setenv("BITNET_HUGE_PAGES", "0", 1);
  EXPECT_FALSE(use_huge_pages());
  EXPECT_EQ(map_file_in_huge_pages(fd, map, bytes.size(), 0), HugeFileMapping::kNotTried);
  ::unsetenv("BITNET_HUGE_PAGES");

  ::munmap(map, bytes.size());
  ::close(fd);
}
#endif

}  // namespace
}  // namespace bitnet
