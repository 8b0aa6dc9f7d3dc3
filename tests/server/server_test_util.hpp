// Helpers for the server tests: an in-process server on 127.0.0.1 (any free port) over stories260K, HTTP
// calls through cpp-httplib's client, raw sockets for clients that misbehave, and an SSE reader.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bitnet/bitnet.hpp"
#include "http_server.hpp"
#include "test_util.hpp"

namespace bitnet::server::test {

inline std::string model_path() { return ::bitnet::test::fixture("stories260k/stories260K.gguf"); }
constexpr const char* kModelId = "stories260K";

struct Running {
  std::unique_ptr<Model> model;
  std::unique_ptr<Server> server;
  int port = 0;
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    c.set_connection_timeout(10, 0);
    return c;
  }
};

// Loads the fixture and starts a server with `opts` (host forced to 127.0.0.1, port 0). nullptr on failure
// (with a test failure recorded).
inline std::unique_ptr<Running> start_server(ServerOptions opts, int n_ctx = 256) {
  auto r = std::make_unique<Running>();
  LoadOptions lo;
  lo.n_threads = 2;
  lo.n_ctx = n_ctx;
  auto m = Model::load(model_path(), lo);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  if (!m.ok()) return nullptr;
  r->model = std::move(m).value();
  opts.host = "127.0.0.1";
  opts.port = 0;
  opts.model_id = kModelId;
  if (opts.chat_template.empty()) opts.chat_template = "chatml";
  auto s = Server::start(*r->model, opts);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  if (!s.ok()) return nullptr;
  r->server = std::move(s).value();
  r->port = r->server->port();
  return r;
}

// The "data:" payloads of an SSE body, in order.
inline std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string::npos) end = body.size();
    const std::string line = body.substr(pos, end - pos);
    if (line.rfind("data: ", 0) == 0) out.push_back(line.substr(6));
    pos = end + 1;
  }
  return out;
}

// A connected TCP socket to 127.0.0.1:port with a receive timeout (so no test can hang), or -1.
inline int connect_raw(int port, int recv_timeout_s = 20) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{recv_timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads until the peer closes, `stop_at` appears, or the receive timeout passes.
inline std::string recv_until(int fd, const std::string& stop_at = "") {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (!stop_at.empty() && out.find(stop_at) != std::string::npos) break;
  }
  return out;
}

inline nlohmann::json completion_body(const std::string& prompt, int max_tokens) {
  return {{"model", kModelId}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
}

// One metric's value from /metrics text (-1 when absent).
inline double metric(const std::string& text, const std::string& name) {
  size_t pos = 0;
  while ((pos = text.find(name + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') return std::stod(text.substr(pos + name.size() + 1));
    pos += name.size();
  }
  return -1;
}

}  // namespace bitnet::server::test

#define BITNET_REQUIRE_SERVER_MODEL() BITNET_REQUIRE_FIXTURE(::bitnet::server::test::model_path())
