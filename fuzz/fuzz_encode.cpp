// libFuzzer target: text through the real vocabularies (from the fixtures: Llama 3's tokenizer.json, GPT-2's and
// Llama's GGUF vocabularies, stories260K's SentencePiece model), loaded once. Byte 0 picks the tokenizer and whether
// BOS is added and special tokens parsed; the rest is the text. Encoding then decoding must not fail, and for the
// byte-level BPE vocabularies (no special tokens, no BOS) valid UTF-8 must come back byte for byte.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bitnet/tokenizer.hpp"

namespace {

std::vector<std::unique_ptr<bitnet::TokenizerHandle>> g_tokenizers;
constexpr size_t kByteLevel = 2;  // the first two are byte-level BPE

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (extra < 0 || i + static_cast<size_t>(extra) >= s.size() + (extra == 0 ? 1 : 0)) return false;
    uint32_t cp = extra == 0 ? c : c & (0x3fu >> extra);
    for (int k = 1; k <= extra; ++k) {
      const auto d = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    const uint32_t least[] = {0, 0x80, 0x800, 0x10000};
    if (cp < least[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += static_cast<size_t>(extra) + 1;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("BITNET_FIXTURES");
  const std::string dir = env != nullptr && *env != '\0' ? env : BITNET_DEFAULT_FIXTURES;
  for (const char* file : {"tokenizers/llama3/tokenizer.json", "tokenizers/gpt-2/ggml-vocab-gpt-2.gguf",
                           "tokenizers/llama-spm/ggml-vocab-llama-spm.gguf", "stories260k/tok512.model"}) {
    auto t = bitnet::TokenizerHandle::load(dir + "/" + file);
    if (!t.ok()) {
      std::fprintf(stderr, "fuzz_encode needs the fixtures (BITNET_FIXTURES, else %s): %s\n", dir.c_str(),
                   t.status().message().c_str());
      std::exit(2);
    }
    g_tokenizers.push_back(std::move(t).value());
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  const size_t which = data[0] % g_tokenizers.size();
  const bool special = (data[0] >> 2) & 1, bos = (data[0] >> 3) & 1;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const bitnet::TokenizerHandle& t = *g_tokenizers[which];
  auto ids = t.tokenize(text, bos, special);
  if (!ids.ok()) return 0;
  auto back = t.detokenize(*ids);
  if (!back.ok()) {
    std::fprintf(stderr, "detokenize failed after tokenize: %s\n", back.status().message().c_str());
    std::abort();
  }
  if (which < kByteLevel && !special && !bos && valid_utf8(text) && *back != text) {
    std::fprintf(stderr, "round trip through tokenizer %zu: %zu bytes in, %zu out\n", which, text.size(), back->size());
    std::abort();
  }
  return 0;
}
