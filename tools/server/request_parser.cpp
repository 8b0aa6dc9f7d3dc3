// Request validation: every field OpenAI defines that we honour is type- and range-checked; fields we do not
// implement but a client may send harmlessly are ignored; ones whose meaning we cannot honour (n > 1,
// logprobs) are refused rather than silently ignored.
#include "request_parser.hpp"

#include <optional>
#include <random>

namespace bitnet::server {
namespace {

using nlohmann::json;

// Depth of [ and { nesting outside strings; stops counting past the limit.
bool nesting_within(const std::string& s, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : s) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

// A number field in [lo, hi]; absent or null leaves `out` as it is.
std::optional<ApiError> number(const json& j, const char* key, double lo, double hi, float& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) return bad_request(std::string("'") + key + "' must be a number", key);
  const double v = it->get<double>();
  if (!(v >= lo && v <= hi))
    return bad_request(std::string("'") + key + "' must be between " + json(lo).dump() + " and " + json(hi).dump(),
                       key);
  out = static_cast<float>(v);
  return std::nullopt;
}

std::optional<ApiError> boolean(const json& j, const char* key, bool& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return bad_request(std::string("'") + key + "' must be a boolean", key);
  out = it->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> parse_stop(const json& j, std::vector<std::string>& out) {
  auto it = j.find("stop");
  if (it == j.end() || it->is_null()) return std::nullopt;
  constexpr size_t kMaxStops = 16, kMaxStopBytes = 256;
  auto add = [&](const json& s) -> std::optional<ApiError> {
    if (!s.is_string()) return bad_request("'stop' must be a string or an array of strings", "stop");
    const std::string& text = s.get_ref<const std::string&>();
    if (text.empty() || text.size() > kMaxStopBytes)
      return bad_request("each stop sequence must be 1.." + std::to_string(kMaxStopBytes) + " bytes", "stop");
    out.push_back(text);
    return std::nullopt;
  };
  if (it->is_array()) {
    if (it->size() > kMaxStops) return bad_request("at most " + std::to_string(kMaxStops) + " stop sequences", "stop");
    for (const json& s : *it)
      if (auto e = add(s)) return e;
    return std::nullopt;
  }
  return add(*it);
}

// A message's content: a string, null, or an array of {"type": "text", "text": ...} parts.
std::optional<ApiError> message_content(const json& c, std::string& out) {
  if (c.is_null()) return std::nullopt;
  if (c.is_string()) {
    out = c.get<std::string>();
    return std::nullopt;
  }
  if (c.is_array()) {
    for (const json& part : c) {
      const bool text_part = part.is_object() && part.contains("type") && part["type"].is_string() &&
                             part["type"].get_ref<const std::string&>() == "text" && part.contains("text") &&
                             part["text"].is_string();
      if (!text_part) return bad_request("only text content parts are supported", "messages");
      out += part["text"].get<std::string>();
    }
    return std::nullopt;
  }
  return bad_request("a message's 'content' must be a string or an array of text parts", "messages");
}

std::optional<ApiError> chat_prompt(const json& j, const Model& model, const ParseLimits& limits,
                                    std::vector<int32_t>& ids) {
  auto it = j.find("messages");
  if (it == j.end()) return bad_request("'messages' is required", "messages");
  if (!it->is_array() || it->empty()) return bad_request("'messages' must be a non-empty array", "messages");
  std::vector<ChatMessage> messages;
  for (const json& m : *it) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      return bad_request("each message must be an object with a string 'role'", "messages");
    ChatMessage msg;
    msg.role = m["role"].get<std::string>();
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "developer")
      return bad_request("unsupported message role '" + msg.role + "'", "messages");
    if (msg.role == "developer") msg.role = "system";
    if (auto e = message_content(m.value("content", json()), msg.content)) return e;
    messages.push_back(std::move(msg));
  }
  auto text = model.apply_chat_template(messages, true, limits.chat_template);
  if (!text.ok())
    return ApiError{400, "cannot render the conversation: " + text.status().message(), "invalid_request_error",
                    "messages", ""};
  auto tok = model.tokenize(text.value(), false, true);
  if (!tok.ok()) return bad_request("cannot tokenize the conversation: " + tok.status().message(), "messages");
  ids = std::move(tok).value();
  return std::nullopt;
}

std::optional<ApiError> completion_prompt(const json& j, const Model& model, std::vector<int32_t>& ids) {
  auto it = j.find("prompt");
  if (it == j.end() || it->is_null()) return bad_request("'prompt' is required", "prompt");
  const json* p = &*it;
  // OpenAI also takes a one-element array of strings, or an array of token ids.
  if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) p = &(*p)[0];
  if (p->is_string()) {
    // BOS first where the vocabulary has one (tokenize refuses add_bos without one).
    auto tok = model.tokenize(p->get_ref<const std::string&>(), true);
    if (!tok.ok()) tok = model.tokenize(p->get_ref<const std::string&>(), false);
    if (!tok.ok()) return bad_request("cannot tokenize the prompt: " + tok.status().message(), "prompt");
    ids = std::move(tok).value();
    return std::nullopt;
  }
  if (p->is_array()) {
    const int64_t n_vocab = model.info().n_vocab;
    for (const json& v : *p) {
      if (!v.is_number_integer())
        return bad_request("'prompt' must be a string, or an array of token ids (one prompt per request)", "prompt");
      const int64_t id = v.get<int64_t>();
      if (id < 0 || id >= n_vocab)
        return bad_request("token id " + std::to_string(id) + " is outside the vocabulary", "prompt");
      ids.push_back(static_cast<int32_t>(id));
    }
    return std::nullopt;
  }
  return bad_request("'prompt' must be a string or an array of token ids", "prompt");
}

}  // namespace

