// ThreadPool: workers wait on a generation counter, then claim chunks of the current job by compare-and-swap on
// a (generation, next chunk) word, so a claim can never land on a later job; the caller waits for the chunk
// count, not for every worker to check in.
#include "core/thread_pool.hpp"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace bitnet {

namespace {
constexpr int kSpinIterations = 20000;  // roughly tens of microseconds before falling back to sleeping
constexpr int64_t kChunksPerThread = 4;

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

int ThreadPool::default_threads() {
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(std::min(hc, 64u));
}

void ThreadPool::run_chunks(uint32_t gen, const std::function<void(int64_t, int64_t, int)>& fn, int64_t n,
                            int64_t chunk, int index) {
  const int64_t n_chunks = (n + chunk - 1) / chunk;
  uint64_t v = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(v >> 32) != gen) return;
    const int64_t c = static_cast<int64_t>(v & 0xffffffffu);
    if (c >= n_chunks) return;
    if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    fn(c * chunk, std::min(n, (c + 1) * chunk), index);
    if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_chunks) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
    v = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  // Whole grains per chunk, about kChunksPerThread chunks per thread (fewer chunks, one grain each, when n is
  // small: 640 rows in grains of 64 make 10 chunks, which 2 threads share evenly).
  const int64_t grains = (n + grain - 1) / grain;
  const int64_t want = kChunksPerThread * n_threads_;
  const int64_t chunk = (grains + want - 1) / want * grain;
  const int64_t n_chunks = (n + chunk - 1) / chunk;
  uint32_t gen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_n_ = n;
    job_chunk_ = chunk;
    gen = static_cast<uint32_t>(generation_.load(std::memory_order_relaxed) + 1);
    done_.store(0, std::memory_order_relaxed);
    claim_.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  run_chunks(gen, fn, n, chunk, 0);
  for (int i = 0; i < kSpinIterations && done_.load(std::memory_order_acquire) != n_chunks; ++i) cpu_relax();
  if (done_.load(std::memory_order_acquire) != n_chunks) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return done_.load(std::memory_order_acquire) == n_chunks; });
  }
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < kSpinIterations && generation_.load(std::memory_order_acquire) == seen; ++i) cpu_relax();
    const std::function<void(int64_t, int64_t, int)>* job;
    int64_t n, chunk;
    {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_relaxed) != seen; });
      if (stop_) return;
      seen = generation_.load(std::memory_order_relaxed);
      job = job_;
      n = job_n_;
      chunk = job_chunk_;
    }
    run_chunks(static_cast<uint32_t>(seen), *job, n, chunk, index);
  }
}

}  // namespace bitnet
