// bitnet-tokenizer-bench: load time and encode speed (MB/s, tokens/s) of a byte-level BPE tokenizer, by
// default Llama 3's tokenizer.json from the fixtures on the fixture texts repeated to about 5 MB.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/mapped_file.hpp"
#include "tokenizer/tokenizer.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string fixtures_dir() {
  const char* env = std::getenv("BITNET_FIXTURES");
  return env != nullptr && *env != '\0' ? env : BITNET_DEFAULT_FIXTURES;
}

int usage() {
  std::fprintf(stderr,
               "usage: bitnet-tokenizer-bench [--tokenizer tokenizer.json] [--text FILE] [--mb SIZE] [--runs N]\n"
               "  --text FILE: encode this file as it is (default: the fixture texts repeated to --mb MB, 5)\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string fixtures = fixtures_dir();
  std::string tokenizer_path = fixtures + "/tokenizers/llama3/tokenizer.json";
  std::string text_path;
  double target_mb = 5.0;
  int runs = 3;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    const char* value = argv[++i];
    if (arg == "--tokenizer") {
      tokenizer_path = value;
    } else if (arg == "--text") {
      text_path = value;
    } else if (arg == "--mb") {
      target_mb = std::atof(value);
    } else if (arg == "--runs") {
      runs = std::max(1, std::atoi(value));
    } else {
      return usage();
    }
  }

  std::string text;
  if (!text_path.empty()) {
    auto t = bitnet::read_text_file(text_path);
    if (!t.ok()) return std::fprintf(stderr, "%s\n", t.status().to_string().c_str()), 1;
    text = std::move(t).value();
  } else {
    std::string seed;
    for (const char* f : {"/tokenizers/llama3/cases.inp", "/tokenizers/gpt-2/ggml-vocab-gpt-2.gguf.inp",
                          "/tokenizers/llama-spm/ggml-vocab-llama-spm.gguf.inp"}) {
      auto t = bitnet::read_text_file(fixtures + f);
      if (t.ok()) seed += *t;
    }
    if (seed.empty()) return std::fprintf(stderr, "no fixture texts under %s; pass --text\n", fixtures.c_str()), 1;
    const auto target = static_cast<size_t>(target_mb * 1024 * 1024);
    while (text.size() < target) text += seed;
  }

  auto t0 = Clock::now();
  auto vocab = bitnet::vocab_from_tokenizer_json(tokenizer_path);
  if (!vocab.ok()) return std::fprintf(stderr, "%s\n", vocab.status().to_string().c_str()), 1;
  const double parse_s = seconds_since(t0);
  auto tok = bitnet::Tokenizer::create(std::move(vocab).value());
  if (!tok.ok()) return std::fprintf(stderr, "%s\n", tok.status().to_string().c_str()), 1;
  const double load_s = seconds_since(t0);

  double best = 1e30;
  size_t n_tokens = 0;
  for (int r = 0; r < runs; ++r) {
    const auto start = Clock::now();
    auto ids = (*tok)->encode(text, false, false);
    const double s = seconds_since(start);
    if (!ids.ok()) return std::fprintf(stderr, "%s\n", ids.status().to_string().c_str()), 1;
    n_tokens = ids->size();
    best = std::min(best, s);
  }
  const double mb = static_cast<double>(text.size()) / (1024.0 * 1024.0);
  std::printf("tokenizer: %s (%d tokens, %zu merges)\n", tokenizer_path.c_str(), (*tok)->n_vocab(),
              (*tok)->vocab().merges.size());
  std::printf("load: %.3f s (tokenizer.json parse %.3f s, tables %.3f s)\n", load_s, parse_s, load_s - parse_s);
  std::printf("text: %.2f MB -> %zu tokens (%.2f bytes/token)\n", mb, n_tokens,
              static_cast<double>(text.size()) / static_cast<double>(std::max<size_t>(n_tokens, 1)));
  std::printf("encode (best of %d): %.3f s, %.2f MB/s, %.0f tokens/s\n", runs, best, mb / best,
              static_cast<double>(n_tokens) / best);
  return 0;
}
