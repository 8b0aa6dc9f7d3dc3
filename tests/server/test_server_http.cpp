// The server over HTTP on 127.0.0.1: response shapes, streaming, stop sequences, sampling fields, metrics,
// and continuous batching (8 concurrent greedy streams equal to the same prompts alone).
#include <atomic>
#include <chrono>
#include <thread>

#include "server_test_util.hpp"

namespace bitnet::server::test {
namespace {

using nlohmann::json;

json post_json(const Running& r, const std::string& path, const json& body, int expect_status = 200) {
  auto c = r.client();
  auto res = c.Post(path.c_str(), body.dump(), "application/json");
  EXPECT_TRUE(res) << "no response from " << path;
  if (!res) return json();
  EXPECT_EQ(res->status, expect_status) << res->body;
  auto j = json::parse(res->body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << res->body;
  return j;
}

struct StreamResult {
  int status = 0;
  std::string text;
  std::string finish_reason;
  std::vector<json> chunks;
  bool done = false;  // ended with data: [DONE]
};

StreamResult post_stream(const Running& r, const std::string& path, json body) {
  body["stream"] = true;
  auto c = r.client();
  auto res = c.Post(path.c_str(), body.dump(), "application/json");
  StreamResult out;
  if (!res) return out;
  out.status = res->status;
  EXPECT_NE(res->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  for (const std::string& d : sse_data(res->body)) {
    if (d == "[DONE]") {
      out.done = true;
      continue;
    }
    json j = json::parse(d, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << d;
    out.chunks.push_back(j);
    for (const json& ch : j.value("choices", json::array())) {
      if (ch.contains("delta") && ch["delta"].contains("content"))
        out.text += ch["delta"]["content"].get<std::string>();
      if (ch.contains("text")) out.text += ch["text"].get<std::string>();
      if (!ch["finish_reason"].is_null()) out.finish_reason = ch["finish_reason"].get<std::string>();
    }
  }
  return out;
}

json chat_body(const std::string& content, int max_tokens) {
  return {{"model", kModelId},
          {"messages", json::array({{{"role", "user"}, {"content", content}}})},
          {"max_tokens", max_tokens},
          {"temperature", 0}};
}

TEST(ServerHttp, HealthModelsAndACompletionLikeTheLibrary) {
  BITNET_REQUIRE_SERVER_MODEL();
  auto r = start_server({});
  ASSERT_NE(r, nullptr);
  auto c = r->client();
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  json m = json::parse(models->body);
  EXPECT_EQ(m["object"], "list");
  EXPECT_EQ(m["data"][0]["id"], kModelId);

  json j = post_json(*r, "/v1/completions", completion_body("Once upon a time", 24));
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["model"], kModelId);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  // The same text the library generates for this prompt alone.
  GenerationConfig cfg;
  cfg.temperature = 0;
  cfg.max_tokens = 24;
  auto alone = r->model->generate("Once upon a time", cfg);
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(j["choices"][0]["text"], alone->text);
  EXPECT_EQ(j["choices"][0]["finish_reason"], alone->stop_reason == "eos" ? "stop" : "length");
  EXPECT_EQ(j["usage"]["prompt_tokens"], alone->prompt_tokens.size());
  EXPECT_EQ(j["usage"]["completion_tokens"], alone->tokens.size());
  EXPECT_EQ(j["usage"]["total_tokens"], alone->prompt_tokens.size() + alone->tokens.size());
}

TEST(ServerHttp, StreamedChatEqualsTheWholeAnswer) {
  BITNET_REQUIRE_SERVER_MODEL();
  auto r = start_server({});
  ASSERT_NE(r, nullptr);
  json whole = post_json(*r, "/v1/chat/completions", chat_body("Tell me a story", 20));
  EXPECT_EQ(whole["object"], "chat.completion");
  EXPECT_EQ(whole["choices"][0]["message"]["role"], "assistant");
  const std::string content = whole["choices"][0]["message"]["content"];
  EXPECT_FALSE(content.empty());

  json body = chat_body("Tell me a story", 20);
  body["stream_options"] = {{"include_usage", true}};
  StreamResult s = post_stream(*r, "/v1/chat/completions", body);
  ASSERT_EQ(s.status, 200);
  EXPECT_TRUE(s.done);
  EXPECT_EQ(s.text, content);
  EXPECT_EQ(s.finish_reason, whole["choices"][0]["finish_reason"]);
  ASSERT_GE(s.chunks.size(), 3u);
  EXPECT_EQ(s.chunks.front()["object"], "chat.completion.chunk");
  EXPECT_EQ(s.chunks.front()["choices"][0]["delta"]["role"], "assistant");
  for (const json& ch : s.chunks) EXPECT_EQ(ch["id"], s.chunks.front()["id"]);
  // include_usage: a last chunk without choices carries the counts.
  EXPECT_TRUE(s.chunks.back()["choices"].empty());
  EXPECT_EQ(s.chunks.back()["usage"], whole["usage"]);
}

TEST(ServerHttp, StopSequencesEndGenerationAndAreNotReturned) {
  BITNET_REQUIRE_SERVER_MODEL();
  auto r = start_server({});
  ASSERT_NE(r, nullptr);
  json base = completion_body("Once upon a time", 40);
  const std::string full = post_json(*r, "/v1/completions", base)["choices"][0]["text"];
  // A stop made of the end of one token and the start of the next (" named L" spans " named", " L"+"ily").
  const size_t at = full.find(" named L");
  ASSERT_NE(at, std::string::npos) << full;
  for (const json& stop : {json(" named L"), json::array({"zzz", " named L"})}) {
    json body = base;
    body["stop"] = stop;
    json j = post_json(*r, "/v1/completions", body);
    EXPECT_EQ(j["choices"][0]["text"], full.substr(0, at));
    EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
    StreamResult s = post_stream(*r, "/v1/completions", body);
    EXPECT_EQ(s.text, full.substr(0, at));
    EXPECT_EQ(s.finish_reason, "stop");
    EXPECT_TRUE(s.done);
  }
}

TEST(ServerHttp, SeedPenaltiesAndTemperatureAreHonoured) {
  BITNET_REQUIRE_SERVER_MODEL();
  auto r = start_server({});
  ASSERT_NE(r, nullptr);
  json body = completion_body("Once upon a time", 30);
  body["temperature"] = 1.0;
  body["seed"] = 1234;
  const std::string a = post_json(*r, "/v1/completions", body)["choices"][0]["text"];
  const std::string b = post_json(*r, "/v1/completions", body)["choices"][0]["text"];
  EXPECT_EQ(a, b);  // same seed, same text

  json greedy = completion_body("Once upon a time", 30);
  const std::string plain = post_json(*r, "/v1/completions", greedy)["choices"][0]["text"];
  for (const char* penalty : {"presence_penalty", "frequency_penalty"}) {
    json p = greedy;
    p[penalty] = 2.0;
    EXPECT_NE(post_json(*r, "/v1/completions", p)["choices"][0]["text"], plain) << penalty;
  }
}

TEST(ServerHttp, EightConcurrentGreedyStreamsEqualTheSamePromptsAlone) {
  BITNET_REQUIRE_SERVER_MODEL();
  ServerOptions opts;
  opts.parallel = 8;
  auto r = start_server(opts);
  ASSERT_NE(r, nullptr);
  const std::vector<std::string> prompts = {"Once upon a time", "The cat",     "Lily and Ben went",
                                            "One day, a big",   "The sun was", "Tom had a red ball",
                                            "In the park",      "Mom said"};
  std::vector<std::string> alone;
  for (const auto& p : prompts) {
    StreamResult s = post_stream(*r, "/v1/completions", completion_body(p, 48));
    ASSERT_EQ(s.status, 200);
    alone.push_back(s.text);
  }
  const auto steps0 = r->server->metrics().decode_steps.load();
  const auto tokens0 = r->server->metrics().generated_tokens.load();
  // Line all eight up in the queue, then let them in together: every step is one batch of up to 8 sequences.
  r->server->hold_queue(true);
  std::vector<StreamResult> together(prompts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i)
    threads.emplace_back([&, i] { together[i] = post_stream(*r, "/v1/completions", completion_body(prompts[i], 48)); });
  for (int i = 0; i < 3000 && r->server->metrics().queue_depth.load() < 8; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(r->server->metrics().queue_depth.load(), 8);
  r->server->hold_queue(false);
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(together[i].status, 200);
    EXPECT_TRUE(together[i].done);
    EXPECT_EQ(together[i].text, alone[i]) << "prompt " << i << ": " << prompts[i];
  }
  // They really were batched: far fewer forward passes than generated tokens.
  const auto steps = r->server->metrics().decode_steps.load() - steps0;
  const auto tokens = r->server->metrics().generated_tokens.load() - tokens0;
  EXPECT_LE(steps * 4, tokens) << steps << " steps for " << tokens << " tokens";
}

TEST(ServerHttp, MetricsArePrometheusText) {
  BITNET_REQUIRE_SERVER_MODEL();
  auto r = start_server({});
  ASSERT_NE(r, nullptr);
  post_json(*r, "/v1/completions", completion_body("The cat", 5));
  post_json(*r, "/v1/completions", json::object(), 400);
  auto c = r->client();
  auto res = c.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  const std::string& t = res->body;
  EXPECT_NE(t.find("# TYPE bitnet_requests_total counter"), std::string::npos);
  EXPECT_EQ(metric(t, "bitnet_requests_total"), 2);
  EXPECT_EQ(metric(t, "bitnet_requests_completed_total"), 1);
  EXPECT_EQ(metric(t, "bitnet_requests_invalid_total"), 1);
  EXPECT_EQ(metric(t, "bitnet_generated_tokens_total"), 5);
  EXPECT_EQ(metric(t, "bitnet_queue_depth"), 0);
  EXPECT_GT(metric(t, "bitnet_tokens_per_second"), 0);
}

}  // namespace
}  // namespace bitnet::server::test
