// No allocation on the hot path: generating more tokens performs (almost) no more heap allocations. This file
// replaces the global operator new/delete of the test binary (plain, array and nothrow forms; the aligned ones stay
// the library's, paired with their own deletes) with counting ones that forward to malloc/free as the defaults do;
// only this test reads the count.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "bitnet/bitnet.hpp"
#include "bitnet/synth.hpp"
#include "test_util.hpp"

namespace {
std::atomic<long> g_news{0};
}  // namespace

void* operator new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_news.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& tag) noexcept { return operator new(n, tag); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace bitnet {
namespace {

// Allocations made by one greedy generation of n tokens after a one-token prompt, on a warm model.
long news_for(Model& m, int n) {
  GenerationConfig cfg;
  cfg.temperature = 0.0f;
  cfg.max_tokens = n;
  cfg.stop_at_eos = false;
  const long before = g_news.load();
  auto r = m.generate_ids({1}, cfg);
  const long after = g_news.load();
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (r.ok()) {
    EXPECT_EQ(r->tokens.size(), static_cast<size_t>(n));
  }
  return after - before;
}

// Each forward pass hands a dozen jobs per layer to the thread pool; when a job went as a std::function, every one
// allocated (about 240 allocations per token on bitnet_b1_58-large). What may still grow with n is the result:
// the token list and the text, which reallocate a logarithmic number of times.
TEST(HotPath, GeneratingMoreTokensAllocatesAlmostNothingMore) {
  SynthOptions o;
  o.arch = "bitnet-b1.58";
  o.shape = "tiny";
  o.type = "i2_s";
  o.head = "q8_0";
  o.seed = 3;
  const std::string path = test::temp_dir() + "/hot-path-tiny.gguf";
  ASSERT_TRUE(synthesize_model(o, path).ok());
  for (int threads : {1, 2}) {
    LoadOptions lo;
    lo.n_threads = threads;
    lo.n_ctx = 128;
    auto m = Model::load(path, lo);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    news_for(**m, 8);  // warm-up: scratch buffers reach their sizes
    const long short_run = news_for(**m, 8);
    const long long_run = news_for(**m, 72);
    // 64 more tokens: well under one allocation each (before: hundreds each)
    EXPECT_LT(long_run - short_run, 32) << threads << " threads: " << short_run << " allocations for 8 tokens, "
                                        << long_run << " for 72";
  }
}

}  // namespace
}  // namespace bitnet
