// bitnet-cli tokenize / detokenize: text to token ids and back, with the tokenizer of a model or of a
// vocabulary file, without loading any weights.
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "bitnet/tokenizer.hpp"
#include "commands.hpp"

namespace bitnet::cli {
namespace {

struct TokenizerSource {
  std::string model;
  std::string tokenizer;
};

struct TokenizeArgs {
  TokenizerSource src;
  std::string text;
  bool no_bos = false;
  bool special = false;
  bool json = false;
};

struct DetokenizeArgs {
  TokenizerSource src;
  std::string ids;
};

std::string read_stdin() {
  return std::string((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
}

Result<std::unique_ptr<TokenizerHandle>> load(const TokenizerSource& src) {
  if (src.model.empty() && src.tokenizer.empty())
    return invalid_argument("give the tokenizer with --model FILE.gguf or --tokenizer FILE");
  return TokenizerHandle::load(src.model.empty() ? src.tokenizer : src.model);
}

void add_source_options(CLI::App* sub, TokenizerSource& src) {
  CLI::Option* m =
      sub->add_option("-m,--model", src.model, "Model file (GGUF): use its tokenizer")->check(CLI::ExistingFile);
  CLI::Option* t = sub->add_option("--tokenizer", src.tokenizer,
                                   "Tokenizer file: Hugging Face tokenizer.json, SentencePiece tokenizer.model, or a "
                                   "GGUF (model or vocabulary-only)")
                       ->check(CLI::ExistingFile);
  m->excludes(t);
}

int run_tokenize(const TokenizeArgs& a, bool has_text) {
  auto tok = load(a.src);
  if (!tok.ok()) return fail(tok.status().to_string());
  const TokenizerHandle& t = *tok.value();
  const std::string text = has_text ? a.text : read_stdin();
  auto ids = t.tokenize(text, !a.no_bos && t.wants_bos(), a.special);
  if (!ids.ok()) return fail(ids.status().to_string());
  if (a.json) {
    std::cout << nlohmann::json(ids.value()).dump() << "\n";
    return 0;
  }
  std::string line;
  for (const int32_t id : ids.value()) line += (line.empty() ? "" : " ") + std::to_string(id);
  std::cout << line << "\n";
  return 0;
}

int run_detokenize(const DetokenizeArgs& a, bool has_ids) {
  std::vector<int32_t> ids;
  std::string err;
  if (!parse_ids(has_ids ? a.ids : read_stdin(), ids, err))
    return fail(std::string(has_ids ? "--ids" : "stdin") + ": " + err);
  auto tok = load(a.src);
  if (!tok.ok()) return fail(tok.status().to_string());
  auto text = tok.value()->detokenize(ids);
  if (!text.ok()) return fail(text.status().to_string());
  std::cout << text.value() << std::flush;  // exactly the text: a round trip must not gain a newline
  return 0;
}

}  // namespace

void add_tokenize(CLI::App& app, std::vector<Command>& out) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* sub = app.add_subcommand(
      "tokenize", "Print the token ids of a text (from --text, or all of stdin), space-separated or as JSON");
  add_source_options(sub, a->src);
  CLI::Option* text = sub->add_option("--text", a->text, "Text to tokenize (default: read all of stdin)");
  sub->add_flag("--no-bos", a->no_bos, "Do not prepend BOS (added by default when the vocabulary asks for it)");
  sub->add_flag("--special", a->special, "Recognise special-token text such as <s> as those tokens");
  sub->add_flag("--json", a->json, "Print a JSON array instead of space-separated ids");
  out.push_back({sub, [a, text] { return run_tokenize(*a, text->count() > 0); }});

  auto d = std::make_shared<DetokenizeArgs>();
  CLI::App* dsub =
      app.add_subcommand("detokenize", "Print the text of token ids (from --ids, or stdin), exactly, no newline added");
  add_source_options(dsub, d->src);
  CLI::Option* ids = dsub->add_option("--ids", d->ids, "Token ids, e.g. \"1 15043 3186\" (default: read stdin)");
  out.push_back({dsub, [d, ids] { return run_detokenize(*d, ids->count() > 0); }});
}

}  // namespace bitnet::cli
