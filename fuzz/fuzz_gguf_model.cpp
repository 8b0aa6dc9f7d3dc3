// libFuzzer target: a GGUF model file. Model::load, then what a user does next: tokenize (with special tokens),
// generate two tokens greedily, detokenize, apply the chat template. Loading must refuse a bad file with an error,
// and whatever loads must run in bounds, with float matrices as float and as ternary (repack_float). BITNET_ISA picks
// the kernels as usual (run it again at avx2, scalar).
#include <cstdlib>
#include <string>

#include "bitnet/bitnet.hpp"
#include "fuzz_files.hpp"

namespace {
std::string g_path;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("BITNET_HUGE_PAGES", "0", 1);  // 2 MB-aligned file mappings use MAP_FIXED, which the heap copy cannot
  g_path = bitnet::fuzz::scratch_path("model.gguf");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!bitnet::fuzz::write_file(g_path, data, size)) return 0;
  bitnet::fuzz::map_from_heap(g_path);
  // Both ways: float matrices as float, and taken as ternary where they are (LoadOptions::repack_float).
  for (bool repack_float : {false, true}) {
    bitnet::LoadOptions options;
    options.n_threads = 1;
    options.n_ctx = 16;
    options.repack_float = repack_float;
    auto loaded = bitnet::Model::load(g_path, options);
    if (!loaded.ok()) continue;
    bitnet::Model& model = **loaded;
    auto ids = model.tokenize("hi <s> there", true, true);
    if (ids.ok()) {
      bitnet::GenerationConfig config;
      config.max_tokens = 2;
      config.temperature = 0.0f;
      auto out = model.generate_ids(*ids, config);
      if (out.ok()) (void)model.detokenize(out->tokens);
      (void)model.detokenize(*ids);
    }
    const std::vector<bitnet::ChatMessage> messages{{"system", "s"}, {"user", "hi"}};
    (void)model.apply_chat_template(messages, true);
  }
  return 0;
}
