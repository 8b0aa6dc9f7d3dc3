// A persistent pool of worker threads running one parallel-for at a time. The calling thread works too,
// so a pool of N threads uses N-1 workers. No allocation per call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace bitnet {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // Splits [0, n) into one contiguous chunk per thread and calls fn(begin, end, thread_index) on each.
  // Returns when all chunks are done. fn must not throw.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn);

  static int default_threads();

 private:
  void worker(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
  int64_t job_n_ = 0;
  // Bumped (under mu_) for every job. Workers spin on it briefly before sleeping, and the caller spins on
  // pending_, because a forward pass issues hundreds of short jobs per token and a sleep/wake round trip
  // per job costs tens of microseconds.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
};

}  // namespace bitnet
