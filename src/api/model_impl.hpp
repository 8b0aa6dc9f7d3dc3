// Model::Impl, shared by the files that implement bitnet::Model (model.cpp: loading and single-sequence
// generation; sequence.cpp: batched sequences).
#pragma once

#include <memory>
#include <vector>

#include "bitnet/bitnet.hpp"
#include "core/thread_pool.hpp"
#include "formats/gguf.hpp"
#include "inference/sampler.hpp"
#include "model/forward.hpp"
#include "model/weights.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {

inline inference::SamplerParams sampler_params(const GenerationConfig& cfg) {
  inference::SamplerParams sp;
  sp.temperature = cfg.temperature;
  sp.top_k = cfg.top_k;
  sp.top_p = cfg.top_p;
  sp.min_p = cfg.min_p;
  sp.repeat_penalty = cfg.repeat_penalty;
  sp.repeat_last_n = cfg.repeat_last_n;
  sp.presence_penalty = cfg.presence_penalty;
  sp.frequency_penalty = cfg.frequency_penalty;
  sp.seed = cfg.seed;
  return sp;
}

struct Model::Impl {
  std::unique_ptr<gguf::File> file;
  std::unique_ptr<model::Weights> weights;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<model::Forward> forward;
  ModelInfo info;
  double load_ms = 0;
  // The tokens of the current context. Every one but possibly the last is in the KV cache: a token generated
  // last is evaluated by the next call that continues (so n_past is context.size() or context.size() - 1).
  std::vector<int32_t> context;
  // decode_batch's reusable token list.
  std::vector<model::BatchToken> batch;

  void reset_context() {
    forward->truncate(0);
    context.clear();
  }
  // The context tokens not yet in the KV cache, followed by `ids`: what a continuing call must evaluate.
  std::vector<int32_t> pending_plus(const std::vector<int32_t>& ids) const {
    std::vector<int32_t> out(context.begin() + forward->n_past(), context.end());
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
  }
  Result<GenerationResult> run(const std::vector<int32_t>& new_ids, bool fresh, const GenerationConfig& cfg,
                               const TokenCallback& on_token);
};

}  // namespace bitnet
