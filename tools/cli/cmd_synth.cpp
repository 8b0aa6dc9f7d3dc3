// bitnet-cli model synth: write a random-weight model of a real BitNet shape (for benchmarks and tests).
#include <cstdio>
#include <iostream>

#include "bitnet/synth.hpp"
#include "commands.hpp"

namespace bitnet::cli {
namespace {

struct SynthArgs {
  SynthOptions options;
  std::string out;
  bool quiet = false;
};

int run_synth(const SynthArgs& a) {
  SynthOptions o = a.options;
  if (!a.quiet) o.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  Status s = synthesize_model(o, a.out);
  if (!s.ok()) return fail(s.to_string());
  return 0;
}

}  // namespace

void add_model_synth(CLI::App& model, std::vector<Command>& out) {
  auto a = std::make_shared<SynthArgs>();
  std::string shapes = "Shape:";
  for (const auto& [name, description] : synth_shapes()) shapes += "\n  " + name + ": " + description;
  CLI::App* sub = model.add_subcommand(
      "synth",
      "Write a GGUF model with random ternary weights of a real BitNet shape: loads and runs like the real model "
      "(same tensors, sizes and speed) but its text is noise. For benchmarks and tests.");
  sub->add_option("--arch", a->options.arch,
                  "bitnet (llama.cpp naming, SiLU-gated FFN, sub-norms), bitnet-b1.58 (2B-4T family, squared-ReLU "
                  "FFN, sub-norms) or llama (ternary Llama-style models such as Llama3-8B-1.58 and Falcon3-1.58bit, "
                  "as bitnet.cpp's converter writes them: SiLU-gated FFN, no sub-norms). Default: the shape's own, "
                  "llama for 8b and falcon3-*, bitnet for the others (bitnet.cpp writes 2B-4T as bitnet-b1.58; "
                  "llama.cpp reads bitnet)")
      ->check(CLI::IsMember({"bitnet", "bitnet-b1.58", "llama"}));
  // Shape and type are checked by the library, so its error names the problem (e.g. a row length a type cannot fit).
  sub->add_option("--shape", a->options.shape, shapes)->capture_default_str();
  sub->add_option(
         "--type", a->options.type,
         "Ternary weight type of the linear layers: i2_s, tl1, tl2 (bitnet.cpp), tq1_0, tq2_0 (llama.cpp), or "
         "f16, bf16, f32: the same ternary values times the tensor's scale in float, as llama.cpp's converter "
         "writes BitNet models (loaded as float, or as ternary with --repack-float). "
         "tl1/tl2 are laid out as bitnet.cpp's converter writes them, tiled with the kernel config its "
         "setup_env.py generates for large, 3b and 8b (the other shapes: this engine's own config, recorded in "
         "the file's bitnet-cli.tl_kernel_config key; bitnet.cpp needs a build with the same config)")
      ->capture_default_str();
  sub->add_option("--head", a->options.head, "Type of the token embedding / output head: q6_k, q8_0, f16 or bf16")
      ->capture_default_str();
  sub->add_option("--vocab", a->options.vocab,
                  "Write this vocabulary instead of a made-up one, so load time and memory are the real model's: a "
                  "tokenizer.json, a SentencePiece tokenizer.model, or a GGUF holding one (e.g. Llama 3's "
                  "tokenizer.json for 2b4t). At most the shape's vocabulary size; fewer tokens are padded");
  sub->add_option("--seed", a->options.seed, "Random seed; same options and seed, same file")->capture_default_str();
  sub->add_flag("-q,--quiet", a->quiet, "No progress lines on stderr");
  sub->add_option("output", a->out, "Output GGUF file")->required();
  out.push_back({sub, [a] { return run_synth(*a); }});
}

}  // namespace bitnet::cli
