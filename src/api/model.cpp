// bitnet::Model: ties the GGUF file, the weights, the tokenizer and one forward-pass session together.
// Every entry point catches exceptions (allocation failure) and returns a Status.
#include <algorithm>
#include <chrono>
#include <exception>
#include <new>

#include "bitnet/bitnet.hpp"
#include "core/thread_pool.hpp"
#include "formats/gguf.hpp"
#include "inference/sampler.hpp"
#include "model/forward.hpp"
#include "model/weights.hpp"
#include "quant/quant.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {

namespace {
constexpr int kMaxDefaultCtx = 4096;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return out_of_range("out of memory");
  } catch (const std::exception& e) {
    return internal_error(std::string("unexpected exception: ") + e.what());
  }
}
}  // namespace

struct Model::Impl {
  std::unique_ptr<gguf::File> file;
  std::unique_ptr<model::Weights> weights;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<model::Forward> forward;
  ModelInfo info;
  double load_ms = 0;
};

Model::Model() : impl_(std::make_unique<Impl>()) {}
Model::~Model() = default;

const ModelInfo& Model::info() const { return impl_->info; }

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const LoadOptions& options) {
  return guarded([&]() -> Result<std::unique_ptr<Model>> {
    const auto t0 = std::chrono::steady_clock::now();
    if (options.n_threads < 0) return invalid_argument("n_threads must be >= 0");
    if (options.n_ctx < 0) return invalid_argument("n_ctx must be >= 0");
    std::unique_ptr<Model> m(new Model());
    Impl& im = *m->impl_;
    auto file = gguf::File::open(path);
    if (!file.ok()) return file.status().with_context(path);
    im.file = std::move(file).value();
    auto weights = model::load_weights(*im.file);
    if (!weights.ok()) return weights.status().with_context(path);
    im.weights = std::move(weights).value();
    auto vocab = vocab_from_gguf(*im.file);
    if (!vocab.ok()) return vocab.status().with_context(path);
    if (vocab->size() != im.weights->hp.n_vocab)
      return format_error(path + ": the tokenizer has " + std::to_string(vocab->size()) +
                          " tokens but the embedding has " + std::to_string(im.weights->hp.n_vocab) + " rows");
    BITNET_ASSIGN_OR_RETURN(im.tokenizer, Tokenizer::create(std::move(vocab).value()));

    const model::HParams& hp = im.weights->hp;
    int64_t n_ctx = options.n_ctx > 0 ? options.n_ctx : std::min<int64_t>(hp.n_ctx_train, kMaxDefaultCtx);
    const int n_threads = options.n_threads > 0 ? options.n_threads : ThreadPool::default_threads();
    im.pool = std::make_unique<ThreadPool>(n_threads);
    im.forward = std::make_unique<model::Forward>(*im.weights, n_ctx, *im.pool);

    ModelInfo& info = im.info;
    info.path = path;
    info.architecture = im.weights->arch->name;
    info.name = im.file->get_string_or("general.name", "").value();
    info.n_vocab = hp.n_vocab;
    info.n_embd = hp.n_embd;
    info.n_layer = hp.n_layer;
    info.n_head = hp.n_head;
    info.n_head_kv = hp.n_head_kv;
    info.n_ff = hp.n_ff;
    info.n_ctx_train = hp.n_ctx_train;
    info.rope_theta = hp.rope_theta;
    info.n_ctx = static_cast<int>(n_ctx);
    info.n_threads = n_threads;
    info.weight_type = quant::type_name(im.weights->layers.front().wq.file_type);
    im.load_ms = ms_since(t0);
    return m;
  });
}

Result<std::vector<int32_t>> Model::tokenize(std::string_view text, bool add_bos, bool parse_special) const {
  return guarded(
      [&]() -> Result<std::vector<int32_t>> { return impl_->tokenizer->encode(text, add_bos, parse_special); });
}

std::string Model::detokenize(const std::vector<int32_t>& ids) const {
  try {
    return impl_->tokenizer->decode(ids);
  } catch (const std::exception&) {
    return std::string();
  }
}

