// --kv-type, shared by the commands that load a model for generation (inference, chat, bench, serve, logits).
#include "commands.hpp"

namespace bitnet::cli {

void add_kv_type_option(CLI::App* sub, std::string& kv_type) {
  sub->add_option("--kv-type", kv_type,
                  "How the KV cache stores keys and values, per token: f16 (2 bytes a value, as llama.cpp and "
                  "bitnet.cpp store them), f32 (4 bytes, the most accurate), q8_0 (34 bytes per 32 values, a little "
                  "less accurate; needs a head size that is a multiple of 32)")
      ->check(CLI::IsMember({"f32", "f16", "q8_0"}, CLI::ignore_case))
      ->capture_default_str();
}

bool apply_kv_type(const std::string& kv_type, LoadOptions& lo, std::string& error) {
  auto t = parse_kv_type(kv_type);
  if (!t.ok()) {
    error = t.status().message();
    return false;
  }
  lo.kv_type = t.value();
  return true;
}

}  // namespace bitnet::cli
