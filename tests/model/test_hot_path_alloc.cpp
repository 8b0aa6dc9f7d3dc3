// No allocation on the hot path: generating more tokens performs (almost) no more heap allocations. This file
// replaces the global operator new/delete of the test binary (plain, array and nothrow forms; the aligned ones stay
// the library's, paired with their own deletes) with counting ones that forward to malloc/free as the defaults do;
// only this test reads the count.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <ostream>
#include <string>

#include "bitnet/bitnet.hpp"
#include "bitnet/synth.hpp"
#include "test_util.hpp"

namespace {
std::atomic<long> g_news{0};
}  // namespace

// GCC inlines these replacements into gtest's registration code and then reports free() of operator new's memory
// as a mismatch; here operator new is malloc, so it is not.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

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
// the token list and the text, which reallocate a logarithmic number of times. The weight types, heads and KV
// caches below take different kernels (ternary rules, integer and float heads, KV caches with their own attention
// kernels); CI runs this test at every ISA level too (at the scalar level the reference matmul had allocated its
// per-group sums on every call: 74 allocations a token on this tiny model).
struct HotPathCase {
  const char* type;
  const char* head;
  KvType kv;
};

void PrintTo(const HotPathCase& c, std::ostream* os) {
  *os << c.type << " weights, " << c.head << " head, " << kv_type_name(c.kv) << " KV";
}

class HotPath : public ::testing::TestWithParam<HotPathCase> {};

TEST_P(HotPath, GeneratingMoreTokensAllocatesAlmostNothingMore) {
  const HotPathCase c = GetParam();
  SynthOptions o;
  o.arch = "bitnet-b1.58";
  o.shape = "tiny";
  o.type = c.type;
  o.head = c.head;
  o.seed = 3;
  const std::string path = test::temp_dir() + "/hot-path-" + c.type + "-" + c.head + ".gguf";
  ASSERT_TRUE(synthesize_model(o, path).ok());
  for (int threads : {1, 2}) {
    LoadOptions lo;
    lo.n_threads = threads;
    lo.n_ctx = 128;
    lo.kv_type = c.kv;
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

INSTANTIATE_TEST_SUITE_P(WeightsHeadsAndCaches, HotPath,
                         ::testing::Values(HotPathCase{"i2_s", "q8_0", KvType::kF16},
                                           HotPathCase{"tq2_0", "q6_k", KvType::kQ8_0},
                                           HotPathCase{"tq1_0", "f16", KvType::kF32}),
                         [](const ::testing::TestParamInfo<HotPathCase>& i) {
                           return std::string(i.param.type) + "_" + i.param.head + "_" + kv_type_name(i.param.kv);
                         });

}  // namespace
}  // namespace bitnet