Result<std::vector<float>> Model::evaluate(const std::vector<int32_t>& ids) {
  return guarded([&]() -> Result<std::vector<float>> {
    if (ids.empty()) return invalid_argument("no token ids to evaluate");
    if (static_cast<int64_t>(ids.size()) > impl_->forward->n_ctx())
      return invalid_argument(std::to_string(ids.size()) + " ids do not fit the context of " +
                              std::to_string(impl_->forward->n_ctx()) + " (raise the context size)");
    impl_->forward->truncate(0);
    std::vector<float> logits;
    BITNET_RETURN_IF_ERROR(impl_->forward->eval(ids.data(), static_cast<int64_t>(ids.size()), true, logits));
    return logits;
  });
}

Result<GenerationResult> Model::generate(std::string_view prompt, const GenerationConfig& cfg,
                                         const TokenCallback& on_token) {
  auto ids = tokenize(prompt, cfg.add_bos, cfg.parse_special);
  if (!ids.ok()) return ids.status();
  return generate_ids(ids.value(), cfg, on_token);
}

Result<GenerationResult> Model::generate_ids(const std::vector<int32_t>& prompt_ids, const GenerationConfig& cfg,
                                             const TokenCallback& on_token) {
  return guarded([&]() -> Result<GenerationResult> {
    Impl& im = *impl_;
    if (cfg.max_tokens < 0) return invalid_argument("max_tokens must be >= 0");
    if (prompt_ids.empty())
      return invalid_argument("the prompt is empty (and the model has no BOS token to start from)");
    const int64_t n_ctx = im.forward->n_ctx();
    if (static_cast<int64_t>(prompt_ids.size()) >= n_ctx)
      return invalid_argument("the prompt has " + std::to_string(prompt_ids.size()) +
                              " tokens, which does not fit the context of " + std::to_string(n_ctx) +
                              " (shorten the prompt or raise the context size)");
    GenerationResult res;
    res.prompt_tokens = prompt_ids;
    res.load_ms = im.load_ms;
    inference::SamplerParams sp;
    sp.temperature = cfg.temperature;
    sp.top_k = cfg.top_k;
    sp.top_p = cfg.top_p;
    sp.min_p = cfg.min_p;
    sp.repeat_penalty = cfg.repeat_penalty;
    sp.repeat_last_n = cfg.repeat_last_n;
    sp.seed = cfg.seed;
    inference::Sampler sampler(sp);
    for (int32_t id : prompt_ids) sampler.accept(id);

    im.forward->truncate(0);
    std::vector<float> logits;
    auto t0 = std::chrono::steady_clock::now();
    BITNET_RETURN_IF_ERROR(im.forward->eval(prompt_ids.data(), static_cast<int64_t>(prompt_ids.size()), false, logits));
    res.prompt_ms = ms_since(t0);

    const bool after_bos = prompt_ids.size() == 1 && prompt_ids[0] == im.tokenizer->bos();
    StreamDecoder decoder(*im.tokenizer, after_bos);
    res.stop_reason = "length";
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < cfg.max_tokens; ++i) {
      const int32_t id = sampler.sample(logits);
      if (cfg.stop_at_eos && im.tokenizer->is_eog(id)) {
        res.stop_reason = "eos";
        break;
      }
      res.tokens.push_back(id);
      sampler.accept(id);
      const std::string piece = decoder.push(id);
      res.text += piece;
      if (on_token && !on_token(piece, id)) {
        res.stop_reason = "callback";
        break;
      }
      if (i + 1 == cfg.max_tokens) break;
      if (im.forward->n_past() >= n_ctx) {
        res.stop_reason = "context";
        break;
      }
      BITNET_RETURN_IF_ERROR(im.forward->eval(&id, 1, false, logits));
    }
    const std::string rest = decoder.flush();
    if (!rest.empty()) {
      res.text += rest;
      if (on_token) on_token(rest, -1);
    }
    res.generate_ms = ms_since(t0);
    return res;
  });
}

}  // namespace bitnet
