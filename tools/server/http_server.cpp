// Routes: GET /health, GET /v1/models, GET /metrics, POST /v1/completions, POST /v1/chat/completions.
// Every error body has OpenAI's shape; no request can throw past a handler (httplib's exception handler
// turns anything unexpected into a 500, and parsing catches nlohmann-json's exceptions itself).
#include "http_server.hpp"

#include <httplib.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "api_error.hpp"
#include "openai_format.hpp"
#include "request_parser.hpp"
#include "scheduler.hpp"

namespace bitnet::server {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(dump(e.to_json()), "application/json");
}

std::string error_type_for(int status) {
  if (status == 401) return "authentication_error";
  if (status == 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

// Compares without stopping at the first difference (the key's bytes do not leak through timing).
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

// One streamed response's state, shared by the content provider and its releaser.
struct Stream {
  std::shared_ptr<JobChannel> channel;
  ResponseMeta meta;
  bool include_usage = false;
  bool started = false;
  bool finished = false;
};

}  // namespace

struct Server::Impl {
  Model* model = nullptr;
  ServerOptions options;
  ParseLimits limits;
  Metrics metrics;
  std::unique_ptr<Scheduler> scheduler;
  httplib::Server http;
  std::thread listener;
  int port = 0;
  int64_t created = 0;
  bool stopped = false;

  void routes();
  void completion(const httplib::Request& req, httplib::Response& res, bool chat);
};

Server::Server() : impl_(std::make_unique<Impl>()) {}
Server::~Server() { stop(); }
int Server::port() const { return impl_->port; }
const std::string& Server::model_id() const { return impl_->limits.model_id; }
Metrics& Server::metrics() { return impl_->metrics; }

Result<std::unique_ptr<Server>> Server::start(Model& model, const ServerOptions& options) {
  if (options.max_tokens_limit < 1) return invalid_argument("the max_tokens limit must be at least 1");
  if (options.port < 0 || options.port > 65535) return invalid_argument("the port must be 0..65535");
  std::unique_ptr<Server> s(new Server());
  Impl& im = *s->impl_;
  im.model = &model;
  im.options = options;
  im.created = static_cast<int64_t>(std::time(nullptr));
  im.limits.model_id = options.model_id.empty() ? "bitnet" : options.model_id;
  im.limits.chat_template = options.chat_template;
  im.limits.max_tokens_limit = options.max_tokens_limit;
  im.limits.n_ctx = model.info().n_ctx;
  BITNET_ASSIGN_OR_RETURN(im.scheduler, Scheduler::create(model, options.parallel, options.max_queue, im.metrics));

  // Enough handler threads for every running and queued request plus a few more, so that health checks,
  // metrics and 429 answers still get a thread when the queue is full (a slow client holds one too, until
  // the read timeout drops it).
  const size_t threads = static_cast<size_t>(options.parallel + options.max_queue + 8);
  im.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  im.http.set_payload_max_length(options.max_body_bytes);
  im.http.set_read_timeout(options.read_timeout_s, 0);
  im.http.set_write_timeout(options.write_timeout_s, 0);
  im.http.set_keep_alive_timeout(5);
  im.routes();

  if (options.port == 0) {
    im.port = im.http.bind_to_any_port(options.host);
    if (im.port < 0) return io_error("cannot bind to " + options.host + " on any port");
  } else {
    if (!im.http.bind_to_port(options.host, options.port))
      return io_error("cannot bind to " + options.host + ":" + std::to_string(options.port) +
                      " (in use, or not an address of this machine)");
    im.port = options.port;
  }
  im.listener = std::thread([&im] { im.http.listen_after_bind(); });
  return s;
}

void Server::hold_queue(bool on) { impl_->scheduler->hold(on); }

void Server::stop() {
  Impl& im = *impl_;
  if (im.stopped) return;
  im.stopped = true;
  // The scheduler first: handlers waiting on a job get its final (error) event and return.
  if (im.scheduler) im.scheduler->stop();
  im.http.stop();
  if (im.listener.joinable()) im.listener.join();
}

void Server::Impl::routes() {
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (options.api_key.empty() || req.path == "/health") return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    if (auth.compare(0, prefix.size(), prefix) == 0 && same_secret(auth.substr(prefix.size()), options.api_key))
      return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, {401, auth.empty() ? "missing API key: send 'Authorization: Bearer <key>'" : "incorrect API key",
                     "invalid_request_error", "", "invalid_api_key"});
    return httplib::Server::HandlerResponse::Handled;
  });
  // Statuses httplib sets itself (404 no route, 413 body too large, 400 unreadable request) get an OpenAI body.
  http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message = "error";
    if (res.status == 404) message = "no route for " + req.method + " " + req.path;
    if (res.status == 413) message = "the request body is too large";
    if (res.status == 400) message = "malformed HTTP request";
    send_error(res, {res.status, message, error_type_for(res.status), "", ""});
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, {500, "internal error: " + what, "server_error", "", ""});
  });

  http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump(models_json(limits.model_id, created)), "application/json");
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.prometheus(), "text/plain; version=0.0.4");
  });
  http.Post("/v1/completions",
            [this](const httplib::Request& req, httplib::Response& res) { completion(req, res, false); });
  http.Post("/v1/chat/completions",
            [this](const httplib::Request& req, httplib::Response& res) { completion(req, res, true); });
}

