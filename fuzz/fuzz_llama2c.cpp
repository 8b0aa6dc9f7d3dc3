// libFuzzer target: llama2.c import. An input is a little-endian u32 n, n bytes of checkpoint (llama2.c's float .bin,
// or bitllama2.c's ternary one where it starts with that format's magic, "ak42" read as a u32) and the rest a
// llama2.c tokenizer.bin. convert_llama2c writes a GGUF; what converts must load and generate a token.
#include <cstdlib>
#include <cstring>
#include <string>

#include "bitnet/bitnet.hpp"
#include "fuzz_files.hpp"

namespace {
std::string g_checkpoint, g_tokenizer, g_gguf;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("BITNET_HUGE_PAGES", "0", 1);
  g_checkpoint = bitnet::fuzz::scratch_path("checkpoint.bin");
  g_tokenizer = bitnet::fuzz::scratch_path("tokenizer.bin");
  g_gguf = bitnet::fuzz::scratch_path("converted.gguf");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  uint32_t n = 0;
  std::memcpy(&n, data, 4);
  data += 4;
  size -= 4;
  if (n > size) n = static_cast<uint32_t>(size);
  if (!bitnet::fuzz::write_file(g_checkpoint, data, n) || !bitnet::fuzz::write_file(g_tokenizer, data + n, size - n))
    return 0;
  bitnet::fuzz::map_from_heap(g_checkpoint);
  const bool ternary = n >= 4 && std::memcmp(data, "24ka", 4) == 0;
  if (!bitnet::convert_llama2c(ternary ? "bitllama2c" : "llama2c", g_checkpoint, g_tokenizer, g_gguf).ok()) return 0;
  bitnet::fuzz::map_from_heap(g_gguf);
  bitnet::LoadOptions options;
  options.n_threads = 1;
  options.n_ctx = 32;
  auto loaded = bitnet::Model::load(g_gguf, options);
  if (!loaded.ok()) return 0;
  bitnet::GenerationConfig config;
  config.max_tokens = 1;
  config.temperature = 0.0f;
  (void)(*loaded)->generate("abc", config);
  return 0;
}
