// Test helpers: fixture lookup and temporary directories.
#include "test_util.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>

namespace bitnet::test {

std::string fixtures_dir() {
  const char* env = std::getenv("BITNET_FIXTURES");
  if (env != nullptr && *env != '\0') return env;
  return BITNET_DEFAULT_FIXTURES;
}

std::string fixture(const std::string& relative) { return fixtures_dir() + "/" + relative; }

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string cli_path() { return BITNET_CLI_PATH; }

std::string temp_dir() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "bitnet";
  for (char& c : name)
    if (c == '/') c = '_';
  auto dir = std::filesystem::temp_directory_path() /
             ("bitnet-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + name);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace bitnet::test
