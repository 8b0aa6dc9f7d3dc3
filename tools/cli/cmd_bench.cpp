// bitnet-cli bench: load time, prompt-processing and generation speed and peak memory of one model, as a
// table or one JSON object: the before/after figures of kernel work. Speed is measured here, never asserted.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "bitnet/bitnet.hpp"
#include "commands.hpp"

namespace bitnet::cli {
namespace {

struct BenchArgs {
  std::string model;
  int n_prompt = 128;
  int n_gen = 64;
  int depth = 0;
  int threads = 2;
  int reps = 3;
  int warmup = 1;
  int ctx_size = 0;
  LoadArgs load;
  uint64_t seed = 1;
  bool json = false;
};

struct Stats {
  double mean = 0, sd = 0;  // sd: sample standard deviation (0 for one run)
  std::vector<double> runs;
};

Stats summarize(std::vector<double> runs) {
  Stats s;
  s.runs = std::move(runs);
  if (s.runs.empty()) return s;  // a skipped test
  for (double v : s.runs) s.mean += v;
  s.mean /= static_cast<double>(s.runs.size());
  if (s.runs.size() > 1) {
    double ss = 0;
    for (double v : s.runs) ss += (v - s.mean) * (v - s.mean);
    s.sd = std::sqrt(ss / static_cast<double>(s.runs.size() - 1));
  }
  return s;
}

// Peak resident set of this process so far (weights touched through the mapping included).
uint64_t peak_rss_bytes() {
  struct rusage ru {};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
#ifdef __APPLE__
  return static_cast<uint64_t>(ru.ru_maxrss);  // bytes on macOS
#else
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;  // kilobytes on Linux
#endif
}

// Fills the context with `context` (untimed: the depth the tests start from), or empties it.
Status fill_context(Model& m, const std::vector<int32_t>& context) {
  m.clear_context();
  if (context.empty()) return Status::Ok();
  GenerationConfig cfg;
  cfg.max_tokens = 0;
  cfg.stop_at_eos = false;
  auto r = m.generate_continue(context, cfg);
  return r.ok() ? Status::Ok() : r.status().with_context("filling the context to the depth");
}

// Prompt processing: the prompt evaluated after `context` in batches of up to 512 tokens (only the last position's
// logits), timed by the library around those forward passes. Returns tokens/s.
Result<double> time_prompt(Model& m, const std::vector<int32_t>& context, const std::vector<int32_t>& prompt) {
  BITNET_RETURN_IF_ERROR(fill_context(m, context));
  GenerationConfig cfg;
  cfg.max_tokens = 0;
  cfg.temperature = 0;
  cfg.stop_at_eos = false;
  auto r = m.generate_continue(prompt, cfg);
  if (!r.ok()) return r.status();
  if (r->prompt_ms <= 0) return internal_error("prompt processing took no measurable time");
  return 1000.0 * static_cast<double>(prompt.size()) / r->prompt_ms;
}

// Generation: n_gen tokens one at a time after `context` and a one-token prompt, greedy, EOS ignored. max_tokens is
// n_gen + 1 because the first token comes from the prompt's logits: n_gen forward passes are timed.
Result<double> time_generation(Model& m, const std::vector<int32_t>& context, int32_t first, int n_gen) {
  BITNET_RETURN_IF_ERROR(fill_context(m, context));
  GenerationConfig cfg;
  cfg.max_tokens = n_gen + 1;
  cfg.temperature = 0;
  cfg.stop_at_eos = false;
  auto r = m.generate_continue({first}, cfg);
  if (!r.ok()) return r.status();
  if (r->stop_reason != "length" || r->tokens.size() != static_cast<size_t>(n_gen) + 1)
    return internal_error("generation stopped early (" + r->stop_reason + ")");
  if (r->generate_ms <= 0) return internal_error("generation took no measurable time");
  return 1000.0 * n_gen / r->generate_ms;
}

nlohmann::json stats_json(const Stats& s, int n_tokens) {
  return {{"n_tokens", n_tokens},
          {"tokens_per_s_mean", s.mean},
          {"tokens_per_s_sd", s.sd},
          {"ms_per_token_mean", s.mean > 0 ? 1000.0 / s.mean : 0.0},
          {"runs_tokens_per_s", s.runs}};
}

int run_bench(const BenchArgs& a) {
  if (a.n_prompt == 0 && a.n_gen == 0) return fail("nothing to measure: -p and -n are both 0");
  LoadOptions lo;
  lo.n_threads = a.threads;
  // Room for the depth and the longer of the two tests and nothing more: a larger KV cache only adds to the resident
  // set.
  const int64_t need64 = int64_t{a.depth} + std::max<int64_t>(a.n_prompt, int64_t{a.n_gen} + 1) + 1;
  if (need64 > std::numeric_limits<int>::max())
    return fail("the depth and the tests need " + std::to_string(need64) + " positions, more than a context can hold");
  const int need = static_cast<int>(need64);
  if (a.ctx_size > 0 && a.ctx_size < need)
    return fail("a context of " + std::to_string(a.ctx_size) + " tokens cannot hold the depth (" +
                std::to_string(a.depth) + ") and the tests (" + std::to_string(need - a.depth) + "): use -c " +
                std::to_string(need) + " or more");
  lo.n_ctx = a.ctx_size > 0 ? a.ctx_size : need;
  if (std::string err; !apply_load_options(a.load, lo, err)) return fail(err);
  const auto t0 = std::chrono::steady_clock::now();
  auto loaded = Model::load(a.model, lo);
  if (!loaded.ok()) return fail(loaded.status().to_string());
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  Model& m = *loaded.value();
  const ModelInfo& info = m.info();
  note_load(info);
  auto file = inspect_model_file(a.model);
  if (!file.ok()) return fail(file.status().to_string());
  // The move into 2 MB pages of the repacked weights (after load) and of the KV cache and scratch (after their
  // first pass), which runs in the background: waited for, so that the runs time the steady state (and reported).
  Model::HugePages huge;
  double huge_wait_ms = 0;
  const auto wait_for_huge_pages = [&] {
    const auto w0 = std::chrono::steady_clock::now();
    huge = m.wait_for_huge_pages();
    huge_wait_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - w0).count();
  };
  wait_for_huge_pages();

