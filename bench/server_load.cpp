// Load benchmark for the OpenAI-compatible server: starts it in-process on 127.0.0.1 (any free port) with
// --parallel slots, then for 1, 4 and 8 concurrent clients (each sending requests back to back through
// cpp-httplib's client) prints throughput in generated tokens/s and p50/p99 request latency, beside the
// library's single-stream generation speed. Prints numbers only; asserts nothing.
//   bitnet-server-load --model FILE [--threads N] [--parallel 8] [--max-tokens 64] [--requests 16]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bitnet/bitnet.hpp"
#include "http_server.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string model;
  int threads = 0;
  int parallel = 8;
  int max_tokens = 64;
  int requests = 16;  // per client count: total requests spread over the clients
};

bool parse(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    if (k == "--model")
      a.model = v;
    else if (k == "--threads")
      a.threads = std::atoi(v);
    else if (k == "--parallel")
      a.parallel = std::atoi(v);
    else if (k == "--max-tokens")
      a.max_tokens = std::atoi(v);
    else if (k == "--requests")
      a.requests = std::atoi(v);
    else
      return false;
  }
  return !a.model.empty() && a.parallel > 0 && a.max_tokens > 0 && a.requests > 0;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

const char* kPrompts[] = {"Once upon a time",    "The cat sat",        "Lily and Ben went to",  "One day, a big dog",
                          "The sun was hot and", "Tom had a red ball", "In the park there was", "Mom said to"};

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parse(argc, argv, a)) {
    std::fprintf(stderr, "usage: %s --model FILE [--threads N] [--parallel 8] [--max-tokens 64] [--requests 16]\n",
                 argv[0]);
    return 2;
  }
  bitnet::LoadOptions lo;
  lo.n_threads = a.threads;
  lo.n_ctx = 512;
  auto model = bitnet::Model::load(a.model, lo);
  if (!model.ok()) {
    std::fprintf(stderr, "error: %s\n", model.status().to_string().c_str());
    return 1;
  }
  bitnet::Model& m = *model.value();

  // Single stream through the library: the baseline.
  bitnet::GenerationConfig cfg;
  cfg.temperature = 0;
  cfg.max_tokens = a.max_tokens;
  cfg.stop_at_eos = false;
  double single_tps = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto r = m.generate(kPrompts[0], cfg);
    if (!r.ok()) {
      std::fprintf(stderr, "error: %s\n", r.status().to_string().c_str());
      return 1;
    }
    single_tps = std::max(single_tps, 1000.0 * static_cast<double>(r->tokens.size()) / r->generate_ms);
  }

  bitnet::server::ServerOptions so;
  so.host = "127.0.0.1";
  so.port = 0;
  so.parallel = a.parallel;
  so.max_queue = 64;
  so.model_id = "bench";
  auto srv = bitnet::server::Server::start(m, so);
  if (!srv.ok()) {
    std::fprintf(stderr, "error: %s\n", srv.status().to_string().c_str());
    return 1;
  }
  const int port = srv.value()->port();
  std::printf("model %s | %s, %s | %d threads | --parallel %d | %d tokens per request (EOS ignored)\n", a.model.c_str(),
              m.info().architecture.c_str(), m.info().isa.c_str(), m.info().n_threads, a.parallel, a.max_tokens);
  std::printf("single stream (library, no HTTP): %.1f tokens/s\n", single_tps);
  std::printf("%8s %10s %12s %12s %12s %14s %8s\n", "clients", "requests", "tokens/s", "p50 ms", "p99 ms",
              "tokens/step", "failed");
  const auto& mt = srv.value()->metrics();

  for (const int clients : {1, 4, 8}) {
    const int total = std::max(a.requests, clients);
    std::atomic<int> next{0}, failed{0};
    std::atomic<long> tokens{0};
    std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
    const uint64_t steps0 = mt.decode_steps.load(), gen0 = mt.generated_tokens.load();
    const auto t0 = Clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c)
      threads.emplace_back([&, c] {
        httplib::Client cli("127.0.0.1", port);
        cli.set_read_timeout(600, 0);
        for (int i; (i = next.fetch_add(1)) < total;) {
          const nlohmann::json body = {{"model", "bench"},
                                       {"prompt", kPrompts[i % 8]},
                                       {"max_tokens", a.max_tokens},
                                       {"temperature", 0},
                                       {"ignore_eos", true}};
          const auto r0 = Clock::now();
          auto res = cli.Post("/v1/completions", body.dump(), "application/json");
          const double ms = std::chrono::duration<double, std::milli>(Clock::now() - r0).count();
          if (!res || res->status != 200) {
            ++failed;
            continue;
          }
          auto j = nlohmann::json::parse(res->body, nullptr, false);
          if (j.is_discarded()) {
            ++failed;
            continue;
          }
          tokens += j["usage"]["completion_tokens"].get<long>();
          lat[static_cast<size_t>(c)].push_back(ms);
        }
      });
    for (auto& t : threads) t.join();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<double> all;
    for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
    // Generated tokens per batched forward pass: how many sequences shared each pass on average.
    const double steps = static_cast<double>(mt.decode_steps.load() - steps0);
    const double per_step = steps > 0 ? static_cast<double>(mt.generated_tokens.load() - gen0) / steps : 0.0;
    std::printf("%8d %10d %12.1f %12.1f %12.1f %14.2f %8d\n", clients, total, static_cast<double>(tokens) / secs,
                percentile(all, 0.50), percentile(all, 0.99), per_step, failed.load());
  }
  srv.value()->stop();
  return 0;
}
