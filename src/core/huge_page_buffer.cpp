#include "core/huge_page_buffer.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "core/aligned.hpp"
#include "core/huge_pages.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace bitnet {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
#if defined(__linux__) && !defined(MADV_COLLAPSE)
constexpr int MADV_COLLAPSE = 25;  // Linux 6.1's value; older headers lack the name
#endif
#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
constexpr int MADV_POPULATE_WRITE = 23;  // Linux 5.14's value
#endif

using Clock = std::chrono::steady_clock;

// The process's Uses: how many are held, and when the last one ended (Clock ticks).
std::atomic<int> g_users{0};
std::atomic<int64_t> g_last_use{0};

int64_t now_ticks() { return Clock::now().time_since_epoch().count(); }

bool idle() {
  const int64_t since = now_ticks() - g_last_use.load(std::memory_order_acquire);
  return g_users.load(std::memory_order_acquire) == 0 &&
         Clock::duration(since) >= std::chrono::milliseconds(HugePageBuffer::kIdleMs);
}
}  // namespace

struct HugePageBuffer::Mover {
  std::mutex mu;
  std::condition_variable cv;  // wakes the thread to stop
  bool stop = false;           // under mu
  std::atomic<int64_t> moved{0};
  int64_t total = 0;
  double ms = 0;  // written by the thread before it ends
  bool unsupported = false;
  std::thread thread;

  ~Mover() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    if (thread.joinable()) thread.join();
  }

  // Until the buffer is idle; false when told to stop.
  bool wait_for_idle() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stop && !idle()) cv.wait_for(lock, std::chrono::milliseconds(10));
    return !stop;
  }

  void run(uint8_t* p) {
#if defined(__linux__)
    const auto t0 = Clock::now();
    // The lowest priority, this thread only (Linux's nice is per thread).
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19);
    for (int64_t i = 0; i < total && wait_for_idle(); ++i) {
      uint8_t* step = p + static_cast<size_t>(i) * kHugePage;
      // MADV_COLLAPSE refuses a 2 MB with no page in it (EINVAL): a KV cache's positions not reached yet.
      ::madvise(step, kHugePage, MADV_POPULATE_WRITE);
      // The buffer was advised MADV_NOHUGEPAGE at allocation, which MADV_COLLAPSE respects; lifted 2 MB at a time,
      // so that pages faulted in where the move has not come yet stay 4 KB (the mapping is split in two meanwhile).
      ::madvise(step, kHugePage, MADV_HUGEPAGE);
      if (::madvise(step, kHugePage, MADV_COLLAPSE) == 0) {
        moved.fetch_add(1, std::memory_order_relaxed);
      } else if ((errno == EINVAL || errno == ENOSYS) && moved.load(std::memory_order_relaxed) == 0) {
        unsupported = true;  // no MADV_COLLAPSE: the pages stay 4 KB (any other failure: this 2 MB only)
        break;
      }
    }
    ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
#else
    (void)p;
#endif
  }
};

HugePageBuffer::Use::Use() { g_users.fetch_add(1, std::memory_order_acq_rel); }

HugePageBuffer::Use::~Use() {
  g_last_use.store(now_ticks(), std::memory_order_release);
  g_users.fetch_sub(1, std::memory_order_acq_rel);
}

HugePageBuffer::HugePageBuffer() = default;

HugePageBuffer::HugePageBuffer(size_t n) : size_(n) {
  if (n > 0) data_ = static_cast<uint8_t*>(allocate_huge(n, /*small_pages_first=*/true));
}

HugePageBuffer::~HugePageBuffer() { release(); }

void HugePageBuffer::release() {
  mover_.reset();  // joins the thread first: it must not touch freed memory
  if (data_ != nullptr) free_huge(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

HugePageBuffer::HugePageBuffer(HugePageBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), mover_(std::move(o.mover_)) {}

HugePageBuffer& HugePageBuffer::operator=(HugePageBuffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    mover_ = std::move(o.mover_);
  }
  return *this;
}

void HugePageBuffer::start_huge_pages() {
#if defined(__linux__)
  if (mover_ != nullptr || size_ < kHugePage || !use_huge_pages()) return;
  mover_ = std::make_unique<Mover>();
  mover_->total = static_cast<int64_t>(size_ / kHugePage);
  g_last_use.store(now_ticks(), std::memory_order_release);  // kIdleMs from now at the earliest
  Mover* m = mover_.get();
  uint8_t* p = data_;
  try {
    m->thread = std::thread([m, p] { m->run(p); });
  } catch (const std::system_error&) {  // no thread to be had: the pages stay 4 KB
    mover_.reset();
  }
#endif
}

int64_t HugePageBuffer::moved() const { return mover_ != nullptr ? mover_->moved.load(std::memory_order_relaxed) : 0; }

HugePageBuffer::HugePages HugePageBuffer::wait_huge_pages() {
  HugePages h;
  if (mover_ == nullptr) return h;
  if (mover_->thread.joinable()) mover_->thread.join();
  h.moved = mover_->moved.load(std::memory_order_relaxed);
  h.total = mover_->total;
  h.ms = mover_->ms;
  h.unsupported = mover_->unsupported;
  return h;
}

}  // namespace bitnet