  // Random in-vocabulary ids: timing does not depend on which tokens they are.
  std::mt19937_64 rng(a.seed);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(info.n_vocab - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(a.n_prompt)), context(static_cast<size_t>(a.depth));
  for (int32_t& id : prompt) id = pick(rng);
  const int32_t first = pick(rng);
  for (int32_t& id : context) id = pick(rng);
  if (a.ctx_size == 0 && info.n_ctx_train > 0 && need > info.n_ctx_train)
    return fail("the depth and the tests need " + std::to_string(need) + " positions, past the " +
                std::to_string(info.n_ctx_train) + " this model was trained for; pass -c " + std::to_string(need) +
                " to measure there anyway");

  std::vector<double> pp, tg;
  for (int i = 0; i < a.warmup + a.reps; ++i) {
    const bool warm = i < a.warmup;
    // After the warm-up, which filled the KV cache and sized the pass scratch: their move into 2 MB pages too.
    if (i == a.warmup && a.warmup > 0) wait_for_huge_pages();
    std::fprintf(stderr, "%s run %d/%d\n", warm ? "warm-up" : "timed", warm ? i + 1 : i - a.warmup + 1,
                 warm ? a.warmup : a.reps);
    if (a.n_prompt > 0) {
      auto p = time_prompt(m, context, prompt);
      if (!p.ok()) return fail("prompt processing: " + p.status().to_string());
      if (!warm) pp.push_back(*p);
    }
    if (a.n_gen > 0) {
      auto g = time_generation(m, context, first, a.n_gen);
      if (!g.ok()) return fail("generation: " + g.status().to_string());
      if (!warm) tg.push_back(*g);
    }
  }
  const Stats pps = summarize(pp), tgs = summarize(tg);
  const uint64_t rss = peak_rss_bytes();
  const std::string& isa = info.isa;
  // What a generated token reads from memory: the weights, and the keys and values of every position before it
  // (the test's tokens sit at positions depth + 1 .. depth + n_gen: on average the midpoint). Generation speed
  // times this is the read bandwidth it runs at, against the machine's (bitnet-kernel-bench's limit/memory_read).
  const double kv_per_position = info.n_ctx > 0 ? static_cast<double>(info.kv_cache_bytes) / info.n_ctx : 0.0;
  const double weight_gb = static_cast<double>(info.weight_bytes_per_token) / 1e9;
  const double kv_gb = kv_per_position * (a.depth + 1 + (a.n_gen + 1) / 2.0) / 1e9;
  const double tg_read_gb_per_s = (weight_gb + kv_gb) * tgs.mean;
  // What a prompt token computes in the layers' matrices: prompt speed times this is the arithmetic rate it runs at,
  // against the machine's (bitnet-kernel-bench's limit/peak_int8_*); attention and the last token's head come on top.
  const double layer_gmac = static_cast<double>(info.layer_macs_per_token) / 1e9;
  const double pp_gmac_per_s = layer_gmac * pps.mean;

  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["architecture"] = info.architecture;
    j["weight_type"] = info.weight_type;
    j["n_params"] = file->n_params;
    j["model_size_bytes"] = file->file_size;
    j["isa"] = isa;
    j["threads"] = info.n_threads;
    j["n_ctx"] = info.n_ctx;
    j["kv_type"] = info.kv_type;
    j["kv_cache_bytes"] = info.kv_cache_bytes;
    j["depth"] = a.depth;
    j["repetitions"] = a.reps;
    j["warmup"] = a.warmup;
    j["load_ms"] = load_ms;
    j["huge_pages"] = {{"moved_mb", huge.moved_mb},
                       {"total_mb", huge.total_mb},
                       {"move_ms", huge.ms},
                       {"waited_ms", huge_wait_ms},
                       {"unsupported", huge.unsupported}};
    j["layer_macs_per_token"] = info.layer_macs_per_token;
    if (a.n_prompt > 0) {
      j["pp"] = stats_json(pps, a.n_prompt);
      j["pp"]["layer_gmac_per_s"] = pp_gmac_per_s;
    }
    j["weight_bytes_per_token"] = info.weight_bytes_per_token;
    if (a.n_gen > 0) {
      j["tg"] = stats_json(tgs, a.n_gen);
      j["tg"]["kv_bytes_per_token"] = kv_gb * 1e9;
      j["tg"]["read_gb_per_s"] = tg_read_gb_per_s;
    }
    j["peak_rss_bytes"] = rss;
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::printf("model:      %s\n", a.model.c_str());
  std::printf("            %s, %s, %.3f B parameters, %.1f MB\n", info.architecture.c_str(), info.weight_type.c_str(),
              static_cast<double>(file->n_params) / 1e9, static_cast<double>(file->file_size) / 1e6);
  std::printf("isa:        %s, %d thread%s, context %d\n", isa.c_str(), info.n_threads, info.n_threads == 1 ? "" : "s",
              info.n_ctx);
  if (a.depth > 0) std::printf("depth:      %d tokens in the context before each test\n", a.depth);
  std::printf("KV cache:   %s, %.1f MB\n", info.kv_type.c_str(), static_cast<double>(info.kv_cache_bytes) / 1e6);
  std::printf("load:       %.1f ms\n", load_ms);
  if (huge.total_mb > 0)
    std::printf(
        "2 MB pages: %.1f of %.1f MB of repacked weights, KV cache and scratch, moved in the background in %.1f ms%s "
        "(the runs waited %.1f ms for it)\n",
        huge.moved_mb, huge.total_mb, huge.ms,
        huge.unsupported ? " (the kernel refused: Linux before 6.1, or THP off for this process)" : "", huge_wait_ms);
  std::printf("%-16s  %8s  %22s  %12s\n", "test", "tokens", "tokens/s (mean +- sd)", "ms/token");
  auto row = [](const std::string& name, int n, const Stats& s) {
    char tps[64];
    std::snprintf(tps, sizeof tps, "%.2f +- %.2f", s.mean, s.sd);
    std::printf("%-16s  %8d  %22s  %12.2f\n", name.c_str(), n, tps, s.mean > 0 ? 1000.0 / s.mean : 0.0);
  };
  const std::string at = a.depth > 0 ? " @ d" + std::to_string(a.depth) : "";
  if (a.n_prompt > 0) row("pp" + std::to_string(a.n_prompt) + at, a.n_prompt, pps);
  if (a.n_gen > 0) row("tg" + std::to_string(a.n_gen) + at, a.n_gen, tgs);
  if (a.n_prompt > 0)
    std::printf("pp MACs:    %.3f G multiply-adds a token in the layers' matrices: %.1f G/s at the mean rate\n",
                layer_gmac, pp_gmac_per_s);
  if (a.n_gen > 0)
    std::printf("tg reads:   %.3f GB of weights + %.3f GB of KV cache a token: %.1f GB/s at the mean rate\n", weight_gb,
                kv_gb, tg_read_gb_per_s);
  std::printf("peak RSS:   %.1f MB\n", static_cast<double>(rss) / 1e6);
  std::printf("runs:       %d timed after %d warm-up\n", a.reps, a.warmup);
  return 0;
}

}  // namespace

