// bitnet-cli end to end: the commands a user runs, their output and their exit codes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bitnet/bitnet.hpp"
#include "test_util.hpp"

namespace bitnet {
namespace {

struct CliRun {
  int code = -1;
  std::string out;  // stdout and stderr together
};

CliRun run_cli(const std::string& args) {
  CliRun r;
  const std::string cmd = test::cli_path() + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

#define REQUIRE_CLI()                                                     \
  do {                                                                    \
    if (test::cli_path().empty()) GTEST_SKIP() << "bitnet-cli not built"; \
  } while (0)

TEST(Cli, HelpForEverySubcommand) {
  REQUIRE_CLI();
  for (const char* sub : {"", "inference", "info", "logits", "model", "model convert", "model info"}) {
    CliRun r = run_cli(std::string(sub) + " --help");
    EXPECT_EQ(r.code, 0) << sub << "\n" << r.out;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
}

TEST(Cli, ServeRunsOrSaysItIsNotBuilt) {
  REQUIRE_CLI();
  CliRun help = run_cli("serve --help");
  EXPECT_EQ(help.code, 0) << help.out;
  CliRun r = run_cli("serve --model /nonexistent.gguf --port 0");
  EXPECT_NE(r.code, 0) << r.out;
  if (help.out.find("not in this build") != std::string::npos) {
    EXPECT_NE(r.out.find("built without the server"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("BITNET_BUILD_SERVER=ON"), std::string::npos) << r.out;
  } else {
    EXPECT_NE(help.out.find("--model"), std::string::npos) << help.out;
    EXPECT_NE(r.out.find("/nonexistent.gguf"), std::string::npos) << r.out;
  }
}

TEST(Cli, InferenceJsonGreedyFromBos) {
  REQUIRE_CLI();
  const std::string model = test::fixture("stories260k/stories260K.gguf");
  BITNET_REQUIRE_FIXTURE(model);
  CliRun r = run_cli("inference --model " + model + " --prompt '' -n 20 --temperature 0 --json --threads 2");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  ASSERT_EQ(j["tokens"].size(), 20u);
  std::ifstream in(test::fixture("stories260k/expected_greedy_200.ids"));
  for (size_t i = 0; i < 20; ++i) {
    int v;
    in >> v;
    EXPECT_EQ(j["tokens"][i].get<int>(), v) << "position " << i;
  }
  EXPECT_EQ(j["text"].get<std::string>().rfind("Once upon a time", 0), 0u) << j["text"];
  EXPECT_TRUE(j["timings"].contains("generate_tokens_per_s"));
}

TEST(Cli, InferenceStreamsPromptAndText) {
  REQUIRE_CLI();
  const std::string model = test::fixture("stories260k/stories260K.gguf");
  BITNET_REQUIRE_FIXTURE(model);
  CliRun r = run_cli("inference -m " + model + " -p 'Once upon a time' -n 16 --seed 7 -t 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("Once upon a time", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("generated 16 tokens"), std::string::npos) << r.out;
}

TEST(Cli, LogitsWritesEveryPosition) {
  REQUIRE_CLI();
  const std::string model = test::fixture("stories260k/stories260K.gguf");
  BITNET_REQUIRE_FIXTURE(model);
  const std::string dir = test::temp_dir();
  {
    std::ofstream ids(dir + "/ids.txt");
    ids << "1 403 407 261\n378";
  }
  CliRun r = run_cli("logits --model " + model + " --ids " + dir + "/ids.txt --out " + dir + "/out.f32");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream f(dir + "/out.f32", std::ios::binary | std::ios::ate);
  ASSERT_TRUE(f);
  ASSERT_EQ(static_cast<size_t>(f.tellg()), 5u * 512u * 4u);
  f.seekg(0);
  std::vector<float> got(5 * 512);
  f.read(reinterpret_cast<char*>(got.data()), static_cast<std::streamsize>(got.size() * 4));
  auto m = Model::load(model);
  ASSERT_TRUE(m.ok());
  auto want = m.value()->evaluate({1, 403, 407, 261, 378});
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(got, want.value());
}

TEST(Cli, InfoDescribesTheFile) {
  REQUIRE_CLI();
  const std::string model = test::fixture("synthetic/fx-relu2-i2_s.gguf");
  BITNET_REQUIRE_FIXTURE(model);
  CliRun r = run_cli("info --model " + model);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("bitnet-b1.58"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("I2_S"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("loadable:      yes"), std::string::npos) << r.out;
}

TEST(Cli, ErrorsAreClearAndExitNonZero) {
  REQUIRE_CLI();
  CliRun r = run_cli("inference --model /nonexistent.gguf -p hi");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("nonexistent.gguf"), std::string::npos) << r.out;
  const std::string dir = test::temp_dir();
  {
    std::ofstream junk(dir + "/junk.gguf");
    junk << "this is not a model";
  }
  r = run_cli("inference --model " + dir + "/junk.gguf -p hi");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("error:"), std::string::npos) << r.out;
  r = run_cli("inference --model " + dir + "/junk.gguf --top-p 3");
  EXPECT_NE(r.code, 0) << r.out;
  const std::string model = test::fixture("stories260k/stories260K.gguf");
  if (test::file_exists(model)) {
    r = run_cli("inference --model " + model + " --prompt-ids '1 2 x' -n 2");
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("bad token id"), std::string::npos) << r.out;
    r = run_cli("inference --model " + model + " --ctx-size 8 --prompt-ids '1 2 3 4 5 6 7 8 9 10' -n 2");
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("does not fit the context"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace bitnet
