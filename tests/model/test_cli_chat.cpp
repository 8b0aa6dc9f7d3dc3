// bitnet-cli tokenize, detokenize and chat end to end: ids against llama.cpp's published SentencePiece
// vectors, round trips, and a two-turn conversation driven through stdin.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "test_util.hpp"

namespace bitnet {
namespace {

struct CliResult {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs bitnet-cli with `input` on stdin (through a file, so no shell quoting of the text is involved).
CliResult run_cli(const std::string& args, const std::string& input = "") {
  const std::string dir = test::temp_dir();
  const std::string in_path = dir + "/stdin.txt", err_path = dir + "/stderr.txt";
  std::ofstream(in_path, std::ios::binary) << input;
  const std::string cmd = test::cli_path() + " " + args + " < " + in_path + " 2> " + err_path;
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(err_path);
  return r;
}

#define REQUIRE_CLI()                                                     \
  do {                                                                    \
    if (test::cli_path().empty()) GTEST_SKIP() << "bitnet-cli not built"; \
  } while (0)

// The texts and ids of llama.cpp's SentencePiece vectors (.inp: texts separated by __ggml_vocab_test__ lines;
// .out: one line of ids per text, no BOS).
struct Vectors {
  std::vector<std::string> texts;
  std::vector<std::string> ids;
};

Vectors read_vectors(const std::string& base) {
  Vectors v;
  const std::string inp = slurp(base + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  for (size_t pos = 0; pos < inp.size();) {
    size_t end = inp.find(sep, pos);
    if (end == std::string::npos) end = inp.size();
    v.texts.push_back(inp.substr(pos, end - pos));
    pos = end + sep.size();
  }
  std::ifstream out(base + ".out");
  for (std::string line; std::getline(out, line);) {
    const size_t b = line.find_first_not_of(' ');
    v.ids.push_back(b == std::string::npos ? "" : line.substr(b));
  }
  return v;
}

TEST(CliTokenize, HelpForTheNewSubcommands) {
  REQUIRE_CLI();
  for (const char* sub : {"tokenize", "detokenize", "chat"}) {
    CliResult r = run_cli(std::string(sub) + " --help");
    EXPECT_EQ(r.code, 0) << sub << r.err;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
}

TEST(CliTokenize, MatchesLlamaSpmVectors) {
  REQUIRE_CLI();
  const std::string base = test::fixture("tokenizers/llama-spm/ggml-vocab-llama-spm.gguf");
  const std::string model = test::fixture("synthetic/fx-silu-f16.gguf");  // carries the same vocabulary
  BITNET_REQUIRE_FIXTURE(base);
  BITNET_REQUIRE_FIXTURE(model);
  const Vectors v = read_vectors(base);
  ASSERT_EQ(v.texts.size(), v.ids.size());
  size_t checked = 0;
  for (size_t i = 0; i < v.texts.size(); ++i) {
    const std::string& t = v.texts[i];
    if (t != "Hello world" && t != " Hello World!" && t != "w048 7tuijk dsdfhu" && t.rfind("Äpfel", 0) != 0 &&
        t != "Hello, world!")
      continue;
    for (const std::string& src : {"--tokenizer " + base, "--model " + model}) {
      CliResult r = run_cli("tokenize " + src + " --no-bos", t);
      ASSERT_EQ(r.code, 0) << r.err;
      EXPECT_EQ(r.out, v.ids[i] + "\n") << "text '" << t << "' via " << src;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 5u);
}

TEST(CliTokenize, BosJsonTextAndRoundTrip) {
  REQUIRE_CLI();
  const std::string model = test::fixture("stories260k/stories260K.gguf");
  BITNET_REQUIRE_FIXTURE(model);
  CliResult r = run_cli("tokenize -m " + model + " --json --text 'Once upon a time'");
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_array()) << r.out;
  ASSERT_GT(j.size(), 1u);
  EXPECT_EQ(j[0].get<int>(), 1);  // BOS by default: the vocabulary asks for it

  CliResult ids = run_cli("tokenize -m " + model + " --no-bos", "Once upon a time, a little girl");
  ASSERT_EQ(ids.code, 0) << ids.err;
  CliResult text = run_cli("detokenize -m " + model, ids.out);
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_EQ(text.out, "Once upon a time, a little girl");
  CliResult via_flag = run_cli("detokenize -m " + model + " --ids '1 " + ids.out.substr(0, ids.out.size() - 1) + "'");
  EXPECT_EQ(via_flag.out, "Once upon a time, a little girl");  // BOS gives no text
}

TEST(CliTokenize, SpecialTokensOnlyWithSpecial) {
  REQUIRE_CLI();
  const std::string vocab = test::fixture("tokenizers/llama-spm/ggml-vocab-llama-spm.gguf");
  BITNET_REQUIRE_FIXTURE(vocab);
  CliResult plain = run_cli("tokenize --tokenizer " + vocab + " --no-bos --text '<s>'");
  CliResult special = run_cli("tokenize --tokenizer " + vocab + " --no-bos --special --text '<s>'");
  ASSERT_EQ(special.code, 0) << special.err;
  EXPECT_EQ(special.out, "1\n");
  EXPECT_NE(plain.out, "1\n");
}

TEST(CliTokenize, ClearErrors) {
  REQUIRE_CLI();
  const std::string vocab = test::fixture("tokenizers/llama-spm/ggml-vocab-llama-spm.gguf");
  BITNET_REQUIRE_FIXTURE(vocab);
  CliResult none = run_cli("tokenize --text hi");
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("--model"), std::string::npos) << none.err;
  CliResult bad_id = run_cli("detokenize --tokenizer " + vocab + " --ids '1 99999'");
  EXPECT_EQ(bad_id.code, 1);
  EXPECT_NE(bad_id.err.find("99999"), std::string::npos) << bad_id.err;
  CliResult junk = run_cli("detokenize --tokenizer " + vocab + " --ids '1 two'");
  EXPECT_EQ(junk.code, 1);
  EXPECT_NE(junk.err.find("two"), std::string::npos) << junk.err;
}

TEST(CliTokenize, TokenizerJsonAndSentencePieceModelFiles) {
  REQUIRE_CLI();
  const std::string json = test::fixture("tokenizers/llama3/tokenizer.json");
  const std::string model = test::fixture("stories260k/tok512.model");
  BITNET_REQUIRE_FIXTURE(json);
  BITNET_REQUIRE_FIXTURE(model);
  // the first case of tokenizers/llama3/cases.inp/.out
  CliResult j = run_cli("tokenize --tokenizer " + json + " --no-bos", "ied 4 \u00bd months");
  EXPECT_EQ(j.code, 0) << j.err;
  EXPECT_EQ(j.out, "1142 220 19 220 27154 4038\n");
  CliResult m = run_cli("tokenize --tokenizer " + model + " --text 'Once upon a time'");
  EXPECT_EQ(m.code, 0) << m.err;
  EXPECT_EQ(m.out, "1 403 407 261 378\n");
}

struct TurnStats {
  int turn = 0;
  long new_tokens = 0, generated = 0, context = 0;
  std::string reused;
};

std::vector<TurnStats> turn_stats(const std::string& err) {
  std::vector<TurnStats> out;
  const std::regex re(R"(\[chat\] turn=(\d+) new_tokens=(\d+) generated=(\d+) context=(\d+)/\d+ reused=(\w+))");
  for (auto it = std::sregex_iterator(err.begin(), err.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back({std::stoi((*it)[1]), std::stol((*it)[2]), std::stol((*it)[3]), std::stol((*it)[4]), (*it)[5]});
  return out;
}

const char* kChatArgs = " --chat-template llama2 --temperature 0 -n 8 -t 2 -v";

TEST(CliChat, TwoTurnsKeepTheCache) {
  REQUIRE_CLI();
  const std::string model = test::fixture("synthetic/fx-silu-f16.gguf");
  BITNET_REQUIRE_FIXTURE(model);
  CliResult r = run_cli("chat -m " + model + kChatArgs + " --system 'Be brief.'", "Hello there\nWhat comes next?\n");
  ASSERT_EQ(r.code, 0) << r.err;
  // Three prompts: two answered turns, then end of input.
  size_t prompts = 0;
  for (size_t p = r.out.find("> "); p != std::string::npos; p = r.out.find("> ", p + 2)) ++prompts;
  EXPECT_EQ(prompts, 3u) << r.out;
  const auto stats = turn_stats(r.err);
  ASSERT_EQ(stats.size(), 2u) << r.err;
  EXPECT_EQ(stats[0].generated, 8);
  EXPECT_EQ(stats[0].context, stats[0].new_tokens + 8);
  // The second turn evaluates only its own tokens: the context grows by them and the answer.
  EXPECT_EQ(stats[1].reused, "yes");
  EXPECT_EQ(stats[1].generated, 8);
  EXPECT_EQ(stats[1].context, stats[0].context + stats[1].new_tokens + 8);
  EXPECT_LT(stats[1].new_tokens, stats[0].context);
}

TEST(CliChat, ResetStartsOver) {
  REQUIRE_CLI();
  const std::string model = test::fixture("synthetic/fx-silu-f16.gguf");
  BITNET_REQUIRE_FIXTURE(model);
  CliResult r = run_cli("chat -m " + model + kChatArgs, "Hello\n/reset\nHello\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("(conversation reset)"), std::string::npos) << r.out;
  const auto stats = turn_stats(r.err);
  ASSERT_EQ(stats.size(), 2u) << r.err;
  EXPECT_EQ(stats[1].reused, "no");
  EXPECT_EQ(stats[1].context, stats[0].context);
  // Greedy, same conversation from scratch: the same answer. Lines: "> answer", "> (conversation reset)",
  // "> answer", "> ".
  std::vector<std::string> lines;
  std::istringstream out(r.out);
  for (std::string line; std::getline(out, line);) lines.push_back(line);
  ASSERT_GE(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0], lines[2]) << r.out;
  EXPECT_GT(lines[0].size(), 2u) << r.out;
}

TEST(CliChat, FullContextIsAClearErrorNotACrash) {
  REQUIRE_CLI();
  const std::string model = test::fixture("synthetic/fx-silu-f16.gguf");
  BITNET_REQUIRE_FIXTURE(model);
  CliResult r = run_cli("chat -m " + model + kChatArgs + " -c 30", "Hello there\nWhat comes next?\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("no longer fits the context of 30 tokens"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/reset"), std::string::npos) << r.err;
}

TEST(CliChat, TemplateErrorsNameTheChoices) {
  REQUIRE_CLI();
  const std::string model = test::fixture("synthetic/fx-silu-f16.gguf");
  BITNET_REQUIRE_FIXTURE(model);
  CliResult unknown = run_cli("chat -m " + model + " --chat-template vicuna", "hi\n");
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("bitnet, llama3, llama2, chatml"), std::string::npos) << unknown.err;
  CliResult missing = run_cli("chat -m " + model, "hi\n");  // the fixture has no tokenizer.chat_template
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("no chat template"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace bitnet
