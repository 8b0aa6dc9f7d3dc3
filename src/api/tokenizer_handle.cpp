// bitnet::TokenizerHandle: the public face of a Tokenizer loaded from a file's metadata alone.
#include <exception>
#include <new>

#include "api/guarded.hpp"
#include "bitnet/tokenizer.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {
struct TokenizerHandle::Impl {
  std::unique_ptr<Tokenizer> tokenizer;
};

TokenizerHandle::TokenizerHandle() : impl_(std::make_unique<Impl>()) {}
TokenizerHandle::~TokenizerHandle() = default;

Result<std::unique_ptr<TokenizerHandle>> TokenizerHandle::load(const std::string& path) {
  return guarded([&]() -> Result<std::unique_ptr<TokenizerHandle>> {
    Result<Vocab> vocab = vocab_from_file(path);
    if (!vocab.ok()) return vocab.status();
    auto tok = Tokenizer::create(std::move(vocab).value());
    if (!tok.ok()) return tok.status().with_context(path);
    std::unique_ptr<TokenizerHandle> h(new TokenizerHandle());
    h->impl_->tokenizer = std::move(tok).value();
    return h;
  });
}

int32_t TokenizerHandle::n_vocab() const { return impl_->tokenizer->n_vocab(); }
int32_t TokenizerHandle::bos() const { return impl_->tokenizer->bos(); }
int32_t TokenizerHandle::eos() const { return impl_->tokenizer->eos(); }
bool TokenizerHandle::wants_bos() const { return impl_->tokenizer->vocab().add_bos && bos() >= 0; }

Result<std::vector<int32_t>> TokenizerHandle::tokenize(std::string_view text, bool add_bos, bool parse_special) const {
  return guarded([&]() { return impl_->tokenizer->encode(text, add_bos, parse_special); });
}

Result<std::string> TokenizerHandle::detokenize(const std::vector<int32_t>& ids) const {
  return guarded([&]() -> Result<std::string> {
    for (const int32_t id : ids)
      if (id < 0 || id >= n_vocab())
        return out_of_range("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                            std::to_string(n_vocab() - 1) + ")");
    return impl_->tokenizer->decode(ids);
  });
}

Result<std::string> TokenizerHandle::token_text(int32_t id) const {
  if (id < 0 || id >= n_vocab())
    return out_of_range("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                        std::to_string(n_vocab() - 1) + ")");
  return impl_->tokenizer->vocab().tokens[static_cast<size_t>(id)];
}

}  // namespace bitnet
