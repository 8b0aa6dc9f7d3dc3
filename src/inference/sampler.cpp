// Sampler chain implementation.
#include "inference/sampler.hpp"

#include <algorithm>
#include <cmath>

namespace bitnet::inference {

void apply_repeat_penalty(std::vector<float>& logits, const std::deque<int32_t>& recent, float penalty) {
  if (penalty == 1.0f || penalty <= 0.0f) return;
  std::vector<int32_t> seen(recent.begin(), recent.end());
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  for (int32_t id : seen) {
    if (id < 0 || static_cast<size_t>(id) >= logits.size()) continue;
    float& l = logits[static_cast<size_t>(id)];
    l = l > 0 ? l / penalty : l * penalty;
  }
}

void apply_presence_frequency_penalty(std::vector<float>& logits, const std::deque<int32_t>& recent, float presence,
                                      float frequency) {
  if (presence == 0.0f && frequency == 0.0f) return;
  std::vector<int32_t> seen(recent.begin(), recent.end());
  std::sort(seen.begin(), seen.end());
  for (size_t i = 0; i < seen.size();) {
    size_t j = i;
    while (j < seen.size() && seen[j] == seen[i]) ++j;
    const int32_t id = seen[i];
    if (id >= 0 && static_cast<size_t>(id) < logits.size())
      logits[static_cast<size_t>(id)] -= presence + frequency * static_cast<float>(j - i);
    i = j;
  }
}

void sort_and_top_k(std::vector<Candidate>& c, int k) {
  auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  if (k > 0 && static_cast<size_t>(k) < c.size()) {
    std::partial_sort(c.begin(), c.begin() + k, c.end(), by_logit);
    c.resize(static_cast<size_t>(k));
  } else {
    std::sort(c.begin(), c.end(), by_logit);
  }
}

void softmax(std::vector<Candidate>& c, float temperature) {
  if (c.empty()) return;
  const float t = temperature > 0 ? temperature : 1.0f;
  const float max = c.front().logit;
  double sum = 0.0;
  for (auto& x : c) {
    x.p = std::exp((x.logit - max) / t);
    sum += x.p;
  }
  for (auto& x : c) x.p = static_cast<float>(x.p / sum);
}

void top_p(std::vector<Candidate>& c, float p) {
  if (p >= 1.0f || c.empty()) return;
  double mass = 0.0;
  size_t keep = c.size();
  for (size_t i = 0; i < c.size(); ++i) {
    mass += c[i].p;
    if (mass >= p) {
      keep = i + 1;
      break;
    }
  }
  c.resize(std::max<size_t>(1, keep));
}

void min_p(std::vector<Candidate>& c, float p) {
  if (p <= 0.0f || c.empty()) return;
  const float threshold = c.front().p * p;
  size_t keep = 1;
  while (keep < c.size() && c[keep].p >= threshold) ++keep;
  c.resize(keep);
}

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

Sampler::Sampler(const SamplerParams& params) : params_(params), rng_(params.seed) {}

double Sampler::uniform() { return static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0); }

void Sampler::accept(int32_t id) {
  if (params_.repeat_last_n <= 0) return;
  recent_.push_back(id);
  while (recent_.size() > static_cast<size_t>(params_.repeat_last_n)) recent_.pop_front();
}

int32_t Sampler::sample(std::vector<float>& logits) {
  apply_repeat_penalty(logits, recent_, params_.repeat_penalty);
  apply_presence_frequency_penalty(logits, recent_, params_.presence_penalty, params_.frequency_penalty);
  if (params_.temperature <= 0.0f) return argmax(logits.data(), static_cast<int64_t>(logits.size()));
  cand_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) cand_[i] = {static_cast<int32_t>(i), logits[i], 0.0f};
  sort_and_top_k(cand_, params_.top_k);
  // top-p and min-p judge the distribution before temperature, as llama.cpp's default chain orders them
  // (penalties -> top-k -> top-p -> min-p -> temperature -> dist).
  softmax(cand_, 1.0f);
  top_p(cand_, params_.top_p);
  min_p(cand_, params_.min_p);
  softmax(cand_, params_.temperature);
  const double r = uniform();
  double acc = 0.0;
  for (const auto& c : cand_) {
    acc += c.p;
    if (r < acc) return c.id;
  }
  return cand_.back().id;
}

}  // namespace bitnet::inference
