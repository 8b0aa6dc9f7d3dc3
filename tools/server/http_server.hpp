// The OpenAI-compatible HTTP server: routes, authentication, request limits, streaming. Handler threads
// (cpp-httplib's pool) parse and validate, hand jobs to the Scheduler and relay its events to the client.
#pragma once

#include <memory>

#include "bitnet/bitnet.hpp"
#include "metrics.hpp"
#include "server_options.hpp"

namespace bitnet::server {

class Server {
 public:
  // Binds host:port (port 0: any free port) and serves on background threads until stop(). The model must
  // outlive the server; the server's scheduler thread is the only one that runs it.
  static Result<std::unique_ptr<Server>> start(Model& model, const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  const std::string& model_id() const;
  Metrics& metrics();
  // Stops accepting, ends running and queued generations with an error event, joins every thread.
  void stop();
  // Holds (or releases) admission of queued requests; running ones continue. For tests and draining.
  void hold_queue(bool on);

 private:
  Server();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bitnet::server
