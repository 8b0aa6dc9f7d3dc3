// The server under bad input and misbehaving clients: every bad request gets the right 4xx with OpenAI's error
// shape, a full queue gets 429, a disconnect frees its sequence, a stalled client is dropped, and a normal
// request right after each still succeeds.
#include <chrono>
#include <thread>

#include "server_test_util.hpp"

namespace bitnet::server::test {
namespace {

using nlohmann::json;

// A normal request succeeds (the server is still serving).
void expect_still_serving(const Running& r) {
  auto c = r.client();
  auto res = c.Post("/v1/completions", completion_body("The cat", 4).dump(), "application/json");
  ASSERT_TRUE(res) << "the server stopped answering";
  EXPECT_EQ(res->status, 200) << res->body;
}

void expect_error_shape(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << body;
  ASSERT_TRUE(j.contains("error")) << body;
  EXPECT_TRUE(j["error"]["message"].is_string()) << body;
  EXPECT_TRUE(j["error"]["type"].is_string()) << body;
  EXPECT_TRUE(j["error"].contains("param") && j["error"].contains("code")) << body;
}

TEST(ServerHostile, MalformedRequestsGetFourHundredsAndTheServerGoesOn) {
  BITNET_REQUIRE_SERVER_MODEL();
  ServerOptions opts;
  opts.max_tokens_limit = 64;
  auto r = start_server(opts, /*n_ctx=*/64);
  ASSERT_NE(r, nullptr);
  std::string deep(200, '[');
  const std::string m = std::string("\"model\":\"") + kModelId + "\"";
  std::string long_prompt;
  for (int i = 0; i < 80; ++i) long_prompt += "1,";
  long_prompt += "1";
  struct Case {
    const char* path;
    std::string body;
    int status;
    const char* param;  // expected error.param ("" = not checked)
  };
  const std::vector<Case> cases = {
      {"/v1/completions", "", 400, ""},
      {"/v1/completions", "{bad json", 400, ""},
      {"/v1/completions", "[1, 2]", 400, ""},
      {"/v1/completions", deep, 400, ""},
      {"/v1/completions", "{\"prompt\":\"x\"}", 400, "model"},
      {"/v1/completions", "{\"model\":\"gpt-4\",\"prompt\":\"x\"}", 404, "model"},
      {"/v1/completions", "{" + m + "}", 400, "prompt"},
      {"/v1/completions", "{" + m + ",\"prompt\":5}", 400, "prompt"},
      {"/v1/completions", "{" + m + ",\"prompt\":[1,-4]}", 400, "prompt"},
      {"/v1/completions", "{" + m + ",\"prompt\":[1,99999999]}", 400, "prompt"},
      {"/v1/completions", "{" + m + ",\"prompt\":\"x\",\"max_tokens\":-1}", 400, "max_tokens"},
      {"/v1/completions", "{" + m + ",\"prompt\":\"x\",\"max_tokens\":0}", 400, "max_tokens"},
      {"/v1/completions", "{" + m + ",\"prompt\":\"x\",\"max_tokens\":1000000}", 400, "max_tokens"},
      {"/v1/completions", "{" + m + ",\"prompt\":\"x\",\"max_tokens\":\"ten\"}", 400, "max_tokens"},
      {"/v1/completions", "{" + m + ",\"prompt\":\"x\",\"temperature\":\"hot\"}", 400, "temperature"},
      {"/v1/completions", "{" + m + ",\"prompt\":\"x\",\"temperature\":-1}", 400, "temperature"},
      {"/v1/completions", "{" + m + ",\"prompt\":\"x\",\"top_p\":7}", 400, "top_p"},
      {"/v1/completions", "{" + m + ",\"prompt\":\"x\",\"presence_penalty\":9}", 400, "presence_penalty"},
      {"/v1/completions", "{" + m + ",\"prompt\":\"x\",\"stream\":\"yes\"}", 400, "stream"},
      {"/v1/completions", "{" + m + ",\"prompt\":\"x\",\"stop\":7}", 400, "stop"},
      {"/v1/completions", "{" + m + ",\"prompt\":\"x\",\"stop\":[\"\"]}", 400, "stop"},
      {"/v1/completions", "{" + m + ",\"prompt\":\"x\",\"seed\":1.5}", 400, "seed"},
      {"/v1/completions", "{" + m + ",\"prompt\":\"x\",\"n\":3}", 400, "n"},
      {"/v1/completions", "{" + m + ",\"prompt\":[" + long_prompt + "]}", 400, "prompt"},
      {"/v1/chat/completions", "{" + m + "}", 400, "messages"},
      {"/v1/chat/completions", "{" + m + ",\"messages\":[]}", 400, "messages"},
      {"/v1/chat/completions", "{" + m + ",\"messages\":\"hi\"}", 400, "messages"},
      {"/v1/chat/completions", "{" + m + ",\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}", 400, "messages"},
      {"/v1/chat/completions", "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400, "messages"},
      {"/v1/chat/completions", "{" + m + ",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}",
       400, "messages"},
      {"/v1/nonexistent", "{}", 404, ""},
  };
  auto c = r->client();
  for (const Case& k : cases) {
    auto res = c.Post(k.path, k.body, "application/json");
    ASSERT_TRUE(res) << k.body;
    EXPECT_EQ(res->status, k.status) << k.path << " " << k.body.substr(0, 80) << "\n" << res->body;
    expect_error_shape(res->body);
    if (*k.param != '\0') {
      EXPECT_EQ(json::parse(res->body)["error"]["param"], k.param) << k.body.substr(0, 80);
    }
  }
  // The prompt over the context names the reason.
  auto over = c.Post("/v1/completions", "{" + m + ",\"prompt\":[" + long_prompt + "]}", "application/json");
  ASSERT_TRUE(over);
  EXPECT_EQ(json::parse(over->body)["error"]["code"], "context_length_exceeded");
  expect_still_serving(*r);
}

TEST(ServerHostile, HugeBodiesGet413) {
  BITNET_REQUIRE_SERVER_MODEL();
  ServerOptions opts;
  opts.max_body_bytes = 64 * 1024;
  auto r = start_server(opts);
  ASSERT_NE(r, nullptr);
  // A body over the limit, sent whole.
  json big = completion_body(std::string(100 * 1024, 'a'), 4);
  auto c = r->client();
  auto res = c.Post("/v1/completions", big.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  expect_error_shape(res->body);
  // A declared length of 1 GB: refused from the header, before any of it is read.
  const int fd = connect_raw(r->port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd,
                       "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 1000000000\r\n\r\n{\"model\":"));
  const std::string reply = recv_until(fd, "\r\n\r\n");
  ::close(fd);
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;
  expect_still_serving(*r);
}

TEST(ServerHostile, WrongOrMissingApiKeyGets401) {
  BITNET_REQUIRE_SERVER_MODEL();
  ServerOptions opts;
  opts.api_key = "sk-right";
  auto r = start_server(opts);
  ASSERT_NE(r, nullptr);
  const std::string body = completion_body("The cat", 2).dump();
  for (const char* header : {"", "Bearer sk-wrong", "Bearer sk-righ", "sk-right", "Bearer "}) {
    auto c = r->client();
    if (*header != '\0') c.set_default_headers({{"Authorization", header}});
    auto res = c.Post("/v1/completions", body, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << header;
    expect_error_shape(res->body);
    auto models = c.Get("/v1/models");
    ASSERT_TRUE(models);
    EXPECT_EQ(models->status, 401) << header;
  }
  auto c = r->client();
  EXPECT_EQ(c.Get("/health")->status, 200);  // health checks need no key
  c.set_bearer_token_auth("sk-right");
  auto ok = c.Post("/v1/completions", body, "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

TEST(ServerHostile, FullQueueGets429ThenEveryoneIsServed) {
  BITNET_REQUIRE_SERVER_MODEL();
  ServerOptions opts;
  opts.parallel = 1;
  opts.max_queue = 2;
  auto r = start_server(opts);
  ASSERT_NE(r, nullptr);
  r->server->hold_queue(true);
  // One slot + two queue places: three are taken, the fourth is refused.
  std::vector<int> status(3, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&, i] {
      auto c = r->client();
      auto res = c.Post("/v1/completions", completion_body("The cat", 3).dump(), "application/json");
      status[static_cast<size_t>(i)] = res ? res->status : -1;
    });
  for (int i = 0; i < 3000 && r->server->metrics().queue_depth.load() < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(r->server->metrics().queue_depth.load(), 3);
  auto c = r->client();
  auto busy = c.Post("/v1/completions", completion_body("The cat", 3).dump(), "application/json");
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 429);
  expect_error_shape(busy->body);
  EXPECT_EQ(c.Get("/health")->status, 200);  // still answering while full
  r->server->hold_queue(false);
  for (auto& t : threads) t.join();
  for (int s : status) EXPECT_EQ(s, 200);
  EXPECT_EQ(r->server->metrics().requests_rejected.load(), 1u);
  expect_still_serving(*r);
}

TEST(ServerHostile, ClientDisconnectCancelsItsSequence) {
  BITNET_REQUIRE_SERVER_MODEL();
  ServerOptions opts;
  opts.parallel = 1;
  auto r = start_server(opts, /*n_ctx=*/2048);
  ASSERT_NE(r, nullptr);
  json body = completion_body("Once upon a time", 2000);
  body["stream"] = true;
  body["ignore_eos"] = true;  // long enough that it cannot finish before the client leaves
  const std::string b = body.dump();
  const int fd = connect_raw(r->port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd,
                       "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: " +
                           std::to_string(b.size()) + "\r\n\r\n" + b));
  const std::string first = recv_until(fd, "data: ");
  EXPECT_EQ(first.rfind("HTTP/1.1 200", 0), 0u) << first;
  ::close(fd);
  for (int i = 0; i < 3000 && r->server->metrics().requests_cancelled.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(r->server->metrics().requests_cancelled.load(), 1u);
  EXPECT_EQ(r->server->metrics().requests_ok.load(), 0u);
  EXPECT_LT(r->server->metrics().generated_tokens.load(), 2000u);
  // The only slot is free again (the gauge drops right after the answer is handed over).
  expect_still_serving(*r);
  for (int i = 0; i < 3000 && r->server->metrics().active.load() != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(r->server->metrics().active.load(), 0);
}

TEST(ServerHostile, StalledAndGarbageClientsAreDroppedWhileOthersAreServed) {
  BITNET_REQUIRE_SERVER_MODEL();
  ServerOptions opts;
  opts.read_timeout_s = 1;
  auto r = start_server(opts);
  ASSERT_NE(r, nullptr);
  // Half a request line, half the headers, half a body: each stalls.
  const std::vector<std::string> halves = {
      "POST /v1/compl",
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le",
      "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\":",
  };
  std::vector<int> fds;
  for (const auto& h : halves) {
    const int fd = connect_raw(r->port);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(send_all(fd, h));
    fds.push_back(fd);
  }
  expect_still_serving(*r);  // while they stall
  for (const int fd : fds) {
    // The server gives up on them: the connection closes (possibly after an error status), never a 200.
    const std::string reply = recv_until(fd);
    ::close(fd);
    EXPECT_TRUE(reply.empty() || reply.rfind("HTTP/1.1 4", 0) == 0) << reply;
  }
  // Not HTTP at all.
  const int fd = connect_raw(r->port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd, std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n", 16)));
  const std::string reply = recv_until(fd);
  ::close(fd);
  EXPECT_TRUE(reply.empty() || reply.rfind("HTTP/1.1 4", 0) == 0) << reply;
  expect_still_serving(*r);
}

}  // namespace
}  // namespace bitnet::server::test
