// Metrics: Prometheus exposition text, one HELP/TYPE pair per series.
#include "metrics.hpp"

#include <sstream>

namespace bitnet::server {

void Metrics::record_generated(uint64_t n) {
  generated_tokens += n;
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  recent_.emplace_back(now, n);
  while (!recent_.empty() && now - recent_.front().first > kWindow) recent_.pop_front();
}

double Metrics::tokens_per_second() {
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  while (!recent_.empty() && now - recent_.front().first > kWindow) recent_.pop_front();
  uint64_t total = 0;
  for (const auto& r : recent_) total += r.second;
  // Divide by the window, or by the uptime while the server is younger than it.
  const double span =
      std::min(std::chrono::duration<double>(kWindow).count(), std::chrono::duration<double>(now - start_).count());
  return span > 0 ? static_cast<double>(total) / span : 0.0;
}

std::string Metrics::prometheus() {
  std::ostringstream o;
  auto series = [&](const char* name, const char* type, const char* help, auto value) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n' << name << ' ' << value << '\n';
  };
  series("bitnet_requests_total", "counter", "Completion requests received.", requests.load());
  series("bitnet_requests_completed_total", "counter", "Requests that finished generating.", requests_ok.load());
  series("bitnet_requests_rejected_total", "counter",
         "Requests refused because the queue was full (429) or the "
         "server was stopping (503).",
         requests_rejected.load());
  series("bitnet_requests_invalid_total", "counter", "Requests answered with a 4xx for their content.",
         requests_invalid.load());
  series("bitnet_requests_cancelled_total", "counter", "Generations stopped because the client disconnected.",
         requests_cancelled.load());
  series("bitnet_prompt_tokens_total", "counter", "Prompt tokens processed.", prompt_tokens.load());
  series("bitnet_generated_tokens_total", "counter", "Tokens generated.", generated_tokens.load());
  series("bitnet_decode_steps_total", "counter", "Batched forward passes run.", decode_steps.load());
  series("bitnet_batch_tokens_total", "counter", "Tokens evaluated by the batched forward passes.",
         batch_tokens.load());
  series("bitnet_queue_depth", "gauge", "Requests waiting for a free sequence slot.", queue_depth.load());
  series("bitnet_active_sequences", "gauge", "Sequences being generated.", active.load());
  series("bitnet_tokens_per_second", "gauge", "Generated tokens per second over the last 10 s.", tokens_per_second());
  return o.str();
}

}  // namespace bitnet::server
