// OpenAI's response shapes: whole completions (text_completion / chat.completion), streamed chunks
// (text_completion / chat.completion.chunk) as Server-Sent Events, and the model list.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace bitnet::server {

struct ResponseMeta {
  bool chat = false;
  std::string id;  // "cmpl-..." or "chatcmpl-..."
  int64_t created = 0;
  std::string model;
};

nlohmann::json usage_json(int prompt_tokens, int completion_tokens);
// A whole (non-streamed) response.
nlohmann::json completion_json(const ResponseMeta& m, const std::string& text, const std::string& finish_reason,
                               int prompt_tokens, int completion_tokens);
// A streamed chunk: chat chunks carry {"role"} first, then {"content"}; the last one an empty delta and the
// finish_reason. finish_reason "" -> null.
nlohmann::json chunk_json(const ResponseMeta& m, const std::string& text, const std::string& finish_reason,
                          bool role = false);
// The extra last chunk of stream_options.include_usage: no choices, the usage.
nlohmann::json usage_chunk_json(const ResponseMeta& m, int prompt_tokens, int completion_tokens);
nlohmann::json models_json(const std::string& model_id, int64_t created);

// One SSE event: "data: <json>\n\n" (invalid UTF-8 replaced, never thrown on).
std::string sse_event(const nlohmann::json& j);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";
// JSON text for a response body (invalid UTF-8 replaced).
std::string dump(const nlohmann::json& j);
// A fresh id with the given prefix ("cmpl-", "chatcmpl-").
std::string new_id(const char* prefix);

}  // namespace bitnet::server
