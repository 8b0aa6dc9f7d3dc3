// ThreadPool: workers wait on a generation counter, then claim chunks of the current job by compare-and-swap on
// a (generation, next chunk) word, so a claim can never land on a later job; the caller waits for the chunk
// count, not for every worker to check in.
#include "core/thread_pool.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <string>
#include <system_error>

#if defined(__linux__)
#include <sched.h>
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace bitnet {

namespace {
constexpr int kSpinIterations = 20000;  // roughly tens of microseconds before falling back to sleeping

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(std::max(1, n_threads)), oversubscribed_(n_threads_ > default_threads()) {
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

void ThreadPool::wait_a_little() const {
  if (oversubscribed_)
    std::this_thread::yield();
  else
    cpu_relax();
}

int ThreadPool::quota_cpus(std::string_view quota, std::string_view period) {
  auto parse = [](std::string_view t, int64_t& v) {
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    return !t.empty() && ec == std::errc() && end == t.data() + t.size();
  };
  int64_t q = 0, p = 0;
  if (!parse(quota, q) || !parse(period, p) || q <= 0 || p <= 0) return 0;
  return static_cast<int>(std::clamp<int64_t>(q / p, 1, 1 << 20));
}

namespace {

std::string first_line(const std::string& path) {
  std::ifstream f(path);
  std::string text;
  std::getline(f, text);
  return text;
}

// This process's cgroup path for the CPU controller, from /proc/self/cgroup ("0::/path" for v2, "N:cpu,cpuacct:/path"
// for v1); "/" inside a container with its own cgroup namespace, or when not found.
std::string cgroup_path(bool v2) {
  std::ifstream f("/proc/self/cgroup");
  for (std::string line; std::getline(f, line);) {
    const size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string controllers = ",";  // appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "," + s + ","
    controllers.append(line, a + 1, b - a - 1);
    controllers += ',';
    if (v2 ? line.compare(0, a, "0") == 0 && b == a + 1 : controllers.find(",cpu,") != std::string::npos)
      return line.substr(b + 1);
  }
  return "/";
}

// The cgroup CPU quota of this process in whole CPUs (0: none found), read once: v2's cpu.max, else v1's quota and
// period, in the process's own cgroup and, where that has none, at the mount's root (a container's own cgroup).
int cgroup_quota_cpus() {
  static const int cpus = [] {
    for (const std::string& dir : {"/sys/fs/cgroup" + cgroup_path(true), std::string("/sys/fs/cgroup")}) {
      const std::string v2 = first_line(dir + "/cpu.max");  // "max 100000" or "200000 100000"
      const size_t space = v2.find(' ');
      if (space != std::string::npos) return ThreadPool::quota_cpus(v2.substr(0, space), v2.substr(space + 1));
    }
    for (const std::string& dir : {"/sys/fs/cgroup/cpu" + cgroup_path(false), std::string("/sys/fs/cgroup/cpu")}) {
      const std::string quota = first_line(dir + "/cpu.cfs_quota_us");
      if (!quota.empty()) return ThreadPool::quota_cpus(quota, first_line(dir + "/cpu.cfs_period_us"));
    }
    return 0;
  }();
  return cpus;
}

}  // namespace

int ThreadPool::default_threads() {
  int n = 0;
#if defined(__linux__)
  // The CPUs this thread may run on (taskset, a container's cpuset), not every CPU the machine has: more threads
  // than those only wait on one another.
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
#endif
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  const int quota = cgroup_quota_cpus();
  if (quota > 0) n = std::min(n, quota);
  return std::clamp(n, 1, 64);
}

void ThreadPool::run_chunks(uint32_t gen, ChunkFn fn, int64_t n_chunks, int index) {
  uint64_t v = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(v >> 32) != gen) return;
    const int64_t c = static_cast<int64_t>(v & 0xffffffffu);
    if (c >= n_chunks) return;
    if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    fn(bounds_[c], bounds_[c + 1], index);
    if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_chunks) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
    v = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::parallel_for(int64_t n, ChunkFn fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  // Guided chunks in whole grains: each takes 1/(2 * threads) of the grains left, so the first are large (few
  // claims) and the last are one grain (the threads finish close together). The last chunk ends at n.
  const int64_t grains = (n + grain - 1) / grain;
  int64_t n_chunks = 0;
  uint32_t gen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t left = grains;
    bounds_[0] = 0;
    while (left > 0) {
      int64_t take = std::max<int64_t>(1, (left + 2 * n_threads_ - 1) / (2 * n_threads_));
      if (n_chunks == kMaxChunks - 1) take = left;
      left -= take;
      ++n_chunks;
      bounds_[n_chunks] = std::min(n, (grains - left) * grain);
    }
    job_ = fn;
    job_chunks_ = n_chunks;
    gen = static_cast<uint32_t>(generation_.load(std::memory_order_relaxed) + 1);
    done_.store(0, std::memory_order_relaxed);
    claim_.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  run_chunks(gen, fn, n_chunks, 0);
  for (int i = 0; i < kSpinIterations && done_.load(std::memory_order_acquire) != n_chunks; ++i) wait_a_little();
  if (done_.load(std::memory_order_acquire) != n_chunks) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return done_.load(std::memory_order_acquire) == n_chunks; });
  }
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < kSpinIterations && generation_.load(std::memory_order_acquire) == seen; ++i) wait_a_little();
    ChunkFn job;
    int64_t n_chunks;
    {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_relaxed) != seen; });
      if (stop_) return;
      seen = generation_.load(std::memory_order_relaxed);
      job = job_;
      n_chunks = job_chunks_;
    }
    run_chunks(static_cast<uint32_t>(seen), job, n_chunks, index);
  }
}

void run_on_threads(int64_t n, const std::function<void(int64_t)>& fn) {
  std::vector<std::thread> threads;
  for (int64_t i = 1; i < n; ++i) {
    try {
      threads.emplace_back(fn, i);
    } catch (const std::system_error&) {  // no thread to be had: this one does it
      fn(i);
    }
  }
  if (n > 0) fn(0);
  for (std::thread& t : threads) t.join();
}

}  // namespace bitnet
