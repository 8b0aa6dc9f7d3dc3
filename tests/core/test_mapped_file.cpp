// MappedFile: a mapped file reads back its bytes; drop_pages leaves the contents readable (pages come back
// from the file) and ignores ranges outside the mapping.
#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "core/mapped_file.hpp"
#include "test_util.hpp"

namespace bitnet {
namespace {

TEST(MappedFile, DropPagesKeepsContentsReadable) {
  const std::string path = test::temp_dir() + "/mapped.bin";
  std::vector<uint8_t> bytes(3 * 65536 + 123);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + i / 251);
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  auto f = MappedFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const MappedFile& m = **f;
  ASSERT_EQ(m.size(), bytes.size());
  EXPECT_EQ(std::vector<uint8_t>(m.data(), m.data() + m.size()), bytes);
  m.drop_pages(m.data() + 100, m.size() - 200);  // whole pages inside only
  m.drop_pages(m.data(), m.size() + 1);          // outside the mapping: ignored
  m.drop_pages(m.data() + m.size(), 0);
  EXPECT_EQ(std::vector<uint8_t>(m.data(), m.data() + m.size()), bytes);

  auto mem = MappedFile::from_bytes(bytes);
  mem->drop_pages(mem->data(), mem->size());  // in-memory: a no-op
  EXPECT_EQ(std::vector<uint8_t>(mem->data(), mem->data() + mem->size()), bytes);
}

}  // namespace
}  // namespace bitnet
