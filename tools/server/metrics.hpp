// Server counters for GET /metrics (Prometheus text format). Updated from handler threads and the scheduler
// thread: counters are atomics; the tokens/s window is under a mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace bitnet::server {

class Metrics {
 public:
  std::atomic<uint64_t> requests{0};            // completion requests received (valid or not)
  std::atomic<uint64_t> requests_ok{0};         // finished generating
  std::atomic<uint64_t> requests_rejected{0};   // refused: queue full (429) or shutting down (503)
  std::atomic<uint64_t> requests_invalid{0};    // 4xx for the request itself
  std::atomic<uint64_t> requests_cancelled{0};  // the client went away mid-generation
  std::atomic<uint64_t> prompt_tokens{0};
  std::atomic<uint64_t> generated_tokens{0};
  std::atomic<uint64_t> decode_steps{0};  // batched forward passes
  std::atomic<uint64_t> batch_tokens{0};  // tokens evaluated by those passes (prefill and decode)
  std::atomic<int64_t> queue_depth{0};    // waiting for a sequence
  std::atomic<int64_t> active{0};         // being generated

  // One decode step that generated `n` tokens, now.
  void record_generated(uint64_t n);
  // Generated tokens per second over the last kWindow of wall time.
  double tokens_per_second();
  std::string prometheus();

  static constexpr std::chrono::seconds kWindow{10};

 private:
  using Clock = std::chrono::steady_clock;
  std::mutex mu_;
  std::deque<std::pair<Clock::time_point, uint64_t>> recent_;
  Clock::time_point start_ = Clock::now();
};

}  // namespace bitnet::server
