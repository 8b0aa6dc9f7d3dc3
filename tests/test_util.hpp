// Shared test helpers: where the fixtures are, and skipping loudly when one is absent.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace bitnet::test {

// ../shared/fixtures beside the checkout, or $BITNET_FIXTURES.
std::string fixtures_dir();
// Full path of a fixture file (relative to fixtures_dir()).
std::string fixture(const std::string& relative);
bool file_exists(const std::string& path);
// Path of the built bitnet-cli ("" if the tools were not built).
std::string cli_path();
// A fresh temporary directory for one test, removed when the test ends; kept (and its path
// printed) when the test fails or BITNET_KEEP_TEST_DIRS is set.
std::string temp_dir();

}  // namespace bitnet::test

// Skips the current test with a message naming the missing fixture.
#define BITNET_REQUIRE_FIXTURE(path)                                                               \
  do {                                                                                              \
    if (!::bitnet::test::file_exists(path)) GTEST_SKIP() << "fixture not found, skipping: " << path; \
  } while (0)
