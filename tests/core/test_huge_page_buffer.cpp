// HugePageBuffer: memory moved into 2 MB pages in the background while no forward pass runs (weights, KV caches)..
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "core/huge_page_buffer.hpp"
#include "core/huge_pages.hpp"

namespace bitnet {
namespace {

constexpr size_t kHuge = size_t{2} << 20;

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// The move can take place here: Linux with huge pages allowed (elsewhere no move starts at all).
bool move_expected() {
#if defined(__linux__)
  return use_huge_pages();
#else
  return false;
#endif
}

TEST(HugePageBuffer, KeepsItsBytesThroughTheMoveTo2MbPages) {
  const size_t n = 4 * kHuge + 1000;  // four whole 2 MB and a partial one, which stays in 4 KB pages
  const std::vector<uint8_t> bytes = random_bytes(n, 1);
  HugePageBuffer b(n);
  ASSERT_EQ(b.size(), n);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kHuge, 0u);
  std::memcpy(b.data(), bytes.data(), n);
  b.start_huge_pages();
  const HugePageBuffer::HugePages h = b.wait_huge_pages();
  EXPECT_EQ(std::memcmp(b.data(), bytes.data(), n), 0);
  if (!move_expected()) {
    EXPECT_EQ(h.total, 0);
    GTEST_SKIP() << "huge pages are off here (not Linux, THP never, or BITNET_HUGE_PAGES=0): no move to check";
  }
  EXPECT_EQ(h.total, 4);
  EXPECT_LE(h.moved, h.total);
  EXPECT_GE(h.ms, 0.0);
  if (h.unsupported)
    GTEST_SKIP()
        << "this kernel refused MADV_COLLAPSE (Linux < 6.1, or THP off for the process): the bytes stayed, unmoved";
  EXPECT_GT(h.moved, 0) << "MADV_COLLAPSE worked for none of the 2 MB steps";
  EXPECT_EQ(b.moved(), h.moved);
}

// As a KV cache is: only some pages written when the move starts. The others are made resident as zeros (a 2 MB with
// no page at all cannot be moved), and the written bytes stay.
TEST(HugePageBuffer, MovesStepsNothingWasWrittenTo) {
  HugePageBuffer b(3 * kHuge);
  const std::vector<uint8_t> bytes = random_bytes(5000, 2);
  std::memcpy(b.data() + 100, bytes.data(), bytes.size());  // the first 2 MB (a kernel without MADV_COLLAPSE fails
  b.data()[kHuge + 7] = 5;                                  // there, on a written step), one byte of the second,
  b.start_huge_pages();                                     // and nothing in the third
  const HugePageBuffer::HugePages h = b.wait_huge_pages();
  EXPECT_EQ(std::memcmp(b.data() + 100, bytes.data(), bytes.size()), 0);
  EXPECT_EQ(b.data()[kHuge + 7], 5);
  if (!move_expected()) GTEST_SKIP() << "huge pages are off here: no move to check";
  if (h.unsupported) GTEST_SKIP() << "this kernel refused MADV_COLLAPSE (Linux < 6.1, or THP off for the process)";
  EXPECT_EQ(h.total, 3);
  EXPECT_EQ(h.moved, 3) << "the 2 MB steps with nothing written were not moved";
  EXPECT_EQ(b.data()[kHuge + 8], 0);
  EXPECT_EQ(b.data()[3 * kHuge - 1], 0);
}

TEST(HugePageBuffer, NoMoveWhileAUseIsHeldNorSoonAfter) {
  if (!move_expected()) GTEST_SKIP() << "huge pages are off here: no move to hold back";
  HugePageBuffer b(2 * kHuge);
  std::memset(b.data(), 3, b.size());
  b.start_huge_pages();
  {
    const HugePageBuffer::Use use;
    std::this_thread::sleep_for(std::chrono::milliseconds(3 * HugePageBuffer::kIdleMs));
    EXPECT_EQ(b.moved(), 0) << "a 2 MB step was moved while the buffer was in use";
  }
  const auto released = std::chrono::steady_clock::now();
  const HugePageBuffer::HugePages h = b.wait_huge_pages();
  if (h.unsupported) GTEST_SKIP() << "this kernel refused MADV_COLLAPSE (Linux < 6.1, or THP off for the process)";
  // The move waited for kIdleMs of no use after the Use ended (from its start: the ms the thread reports run from
  // start_huge_pages, which was before the Use).
  EXPECT_GE(std::chrono::steady_clock::now() - released, std::chrono::milliseconds(HugePageBuffer::kIdleMs));
  EXPECT_EQ(h.total, 2);
  EXPECT_EQ(b.data()[b.size() - 1], 3);
}

TEST(HugePageBuffer, FreedOrMovedWhileItsMoveRuns) {
  // Destroyed at once after the start: the thread stops within a step, before the memory goes (ASan would see).
  for (int i = 0; i < 3; ++i) {
    HugePageBuffer b(3 * kHuge);
    std::memset(b.data(), i, b.size());
    b.start_huge_pages();
  }
  // Moved from: the new owner holds the move and the bytes; the old one is empty.
  HugePageBuffer a(2 * kHuge + 5);
  std::memset(a.data(), 9, a.size());
  a.start_huge_pages();
  HugePageBuffer c(std::move(a));
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): a moved-from buffer is empty, by contract
  EXPECT_EQ(a.data(), nullptr);
  HugePageBuffer d;
  d = std::move(c);
  const HugePageBuffer::HugePages h = d.wait_huge_pages();
  EXPECT_EQ(d.data()[d.size() - 1], 9);
  EXPECT_EQ(h.total, move_expected() ? 2 : 0);
  EXPECT_EQ(HugePageBuffer().wait_huge_pages().total, 0);  // nothing to move: returns at once
}

}  // namespace
}  // namespace bitnet
