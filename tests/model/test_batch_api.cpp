// Continuous batching at the API level: sequences evaluated together by Model::decode_batch, joining and
// leaving at different steps, produce exactly the tokens (and logits, bit for bit) they produce alone.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "bitnet/bitnet.hpp"
#include "model/model_test_util.hpp"
#include "test_util.hpp"

namespace bitnet {
namespace {

using test::greedy;

std::unique_ptr<Model> load(const std::string& path, KvType kv_type = KvType::kF16) {
  return test::load_model(path, 128, kv_type);
}

// Prompts of different lengths made from the vocabulary's ids (every id valid for any of the fixtures).
std::vector<std::vector<int32_t>> prompts(int32_t n_vocab) {
  std::vector<std::vector<int32_t>> out;
  for (int p = 0; p < 6; ++p) {
    std::vector<int32_t> ids = {1};
    for (int i = 0; i < 1 + 3 * p; ++i) ids.push_back(static_cast<int32_t>((37 * (p + 1) + 101 * i) % n_vocab));
    out.push_back(ids);
  }
  return out;
}

// Greedy generation of every prompt, batched: sequence s joins at step join[s] (its prompt prefilled in the same
// forward pass as the others' next tokens) and leaves after n_gen tokens.
std::vector<std::vector<int32_t>> run_batched(Model& m, const std::vector<std::vector<int32_t>>& ps, int n_gen,
                                              const std::vector<int>& join) {
  const size_t n = ps.size();
  std::vector<std::unique_ptr<Sequence>> seqs;
  for (size_t s = 0; s < n; ++s) {
    auto seq = m.new_sequence();
    EXPECT_TRUE(seq.ok()) << seq.status().to_string();
    if (!seq.ok()) return {};
    seqs.push_back(std::move(seq).value());
    seqs.back()->reset(greedy(n_gen), ps[s]);
  }
  std::vector<std::vector<int32_t>> out(n);
  for (int step = 0;; ++step) {
    std::vector<BatchItem> items;
    std::vector<size_t> who;
    for (size_t s = 0; s < n; ++s) {
      if (step < join[s] || static_cast<int>(out[s].size()) >= n_gen) continue;
      if (out[s].empty() && seqs[s]->n_past() == 0)
        items.push_back({seqs[s].get(), ps[s]});
      else
        items.push_back({seqs[s].get(), {out[s].back()}});
      who.push_back(s);
    }
    if (items.empty()) {
      bool done = true;
      for (size_t s = 0; s < n; ++s) done = done && static_cast<int>(out[s].size()) >= n_gen;
      if (done) break;
      continue;
    }
    auto logits = m.decode_batch(items);
    EXPECT_TRUE(logits.ok()) << logits.status().to_string();
    if (!logits.ok()) return {};
    for (size_t i = 0; i < who.size(); ++i)
      out[who[i]].push_back(seqs[who[i]]->sample(logits->data() + i * static_cast<size_t>(m.info().n_vocab)));
  }
  return out;
}

void expect_batched_equals_alone(const std::string& path, KvType kv_type = KvType::kF16) {
  BITNET_REQUIRE_FIXTURE(path);
  auto m = load(path, kv_type);
  ASSERT_NE(m, nullptr);
  const auto ps = prompts(static_cast<int32_t>(m->info().n_vocab));
  const int n_gen = 12;
  std::vector<std::vector<int32_t>> alone;
  for (const auto& p : ps) {
    auto r = m->generate_ids(p, greedy(n_gen));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    alone.push_back(r->tokens);
  }
  const auto together = run_batched(*m, ps, n_gen, {0, 0, 1, 3, 3, 7});
  ASSERT_EQ(together.size(), ps.size());
  for (size_t s = 0; s < ps.size(); ++s) EXPECT_EQ(together[s], alone[s]) << "prompt " << s;

  // Logits bit for bit: the last prompt position alone (evaluate) and inside a mixed batch.
  auto ref = m->evaluate(ps[2]);
  ASSERT_TRUE(ref.ok());
  const size_t nv = static_cast<size_t>(m->info().n_vocab);
  auto a = m->new_sequence();
  auto b = m->new_sequence();
  ASSERT_TRUE(a.ok() && b.ok());
  auto batch = m->decode_batch({{a->get(), ps[4]}, {b->get(), ps[2]}});
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  ASSERT_EQ(batch->size(), 2 * nv);
  EXPECT_EQ(std::memcmp(batch->data() + nv, ref->data() + (ps[2].size() - 1) * nv, nv * sizeof(float)), 0);
}

TEST(BatchApi, FloatLlamaBatchedEqualsAlone) {
  expect_batched_equals_alone(test::fixture("stories260k/stories260K.gguf"));
}

TEST(BatchApi, TernaryI2SBatchedEqualsAlone) {
  expect_batched_equals_alone(test::fixture("synthetic/fx-relu2-i2_s.gguf"));
}

TEST(BatchApi, TernaryTQ2BatchedEqualsAlone) {
  expect_batched_equals_alone(test::fixture("synthetic/fx-silu-tq2_0.gguf"));
}

// The other KV cache types keep every attention result independent of the batch too (head_dim 32 fits Q8_0).
TEST(BatchApi, Q8_0KvCacheBatchedEqualsAlone) {
  expect_batched_equals_alone(test::fixture("synthetic/fx-relu2-i2_s.gguf"), KvType::kQ8_0);
}

TEST(BatchApi, F32KvCacheBatchedEqualsAlone) {
  expect_batched_equals_alone(test::fixture("synthetic/fx-silu-tq2_0.gguf"), KvType::kF32);
}

// A prompt longer than one batch (Forward::kMaxBatchTokens) runs in batches one after another; every position's
// logits are still the ones a single batch gives (decode_batch: one pass), bit for bit; a bad id in the last batch
// is a clear error.
TEST(BatchApi, LongPromptInBatchesEqualsOneBatch) {
  const std::string path = test::fixture("synthetic/fx-relu2-i2_s.gguf");
  BITNET_REQUIRE_FIXTURE(path);
  auto m = test::load_model(path, 1200);
  ASSERT_NE(m, nullptr);
  const int32_t n_vocab = static_cast<int32_t>(m->info().n_vocab);
  std::vector<int32_t> ids(1100);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((7 + 131 * i) % static_cast<size_t>(n_vocab));
  auto all = m->evaluate(ids);  // batches of 512, 512 and 76 tokens
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  const size_t nv = static_cast<size_t>(n_vocab);
  ASSERT_EQ(all->size(), ids.size() * nv);
  for (size_t end : {size_t{600}, ids.size()}) {
    auto seq = m->new_sequence();
    ASSERT_TRUE(seq.ok());
    auto one = m->decode_batch({{seq->get(), std::vector<int32_t>(ids.begin(), ids.begin() + end)}});
    ASSERT_TRUE(one.ok()) << one.status().to_string();
    EXPECT_EQ(std::memcmp(one->data(), all->data() + (end - 1) * nv, nv * sizeof(float)), 0) << "position " << end - 1;
  }
  std::vector<int32_t> bad = ids;
  bad.back() = n_vocab;
  auto refused = m->evaluate(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("outside the vocabulary"), std::string::npos) << refused.status().message();
}

TEST(BatchApi, ErrorsLeaveSequencesUnchanged) {
  const std::string path = test::fixture("stories260k/stories260K.gguf");
  BITNET_REQUIRE_FIXTURE(path);
  auto m = load(path);
  ASSERT_NE(m, nullptr);
  EXPECT_FALSE(m->new_sequence(-1).ok());
  EXPECT_FALSE(m->new_sequence(m->info().n_ctx + 1).ok());
  auto small = m->new_sequence(4);
  ASSERT_TRUE(small.ok());
  Sequence& s = *small.value();
  EXPECT_EQ(s.n_ctx(), 4);
  EXPECT_FALSE(m->decode_batch({}).ok());
  EXPECT_FALSE(m->decode_batch({{&s, {}}}).ok());
  EXPECT_FALSE(m->decode_batch({{nullptr, {1}}}).ok());
  auto bad = m->decode_batch({{&s, {1, 999999}}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("outside the vocabulary"), std::string::npos);
  EXPECT_EQ(s.n_past(), 0);
  ASSERT_TRUE(m->decode_batch({{&s, {1, 2, 3}}}).ok());
  auto full = m->decode_batch({{&s, {4, 5}}});
  ASSERT_FALSE(full.ok());
  EXPECT_NE(full.status().message().find("context is full"), std::string::npos);
  EXPECT_EQ(s.n_past(), 3);
  s.reset(GenerationConfig{}, {1});
  EXPECT_EQ(s.n_past(), 0);
}

}  // namespace
}  // namespace bitnet
