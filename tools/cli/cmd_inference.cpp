// bitnet-cli inference: generate text from a prompt, streaming tokens as they are produced.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
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
  SamplingArgs sampling;
  int threads = 0;
  int ctx_size = 0;
  LoadArgs load;
  bool json = false;
  bool no_bos = false;
  bool special = false;
  bool ignore_eos = false;
};

constexpr const char* kDemoModel = "bitnet-kjv-4m.gguf";

// The model to use without --model: $BITNET_MODEL, else the shipped demo model in models/ of the source tree
// (found from the executable: build/bin/ -> ../../models/) or beside an installed bin/ (../models/), else in the
// source tree this was built from (a build directory outside it).
Result<std::string> default_model() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("BITNET_MODEL"); env != nullptr && *env != '\0') return std::string(env);
  std::string looked = "$BITNET_MODEL is not set";
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const char* rel : {"../../models", "../models"}) {
      const fs::path candidate = (exe.parent_path() / rel / kDemoModel).lexically_normal();
      if (fs::is_regular_file(candidate, ec)) return candidate.string();
      looked += ", no " + candidate.string();
    }
  }
  const fs::path built_from = fs::path(BITNET_SOURCE_MODELS_DIR) / kDemoModel;
  if (fs::is_regular_file(built_from, ec)) return built_from.string();
  looked += ", no " + built_from.string();
  return not_found("no --model given and no default model found (" + looked + ")");
}

int run_inference(const InferenceArgs& args) {
  InferenceArgs a = args;
  if (a.model.empty()) {
    auto found = default_model();
    if (!found.ok()) return fail(found.status().to_string());
    a.model = found.value();
  }
  LoadOptions lo;
  lo.n_threads = a.threads;
  lo.n_ctx = a.ctx_size;
  if (std::string err; !apply_load_options(a.load, lo, err)) return fail(err);
  auto model = Model::load(a.model, lo);
  if (!model.ok()) return fail(model.status().to_string());
  Model& m = *model.value();
  note_load(m.info());

  GenerationConfig cfg;
  cfg.max_tokens = a.n_predict;
  apply_sampling(a.sampling, cfg);
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
  sub->add_option(
         "-m,--model", a->model,
         std::string("Model file (GGUF); default: $BITNET_MODEL, else models/") + kDemoModel + " of the source tree")
      ->check(CLI::ExistingFile);
  sub->add_option("-p,--prompt", a->prompt, "Prompt text (empty: start from BOS alone)");
  sub->add_option("--prompt-ids", a->prompt_ids, "Prompt as token ids, e.g. \"1 450 4996\" (overrides --prompt)");
  sub->add_option("-n,--n-predict", a->n_predict, "Tokens to generate at most")
      ->check(at_least(0))
      ->capture_default_str();
  add_sampling_options(sub, a->sampling);
  sub->add_option("-t,--threads", a->threads, "Threads (default: one per CPU this process may run on)")
      ->check(at_least(0));
  sub->add_option("-c,--ctx-size", a->ctx_size, "Context size in tokens (default: the model's, at most 4096)")
      ->check(at_least(0));
  add_load_options(sub, a->load);
  sub->add_flag("--json", a->json, "Print one JSON object (tokens, text, timings) instead of streaming");
  sub->add_flag("--no-bos", a->no_bos, "Do not prepend the BOS token to the prompt");
  sub->add_flag("--special", a->special, "Recognise special-token text such as <s> in the prompt");
  sub->add_flag("--ignore-eos", a->ignore_eos, "Keep generating past end-of-sequence tokens");
  out.push_back({sub, [a] { return run_inference(*a); }});
}

}  // namespace bitnet::cli
