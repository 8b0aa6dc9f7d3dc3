// bitnet-cli model {info, convert}: model file management.
#include <cstdio>
#include <iostream>

#include "bitnet/bitnet.hpp"
#include "commands.hpp"

namespace bitnet::cli {

int run_info(const std::string& path, bool json);

namespace {

struct ConvertArgs {
  std::string from = "llama2c";
  std::string in, tokenizer, out;
};

int run_convert(const ConvertArgs& a) {
  Status s = convert_llama2c(a.from, a.in, a.tokenizer, a.out);
  if (!s.ok()) return fail(s.to_string());
  std::fprintf(stderr, "wrote %s\n", a.out.c_str());
  return 0;
}

}  // namespace

void add_model(CLI::App& app, std::vector<Command>& out) {
  CLI::App* model = app.add_subcommand("model", "Model files: info, convert");
  model->require_subcommand(1);

  auto ipath = std::make_shared<std::string>();
  auto ijson = std::make_shared<bool>(false);
  CLI::App* info = model->add_subcommand("info", "Describe a model file (same as `bitnet-cli info`)");
  info->add_option("-m,--model,path", *ipath, "Model file (GGUF)")->required()->check(CLI::ExistingFile);
  info->add_flag("--json", *ijson, "Print JSON");
  out.push_back({info, [ipath, ijson] { return run_info(*ipath, *ijson); }});

  auto a = std::make_shared<ConvertArgs>();
  CLI::App* conv =
      model->add_subcommand("convert",
                            "Convert a llama2.c checkpoint to GGUF: --from llama2c (float .bin -> llama) or "
                            "--from bitllama2c (ternary ak42 file -> bitllama2c with I2_S weights)");
  conv->add_option("--from", a->from, "Source format: llama2c or bitllama2c")
      ->check(CLI::IsMember({"llama2c", "bitllama2c"}))
      ->capture_default_str();
  conv->add_option("input", a->in, "Input checkpoint (.bin)")->required()->check(CLI::ExistingFile);
  conv->add_option("--tokenizer", a->tokenizer,
                   "Tokenizer: llama2.c tokenizer file (tok512.bin format) or SentencePiece tokenizer.model")
      ->required()
      ->check(CLI::ExistingFile);
  conv->add_option("output", a->out, "Output GGUF file")->required();
  out.push_back({conv, [a] { return run_convert(*a); }});
  add_model_synth(*model, out);
}

}  // namespace bitnet::cli
