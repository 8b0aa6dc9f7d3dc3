// Core utilities: half/bfloat16 conversion, the thread pool, Status/Result plumbing.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "bitnet/status.hpp"
#include "core/fast_exp.hpp"
#include "core/half.hpp"
#include "core/thread_pool.hpp"

namespace bitnet {
namespace {

TEST(Half, RoundTripsEveryFiniteHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint32_t exp = (h >> 10) & 0x1f;
    if (exp == 0x1f) continue;  // inf/nan
    const float f = fp16_to_float(static_cast<uint16_t>(h));
    ASSERT_EQ(float_to_fp16(f), h) << "half 0x" << std::hex << h;
  }
}

TEST(Half, KnownValuesAndRounding) {
  EXPECT_EQ(fp16_to_float(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_float(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_float(0x0001), 5.9604644775390625e-8f);
  EXPECT_EQ(float_to_fp16(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_fp16(65520.0f), 0x7c00);  // rounds to +inf
  // 1 + 2^-11 is halfway between 1 and the next half: ties to even (1.0).
  EXPECT_EQ(float_to_fp16(1.0f + 0.00048828125f), 0x3c00);
  EXPECT_EQ(float_to_fp16(1.0f + 3 * 0.00048828125f), 0x3c02);
  EXPECT_EQ(bf16_to_float(float_to_bf16(3.140625f)), 3.140625f);
  EXPECT_EQ(float_to_bf16(1.0f + 1.0f / 256), 0x3f80);  // tie to even
}

TEST(ThreadPool, CoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 7, 100, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      for (int rep = 0; rep < 3; ++rep)
        pool.parallel_for(n, [&](int64_t b, int64_t e, int) {
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
        });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 3) << threads << " " << n;
    }
  }
}

// parallel_for and parallel_for_shares, alternating on one pool (their jobs must not mix).
TEST(ThreadPool, ChunksRespectGrainAndThreadIndex) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 5, 64, 65, 1000, 6912}) {
      for (int64_t grain : {1, 4, 64}) {
        for (bool shares : {false, true}) {
          std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
          std::atomic<bool> bad{false};
          auto fn = [&](int64_t b, int64_t e, int index) {
            if (b % grain != 0 || (e != n && e % grain != 0) || b >= e || index < 0 || index >= threads) bad = true;
            for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
          };
          if (shares)
            pool.parallel_for_shares(n, fn, grain);
          else
            pool.parallel_for(n, fn, grain);
          EXPECT_FALSE(bad) << threads << " " << n << " " << grain << " " << shares;
          for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << shares;
        }
      }
    }
  }
}

// parallel_for_shares: a thread runs its own share front to back (each of its pieces starts where its last ended),
// and the caller, its own share done, takes the rest of a stalled worker's share from the back.
TEST(ThreadPool, SharesRunInOrderAndAreTakenFromTheBack) {
  ThreadPool pool(2);
  for (int rep = 0; rep < 20; ++rep) {
    const int64_t n = 64 * 40, grain = 64;
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    std::atomic<int64_t> covered{0};
    std::atomic<bool> stalled{false}, timed_out{false}, out_of_order{false};
    int64_t next[2] = {0, n / 2};  // where each thread's next front piece must start (its share's start)
    auto wait_until = [&](auto ready) {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!ready() && !timed_out) {
        if (std::chrono::steady_clock::now() > deadline) timed_out = true;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    };
    pool.parallel_for_shares(
        n,
        [&](int64_t b, int64_t e, int index) {
          const bool own = index == 0 ? b < n / 2 : b >= n / 2;
          if (own) {
            if (b != next[index]) out_of_order = true;
            next[index] = e;
          }
          // The worker's first piece (half its share) stalls until everything else is done.
          if (index != 0 && !stalled.exchange(true)) wait_until([&] { return covered.load() >= n - (e - b); });
          if (index == 0 && b == 0) wait_until([&] { return stalled.load(); });
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
          covered += e - b;
        },
        grain);
    EXPECT_FALSE(timed_out);
    EXPECT_FALSE(out_of_order);
    EXPECT_EQ(covered.load(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1);
  }
}

// A worker that stalls inside a chunk must not hold up the rest: the caller takes every other chunk meanwhile.
// The caller's first chunk waits for the worker to stall; the stalled chunk waits (with a time-out) until the
// other 7 of the 8 chunks are done, which never happens with fixed per-thread ranges. No work may be lost.
TEST(ThreadPool, StalledThreadDoesNotHoldTheRest) {
  ThreadPool pool(2);
  for (int rep = 0; rep < 20; ++rep) {
    const int64_t n = 800;
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    std::atomic<int64_t> covered{0};  // indices done so far
    std::atomic<bool> stalled{false}, timed_out{false};
    auto wait_until = [&](auto ready) {  // polls, giving up after 10 s (then the test fails, not hangs)
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!ready() && !timed_out) {
        if (std::chrono::steady_clock::now() > deadline) timed_out = true;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    };
    pool.parallel_for(n, [&](int64_t b, int64_t e, int index) {
      // The worker's first chunk stalls until the caller has done every other chunk.
      if (index != 0 && !stalled.exchange(true)) wait_until([&] { return covered.load() >= n - (e - b); });
      // The caller's first chunk: make sure the worker has joined and stalled.
      if (index == 0 && b == 0) wait_until([&] { return stalled.load(); });
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
      covered += e - b;
    });
    EXPECT_FALSE(timed_out);
    EXPECT_EQ(covered.load(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1);
  }
}

// More threads than CPUs: waiting threads yield their CPU (no spinning through time slices); all work still done.
TEST(ThreadPool, MoreThreadsThanCpusCoverEveryIndex) {
  ThreadPool pool(2 * ThreadPool::default_threads() + 1);
  const int64_t n = 5000;
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  auto fn = [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
  };
  for (int rep = 0; rep < 50; ++rep) {
    pool.parallel_for(n, fn, 7);
    pool.parallel_for_shares(n, fn, 7);
  }
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 100);
}

#if defined(__linux__)
// The default thread count follows the CPUs the caller may run on (taskset, a container's cpuset), not the
// machine's: on one allowed CPU it is 1.
TEST(ThreadPool, DefaultThreadsFollowsTheAffinity) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  int first = -1;
  for (int c = 0; c < CPU_SETSIZE && first < 0; ++c)
    if (CPU_ISSET(c, &saved)) first = c;
  ASSERT_GE(first, 0);
  EXPECT_LE(ThreadPool::default_threads(), std::min(CPU_COUNT(&saved), 64));  // lower under a cgroup CPU quota
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);  // this thread only
  const int n_one = ThreadPool::default_threads(), usable_one = ThreadPool::usable_cpus();
  ASSERT_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
  EXPECT_EQ(n_one, 1);
  EXPECT_EQ(usable_one, 1);
  EXPECT_EQ(ThreadPool::default_threads(), std::min(ThreadPool::usable_cpus(), 64));
  EXPECT_LE(ThreadPool::usable_cpus(), CPU_COUNT(&saved));
}
#endif

