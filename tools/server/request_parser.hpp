// Turns the JSON body of /v1/completions and /v1/chat/completions into a checked generation request (prompt
// token ids, sampling settings, stops), or the OpenAI-style error to answer with. Never throws.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "api_error.hpp"
#include "bitnet/bitnet.hpp"

namespace bitnet::server {

struct CompletionRequest {
  bool chat = false;
  bool stream = false;
  bool include_usage = false;     // stream_options.include_usage: a last chunk with the usage counts
  std::vector<int32_t> prompt;    // token ids (BOS included where the model wants it)
  GenerationConfig cfg;           // max_tokens, temperature, top_p, penalties, seed
  std::vector<std::string> stop;  // generation ends before any of these texts (which are not returned)
};

struct ParseLimits {
  std::string model_id;       // the one model served
  std::string chat_template;  // passed to Model::apply_chat_template
  int max_tokens_limit = 2048;
  int n_ctx = 0;  // a sequence's context: the prompt must leave room for at least one token
};

// Nesting deeper than this in a request body is refused before parsing (no recursion on hostile input).
constexpr int kMaxJsonDepth = 64;

std::variant<CompletionRequest, ApiError> parse_completion_request(const std::string& body, bool chat,
                                                                   const Model& model, const ParseLimits& limits);

}  // namespace bitnet::server