void add_bench(CLI::App& app, std::vector<Command>& out) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand(
      "bench",
      "Benchmark a model: load time, prompt processing (pp: -p random tokens as one prompt, in batches of up to 512) "
      "and generation (tg: -n tokens one at a time, greedy) in tokens/s as mean +- sd over -r runs after warm-up, "
      "KV cache size, peak RSS, what a prompt token computes (multiply-adds in the layers' matrices) with the "
      "arithmetic rate that makes at the pp rate (prompts are bound by it), and what a generated token reads (weights "
      "and KV cache) with the read bandwidth that makes at the tg rate (generation is bound by it)");
  sub->add_option("-m,--model", a->model, "Model file (GGUF)")->required()->check(CLI::ExistingFile);
  sub->add_option("-p,--n-prompt", a->n_prompt, "Prompt tokens processed as one prompt (0: skip this test)")
      ->check(at_least(0))
      ->capture_default_str();
  sub->add_option("-n,--n-gen", a->n_gen, "Tokens generated one at a time (0: skip this test)")
      ->check(at_least(0))
      ->capture_default_str();
  sub->add_option("-d,--depth", a->depth,
                  "Tokens of random context before each test (filled untimed, as llama-bench's -d): speed at a long "
                  "context, where attention reads every earlier position")
      ->check(at_least(0))
      ->capture_default_str();
  sub->add_option("-t,--threads", a->threads,
                  "Threads (0: one per CPU this process may run on; more than that only slows it down)")
      ->check(at_least(0))
      ->capture_default_str();
  sub->add_option("-r,--repetitions", a->reps, "Timed runs of each test")->check(at_least(1))->capture_default_str();
  sub->add_option("--warmup", a->warmup, "Untimed runs first")->check(at_least(0))->capture_default_str();
  sub->add_option("-c,--ctx-size", a->ctx_size, "Context size (default: just enough for the tests)")
      ->check(at_least(0));
  add_load_options(sub, a->load);
  sub->add_option("--seed", a->seed, "Seed of the random prompt tokens")->capture_default_str();
  sub->add_flag("--json", a->json, "Print one JSON object instead of the table");
  out.push_back({sub, [a] { return run_bench(*a); }});
}

}  // namespace bitnet::cli
