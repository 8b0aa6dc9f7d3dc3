// bitnet::Sequence and Model's batched entry points: several sequences, each with its own KV cache, sampler
// and text decoder, evaluated together by one forward pass per step (continuous batching in the server).
#include <optional>

#include "api/guarded.hpp"
#include "api/model_impl.hpp"
#include "model/kv_cache.hpp"

namespace bitnet {

struct Sequence::Impl {
  const Tokenizer* tokenizer = nullptr;
  std::unique_ptr<model::KvCache> cache;
  std::optional<inference::Sampler> sampler;
  std::optional<StreamDecoder> decoder;
  std::vector<float> logits;  // the row sample() works on (the penalties modify it)
};

Sequence::Sequence() : impl_(std::make_unique<Impl>()) {}
Sequence::~Sequence() = default;

int64_t Sequence::n_ctx() const { return impl_->cache->n_ctx(); }
int64_t Sequence::n_past() const { return impl_->cache->n_past(); }

void Sequence::reset(const GenerationConfig& cfg, const std::vector<int32_t>& prompt) {
  Impl& im = *impl_;
  im.cache->truncate(0);
  im.sampler.emplace(sampler_params(cfg));
  for (int32_t id : prompt) im.sampler->accept(id);
  const bool after_bos = prompt.size() == 1 && prompt[0] == im.tokenizer->bos();
  im.decoder.emplace(*im.tokenizer, after_bos);
}

int32_t Sequence::sample(const float* logits) {
  Impl& im = *impl_;
  if (!im.sampler) im.sampler.emplace(inference::SamplerParams{});
  im.logits.assign(logits, logits + im.tokenizer->n_vocab());
  const int32_t id = im.sampler->sample(im.logits);
  im.sampler->accept(id);
  return id;
}

std::string Sequence::push_text(int32_t id) {
  if (!impl_->decoder) impl_->decoder.emplace(*impl_->tokenizer, false);
  try {
    return impl_->decoder->push(id);
  } catch (const std::exception&) {
    return std::string();
  }
}

std::string Sequence::flush_text() {
  if (!impl_->decoder) return std::string();
  try {
    return impl_->decoder->flush();
  } catch (const std::exception&) {
    return std::string();
  }
}

bool Sequence::is_end_of_generation(int32_t id) const { return impl_->tokenizer->is_eog(id); }

Result<std::unique_ptr<Sequence>> Model::new_sequence(int n_ctx) {
  return guarded([&]() -> Result<std::unique_ptr<Sequence>> {
    const int64_t max = impl_->forward->n_ctx();
    if (n_ctx < 0 || n_ctx > max)
      return invalid_argument("a sequence's context must be 1.." + std::to_string(max) + " (got " +
                              std::to_string(n_ctx) + ")");
    std::unique_ptr<Sequence> seq(new Sequence());
    seq->impl_->tokenizer = impl_->tokenizer.get();
    // The model's KV type, checked against its head size when it was loaded.
    const uint32_t kv_type = impl_->forward->kv_type();
    BITNET_RETURN_IF_ERROR(model::KvCache::check(impl_->weights->hp, kv_type));
    seq->impl_->cache = std::make_unique<model::KvCache>(impl_->weights->hp, n_ctx > 0 ? n_ctx : max, kv_type);
    return seq;
  });
}

Result<std::vector<float>> Model::decode_batch(const std::vector<BatchItem>& items) {
  return guarded([&]() -> Result<std::vector<float>> {
    Impl& im = *impl_;
    if (items.empty()) return invalid_argument("an empty batch");
    im.batch.clear();
    for (const BatchItem& item : items) {
      if (item.sequence == nullptr) return invalid_argument("a batch item has no sequence");
      if (item.tokens.empty()) return invalid_argument("a batch item has no tokens");
      model::KvCache* cache = item.sequence->impl_->cache.get();
      for (size_t i = 0; i < item.tokens.size(); ++i)
        im.batch.push_back({item.tokens[i], cache, i + 1 == item.tokens.size()});
    }
    // eval_batch sets the caches' positions only when the whole pass succeeded.
    std::vector<float> logits;
    BITNET_RETURN_IF_ERROR(im.forward->eval_batch(im.batch.data(), static_cast<int64_t>(im.batch.size()), logits));
    return logits;
  });
}

}  // namespace bitnet