void Server::Impl::completion(const httplib::Request& req, httplib::Response& res, bool chat) {
  ++metrics.requests;
  auto parsed = parse_completion_request(req.body, chat, *model, limits);
  if (const ApiError* e = std::get_if<ApiError>(&parsed)) {
    ++metrics.requests_invalid;
    send_error(res, *e);
    return;
  }
  CompletionRequest& r = std::get<CompletionRequest>(parsed);
  auto job = std::make_unique<Job>();
  job->prompt = std::move(r.prompt);
  job->cfg = r.cfg;
  job->stop = std::move(r.stop);
  job->stream = r.stream;
  std::shared_ptr<JobChannel> channel = job->channel;
  switch (scheduler->submit(std::move(job))) {
    case Scheduler::Submit::kAccepted:
      break;
    case Scheduler::Submit::kQueueFull:
      ++metrics.requests_rejected;
      res.set_header("Retry-After", "1");
      send_error(res, {429, "the server is busy: every sequence slot is taken and the queue is full; retry later",
                       "rate_limit_error", "", "server_busy"});
      return;
    case Scheduler::Submit::kStopping:
      ++metrics.requests_rejected;
      send_error(res, {503, "the server is shutting down", "server_error", "", "unavailable"});
      return;
  }
  ResponseMeta meta{chat, new_id(chat ? "chatcmpl-" : "cmpl-"), static_cast<int64_t>(std::time(nullptr)),
                    limits.model_id};

  if (!r.stream) {
    // Waits for the whole generation (bounded by max_tokens). A client that disconnects meanwhile is not
    // noticed until the answer is written (httplib gives handlers no socket to watch).
    std::string text;
    std::deque<JobEvent> events;
    for (;;) {
      channel->pop_all(events, milliseconds(500));
      bool done = false;
      JobEvent last;
      while (!events.empty()) {
        text += events.front().text;
        if (events.front().done) {
          done = true;
          last = std::move(events.front());
        }
        events.pop_front();
      }
      if (!done) continue;
      if (!last.error.empty())
        return send_error(res, {last.shutting_down ? 503 : 500, last.error, "server_error", "", ""});
      res.set_content(dump(completion_json(meta, text, last.finish_reason, last.prompt_tokens, last.completion_tokens)),
                      "application/json");
      return;
    }
  }

  auto st = std::make_shared<Stream>();
  st->channel = channel;
  st->meta = meta;
  st->include_usage = r.include_usage;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [st](size_t, httplib::DataSink& sink) {
        std::string out;
        if (!st->started) {
          st->started = true;
          if (st->meta.chat) out += sse_event(chunk_json(st->meta, "", "", true));
        }
        std::deque<JobEvent> events;
        st->channel->pop_all(events, milliseconds(200));
        for (JobEvent& e : events) {
          if (!e.text.empty()) out += sse_event(chunk_json(st->meta, e.text, ""));
          if (!e.done) continue;
          st->finished = true;
          if (!e.error.empty()) {
            out += sse_event(ApiError{500, e.error, "server_error", "", ""}.to_json());
          } else {
            out += sse_event(chunk_json(st->meta, "", e.finish_reason));
            if (st->include_usage) out += sse_event(usage_chunk_json(st->meta, e.prompt_tokens, e.completion_tokens));
          }
          out += kSseDone;
        }
        if (!out.empty() && !sink.write(out.data(), out.size())) return false;  // the client is gone
        if (st->finished) sink.done();
        return true;
      },
      // Called when the response ends either way: a stream cut short cancels its job and frees its slot.
      [st](bool) {
        if (!st->finished) st->channel->cancel();
      });
}

}  // namespace bitnet::server
