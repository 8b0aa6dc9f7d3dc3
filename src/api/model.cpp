// bitnet::Model: ties the GGUF file, the weights, the tokenizer and one forward-pass session together.
// Every entry point catches exceptions (allocation failure) and returns a Status.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <system_error>

#include "api/guarded.hpp"
#include "api/model_impl.hpp"
#include "bitnet/bitnet.hpp"
#include "core/cpu_features.hpp"
#include "core/thread_pool.hpp"
#include "formats/gguf.hpp"
#include "inference/sampler.hpp"
#include "model/forward.hpp"
#include "model/weights.hpp"
#include "quant/quant.hpp"
#include "quant/ternary.hpp"
#include "tokenizer/chat_template.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {

namespace {
constexpr int kMaxDefaultCtx = 4096;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

uint32_t kv_quant_type(KvType type) {
  switch (type) {
    case KvType::kF32:
      return quant::kF32;
    case KvType::kQ8_0:
      return quant::kQ8_0;
    case KvType::kF16:
      break;
  }
  return quant::kF16;
}

}  // namespace

const char* kv_type_name(KvType type) {
  switch (type) {
    case KvType::kF32:
      return "f32";
    case KvType::kQ8_0:
      return "q8_0";
    case KvType::kF16:
      break;
  }
  return "f16";
}

Result<KvType> parse_kv_type(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (KvType t : {KvType::kF32, KvType::kF16, KvType::kQ8_0})
    if (lower == kv_type_name(t)) return t;
  return invalid_argument("unknown KV cache type '" + std::string(name) + "' (choose f32, f16 or q8_0)");
}

Model::Model() : impl_(std::make_unique<Impl>()) {}
Model::~Model() = default;

const ModelInfo& Model::info() const { return impl_->info; }

