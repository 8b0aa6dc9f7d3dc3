// libFuzzer target: a tokenizer file, as TokenizerHandle::load reads it by its name's extension
// (BITNET_FUZZ_TOKENIZER_EXT: ".json" for tokenizer.json, ".model" for SentencePiece, ".gguf" for a GGUF vocabulary;
// one target each). Whatever loads then encodes and decodes a few texts, with and without special tokens.
#include <cstdlib>
#include <string>
#include <vector>

#include "bitnet/tokenizer.hpp"
#include "fuzz_files.hpp"

namespace {
std::string g_path;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("BITNET_HUGE_PAGES", "0", 1);
  g_path = bitnet::fuzz::scratch_path("tokenizer" BITNET_FUZZ_TOKENIZER_EXT);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!bitnet::fuzz::write_file(g_path, data, size)) return 0;
  bitnet::fuzz::map_from_heap(g_path);
  auto loaded = bitnet::TokenizerHandle::load(g_path);
  if (!loaded.ok()) return 0;
  const bitnet::TokenizerHandle& t = **loaded;
  static const char* const kTexts[] = {"Hello world! 123 the", " <s></s><unk> <|begin_of_text|><|eot_id|> x",
                                       "\xc3\xb1 \xe6\x97\xa5\xe6\x9c\xac\n\t  \r\n", "\xff\xfe\xc3 \xe2\x82", ""};
  for (const char* text : kTexts) {
    for (const bool special : {false, true}) {
      auto ids = t.tokenize(text, true, special);
      if (ids.ok()) (void)t.detokenize(*ids);
    }
  }
  std::vector<int32_t> first;
  for (int32_t id = 0; id < t.n_vocab() && id < 600; ++id) first.push_back(id);
  (void)t.detokenize(first);
  (void)t.token_text(t.n_vocab() - 1);
  (void)t.token_text(t.bos());
  (void)t.token_text(t.eos());
  return 0;
}
