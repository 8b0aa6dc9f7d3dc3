// bitnet-cli subcommands: each file registers its subcommand on the app and runs it when chosen.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "bitnet/bitnet.hpp"

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
void add_serve(CLI::App& app, std::vector<Command>& out);  // only when built with the server
void add_serve_missing(CLI::App& app, std::vector<Command>& out);  // built without it: says so, exits 1

// Sampling flags shared by inference and chat (defaults as GenerationConfig's; seed -1 = random).
struct SamplingArgs {
  float temperature = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  int64_t seed = -1;
};
void add_sampling_options(CLI::App* sub, SamplingArgs& s);
void apply_sampling(const SamplingArgs& s, GenerationConfig& cfg);

// --kv-type f32|f16|q8_0 (default: what kv_type holds, "f16"), --no-repack-i2s and --repack-float, and their values
// into LoadOptions (false with a message on a KV type parse_kv_type rejects).
struct LoadArgs {
  std::string kv_type = "f16";
  bool repack_i2s = true;
  bool repack_float = false;
};
void add_load_options(CLI::App* sub, LoadArgs& a);
bool apply_load_options(const LoadArgs& a, LoadOptions& lo, std::string& error);
// After a load: a note on stderr where --repack-float would take float weights as ternary.
void note_load(const ModelInfo& info);

// Checks for numeric options: a number >= min, a number > min (CLI11's NonNegativeNumber and PositiveNumber print
// the largest double as the range's end, and call a word out of range).
CLI::Validator at_least(double min);
CLI::Validator above(double min);

// Prints "error: <message>" to stderr and returns exit code 1.
int fail(const std::string& message);

// Parses "1 2 3" (spaces, tabs or newlines) into ids; false with a message on a bad entry.
bool parse_ids(const std::string& text, std::vector<int32_t>& ids, std::string& error);

}  // namespace bitnet::cli
