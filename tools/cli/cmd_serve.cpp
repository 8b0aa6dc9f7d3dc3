// bitnet-cli serve: the OpenAI-compatible HTTP server (tools/server) over one model, until SIGINT/SIGTERM.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "http_server.hpp"

namespace bitnet::cli {
namespace {

struct ServeArgs {
  std::string model;
  server::ServerOptions opts;
  int threads = 0;
  int ctx_size = 0;
  LoadArgs load;
  std::string port_file;
};

// The file name without directories and a .gguf ending: what clients pass as "model".
std::string model_id_from_path(const std::string& path) {
  std::string id = path.substr(path.find_last_of('/') + 1);
  const std::string ext = ".gguf";
  if (id.size() > ext.size() && id.compare(id.size() - ext.size(), ext.size(), ext) == 0)
    id.resize(id.size() - ext.size());
  return id;
}

int run_serve(ServeArgs& a) {
  // Block the stop signals in every thread (threads inherit the mask); the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A client that disconnects mid-write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);

  LoadOptions lo;
  lo.n_threads = a.threads;
  lo.n_ctx = a.ctx_size;
  if (std::string err; !apply_load_options(a.load, lo, err)) return fail(err);
  auto model = Model::load(a.model, lo);
  if (!model.ok()) return fail(model.status().to_string());
  note_load(model.value()->info());
  if (a.opts.model_id.empty()) a.opts.model_id = model_id_from_path(a.model);
  auto srv = server::Server::start(*model.value(), a.opts);
  if (!srv.ok()) return fail(srv.status().to_string());
  const int port = srv.value()->port();
  if (!a.port_file.empty()) {
    std::ofstream(a.port_file) << port << "\n";
  }
  const ModelInfo& info = model.value()->info();
  std::cout << "bitnet server: model '" << a.opts.model_id << "' (" << info.architecture << ", " << info.weight_type
            << ", context " << info.n_ctx << ", KV cache " << info.kv_type << " ("
            << static_cast<double>(info.kv_cache_bytes) / 1e6 << " MB per sequence), " << a.opts.parallel
            << " parallel sequences, " << info.n_threads << " threads)\nlistening on http://" << a.opts.host << ":"
            << port << "  (OpenAI base URL: http://" << a.opts.host << ":" << port << "/v1)" << std::endl;
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::cout << "bitnet server: stopping" << std::endl;
  srv.value()->stop();
  return 0;
}

}  // namespace

void add_serve(CLI::App& app, std::vector<Command>& out) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* sub = app.add_subcommand("serve", "OpenAI-compatible HTTP server (/v1/completions, /v1/chat/completions)");
  sub->add_option("-m,--model", a->model, "Model file (GGUF)")->required()->check(CLI::ExistingFile);
  sub->add_option("--host", a->opts.host, "Address to listen on (default loopback only)")->capture_default_str();
  sub->add_option("--port", a->opts.port, "Port (0: any free port, printed at start)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  sub->add_option("--port-file", a->port_file, "Write the port to this file once listening");
  sub->add_option("--api-key", a->opts.api_key, "Require 'Authorization: Bearer KEY' (env BITNET_API_KEY)")
      ->envname("BITNET_API_KEY");
  sub->add_option("--alias", a->opts.model_id, "Model name clients use (default: the file name without .gguf)");
  sub->add_option("--parallel", a->opts.parallel, "Sequences decoded together (each has its own KV cache)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  sub->add_option("--queue", a->opts.max_queue, "Requests that may wait for a free sequence; beyond: 429")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  sub->add_option("-c,--ctx-size", a->ctx_size, "Context per sequence in tokens (default: the model's, at most 4096)")
      ->check(at_least(0));
  add_load_options(sub, a->load);
  sub->add_option("-t,--threads", a->threads,
                  "Threads for the forward pass (default: one per CPU this process may run on)")
      ->check(at_least(0));
  sub->add_option("--chat-template", a->opts.chat_template,
                  "Chat template: bitnet, llama3, llama2, chatml (default: the model's own)");
  sub->add_option("--max-tokens-limit", a->opts.max_tokens_limit, "Largest max_tokens a request may ask for")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  sub->add_option("--max-body", a->opts.max_body_bytes, "Largest request body in bytes (beyond: 413)")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 30))
      ->capture_default_str();
  sub->add_option("--timeout", a->opts.read_timeout_s, "Seconds a client may stall mid-request or mid-read")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  out.push_back({sub, [a] { return run_serve(*a); }});
}

}  // namespace bitnet::cli
