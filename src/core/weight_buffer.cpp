#include "core/weight_buffer.hpp"

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
}  // namespace

struct WeightBuffer::Mover {
  using Clock = std::chrono::steady_clock;
  std::mutex mu;
  std::condition_variable cv;  // wakes the thread to stop
  bool stop = false;           // under mu
  std::atomic<int> users{0};
  std::atomic<int64_t> last_use{0};  // Clock ticks when the last Use ended
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

  bool idle() const {
    const auto since = Clock::now().time_since_epoch() - Clock::duration(last_use.load(std::memory_order_acquire));
    return users.load(std::memory_order_acquire) == 0 && since >= std::chrono::milliseconds(kIdleMs);
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
    // The buffer was advised MADV_NOHUGEPAGE at allocation, which MADV_COLLAPSE would respect.
    ::madvise(p, static_cast<size_t>(total) * kHugePage, MADV_HUGEPAGE);
    for (int64_t i = 0; i < total && wait_for_idle(); ++i) {
      if (::madvise(p + static_cast<size_t>(i) * kHugePage, kHugePage, MADV_COLLAPSE) == 0) {
        moved.fetch_add(1, std::memory_order_relaxed);
      } else if (errno == EINVAL || errno == ENOSYS) {
        unsupported = true;  // no MADV_COLLAPSE: the pages stay 4 KB (EAGAIN, ENOMEM: this 2 MB only)
        break;
      }
    }
    ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
#else
    (void)p;
#endif
  }
};

WeightBuffer::Use::Use(const WeightBuffer& b) : m_(b.mover_.get()) {
  if (m_ != nullptr) m_->users.fetch_add(1, std::memory_order_acq_rel);
}

WeightBuffer::Use::~Use() {
  if (m_ == nullptr) return;
  m_->last_use.store(Mover::Clock::now().time_since_epoch().count(), std::memory_order_release);
  m_->users.fetch_sub(1, std::memory_order_acq_rel);
}

WeightBuffer::WeightBuffer() = default;

WeightBuffer::WeightBuffer(size_t n) : size_(n) {
  if (n > 0) data_ = static_cast<uint8_t*>(allocate_huge(n, /*small_pages_first=*/true));
}

WeightBuffer::~WeightBuffer() { release(); }

void WeightBuffer::release() {
  mover_.reset();  // joins the thread first: it must not touch freed memory
  if (data_ != nullptr) free_huge(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

WeightBuffer::WeightBuffer(WeightBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), mover_(std::move(o.mover_)) {}

WeightBuffer& WeightBuffer::operator=(WeightBuffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    mover_ = std::move(o.mover_);
  }
  return *this;
}

void WeightBuffer::start_huge_pages() {
#if defined(__linux__)
  if (mover_ != nullptr || size_ < kHugePage || !use_huge_pages()) return;
  mover_ = std::make_unique<Mover>();
  mover_->total = static_cast<int64_t>(size_ / kHugePage);
  mover_->last_use.store(Mover::Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  Mover* m = mover_.get();
  uint8_t* p = data_;
  try {
    m->thread = std::thread([m, p] { m->run(p); });
  } catch (const std::system_error&) {  // no thread to be had: the pages stay 4 KB
    mover_.reset();
  }
#endif
}

int64_t WeightBuffer::moved() const { return mover_ != nullptr ? mover_->moved.load(std::memory_order_relaxed) : 0; }

WeightBuffer::HugePages WeightBuffer::wait_huge_pages() {
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