Model::HugePages Model::wait_for_huge_pages() {
  const HugePageBuffer::HugePages w = impl_->weights->repacked.wait_huge_pages();
  const HugePageBuffer::HugePages kv = impl_->forward->wait_huge_pages();
  constexpr double kStepMb = 2.0 * 1024 * 1024 / 1e6;  // MB (10^6 bytes, as bench prints sizes) in a 2 MB page
  return HugePages{static_cast<double>(w.moved + kv.moved) * kStepMb, static_cast<double>(w.total + kv.total) * kStepMb,
                   w.ms > kv.ms ? w.ms : kv.ms, w.unsupported || kv.unsupported};
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const LoadOptions& options) {
  return guarded([&]() -> Result<std::unique_ptr<Model>> {
    const auto t0 = std::chrono::steady_clock::now();
    if (options.n_threads < 0) return invalid_argument("n_threads must be >= 0");
    if (options.n_threads > ThreadPool::kMaxThreads)
      return invalid_argument("n_threads " + std::to_string(options.n_threads) + " is more than " +
                              std::to_string(ThreadPool::kMaxThreads) + ", the most a model runs on");
    if (options.n_ctx < 0) return invalid_argument("n_ctx must be >= 0");
    if (options.kv_type != KvType::kF32 && options.kv_type != KvType::kF16 && options.kv_type != KvType::kQ8_0)
      return invalid_argument("unknown KV cache type " + std::to_string(static_cast<int>(options.kv_type)));
    std::unique_ptr<Model> m(new Model());
    Impl& im = *m->impl_;
    // With repack_float the file is mapped in 4 KB pages where it has float layer matrices: their ternary ones are
    // copied out and their pages dropped, and a mapping in 2 MB pages touches the whole file first (a 2B-4T F16 file:
    // peak RSS 4.15 GB against 0.73 GB, generation the same within noise, bench -n 32, three alternations).
    auto file = gguf::File::open(path, /*weights=*/!options.repack_float);
    if (file.ok() && options.repack_float && !model::float_ternary_possible(**file))
      file = gguf::File::open(path, /*weights=*/true);  // nothing to take: mapped as without the option
    if (!file.ok()) return file.status();  // names the file already
    im.file = std::move(file).value();
    auto weights = model::load_weights(*im.file, options.repack_i2s, options.repack_float);
    if (!weights.ok()) return weights.status().with_context(path);
    im.weights = std::move(weights).value();
    auto vocab = take_vocab_from_gguf(*im.file);  // the file stays open for its tensors
    if (!vocab.ok()) return vocab.status().with_context(path);
    if (vocab->size() != im.weights->hp.n_vocab)
      return format_error(path + ": the tokenizer has " + std::to_string(vocab->size()) +
                          " tokens but the embedding has " + std::to_string(im.weights->hp.n_vocab) + " rows");
    BITNET_ASSIGN_OR_RETURN(im.tokenizer, Tokenizer::create(std::move(vocab).value()));

    const model::HParams& hp = im.weights->hp;
    int64_t n_ctx = options.n_ctx > 0 ? options.n_ctx : std::min<int64_t>(hp.n_ctx_train, kMaxDefaultCtx);
    const int n_threads = options.n_threads > 0 ? options.n_threads : ThreadPool::default_threads();
    // More threads than CPUs take turns, and each job waits for its slowest share: large I2_S generation on 2 CPUs
    // ran at 126-132 tok/s with 4 threads and 105-116 with 8, against about 190 with 2. Said, not overruled.
    if (const int cpus = ThreadPool::usable_cpus(); n_threads > cpus)
      std::fprintf(stderr,
                   "bitnet: %d threads on the %d CPU%s this process may use: threads will take turns, slower than "
                   "%d (leave the thread count unset for one a CPU)\n",
                   n_threads, cpus, cpus == 1 ? "" : "s", cpus);
    try {
      im.pool = std::make_unique<ThreadPool>(n_threads);
    } catch (const std::system_error& e) {
      return out_of_range("could not start " + std::to_string(n_threads) + " threads (" + e.what() +
                          "): a thread or memory limit of the system; use fewer");
    }
    const uint32_t kv_type = kv_quant_type(options.kv_type);
    if (Status s = model::KvCache::check(hp, kv_type); !s.ok()) return s.with_context(path);
    try {
      im.forward = std::make_unique<model::Forward>(*im.weights, n_ctx, *im.pool, kv_type);
    } catch (const std::bad_alloc&) {
      char gb[32];
      std::snprintf(gb, sizeof gb, "%.1f GB", static_cast<double>(model::KvCache::bytes_for(hp, n_ctx, kv_type)) / 1e9);
      return out_of_range("a context of " + std::to_string(n_ctx) + " positions does not fit in memory (its " +
                          kv_type_name(options.kv_type) + " KV cache alone takes " + gb +
                          "): use a smaller context size");
    }

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
    const model::Linear& wq = im.weights->layers.front().wq;
    info.weight_type = quant::type_name(wq.file_type);
    if (wq.ternary && !quant::find_type(wq.file_type)->ternary) info.weight_type += " (ternary at load)";
    info.float_ternary_weights = !options.repack_float && !wq.ternary && model::float_ternary_possible(*im.file) &&
                                 quant::float_to_ternary(wq.rows.type, wq.rows.data, wq.in, 1).ok();
    info.isa = isa_description(im.forward->isa());
    info.kv_type = kv_type_name(options.kv_type);
    info.kv_cache_bytes = im.forward->kv_bytes();
    info.weight_bytes_per_token = model::weight_bytes_per_token(*im.weights);
    info.layer_macs_per_token = model::layer_macs_per_token(*im.weights);
    auto chat_template = im.file->get_string_or("tokenizer.chat_template", "");
    if (!chat_template.ok()) return chat_template.status().with_context(path);
    info.chat_template = std::move(chat_template).value();
    im.weights->repacked.start_huge_pages();  // in the background, once nothing reads them for a while
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
    impl_->reset_context();
    std::vector<float> logits;
    BITNET_RETURN_IF_ERROR(impl_->forward->eval(ids.data(), static_cast<int64_t>(ids.size()), true, logits));
    impl_->context = ids;
    return logits;
  });
}

Result<std::vector<float>> Model::evaluate_continue(const std::vector<int32_t>& ids) {
  return guarded([&]() -> Result<std::vector<float>> {
    Impl& im = *impl_;
    if (ids.empty()) return invalid_argument("no token ids to evaluate");
    const std::vector<int32_t> todo = im.pending_plus(ids);
    const int64_t n_ctx = im.forward->n_ctx();
    if (im.forward->n_past() + static_cast<int64_t>(todo.size()) > n_ctx)
      return out_of_range("context is full: " + std::to_string(im.context.size()) + " tokens in context + " +
                          std::to_string(ids.size()) + " new exceed the context size " + std::to_string(n_ctx));
    std::vector<float> logits;
    if (Status s = im.forward->eval(todo.data(), static_cast<int64_t>(todo.size()), true, logits); !s.ok()) {
      im.reset_context();
      return s;
    }
    im.context.insert(im.context.end(), ids.begin(), ids.end());
    // Drop the rows of the pending token evaluated first.
    const size_t skip = (todo.size() - ids.size()) * static_cast<size_t>(im.info.n_vocab);
    logits.erase(logits.begin(), logits.begin() + static_cast<std::ptrdiff_t>(skip));
    return logits;
  });
}

const std::vector<int32_t>& Model::context_tokens() const { return impl_->context; }

