// bitnet-cli: entry point; subcommands are added in their own files.
#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  CLI::App app{"bitnet-cli: run ternary (1.58-bit) language models"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
