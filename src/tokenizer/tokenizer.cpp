// Model-independent parts of the tokenizer: choosing the implementation for a vocabulary, decoding ids to
// text, and the streaming decoder that never hands out half a UTF-8 character.
#include "tokenizer/tokenizer.hpp"

#include <string>

#include "tokenizer/bpe.hpp"
#include "tokenizer/spm.hpp"
#include "tokenizer/utf8.hpp"

namespace bitnet {

Result<std::unique_ptr<Tokenizer>> Tokenizer::create(Vocab vocab) {
  BITNET_RETURN_IF_ERROR(check_vocab(vocab));
  if (vocab.model == "llama") return std::unique_ptr<Tokenizer>(new SpmTokenizer(std::move(vocab)));
  if (vocab.model == "gpt2") return BpeTokenizer::create(std::move(vocab));
  return unsupported("tokenizer model '" + vocab.model + "' is not supported (only 'llama' and 'gpt2')");
}

// The encoder put one space in front of the text; it comes back as the first character of the first piece
// that has any text (pieces of BOS and other control tokens are empty). llama2.c strips it the same way,
// after BOS.
std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string text;
  bool strip = vocab_.add_space_prefix;
  for (const int32_t id : ids) {
    std::string piece = token_to_piece(id, false);
    if (piece.empty()) continue;
    if (strip && piece[0] == ' ') piece.erase(0, 1);
    strip = false;
    text += piece;
  }
  return text;
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool strip_leading_space)
    : tokenizer_(tokenizer), strip_leading_space_(strip_leading_space && tokenizer.vocab().add_space_prefix) {}

std::string StreamDecoder::push(int32_t id) {
  std::string piece = tokenizer_.token_to_piece(id, false);
  if (piece.empty()) return {};
  if (first_) {
    if (strip_leading_space_ && piece[0] == ' ') piece.erase(0, 1);
    first_ = false;
  }
  pending_ += piece;
  // Hand out everything up to a character still waiting for its continuation bytes (byte-fallback tokens
  // spell a multi-byte character one byte per token).
  const size_t keep = utf8::incomplete_tail(pending_);
  std::string out = pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace bitnet
