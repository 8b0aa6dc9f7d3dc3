// The official openai npm client (tests/server/node_modules, installed by scripts/setup.sh with npm ci) talks
// to the server: a chat completion, a streamed chat completion, a completion, the model list, a 404. Nothing in
// the client is patched. Skipped, visibly, when node or the package is absent.
#include <sys/wait.h>

#include <cstdio>

#include "server_test_util.hpp"

namespace bitnet::server::test {
namespace {

TEST(ServerOpenAiNode, OfficialClientChatStreamAndCompletion) {
  BITNET_REQUIRE_SERVER_MODEL();
  const std::string dir = std::string(BITNET_SOURCE_DIR) + "/tests/server";
  if (std::system("node --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "node not found, skipping";
  if (!::bitnet::test::file_exists(dir + "/node_modules/openai/package.json"))
    GTEST_SKIP() << "the openai npm package is not installed in " << dir
                 << "/node_modules (scripts/setup.sh runs npm ci there), skipping";
  ServerOptions opts;
  opts.api_key = "sk-bitnet-test";
  auto r = start_server(opts);
  ASSERT_NE(r, nullptr);
  const std::string cmd = "BITNET_BASE_URL=http://127.0.0.1:" + std::to_string(r->port) +
                          "/v1 BITNET_MODEL=" + kModelId + " BITNET_API_KEY=" + opts.api_key + " timeout 120 node " +
                          dir + "/openai_client.mjs 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_NE(out.find("\"ok\":true"), std::string::npos) << out;
}

}  // namespace
}  // namespace bitnet::server::test
