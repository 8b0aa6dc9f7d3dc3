// bitnet-cli subcommands: each file registers its subcommand on the app and runs it when chosen.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace bitnet::cli {

// A registered subcommand: run() is called when it was the one parsed; returns the exit code.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

void add_inference(CLI::App& app, std::vector<Command>& out);
void add_info(CLI::App& app, std::vector<Command>& out);
void add_logits(CLI::App& app, std::vector<Command>& out);
void add_model(CLI::App& app, std::vector<Command>& out);
void add_tokenize(CLI::App& app, std::vector<Command>& out);  // tokenize, detokenize
void add_chat(CLI::App& app, std::vector<Command>& out);
void add_model_synth(CLI::App& model, std::vector<Command>& out);
void add_bench(CLI::App& app, std::vector<Command>& out);

// Prints "error: <message>" to stderr and returns exit code 1.
int fail(const std::string& message);

// Parses "1 2 3" (spaces, tabs or newlines) into ids; false with a message on a bad entry.
bool parse_ids(const std::string& text, std::vector<int32_t>& ids, std::string& error);

}  // namespace bitnet::cli
