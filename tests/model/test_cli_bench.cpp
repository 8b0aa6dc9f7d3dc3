// bitnet-cli bench and model synth end to end: the JSON a script reads, the table, and the errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <tuple>

#include "core/cpu_features.hpp"
#include "test_util.hpp"

namespace bitnet {
namespace {

struct CliRun {
  int code = -1;
  std::string out;
};

// stdout only, or stdout and stderr together; bench writes its progress lines to stderr.
// avxvnni: BITNET_AVXVNNI for the command, with BITNET_ISA=avx2 (nullptr: the environment as it is).
CliRun run_cli(const std::string& args, bool with_stderr, const char* avxvnni = nullptr) {
  CliRun r;
  const std::string env = avxvnni != nullptr ? std::string("BITNET_ISA=avx2 BITNET_AVXVNNI=") + avxvnni + " " : "";
  const std::string cmd = env + test::cli_path() + " " + args + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class CliBench : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::cli_path().empty()) GTEST_SKIP() << "bitnet-cli not built";
    dir_ = test::temp_dir();
    model_ = dir_ + "/tiny.gguf";
    CliRun r = run_cli("model synth --shape tiny --type i2_s --head q8_0 --seed 3 " + model_, true);
    ASSERT_EQ(r.code, 0) << r.out;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string dir_, model_;
};

TEST_F(CliBench, JsonHasEveryField) {
  CliRun r = run_cli("bench --model " + model_ + " --json -p 8 -n 4 -r 1 -t 2", false);
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["model"], model_);
  EXPECT_EQ(j["architecture"], "bitnet");
  EXPECT_EQ(j["weight_type"], "I2_S");
  EXPECT_EQ(j["isa"], isa_description(active_isa()));
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["repetitions"], 1);
  EXPECT_EQ(j["model_size_bytes"].get<uint64_t>(), std::filesystem::file_size(model_));
  EXPECT_GT(j["n_params"].get<uint64_t>(), 1000000u);
  EXPECT_GT(j["load_ms"].get<double>(), 0.0);
  EXPECT_GT(j["peak_rss_bytes"].get<uint64_t>(), 0u);
  // The default KV cache: f16, 2 layers x 9 positions (max(-p, -n + 1) + 1) x kv_dim 128, keys and values.
  EXPECT_EQ(j["n_ctx"], 9);
  EXPECT_EQ(j["kv_type"], "f16");
  EXPECT_EQ(j["kv_cache_bytes"].get<uint64_t>(), 2u * 2 * 9 * 128 * 2);
  for (const char* test : {"pp", "tg"}) {
    const auto& t = j[test];
    ASSERT_TRUE(t.is_object()) << test;
    EXPECT_EQ(t["n_tokens"], std::string(test) == "pp" ? 8 : 4);
    EXPECT_GT(t["tokens_per_s_mean"].get<double>(), 0.0) << test;
    EXPECT_EQ(t["tokens_per_s_sd"].get<double>(), 0.0) << test;  // one run
    EXPECT_GT(t["ms_per_token_mean"].get<double>(), 0.0) << test;
    EXPECT_EQ(t["runs_tokens_per_s"].size(), 1u) << test;
  }
  // What a generated token reads. Weights: per layer, I2_S codes (a byte per 4 weights) and a float scale per row
  // of wq, wo (256 x 256), wk, wv (128 x 256), gate, up (1024 x 256) and down (256 x 1024); then the Q8_0 head,
  // 1000 rows of 8 blocks of 34 bytes. KV: 1024 bytes a position (f16 keys and values of 2 layers x 128), at
  // positions 1 .. 4 on average 3.5 read. Where the loader puts down in the dense panel layout (AVX-512 with VBMI),
  // its first 640 columns take a byte per 5 weights: 128 + 96 bytes a row.
  const bool dense = active_isa() == IsaLevel::kAvx512 && cpu_features().avx512vbmi;
  const uint64_t layer = 2 * (256 * 64 + 256 * 4) + 2 * (128 * 64 + 128 * 4) + 2 * (1024 * 64 + 1024 * 4) +
                         (256 * (dense ? 224 : 256) + 256 * 4);
  EXPECT_EQ(j["weight_bytes_per_token"].get<uint64_t>(), 2 * layer + 1000 * 8 * 34);
  EXPECT_EQ(j["tg"]["kv_bytes_per_token"].get<double>(), 1024 * 3.5);
  EXPECT_DOUBLE_EQ(j["tg"]["read_gb_per_s"].get<double>(), (j["weight_bytes_per_token"].get<double>() + 1024 * 3.5) /
                                                               1e9 * j["tg"]["tokens_per_s_mean"].get<double>());
  // What a prompt token computes in the layers' matrices: rows x columns of the same seven a layer, any layout.
  EXPECT_EQ(j["layer_macs_per_token"].get<uint64_t>(), 2u * (2 * 256 * 256 + 2 * 128 * 256 + 3 * 1024 * 256));
  EXPECT_DOUBLE_EQ(j["pp"]["layer_gmac_per_s"].get<double>(),
                   j["layer_macs_per_token"].get<double>() / 1e9 * j["pp"]["tokens_per_s_mean"].get<double>());
}

