// OpenAI response JSON, field for field as api.openai.com sends it (the parts clients read).
#include "openai_format.hpp"

#include <atomic>
#include <chrono>
#include <random>

namespace bitnet::server {

using nlohmann::json;

json usage_json(int prompt_tokens, int completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

namespace {
json head(const ResponseMeta& m, const char* object) {
  return {
      {"id", m.id}, {"object", object}, {"created", m.created}, {"model", m.model}, {"system_fingerprint", nullptr}};
}
json reason(const std::string& r) { return r.empty() ? json(nullptr) : json(r); }
}  // namespace

json completion_json(const ResponseMeta& m, const std::string& text, const std::string& finish_reason,
                     int prompt_tokens, int completion_tokens) {
  json j = head(m, m.chat ? "chat.completion" : "text_completion");
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", reason(finish_reason)}};
  if (m.chat)
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  else
    choice["text"] = text;
  j["choices"] = json::array({choice});
  j["usage"] = usage_json(prompt_tokens, completion_tokens);
  return j;
}

json chunk_json(const ResponseMeta& m, const std::string& text, const std::string& finish_reason, bool role) {
  json j = head(m, m.chat ? "chat.completion.chunk" : "text_completion");
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", reason(finish_reason)}};
  if (m.chat) {
    json delta = json::object();
    if (role) delta["role"] = "assistant";
    if (role || !text.empty()) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  j["choices"] = json::array({choice});
  return j;
}

json usage_chunk_json(const ResponseMeta& m, int prompt_tokens, int completion_tokens) {
  json j = head(m, m.chat ? "chat.completion.chunk" : "text_completion");
  j["choices"] = json::array();
  j["usage"] = usage_json(prompt_tokens, completion_tokens);
  return j;
}

json models_json(const std::string& model_id, int64_t created) {
  return {
      {"object", "list"},
      {"data", json::array({{{"id", model_id}, {"object", "model"}, {"created", created}, {"owned_by", "bitnet"}}})}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string sse_event(const json& j) { return "data: " + dump(j) + "\n\n"; }

std::string new_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  const uint64_t n = counter.fetch_add(1) ^ (salt << 20);
  char buf[17];
  static const char* hex = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) buf[i] = hex[(n >> (60 - 4 * i)) & 15];
  buf[16] = '\0';
  return std::string(prefix) + buf;
}

}  // namespace bitnet::server
