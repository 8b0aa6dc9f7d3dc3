// ThreadPool: workers wait on a generation counter, then claim chunks of the current job by compare-and-swap on
// a (generation, next chunk) word, so a claim can never land on a later job; the caller waits for the chunk
// count, not for every worker to check in. parallel_for_shares claims the same way on one (generation, front, back)
// word per thread's share.
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
// With more threads than CPUs a turn is a yield, which runs another waiting thread: 20000 of them across hundreds of
// threads kept the CPUs busy handing turns around (large, bench -p 32 -n 16 -t 512 on 2 CPUs: 18.6 s in all, 2.5 s
// with 200). 200 yields still outlast the gap between a token's jobs.
constexpr int kOversubscribedSpinIterations = 200;

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(std::max(1, n_threads)),
      oversubscribed_(n_threads_ > usable_cpus()),
      spin_iterations_(oversubscribed_ ? kOversubscribedSpinIterations : kSpinIterations) {
  try {
    workers_.reserve(static_cast<size_t>(n_threads_ - 1));
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
  } catch (...) {
    stop_workers();  // a joinable std::thread destroyed unjoined would terminate the process
    throw;
  }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
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

int ThreadPool::default_threads() { return std::min(usable_cpus(), 64); }

int ThreadPool::usable_cpus() {
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
  return std::max(n, 1);
}

void ThreadPool::run_chunks(uint32_t gen, ChunkFn fn, int64_t n_chunks, int index) {
  uint64_t v = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<uint32_t>(v >> 32) != gen) return;
    const int64_t c = static_cast<int64_t>(v & 0xffffffffu);
    if (c >= n_chunks) return;
    if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    fn(bounds_[c], bounds_[c + 1], index);
    finish(1, n_chunks);
    v = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::finish(int64_t count, int64_t total) {
  if (done_.fetch_add(count, std::memory_order_acq_rel) + count == total) {
    std::lock_guard<std::mutex> lock(mu_);
    done_cv_.notify_one();
  }
}

void ThreadPool::wait_done(int64_t total) {
  for (int i = 0; i < spin_iterations_ && done_.load(std::memory_order_acquire) != total; ++i) wait_a_little();
  if (done_.load(std::memory_order_acquire) != total) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return done_.load(std::memory_order_acquire) == total; });
  }
}

void ThreadPool::run_shares(uint32_t gen, ChunkFn fn, int64_t n, int64_t grain, int64_t grains, int index) {
  constexpr uint64_t kField = (uint64_t{1} << kShareBits) - 1;
  const uint64_t tag = static_cast<uint64_t>(gen & 0xffffffu) << (2 * kShareBits);
  auto run = [&](int s, uint64_t g0, uint64_t g1) {
    const int64_t b = share_begin_[s] + static_cast<int64_t>(g0), e = share_begin_[s] + static_cast<int64_t>(g1);
    fn(b * grain, std::min(n, e * grain), index);
    finish(e - b, grains);
  };
  // This thread's share from the front, half of what is left a claim; then single grains from the others' backs.
  for (int k = 0; k < n_threads_; ++k) {
    const int s = (index + k) % n_threads_;
    uint64_t v = shares_[s].load(std::memory_order_acquire);
    for (;;) {
      if ((v & ~((uint64_t{1} << (2 * kShareBits)) - 1)) != tag) return;  // the job is over
      const uint64_t front = v >> kShareBits & kField, back = v & kField;
      if (front >= back) break;
      if (k == 0) {
        const uint64_t take = std::max<uint64_t>(1, (back - front) / 2);
        if (shares_[s].compare_exchange_weak(v, tag | (front + take) << kShareBits | back, std::memory_order_acq_rel,
                                             std::memory_order_acquire))
          run(s, front, front + take);
        else
          continue;
      } else {
        if (shares_[s].compare_exchange_weak(v, tag | front << kShareBits | (back - 1), std::memory_order_acq_rel,
                                             std::memory_order_acquire))
          run(s, back - 1, back);
        else
          continue;
      }
      v = shares_[s].load(std::memory_order_acquire);
    }
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
    job_shares_ = false;
    gen = static_cast<uint32_t>(generation_.load(std::memory_order_relaxed) + 1);
    done_.store(0, std::memory_order_relaxed);
    claim_.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  run_chunks(gen, fn, n_chunks, 0);
  wait_done(n_chunks);
}

void ThreadPool::parallel_for_shares(int64_t n, ChunkFn fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t grains = (n + grain - 1) / grain;
  if (n_threads_ > kMaxShares || grains >= (int64_t{1} << kShareBits)) return parallel_for(n, fn, grain);
  if (n_threads_ == 1 || grains == 1) {
    fn(0, n, 0);
    return;
  }
  uint32_t gen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gen = static_cast<uint32_t>(generation_.load(std::memory_order_relaxed) + 1);
    const uint64_t tag = static_cast<uint64_t>(gen & 0xffffffu) << (2 * kShareBits);
    for (int s = 0; s <= n_threads_; ++s) share_begin_[s] = grains * s / n_threads_;
    for (int s = 0; s < n_threads_; ++s)
      shares_[s].store(tag | static_cast<uint64_t>(share_begin_[s + 1] - share_begin_[s]), std::memory_order_relaxed);
    job_ = fn;
    job_shares_ = true;
    job_n_ = n;
    job_grain_ = grain;
    job_grains_ = grains;
    done_.store(0, std::memory_order_relaxed);
    // No parallel_for chunk can be claimed while this job runs: its claim word names another generation.
    claim_.store(static_cast<uint64_t>(gen) << 32 | 0xffffffffu, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  run_shares(gen, fn, n, grain, grains, 0);
  wait_done(grains);
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < spin_iterations_ && generation_.load(std::memory_order_acquire) == seen; ++i) wait_a_little();
    ChunkFn job;
    int64_t n_chunks, n, grain, grains;
    bool shares;
    {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_relaxed) != seen; });
      if (stop_) return;
      seen = generation_.load(std::memory_order_relaxed);
      job = job_;
      n_chunks = job_chunks_;
      shares = job_shares_;
      n = job_n_;
      grain = job_grain_;
      grains = job_grains_;
    }
    if (shares)
      run_shares(static_cast<uint32_t>(seen), job, n, grain, grains, index);
    else
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
