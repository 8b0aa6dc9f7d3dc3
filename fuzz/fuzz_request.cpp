// libFuzzer target: the server's request parser (tools/server/request_parser.hpp) on a JSON body, against a tiny
// synthesized model made once. Byte 0 picks /v1/completions or /v1/chat/completions and the chat template; the rest
// is the body. A parsed request's prompt is then detokenized, as the server does when it echoes text.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <variant>

#include "bitnet/bitnet.hpp"
#include "bitnet/synth.hpp"
#include "fuzz_files.hpp"
#include "request_parser.hpp"

namespace {
std::unique_ptr<bitnet::Model> g_model;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string path = bitnet::fuzz::scratch_path("request-model.gguf");
  bitnet::SynthOptions synth;
  synth.head = "q8_0";
  bitnet::Status made = bitnet::synthesize_model(synth, path);
  if (made.ok()) {
    bitnet::LoadOptions options;
    options.n_threads = 1;
    options.n_ctx = 64;
    auto loaded = bitnet::Model::load(path, options);
    if (loaded.ok()) g_model = std::move(loaded).value();
    made = loaded.status();
  }
  if (!made.ok()) {
    std::fprintf(stderr, "fuzz_request: the tiny model: %s\n", made.message().c_str());
    std::exit(2);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const char* const kTemplates[] = {"bitnet", "llama3", "llama2", "chatml", "{{ '<|im_start|>' }}", "", "?"};
  bitnet::server::ParseLimits limits;
  limits.model_id = "m";
  limits.chat_template = kTemplates[(data[0] >> 1) % (sizeof kTemplates / sizeof kTemplates[0])];
  limits.max_tokens_limit = 256;
  limits.n_ctx = 64;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  auto parsed = bitnet::server::parse_completion_request(body, (data[0] & 1) != 0, *g_model, limits);
  if (auto* request = std::get_if<bitnet::server::CompletionRequest>(&parsed))
    (void)g_model->detokenize(request->prompt);
  return 0;
}