// A container's CPU limit as cgroups state it: whole CPUs of quota / period, none for "max", -1 or a non-number.
TEST(ThreadPool, QuotaCpusReadsCgroupQuotas) {
  EXPECT_EQ(ThreadPool::quota_cpus("200000", "100000"), 2);
  EXPECT_EQ(ThreadPool::quota_cpus("400000\n", " 100000\n"), 4);
  EXPECT_EQ(ThreadPool::quota_cpus("150000", "100000"), 1);  // 1.5 CPUs: one thread is never throttled
  EXPECT_EQ(ThreadPool::quota_cpus("50000", "100000"), 1);
  EXPECT_EQ(ThreadPool::quota_cpus("max", "100000"), 0);  // v2: no limit
  EXPECT_EQ(ThreadPool::quota_cpus("-1", "100000"), 0);   // v1: no limit
  EXPECT_EQ(ThreadPool::quota_cpus("", ""), 0);           // no such files
  EXPECT_EQ(ThreadPool::quota_cpus("12x", "100000"), 0);
  EXPECT_EQ(ThreadPool::quota_cpus("200000", "0"), 0);
}

// One-off threads (weight loading): every index runs exactly once, index 0 on the calling thread.
TEST(ThreadPool, RunOnThreadsRunsEveryIndexOnce) {
  for (int64_t n : {0, 1, 2, 5, 16}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    std::atomic<int> on_caller{0};
    const std::thread::id caller = std::this_thread::get_id();
    run_on_threads(n, [&](int64_t i) {
      hits[static_cast<size_t>(i)]++;
      if (i == 0 && std::this_thread::get_id() == caller) on_caller++;
    });
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n " << n << " index " << i;
    EXPECT_EQ(on_caller.load(), n > 0 ? 1 : 0) << "n " << n;
  }
}

TEST(ThreadPool, ChunksShrinkTowardsTheEnd) {
  ThreadPool pool(2);
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  pool.parallel_for(
      6912,
      [&](int64_t b, int64_t e, int) {
        std::lock_guard<std::mutex> lock(mu);
        chunks.emplace_back(b, e);
      },
      64);
  std::sort(chunks.begin(), chunks.end());
  ASSERT_GE(chunks.size(), 4u);
  int64_t at = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].first, at);
    at = chunks[i].second;
    if (i > 0) {
      EXPECT_LE(chunks[i].second - chunks[i].first, chunks[i - 1].second - chunks[i - 1].first);
    }
  }
  EXPECT_EQ(at, 6912);
  EXPECT_EQ(chunks.front().second, 27 * 64);                  // a quarter of the 108 grains, rounded up
  EXPECT_EQ(chunks.back().second - chunks.back().first, 64);  // one grain at the end
}