TEST_F(CliBench, KvTypeOption) {
  // bytes per 128-value row: f32 512, q8_0 4 blocks of 34.
  const std::pair<const char*, uint64_t> cases[] = {{"f32", 512}, {"q8_0", 136}, {"F16", 256}};
  for (const auto& [type, row] : cases) {
    CliRun r = run_cli("bench --model " + model_ + " --json -p 8 -n 4 -r 1 --warmup 0 --kv-type " + type, false);
    ASSERT_EQ(r.code, 0) << type << "\n" << r.out;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.out;
    std::string lower = type;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(j["kv_type"], lower);
    EXPECT_EQ(j["kv_cache_bytes"].get<uint64_t>(), 2u * 2 * 9 * row) << type;
  }
  CliRun bad = run_cli("bench --model " + model_ + " --kv-type q4_0", true);
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("--kv-type"), std::string::npos) << bad.out;
  for (const char* sub : {"inference", "chat", "bench", "logits", "serve"}) {
    CliRun help = run_cli(std::string(sub) + " --help", true);
    if (std::string(sub) == "serve" && help.out.find("not in this build") != std::string::npos) continue;
    EXPECT_NE(help.out.find("--kv-type"), std::string::npos) << sub << "\n" << help.out;
    EXPECT_NE(help.out.find("q8_0"), std::string::npos) << sub;
  }
}

TEST_F(CliBench, ZeroTokensSkipsATest) {
  for (const auto& [args, kept, skipped] : {std::tuple{"-p 0 -n 3", "tg", "pp"}, std::tuple{"-p 5 -n 0", "pp", "tg"}}) {
    CliRun r = run_cli("bench --model " + model_ + " --json -r 1 --warmup 0 " + args, false);
    ASSERT_EQ(r.code, 0) << args << "\n" << r.out;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.out;
    EXPECT_FALSE(j.contains(skipped)) << args;
    ASSERT_TRUE(j.contains(kept)) << args;
    EXPECT_GT(j[kept]["tokens_per_s_mean"].get<double>(), 0.0) << args;
  }
}

// BITNET_AVXVNNI=0 hides AVX-VNNI, so the plain AVX2 kernels run where the CPU has it: bench names the level
// "avx2", not "avx2+vnni", and greedy text is the same either way (both kernels are exact).
TEST_F(CliBench, AvxVnniCanBeTurnedOff) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "an x86-64 switch";
#else
  if (static_cast<int>(max_supported_isa()) < static_cast<int>(IsaLevel::kAvx2)) GTEST_SKIP() << "no AVX2 here";
  const auto isa = [&](const char* vnni) {
    CliRun r = run_cli("bench --model " + model_ + " --json -p 0 -n 2 -r 1", false, vnni);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_discarded() ? r.out : j["isa"].get<std::string>();
  };
  const std::string with = isa("1"), without = isa("0");
  EXPECT_TRUE(with == "avx2" || with == "avx2+vnni") << with;
  EXPECT_EQ(without, "avx2");
  const auto text = [&](const char* vnni) {
    return run_cli("inference -m " + model_ + " -p 'a b c' -n 12 --temperature 0 -t 2", false, vnni);
  };
  const CliRun a = text("1"), b = text("0");
  ASSERT_EQ(a.code, 0) << a.out;
  EXPECT_FALSE(a.out.empty());
  EXPECT_EQ(a.out, b.out);
#endif
}

TEST_F(CliBench, TableByDefault) {
  CliRun r = run_cli("bench -m " + model_ + " -p 4 -n 2 -r 2 --warmup 0", false);
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* needle : {"pp4", "tg2", "tokens/s", "peak RSS", isa_name(active_isa()), "load:", "KV cache:   f16",
                             "tg reads:   0.001 GB of weights", "pp MACs:    0.002 G multiply-adds a token"})
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle << "\n" << r.out;
}

TEST_F(CliBench, BadOptionsAreClearErrors) {
  struct Case {
    std::string args, needle;
  };
  const Case cases[] = {
      {"model synth --shape huge " + dir_ + "/x.gguf", "shape 'huge' is not one of"},
      {"model synth --shape tiny --type q4_0 " + dir_ + "/x.gguf", "weight type 'q4_0' is not one of"},
      {"model synth --shape tiny --head q4_k " + dir_ + "/x.gguf", "head type 'q4_k'"},
      {"model synth --arch gpt2 " + dir_ + "/x.gguf", "--arch"},
      {"bench --model " + model_ + " -p 0 -n 0", "nothing to measure"},
      {"bench --model " + model_ + " -p -1", "--n-prompt: must be at least 0 (got -1)"},
      {"bench --model " + model_ + " -r 0", "--repetitions: must be at least 1 (got 0)"},
      {"bench --model " + model_ + " -n abc", "--n-gen: 'abc' is not a number"},
      {"bench --model " + model_ + " -d 2147483647", "more than a context can hold"},
      {"bench --model " + dir_ + "/missing.gguf", "missing.gguf"},
      {"bench --model " + model_ + " -p 64 -c 16", "context"},
  };
  for (const Case& c : cases) {
    CliRun r = run_cli(c.args, true);
    EXPECT_NE(r.code, 0) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.needle), std::string::npos) << c.args << "\n" << r.out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/x.gguf"));
}

TEST_F(CliBench, HelpExplainsTheNewCommands) {
  for (const char* sub : {"bench", "model synth"}) {
    CliRun r = run_cli(std::string(sub) + " --help", true);
    EXPECT_EQ(r.code, 0) << sub << "\n" << r.out;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub;
  }
  CliRun r = run_cli("model synth --help", true);
  for (const char* needle : {"2b4t", "large", "3b", "8b", "tiny", "i2_s", "tl2", "q6_k", "--seed"})
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle;
}

}  // namespace
}  // namespace bitnet