std::variant<CompletionRequest, ApiError> parse_completion_request(const std::string& body, bool chat,
                                                                   const Model& model, const ParseLimits& limits) {
  try {
    if (!nesting_within(body, kMaxJsonDepth))
      return bad_request("the JSON body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded()) return bad_request("the request body is not valid JSON");
    if (!j.is_object()) return bad_request("the request body must be a JSON object");

    auto model_it = j.find("model");
    if (model_it == j.end() || !model_it->is_string()) return bad_request("'model' must be a string", "model");
    if (model_it->get_ref<const std::string&>() != limits.model_id)
      return ApiError{
          404,
          "the model '" + model_it->get<std::string>() + "' does not exist (this server has '" + limits.model_id + "')",
          "invalid_request_error", "model", "model_not_found"};

    CompletionRequest r;
    r.chat = chat;
    GenerationConfig& cfg = r.cfg;
    // OpenAI's defaults: temperature 1, top_p 1, no top-k / min-p, no penalties.
    cfg.temperature = 1.0f;
    cfg.top_p = 1.0f;
    cfg.top_k = 0;
    cfg.min_p = 0.0f;
    cfg.repeat_penalty = 1.0f;
    cfg.add_bos = false;  // the prompt ids below already hold what they need
    cfg.max_tokens = limits.max_tokens_limit;
    for (const char* key : {"max_tokens", "max_completion_tokens"}) {
      auto it = j.find(key);
      if (it == j.end() || it->is_null()) continue;
      if (!it->is_number_integer()) return bad_request(std::string("'") + key + "' must be an integer", key);
      const int64_t v = it->get<int64_t>();
      if (v < 1 || v > limits.max_tokens_limit)
        return bad_request(
            std::string("'") + key + "' must be between 1 and " + std::to_string(limits.max_tokens_limit), key);
      cfg.max_tokens = static_cast<int>(v);
    }
    if (auto e = number(j, "temperature", 0.0, 2.0, cfg.temperature)) return *e;
    if (auto e = number(j, "top_p", 0.0, 1.0, cfg.top_p)) return *e;
    if (auto e = number(j, "presence_penalty", -2.0, 2.0, cfg.presence_penalty)) return *e;
    if (auto e = number(j, "frequency_penalty", -2.0, 2.0, cfg.frequency_penalty)) return *e;
    if (auto e = boolean(j, "stream", r.stream)) return *e;
    // Not OpenAI's, llama.cpp server's: keep generating past end-of-sequence tokens (up to max_tokens).
    bool ignore_eos = false;
    if (auto e = boolean(j, "ignore_eos", ignore_eos)) return *e;
    cfg.stop_at_eos = !ignore_eos;
    if (auto it = j.find("stream_options"); it != j.end() && !it->is_null()) {
      if (!it->is_object()) return bad_request("'stream_options' must be an object", "stream_options");
      if (auto e = boolean(*it, "include_usage", r.include_usage)) return *e;
    }
    if (auto it = j.find("seed"); it != j.end() && !it->is_null()) {
      if (!it->is_number_integer()) return bad_request("'seed' must be an integer", "seed");
      cfg.seed = static_cast<uint64_t>(it->get<int64_t>());
    } else {
      cfg.seed = std::random_device{}();
    }
    if (auto it = j.find("n"); it != j.end() && !it->is_null()) {
      if (!it->is_number_integer() || it->get<int64_t>() != 1) return bad_request("only 'n': 1 is supported", "n");
    }
    for (const char* key : {"logprobs", "echo"}) {
      auto it = j.find(key);
      if (it != j.end() && !it->is_null() && !(it->is_boolean() && !it->get<bool>()) &&
          !(it->is_number_integer() && it->get<int64_t>() == 0))
        return bad_request(std::string("'") + key + "' is not supported", key);
    }
    if (auto e = parse_stop(j, r.stop)) return *e;

    if (auto e = chat ? chat_prompt(j, model, limits, r.prompt) : completion_prompt(j, model, r.prompt)) return *e;
    if (r.prompt.empty()) return bad_request("the prompt is empty", chat ? "messages" : "prompt");
    if (static_cast<int64_t>(r.prompt.size()) >= limits.n_ctx)
      return ApiError{400,
                      "the prompt has " + std::to_string(r.prompt.size()) +
                          " tokens, which does not fit this server's context of " + std::to_string(limits.n_ctx) +
                          " (at least one token must be left to generate)",
                      "invalid_request_error", chat ? "messages" : "prompt", "context_length_exceeded"};
    return r;
  } catch (const std::exception& e) {
    // nlohmann-json throws on type surprises the checks above missed; a request never takes the server down.
    return bad_request(std::string("malformed request: ") + e.what());
  }
}

}  // namespace bitnet::server