#if defined(__linux__)
// Where the OS refuses a thread, the pool throws std::system_error after joining the workers it started (a joinable
// std::thread destroyed unjoined terminates the process: `bitnet-cli bench -t 400` under `ulimit -v 1500000` did).
// In a child process whose user may run 3 threads (root is exempt from that limit, so root's child becomes `nobody`
// first): two workers start, the third is refused. Exit codes: 0 the error came, 1 a pool of 8 started, 2 the limit
// could not be set up.
TEST(ThreadPool, RefusedThreadIsAnErrorNotATermination) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
    const rlimit three{3, 3};
    if (setrlimit(RLIMIT_NPROC, &three) != 0) _exit(2);
    try {
      ThreadPool pool(8);
      _exit(1);
    } catch (const std::system_error&) {
      _exit(0);
    }
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 2) GTEST_SKIP() << "could not limit a child's threads here";
  ASSERT_TRUE(WIFEXITED(status)) << "the child ended by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the pool started 8 threads under a limit of 3";
}
#endif

Result<int> half_of(int x) {
  if (x % 2 != 0) return invalid_argument("odd: " + std::to_string(x));
  return x / 2;
}

Status use_half(int x, int* out) {
  BITNET_ASSIGN_OR_RETURN(*out, half_of(x));
  return Status::Ok();
}

TEST(Status, ResultPropagates) {
  int v = 0;
  EXPECT_TRUE(use_half(8, &v).ok());
  EXPECT_EQ(v, 4);
  Status s = use_half(3, &v);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.to_string(), "invalid argument: odd: 3");
  EXPECT_EQ(s.with_context("layer 2").message(), "layer 2: odd: 3");
}

}  // namespace
}  // namespace bitnet

namespace bitnet {
namespace {

// Names and text quoted from files and requests may hold any bytes: a message keeps valid UTF-8 and shows the rest.
TEST(Status, MessagesShowUnprintableBytesEscaped) {
  EXPECT_EQ(format_error("key 'tokenizer.gg\xefl.tokens'").message(), "key 'tokenizer.gg\\xefl.tokens'");
  EXPECT_EQ(format_error("a\x01"
                         "b\x7f\nc\td")
                .message(),
            "a\\x01b\\x7f\nc\td");
  // Valid sequences of 2, 3 and 4 bytes stay; an overlong form, a surrogate, a cut sequence and a stray
  // continuation byte do not.
  EXPECT_EQ(format_error("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80").message(),
            "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80");
  EXPECT_EQ(format_error("\xc0\xaf|\xed\xa0\x80|\xe4\xb8|\x80").message(),
            "\\xc0\\xaf|\\xed\\xa0\\x80|\\xe4\\xb8|\\x80");
  // C1 controls are valid UTF-8 but act on terminals (U+009B is CSI); U+00A0 is the first kept.
  EXPECT_EQ(format_error("\xc2\x9b[31m \xc2\xa0").message(), "\\xc2\\x9b[31m \xc2\xa0");
  EXPECT_EQ(in_quotes("ab"), "'ab'");
  EXPECT_EQ(in_quotes(std::string(120, 'x')), "'" + std::string(120, 'x') + "'");
  EXPECT_EQ(in_quotes(std::string(121, 'x')), "'" + std::string(100, 'x') + "...' (121 bytes)");
  EXPECT_EQ(format_error("x")
                .with_context("tensor 'a\xff"
                              "b'")
                .message(),
            "tensor 'a\\xffb': x");
}

// fast_exp against e^v in double, in float ulps: every float in [-87, 88] in steps of about 1e-4 (1.75 million
// values), the ends, and the clamped and NaN cases.
TEST(FastExp, WithinTwoUlpsOfExp) {
  double worst = 0.0;
  float worst_at = 0.0f;
  for (float v = -87.0f; v <= 88.0f; v += 1e-4f + std::fabs(v) * 1e-6f) {
    const double want = std::exp(static_cast<double>(v));
    const float got = fast_exp(v);
    const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(want)) - 23);
    const double err = std::fabs(static_cast<double>(got) - want) / ulp;
    if (err > worst) {
      worst = err;
      worst_at = v;
    }
  }
  EXPECT_LE(worst, 2.0) << "at " << worst_at;
  EXPECT_EQ(fast_exp(0.0f), 1.0f);
  EXPECT_EQ(fast_exp(-1000.0f), fast_exp(-87.0f));
  EXPECT_EQ(fast_exp(-INFINITY), fast_exp(-87.0f));
  EXPECT_EQ(fast_exp(INFINITY), fast_exp(88.0f));
  EXPECT_TRUE(std::isfinite(fast_exp(88.0f)));
  EXPECT_TRUE(std::isnan(fast_exp(std::nanf(""))));
}

}  // namespace
}  // namespace bitnet
