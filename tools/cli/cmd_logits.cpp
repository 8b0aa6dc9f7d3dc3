// bitnet-cli logits: evaluate a list of token ids as one prompt (batches of up to 512 tokens, the same logits as one
// batch) and write every position's logits as little-endian float32 [n_ids][n_vocab]: the tool for comparing this
// engine with another.
#include <cstdio>
#include <fstream>
#include <iostream>

#include "bitnet/bitnet.hpp"
#include "commands.hpp"

namespace bitnet::cli {
namespace {

struct LogitsArgs {
  std::string model, ids, out;
  int threads = 0;
  int ctx_size = 0;
  LoadArgs load;
};

int run_logits(const LogitsArgs& a) {
  std::ifstream in(a.ids);
  if (!in) return fail("cannot open '" + a.ids + "'");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<int32_t> ids;
  std::string err;
  if (!parse_ids(text, ids, err)) return fail(a.ids + ": " + err);
  if (ids.empty()) return fail(a.ids + ": no token ids");
  LoadOptions lo;
  lo.n_threads = a.threads;
  lo.n_ctx = a.ctx_size > 0 ? a.ctx_size : 0;
  if (std::string err; !apply_load_options(a.load, lo, err)) return fail(err);
  auto model = Model::load(a.model, lo);
  if (!model.ok()) return fail(model.status().to_string());
  auto logits = model.value()->evaluate(ids);
  if (!logits.ok()) return fail(logits.status().to_string());
  std::ofstream out(a.out, std::ios::binary);
  if (!out) return fail("cannot create '" + a.out + "'");
  // float32 little-endian: the host order on every platform this engine builds for (x86-64, aarch64, wasm).
  out.write(reinterpret_cast<const char*>(logits->data()),
            static_cast<std::streamsize>(logits->size() * sizeof(float)));
  if (!out) return fail("cannot write '" + a.out + "'");
  std::fprintf(stderr, "wrote %zu x %lld logits to %s\n", ids.size(),
               static_cast<long long>(model.value()->info().n_vocab), a.out.c_str());
  return 0;
}

}  // namespace

void add_logits(CLI::App& app, std::vector<Command>& out) {
  auto a = std::make_shared<LogitsArgs>();
  CLI::App* sub =
      app.add_subcommand("logits", "Write the logits of every position of a token-id list (float32 [n][n_vocab])");
  sub->add_option("-m,--model", a->model, "Model file (GGUF)")->required()->check(CLI::ExistingFile);
  sub->add_option("--ids", a->ids, "File of space-separated token ids")->required()->check(CLI::ExistingFile);
  sub->add_option("-o,--out", a->out, "Output file")->required();
  sub->add_option("-t,--threads", a->threads, "Threads (default: one per CPU this process may run on)")
      ->check(at_least(0));
  sub->add_option("-c,--ctx-size", a->ctx_size, "Context size (default: the model's)")->check(at_least(0));
  add_load_options(sub, a->load);
  out.push_back({sub, [a] { return run_logits(*a); }});
}

}  // namespace bitnet::cli
