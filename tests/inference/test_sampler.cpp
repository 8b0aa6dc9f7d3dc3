// Sampler chain: each step alone, then the whole chain's determinism and limits.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "inference/sampler.hpp"

namespace bitnet::inference {
namespace {

std::vector<Candidate> cands(const std::vector<float>& logits) {
  std::vector<Candidate> c;
  for (size_t i = 0; i < logits.size(); ++i) c.push_back({static_cast<int32_t>(i), logits[i], 0.0f});
  return c;
}

TEST(Sampler, TopKKeepsTheKLargestInOrder) {
  auto c = cands({0.1f, 3.0f, -1.0f, 2.0f, 2.0f});
  sort_and_top_k(c, 3);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].id, 1);
  EXPECT_EQ(c[1].id, 3);  // tie with 4: lower id first
  EXPECT_EQ(c[2].id, 4);
}

TEST(Sampler, SoftmaxTopPMinP) {
  // logits ln(4), ln(2), ln(1), ln(1) -> probabilities 0.5, 0.25, 0.125, 0.125
  auto c = cands({std::log(4.0f), std::log(2.0f), 0.0f, 0.0f});
  sort_and_top_k(c, 0);
  softmax(c, 1.0f);
  EXPECT_NEAR(c[0].p, 0.5f, 1e-6);
  EXPECT_NEAR(c[3].p, 0.125f, 1e-6);
  auto p = c;
  top_p(p, 0.7f);  // 0.5 < 0.7 <= 0.75
  EXPECT_EQ(p.size(), 2u);
  auto m = c;
  min_p(m, 0.3f);  // keep p >= 0.15
  EXPECT_EQ(m.size(), 2u);
  auto m2 = c;
  min_p(m2, 0.25f);  // keep p >= 0.125
  EXPECT_EQ(m2.size(), 4u);
}

TEST(Sampler, RepeatPenaltyFollowsLlamaCppRule) {
  std::vector<float> logits = {2.0f, -2.0f, 1.0f};
  std::deque<int32_t> recent = {0, 1, 1, 7};  // 7 is outside the vocabulary: ignored
  apply_repeat_penalty(logits, recent, 2.0f);
  EXPECT_FLOAT_EQ(logits[0], 1.0f);
  EXPECT_FLOAT_EQ(logits[1], -4.0f);  // applied once even though 1 appears twice
  EXPECT_FLOAT_EQ(logits[2], 1.0f);
}

TEST(Sampler, PresencePenaltySubtractsOncePerSeenToken) {
  std::vector<float> logits = {2.0f, -2.0f, 1.0f};
  std::deque<int32_t> recent = {0, 1, 1, 7};  // 7 is outside the vocabulary: ignored
  apply_presence_frequency_penalty(logits, recent, 0.5f, 0.0f);
  EXPECT_FLOAT_EQ(logits[0], 1.5f);
  EXPECT_FLOAT_EQ(logits[1], -2.5f);  // once, although seen twice
  EXPECT_FLOAT_EQ(logits[2], 1.0f);   // unseen: unchanged
}

TEST(Sampler, FrequencyPenaltySubtractsPerOccurrence) {
  std::vector<float> logits = {2.0f, -2.0f, 1.0f};
  std::deque<int32_t> recent = {1, 0, 1, 1, -3};
  apply_presence_frequency_penalty(logits, recent, 0.0f, 0.25f);
  EXPECT_FLOAT_EQ(logits[0], 1.75f);
  EXPECT_FLOAT_EQ(logits[1], -2.75f);  // three times
  EXPECT_FLOAT_EQ(logits[2], 1.0f);
  // Both together; negative values (OpenAI allows -2..2) encourage repetition.
  std::vector<float> l2 = {0.0f, 0.0f};
  apply_presence_frequency_penalty(l2, {1, 1}, -1.0f, 0.5f);
  EXPECT_FLOAT_EQ(l2[0], 0.0f);
  EXPECT_FLOAT_EQ(l2[1], 0.0f);  // -(-1 + 0.5 * 2)
}

TEST(Sampler, PenaltiesChangeTheGreedyChoice) {
  SamplerParams p;
  p.temperature = 0.0f;
  p.presence_penalty = 1.0f;
  Sampler s(p);
  s.accept(1);
  std::vector<float> logits = {0.1f, 5.0f, 4.5f};
  EXPECT_EQ(s.sample(logits), 2);  // 5 - 1 < 4.5
}

TEST(Sampler, GreedyIsArgmax) {
  SamplerParams p;
  p.temperature = 0.0f;
  Sampler s(p);
  std::vector<float> logits = {0.1f, 5.0f, 4.9f};
  EXPECT_EQ(s.sample(logits), 1);
}

TEST(Sampler, SeededDrawsAreDeterministicAndFollowTheDistribution) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 42;
  const std::vector<float> base = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  Sampler a(p), b(p);
  std::map<int32_t, int> counts;
  for (int i = 0; i < 20000; ++i) {
    auto la = base, lb = base;
    const int32_t x = a.sample(la);
    ASSERT_EQ(x, b.sample(lb));
    counts[x]++;
  }
  // Binomial standard deviation at n = 20000 is at most ~70 draws: 5 sigma bounds.
  EXPECT_NEAR(counts[0], 12000, 350);
  EXPECT_NEAR(counts[1], 6000, 350);
  EXPECT_NEAR(counts[2], 2000, 350);
}

TEST(Sampler, TopKOneIsGreedyAtAnyTemperature) {
  SamplerParams p;
  p.temperature = 5.0f;
  p.top_k = 1;
  p.seed = 3;
  Sampler s(p);
  for (int i = 0; i < 50; ++i) {
    std::vector<float> logits = {0.0f, 0.5f, 0.4f};
    EXPECT_EQ(s.sample(logits), 1);
  }
}

}  // namespace
}  // namespace bitnet::inference
