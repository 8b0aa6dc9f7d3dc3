// A persistent pool of worker threads running one parallel-for at a time. The calling thread works too,
// so a pool of N threads uses N-1 workers. Work goes out in chunks claimed from a shared counter, so a thread
// that the OS deschedules (a busy machine) does not hold up the others: whoever is running takes the next
// chunk (parallel_for_shares: one share a thread, the others taking from its back). No allocation per call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

namespace bitnet {

// A non-owning reference to a callable taking (begin, end, thread_index): what parallel_for takes, so handing it
// a lambda allocates nothing (a std::function holding a lambda with more than two pointers' worth of captures
// allocated on every call: about 240 allocations per generated token). The callable must outlive the call, as a
// lambda written in the argument list does.
class ChunkFn {
 public:
  ChunkFn() = default;  // calls nothing: not to be invoked
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, ChunkFn>>>
  ChunkFn(F&& f)  // implicit, as std::function converts: callers pass lambdas as they are
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_(&invoke<std::remove_reference_t<F>>) {}
  void operator()(int64_t begin, int64_t end, int thread_index) const { call_(obj_, begin, end, thread_index); }

 private:
  template <class F>
  static void invoke(void* obj, int64_t begin, int64_t end, int thread_index) {
    (*static_cast<F*>(obj))(begin, end, thread_index);
  }
  void* obj_ = nullptr;
  void (*call_)(void*, int64_t, int64_t, int) = nullptr;
};

class ThreadPool {
 public:
  // The most threads a pool takes (as ggml's GGML_MAX_N_THREADS): callers refuse more before asking.
  static constexpr int kMaxThreads = 512;
  // Throws std::system_error where the OS will not start a thread (a process or cgroup thread limit), after
  // stopping and joining the workers already started.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // Calls fn(begin, end, thread_index) over chunks that cover [0, n) once; every chunk but the last starts and
  // ends on a multiple of `grain` (kernels pass their row tile). Chunks shrink as the job goes (each is 1/(2 *
  // threads) of what is left, at least one grain: guided scheduling), so threads finish within about one grain
  // of each other. Returns when all chunks are done. fn must not throw; thread_index < size() names the running
  // thread (for scratch).
  void parallel_for(int64_t n, ChunkFn fn, int64_t grain = 1);
  // parallel_for for jobs that stream their range from memory once (generation's matrices): [0, n) is cut into one
  // contiguous share per thread, of whole grains, and each thread runs its own share front to back in claims of half
  // what is left of it, so that its reads (and its kernel's prefetches past a claim's end) stay one stream; a thread
  // done with its own share takes single grains from the back of the others', so the threads still finish within
  // about a grain of each other. Same contract as parallel_for. (Its claims carry the job's generation in 24 bits: a
  // worker would have to sleep through 16 million jobs, about half an hour of generation, to mistake one for another.)
  void parallel_for_shares(int64_t n, ChunkFn fn, int64_t grain);

  // usable_cpus(), at most 64: one per CPU the calling thread may run on (its affinity, on Linux; else the hardware's
  // count), no more than a cgroup CPU quota allows (a container's --cpus, a Kubernetes CPU limit: more threads than
  // that are throttled while they spin).
  static int default_threads();
  // The CPUs this process's threads can run on at once: its affinity (else the hardware's count), no more than a
  // cgroup CPU quota allows; at least 1, not capped. More threads than these take turns.
  static int usable_cpus();
  // The whole CPUs a CFS quota allows (at least 1), from cgroup v2's cpu.max fields or v1's cfs_quota_us and
  // cfs_period_us: quota "max" or negative, or text that is not a number, is no limit (0).
  static int quota_cpus(std::string_view quota, std::string_view period);

 private:
  // Tells the workers to stop and joins them.
  void stop_workers();
  void worker(int index);
  // Claims and runs chunks of job `gen` until none are left (or a newer job has replaced it).
  void run_chunks(uint32_t gen, ChunkFn fn, int64_t n_chunks, int index);
  // The same for a parallel_for_shares job of n indices in `grains` grains: this thread's share, then the others'.
  void run_shares(uint32_t gen, ChunkFn fn, int64_t n, int64_t grain, int64_t grains, int index);
  // Counts `count` finished pieces of a job of `total`, waking the caller after the last.
  void finish(int64_t count, int64_t total);
  // The caller's wait for done_ == total.
  void wait_done(int64_t total);

  // One turn of a wait loop: a pause, or with more threads than CPUs a yield, so a waiting thread hands its CPU to
  // one with work (spinning there held the CPU for whole time slices: 4 threads on 2 CPUs ran at half speed).
  void wait_a_little() const;

  static constexpr int kMaxChunks = 64;
  // parallel_for_shares: share words are (job generation's low 24 bits << 40) | (front << 20) | back, front and back
  // in grains from the share's start (claimed: [0, front) by its thread, [back, size) by the others).
  static constexpr int kMaxShares = 64;
  static constexpr int kShareBits = 20;

  int n_threads_;
  bool oversubscribed_;  // more threads than usable_cpus()
  int spin_iterations_;  // turns of wait_a_little before a waiting thread sleeps
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  // The current job, written under mu_ before generation_ is bumped; workers copy it under mu_ (a copy, so a
  // worker that wakes after the job is over reads nothing of the caller's frame, and calls it only on a claim).
  ChunkFn job_;
  int64_t job_chunks_ = 0;
  bool job_shares_ = false;  // a parallel_for_shares job, of job_n_ indices in job_grains_ grains of job_grain_
  int64_t job_n_ = 0, job_grain_ = 1, job_grains_ = 0;
  // Share s of a parallel_for_shares job is grains [share_begin_[s], share_begin_[s + 1]); written as bounds_ is.
  int64_t share_begin_[kMaxShares + 1] = {};
  std::atomic<uint64_t> shares_[kMaxShares] = {};
  // Chunk c of the current job is [bounds_[c], bounds_[c + 1]). Written only while no chunk is outstanding: a
  // thread reads its entry after claiming the chunk, and the next job cannot start before that chunk is done.
  int64_t bounds_[kMaxChunks + 1] = {};
  // Workers spin on generation_ briefly before sleeping, and the caller spins on done_, because a forward pass
  // issues hundreds of short jobs per token and a sleep/wake round trip per job costs tens of microseconds.
  std::atomic<uint64_t> generation_{0};
  // (job generation << 32) | next chunk index: a claim is a compare-and-swap that fails once the job is over.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int64_t> done_{0};  // chunks of the current job finished
  bool stop_ = false;
};

// fn(i) for every i in [0, n): i = 0 on the calling thread, the others each on a thread of its own, all joined before
// returning; where no thread can be had, the caller runs that i itself. For one-off work outside any pool (loading
// and repacking weights before the model's pool exists).
void run_on_threads(int64_t n, const std::function<void(int64_t)>& fn);

}  // namespace bitnet
