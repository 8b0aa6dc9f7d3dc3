// bitnet-cli inference: generate text from a prompt, streaming tokens as they are produced.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "bitnet/bitnet.hpp"
#include "commands.hpp"

namespace bitnet::cli {
namespace {

struct InferenceArgs {
  std::string model;
  std::string prompt;
  std::string prompt_ids;
  int n_predict = 128;
  float temperature = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  int64_t seed = -1;
  int threads = 0;
  int ctx_size = 0;
  bool json = false;
  bool no_bos = false;
  bool special = false;
  bool ignore_eos = false;
};

int run_inference(const InferenceArgs& a) {
  LoadOptions lo;
  lo.n_threads = a.threads;
  lo.n_ctx = a.ctx_size;
  auto model = Model::load(a.model, lo);
  if (!model.ok()) return fail(model.status().to_string());
  Model& m = *model.value();

  GenerationConfig cfg;
  cfg.max_tokens = a.n_predict;
  cfg.temperature = a.temperature;
  cfg.top_k = a.top_k;
  cfg.top_p = a.top_p;
  cfg.min_p = a.min_p;
  cfg.repeat_penalty = a.repeat_penalty;
  cfg.repeat_last_n = a.repeat_last_n;
  cfg.seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed) : std::random_device{}();
  cfg.add_bos = !a.no_bos;
  cfg.parse_special = a.special;
  cfg.stop_at_eos = !a.ignore_eos;

  std::vector<int32_t> ids;
  if (!a.prompt_ids.empty()) {
    std::string err;
    if (!parse_ids(a.prompt_ids, ids, err)) return fail("--prompt-ids: " + err);
  } else {
    auto tok = m.tokenize(a.prompt, cfg.add_bos, cfg.parse_special);
    if (!tok.ok()) return fail(tok.status().to_string());
    ids = std::move(tok).value();
  }
  if (!a.json) {
    std::cout << (a.prompt_ids.empty() ? a.prompt : m.detokenize(ids)) << std::flush;
  }
  TokenCallback stream;
  if (!a.json)
    stream = [](std::string_view piece, int32_t) {
      std::cout << piece << std::flush;
      return true;
    };
  auto res = m.generate_ids(ids, cfg, stream);
  if (!res.ok()) {
    if (!a.json) std::cout << "\n";
    return fail(res.status().to_string());
  }
  const GenerationResult& r = res.value();
  const double pp_tps = r.prompt_ms > 0 ? 1000.0 * static_cast<double>(r.prompt_tokens.size()) / r.prompt_ms : 0;
  const double tg_tps = r.generate_ms > 0 ? 1000.0 * static_cast<double>(r.tokens.size()) / r.generate_ms : 0;
  if (a.json) {
    nlohmann::json j;
    j["model"] = a.model;
    j["prompt_tokens"] = r.prompt_tokens;
    j["tokens"] = r.tokens;
    j["text"] = r.text;
    j["stop_reason"] = r.stop_reason;
    j["seed"] = cfg.seed;
    j["timings"] = {{"load_ms", r.load_ms},
                    {"prompt_ms", r.prompt_ms},
                    {"generate_ms", r.generate_ms},
                    {"prompt_tokens_per_s", pp_tps},
                    {"generate_tokens_per_s", tg_tps}};
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::cout << "\n" << std::flush;
    std::fprintf(stderr,
                 "\n[load %.1f ms | prompt %zu tokens, %.1f ms (%.1f tok/s) | generated %zu tokens, %.1f ms (%.1f "
                 "tok/s) | stop: %s]\n",
                 r.load_ms, r.prompt_tokens.size(), r.prompt_ms, pp_tps, r.tokens.size(), r.generate_ms, tg_tps,
                 r.stop_reason.c_str());
  }
  return 0;
}

}  // namespace

void add_inference(CLI::App& app, std::vector<Command>& out) {
  auto a = std::make_shared<InferenceArgs>();
  CLI::App* sub = app.add_subcommand("inference", "Generate text from a prompt (streams tokens as they come)");
  sub->add_option("-m,--model", a->model, "Model file (GGUF)")->required()->check(CLI::ExistingFile);
  sub->add_option("-p,--prompt", a->prompt, "Prompt text (empty: start from BOS alone)");
  sub->add_option("--prompt-ids", a->prompt_ids, "Prompt as token ids, e.g. \"1 450 4996\" (overrides --prompt)");
  sub->add_option("-n,--n-predict", a->n_predict, "Tokens to generate at most")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--temperature,--temp", a->temperature, "Sampling temperature; 0 = greedy")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--top-k", a->top_k, "Keep the k most likely tokens; 0 = off")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--top-p", a->top_p, "Nucleus sampling mass; 1 = off")
      ->check(CLI::Range(0.0f, 1.0f))
      ->capture_default_str();
  sub->add_option("--min-p", a->min_p, "Drop tokens below min-p x the top probability; 0 = off")
      ->check(CLI::Range(0.0f, 1.0f))
      ->capture_default_str();
  sub->add_option("--repeat-penalty", a->repeat_penalty, "Penalty for recently seen tokens; 1 = off")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--repeat-last-n", a->repeat_last_n, "How many recent tokens the penalty considers")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("-s,--seed", a->seed, "Random seed (default: random); same seed, same output")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("-t,--threads", a->threads, "Threads (default: all cores)")->check(CLI::NonNegativeNumber);
  sub->add_option("-c,--ctx-size", a->ctx_size, "Context size in tokens (default: the model's, at most 4096)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--json", a->json, "Print one JSON object (tokens, text, timings) instead of streaming");
  sub->add_flag("--no-bos", a->no_bos, "Do not prepend the BOS token to the prompt");
  sub->add_flag("--special", a->special, "Recognise special-token text such as <s> in the prompt");
  sub->add_flag("--ignore-eos", a->ignore_eos, "Keep generating past end-of-sequence tokens");
  out.push_back({sub, [a] { return run_inference(*a); }});
}

}  // namespace bitnet::cli