void Model::clear_context() { impl_->reset_context(); }

Result<std::string> Model::apply_chat_template(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                               const std::string& template_name) const {
  return guarded([&]() -> Result<std::string> {
    BITNET_ASSIGN_OR_RETURN(const chat::ChatFormat format,
                            chat::resolve_format(template_name, impl_->info.chat_template));
    const Vocab& v = impl_->tokenizer->vocab();
    chat::SpecialTexts special;
    if (v.bos >= 0) special.bos = v.tokens[v.bos];
    if (v.eos >= 0) special.eos = v.tokens[v.eos];
    return chat::render(format, messages, add_generation_prompt, special);
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
  return guarded([&]() -> Result<GenerationResult> { return impl_->run(prompt_ids, true, cfg, on_token); });
}

Result<GenerationResult> Model::generate_continue(const std::vector<int32_t>& new_ids, const GenerationConfig& cfg,
                                                  const TokenCallback& on_token) {
  return guarded([&]() -> Result<GenerationResult> { return impl_->run(new_ids, false, cfg, on_token); });
}

// One generation: evaluate the new ids as one batch (after the context, or from an empty one when `fresh`),
// then sample token by token until EOS, max_tokens, the callback or the end of the context.
Result<GenerationResult> Model::Impl::run(const std::vector<int32_t>& new_ids, bool fresh, const GenerationConfig& cfg,
                                          const TokenCallback& on_token) {
  if (cfg.max_tokens < 0) return invalid_argument("max_tokens must be >= 0");
  const int64_t n_ctx = forward->n_ctx();
  if (fresh) {
    if (new_ids.empty()) return invalid_argument("the prompt is empty (and the model has no BOS token to start from)");
    if (static_cast<int64_t>(new_ids.size()) >= n_ctx)
      return invalid_argument("the prompt has " + std::to_string(new_ids.size()) +
                              " tokens, which does not fit the context of " + std::to_string(n_ctx) +
                              " (shorten the prompt or raise the context size)");
    reset_context();
  }
  const std::vector<int32_t> todo = pending_plus(new_ids);
  if (todo.empty()) return invalid_argument("nothing to continue from: no new tokens and an empty context");
  if (forward->n_past() + static_cast<int64_t>(todo.size()) >= n_ctx)
    return out_of_range("context is full: " + std::to_string(context.size()) + " tokens in context + " +
                        std::to_string(new_ids.size()) + " new leave no room to generate in the context of " +
                        std::to_string(n_ctx) + " (start over, or raise the context size)");

  GenerationResult res;
  res.prompt_tokens = new_ids;
  res.load_ms = load_ms;
  inference::Sampler sampler(sampler_params(cfg));
  for (int32_t id : context) sampler.accept(id);
  for (int32_t id : new_ids) sampler.accept(id);

  // A failed forward pass leaves the KV cache half written: start over rather than keep a broken context.
  auto eval = [&](const int32_t* ids, int64_t n, std::vector<float>& logits) {
    Status s = forward->eval(ids, n, false, logits);
    if (!s.ok()) reset_context();
    return s;
  };
  std::vector<float> logits;
  auto t0 = std::chrono::steady_clock::now();
  BITNET_RETURN_IF_ERROR(eval(todo.data(), static_cast<int64_t>(todo.size()), logits));
  context.insert(context.end(), new_ids.begin(), new_ids.end());
  res.prompt_ms = ms_since(t0);

  const bool after_bos = fresh && new_ids.size() == 1 && new_ids[0] == tokenizer->bos();
  StreamDecoder decoder(*tokenizer, after_bos);
  res.stop_reason = "length";
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < cfg.max_tokens; ++i) {
    const int32_t id = sampler.sample(logits);
    if (cfg.stop_at_eos && tokenizer->is_eog(id)) {
      res.stop_reason = "eos";
      break;
    }
    res.tokens.push_back(id);
    context.push_back(id);
    sampler.accept(id);
    const std::string piece = decoder.push(id);
    res.text += piece;
    if (on_token && !on_token(piece, id)) {
      res.stop_reason = "callback";
      break;
    }
    if (i + 1 == cfg.max_tokens) break;
    if (forward->n_past() >= n_ctx) {
      res.stop_reason = "context";
      break;
    }
    BITNET_RETURN_IF_ERROR(eval(&id, 1, logits));
  }
  const std::string rest = decoder.flush();
  if (!rest.empty()) {
    res.text += rest;
    if (on_token) on_token(rest, -1);
  }
  res.generate_ms = ms_since(t0);
  res.n_context = static_cast<int64_t>(context.size());
  return res;
}

}  // namespace bitnet
