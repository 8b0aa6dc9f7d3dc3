// Multi-turn API: generate_continue and evaluate_continue keep the KV cache of earlier turns, and what they
// compute equals evaluating the whole sequence from scratch; apply_chat_template on a real model file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "bitnet/bitnet.hpp"
#include "test_util.hpp"

namespace bitnet {
namespace {

std::vector<int32_t> read_prompt_ids() {
  std::ifstream in(test::fixture("synthetic/prompt.ids"));
  std::vector<int32_t> ids;
  for (int32_t v; in >> v;) ids.push_back(v);
  return ids;
}

std::unique_ptr<Model> load_fx() {
  LoadOptions lo;
  lo.n_threads = 2;
  auto m = Model::load(test::fixture("synthetic/fx-silu-f16.gguf"), lo);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::move(m).value() : nullptr;
}

// Rows [row0, row0 + n) of both: max |a - b| within 1e-4 of the largest |b| (the same float operations in
// a different batching; anything beyond rounding means the cache was wrong).
void expect_rows_close(const std::vector<float>& a, const std::vector<float>& b, size_t b_row0, size_t n_rows,
                       size_t n_vocab) {
  ASSERT_EQ(a.size(), n_rows * n_vocab);
  ASSERT_GE(b.size(), (b_row0 + n_rows) * n_vocab);
  float max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const float ref = b[b_row0 * n_vocab + i];
    max_diff = std::max(max_diff, std::fabs(a[i] - ref));
    max_ref = std::max(max_ref, std::fabs(ref));
  }
  EXPECT_LE(max_diff, 1e-4f * max_ref) << "max |diff| " << max_diff << " vs max |logit| " << max_ref;
}

TEST(ChatApi, EvaluateContinueEqualsWholeSequence) {
  const std::string path = test::fixture("synthetic/fx-silu-f16.gguf");
  BITNET_REQUIRE_FIXTURE(path);
  auto m = load_fx();
  ASSERT_NE(m, nullptr);
  const std::vector<int32_t> ids = read_prompt_ids();
  ASSERT_EQ(ids.size(), 24u);
  const size_t n_vocab = static_cast<size_t>(m->info().n_vocab);
  auto whole = m->evaluate(ids);
  ASSERT_TRUE(whole.ok()) << whole.status().to_string();

  const std::vector<int32_t> head(ids.begin(), ids.begin() + 16), tail(ids.begin() + 16, ids.end());
  ASSERT_TRUE(m->evaluate(head).ok());
  auto cont = m->evaluate_continue(tail);
  ASSERT_TRUE(cont.ok()) << cont.status().to_string();
  expect_rows_close(cont.value(), whole.value(), 16, tail.size(), n_vocab);
  EXPECT_EQ(m->context_tokens(), ids);
}

TEST(ChatApi, GenerateContinueKeepsTheEarlierTurn) {
  const std::string path = test::fixture("synthetic/fx-silu-f16.gguf");
  BITNET_REQUIRE_FIXTURE(path);
  auto m = load_fx();
  ASSERT_NE(m, nullptr);
  const std::vector<int32_t> ids = read_prompt_ids();
  const std::vector<int32_t> turn1(ids.begin(), ids.begin() + 12), turn2(ids.begin() + 12, ids.begin() + 18);
  GenerationConfig cfg;
  cfg.temperature = 0;
  cfg.max_tokens = 4;
  cfg.stop_at_eos = false;

  auto r1 = m->generate_ids(turn1, cfg);
  ASSERT_TRUE(r1.ok()) << r1.status().to_string();
  ASSERT_EQ(r1->tokens.size(), 4u);
  EXPECT_EQ(r1->n_context, 16);
  std::vector<int32_t> expected_ctx = turn1;
  expected_ctx.insert(expected_ctx.end(), r1->tokens.begin(), r1->tokens.end());
  EXPECT_EQ(m->context_tokens(), expected_ctx);

  // The second turn evaluates only its own tokens (plus the last generated one, not yet in the cache).
  auto r2 = m->generate_continue(turn2, cfg);
  ASSERT_TRUE(r2.ok()) << r2.status().to_string();
  EXPECT_EQ(r2->prompt_tokens, turn2);
  EXPECT_EQ(r2->n_context, 16 + 6 + 4);
  expected_ctx.insert(expected_ctx.end(), turn2.begin(), turn2.end());
  expected_ctx.insert(expected_ctx.end(), r2->tokens.begin(), r2->tokens.end());
  EXPECT_EQ(m->context_tokens(), expected_ctx);

  // Logits after the continued context equal those of the same sequence evaluated from scratch.
  const std::vector<int32_t> probe(ids.begin() + 18, ids.end());
  auto cont = m->evaluate_continue(probe);
  ASSERT_TRUE(cont.ok()) << cont.status().to_string();
  std::vector<int32_t> all = expected_ctx;
  all.insert(all.end(), probe.begin(), probe.end());
  auto whole = m->evaluate(all);
  ASSERT_TRUE(whole.ok()) << whole.status().to_string();
  expect_rows_close(cont.value(), whole.value(), expected_ctx.size(), probe.size(),
                    static_cast<size_t>(m->info().n_vocab));
}

TEST(ChatApi, ContinueErrorsAreClear) {
  const std::string path = test::fixture("synthetic/fx-silu-f16.gguf");
  BITNET_REQUIRE_FIXTURE(path);
  auto m = load_fx();
  ASSERT_NE(m, nullptr);
  GenerationConfig cfg;
  cfg.temperature = 0;
  cfg.max_tokens = 2;
  m->clear_context();
  auto empty = m->generate_continue({}, cfg);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("nothing to continue"), std::string::npos);

  ASSERT_TRUE(m->generate_ids({1, 450}, cfg).ok());
  const std::vector<int32_t> before = m->context_tokens();
  std::vector<int32_t> too_many(static_cast<size_t>(m->info().n_ctx), 450);
  auto full = m->generate_continue(too_many, cfg);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(full.status().message().find("context is full"), std::string::npos) << full.status().to_string();
  EXPECT_EQ(m->context_tokens(), before);  // a rejected turn leaves the context as it was

  auto bad_id = m->generate_continue({-5}, cfg);
  ASSERT_FALSE(bad_id.ok());
  EXPECT_NE(bad_id.status().message().find("-5"), std::string::npos) << bad_id.status().to_string();
}

TEST(ChatApi, ApplyChatTemplateUsesTheVocabularyAndTheFile) {
  const std::string path = test::fixture("synthetic/fx-silu-f16.gguf");
  BITNET_REQUIRE_FIXTURE(path);
  auto m = load_fx();
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->info().chat_template.empty());  // the fixture carries none
  const std::vector<ChatMessage> msgs{{"user", "Hello"}};
  auto none = m->apply_chat_template(msgs, true);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("--chat-template"), std::string::npos);
  auto text = m->apply_chat_template(msgs, true, "llama2");
  ASSERT_TRUE(text.ok()) << text.status().to_string();
  EXPECT_EQ(text.value(), "<s>[INST] Hello [/INST]");  // bos_token is this vocabulary's "<s>"
  auto ids = m->tokenize(text.value(), false, true);
  ASSERT_TRUE(ids.ok());
  ASSERT_FALSE(ids->empty());
  EXPECT_EQ(ids->front(), 1);  // "<s>" parsed as the BOS token
}

}  // namespace
}  // namespace bitnet
