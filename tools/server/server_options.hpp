// What `bitnet-cli serve` (and tests) configure: where to listen, who may call, and every bound on a request.
#pragma once

#include <cstddef>
#include <string>

namespace bitnet::server {

struct ServerOptions {
  std::string host = "127.0.0.1";   // loopback unless asked otherwise
  int port = 8080;                  // 0: any free port (see Server::port())
  std::string api_key;              // non-empty: every /v1 and /metrics call needs "Authorization: Bearer <key>"
  std::string model_id;             // the name clients pass as "model" (default: the file name without .gguf)
  std::string chat_template;        // template name for chat (empty: the model's own)
  int parallel = 4;                 // sequences decoded together
  int max_queue = 32;               // requests waiting for a free sequence; beyond: 429
  int max_tokens_limit = 2048;      // the largest max_tokens a request may ask for (and the default)
  size_t max_body_bytes = 1 << 20;  // request bodies beyond: 413
  int read_timeout_s = 10;          // a client that stops sending mid-request is dropped after this
  int write_timeout_s = 10;
};

}  // namespace bitnet::server
