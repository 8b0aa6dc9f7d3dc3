// Sampling as a chain of small steps over candidate tokens:
// repetition penalty -> presence/frequency penalties -> top-k -> top-p -> min-p -> temperature -> draw. Greedy when
// temperature <= 0. Deterministic for a given seed on every platform (own RNG-to-float mapping, no std distributions).
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

namespace bitnet::inference {

struct SamplerParams {
  float temperature = 0.8f;        // <= 0: greedy (argmax)
  int top_k = 40;                  // <= 0: off
  float top_p = 0.95f;             // >= 1: off
  float min_p = 0.05f;             // <= 0: off
  float repeat_penalty = 1.0f;     // 1: off (llama.cpp rule: positive logits divided, negative multiplied)
  int repeat_last_n = 64;          // tokens the penalties look back over
  float presence_penalty = 0.0f;   // 0: off (OpenAI rule: subtracted once from every token seen)
  float frequency_penalty = 0.0f;  // 0: off (OpenAI rule: subtracted once per occurrence)
  uint64_t seed = 0;
};

struct Candidate {
  int32_t id;
  float logit;
  float p;  // probability after softmax (filled by the steps that need it)
};

// The individual steps, public for tests. Each keeps the candidate order it documents.
void apply_repeat_penalty(std::vector<float>& logits, const std::deque<int32_t>& recent, float penalty);
// logit[id] -= presence + frequency * count(id) for every id in `recent` (ids outside logits ignored).
void apply_presence_frequency_penalty(std::vector<float>& logits, const std::deque<int32_t>& recent, float presence,
                                      float frequency);
void sort_and_top_k(std::vector<Candidate>& c, int k);       // sorts by logit, descending; keeps k
void softmax(std::vector<Candidate>& c, float temperature);  // fills p; candidates must be sorted
void top_p(std::vector<Candidate>& c, float p);              // keeps the smallest prefix with mass >= p
void min_p(std::vector<Candidate>& c, float p);              // keeps candidates with p >= p * max
int32_t argmax(const float* logits, int64_t n);              // lowest id among ties

class Sampler {
 public:
  explicit Sampler(const SamplerParams& params);
  // Picks the next token from logits[n_vocab] (logits may be modified by the penalty).
  int32_t sample(std::vector<float>& logits);
  // Records a token (prompt or generated) for the repetition penalty.
  void accept(int32_t id);
  // Uniform double in [0, 1) from the seeded generator.
  double uniform();

 private:
  SamplerParams params_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;
  std::vector<Candidate> cand_;
};

}  // namespace bitnet::inference
