// Test helpers: fixture lookup and temporary directories.
#include "test_util.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <system_error>
#include <vector>

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

namespace {

// Directories made by temp_dir() during the current test.
std::mutex g_dirs_mutex;
std::vector<std::filesystem::path> g_dirs;

// Removes a test's directories when it ends, unless it failed (they are kept for a look, and
// named) or BITNET_KEEP_TEST_DIRS is set.
class TempDirCleaner : public ::testing::EmptyTestEventListener {
  void OnTestEnd(const ::testing::TestInfo& info) override {
    std::vector<std::filesystem::path> dirs;
    {
      std::lock_guard<std::mutex> lock(g_dirs_mutex);
      dirs.swap(g_dirs);
    }
    const char* keep = std::getenv("BITNET_KEEP_TEST_DIRS");
    const bool failed = info.result() != nullptr && info.result()->Failed();
    for (const auto& dir : dirs) {
      if (failed || (keep != nullptr && *keep != '\0')) {
        std::cout << "[ temp dir ] kept: " << dir.string() << "\n";
        continue;
      }
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
};

const bool g_cleaner_registered = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new TempDirCleaner);
  return true;
}();

}  // namespace

std::string temp_dir() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "bitnet";
  for (char& c : name)
    if (c == '/') c = '_';
  auto dir = std::filesystem::temp_directory_path() /
             ("bitnet-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + name);
  std::filesystem::create_directories(dir);
  {
    std::lock_guard<std::mutex> lock(g_dirs_mutex);
    g_dirs.push_back(dir);
  }
  return dir.string();
}

}  // namespace bitnet::test
