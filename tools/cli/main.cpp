// bitnet-cli: entry point; each subcommand lives in its own file (cmd_*.cpp).
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "commands.hpp"

namespace bitnet::cli {

int fail(const std::string& message) {
  std::fflush(stdout);
  std::cerr << "error: " << message << "\n";
  return 1;
}

bool parse_ids(const std::string& text, std::vector<int32_t>& ids, std::string& error) {
  const char* p = text.c_str();
  while (*p != '\0') {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',') ++p;
    if (*p == '\0') break;
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(p, &end, 10);
    if (end == p || errno != 0 || v < 0 || v > 0x7fffffff) {
      error = "bad token id near '" + std::string(p, std::min<size_t>(16, std::strlen(p))) + "'";
      return false;
    }
    ids.push_back(static_cast<int32_t>(v));
    p = end;
  }
  return true;
}

#ifndef BITNET_WITH_SERVER
// A build without the server still knows the subcommand, so `serve` says why it cannot run instead of a parse error.
void add_serve_missing(CLI::App& app, std::vector<Command>& out) {
  CLI::App* sub = app.add_subcommand(
      "serve",
      "OpenAI-compatible HTTP server: not in this build (configure with -DBITNET_BUILD_SERVER=ON; needs "
      "cpp-httplib, Debian's libcpp-httplib-dev)");
  sub->allow_extras();
  out.push_back({sub, [] {
                   return fail(
                       "this bitnet-cli was built without the server (BITNET_BUILD_SERVER=OFF): "
                       "reconfigure with -DBITNET_BUILD_SERVER=ON (needs libcpp-httplib-dev) and rebuild");
                 }});
}
#endif

}  // namespace bitnet::cli

int main(int argc, char** argv) {
  CLI::App app{"bitnet-cli: run ternary (1.58-bit) language models on the CPU"};
  app.require_subcommand(1);
  std::vector<bitnet::cli::Command> commands;
  bitnet::cli::add_inference(app, commands);
  bitnet::cli::add_info(app, commands);
  bitnet::cli::add_logits(app, commands);
  bitnet::cli::add_model(app, commands);
  bitnet::cli::add_tokenize(app, commands);
  bitnet::cli::add_chat(app, commands);
  bitnet::cli::add_bench(app, commands);
#ifdef BITNET_WITH_SERVER
  bitnet::cli::add_serve(app, commands);
#else
  bitnet::cli::add_serve_missing(app, commands);
#endif
  CLI11_PARSE(app, argc, argv);
  for (auto& c : commands)
    if (c.app->parsed()) return c.run();
  return 0;
}
