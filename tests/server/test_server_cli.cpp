// `bitnet-cli serve` as a user runs it: starts on a free port (written to --port-file), answers, and exits 0 on
// SIGTERM; bad options fail with a message instead of serving.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "server_test_util.hpp"

extern char** environ;

namespace bitnet::server::test {
namespace {

TEST(ServerCli, ServeAnswersAndStopsOnSigterm) {
  BITNET_REQUIRE_SERVER_MODEL();
  if (::bitnet::test::cli_path().empty()) GTEST_SKIP() << "bitnet-cli not built";
  const std::string port_file = ::bitnet::test::temp_dir() + "/port";
  const std::string model = model_path();
  std::vector<std::string> args = {::bitnet::test::cli_path(),
                                   "serve",
                                   "-m",
                                   model,
                                   "--port",
                                   "0",
                                   "--port-file",
                                   port_file,
                                   "--threads",
                                   "1",
                                   "--parallel",
                                   "2",
                                   "--chat-template",
                                   "llama2"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  int port = 0;
  for (int i = 0; i < 3000 && port == 0; ++i) {
    std::ifstream(port_file) >> port;
    if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(port, 0) << "the server did not write its port";
  if (port > 0) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    auto res = c.Post(
        "/v1/chat/completions",
        nlohmann::json{{"model", kModelId}, {"messages", {{{"role", "user"}, {"content", "Hello"}}}}, {"max_tokens", 4}}
            .dump(),
        "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(ServerCli, BadOptionsFailWithoutServing) {
  if (::bitnet::test::cli_path().empty()) GTEST_SKIP() << "bitnet-cli not built";
  const std::vector<std::string> cases = {" serve --help", " serve -m /nonexistent.gguf",
                                          " serve -m " + model_path() + " --parallel 0",
                                          " serve -m " + model_path() + " --host 203.0.113.1 --port 1"};
  for (const std::string& args : cases) {
    FILE* p = popen((::bitnet::test::cli_path() + args + " 2>&1").c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = pclose(p);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (args == " serve --help") {
      EXPECT_EQ(code, 0) << out;
      EXPECT_NE(out.find("--parallel"), std::string::npos) << out;
    } else {
      EXPECT_NE(code, 0) << args << "\n" << out;
      EXPECT_FALSE(out.empty()) << args;
    }
  }
}

}  // namespace
}  // namespace bitnet::server::test
