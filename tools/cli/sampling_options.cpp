// The sampling options shared by `inference` and `chat`: one definition of the flags, their defaults and checks.
#include <random>

#include "commands.hpp"

namespace bitnet::cli {

void add_sampling_options(CLI::App* sub, SamplingArgs& s) {
  sub->add_option("--temperature,--temp", s.temperature, "Sampling temperature; 0 = greedy")
      ->check(at_least(0))
      ->capture_default_str();
  sub->add_option("--top-k", s.top_k, "Keep the k most likely tokens; 0 = off")
      ->check(at_least(0))
      ->capture_default_str();
  sub->add_option("--top-p", s.top_p, "Nucleus sampling mass; 1 = off")
      ->check(CLI::Range(0.0f, 1.0f))
      ->capture_default_str();
  sub->add_option("--min-p", s.min_p, "Drop tokens below min-p x the top probability; 0 = off")
      ->check(CLI::Range(0.0f, 1.0f))
      ->capture_default_str();
  sub->add_option("--repeat-penalty", s.repeat_penalty, "Penalty for recently seen tokens; 1 = off")
      ->check(above(0))
      ->capture_default_str();
  sub->add_option("--repeat-last-n", s.repeat_last_n, "How many recent tokens the penalty considers")
      ->check(at_least(0))
      ->capture_default_str();
  sub->add_option("-s,--seed", s.seed, "Random seed (default: random); same seed, same output")->check(at_least(0));
}

void apply_sampling(const SamplingArgs& s, GenerationConfig& cfg) {
  cfg.temperature = s.temperature;
  cfg.top_k = s.top_k;
  cfg.top_p = s.top_p;
  cfg.min_p = s.min_p;
  cfg.repeat_penalty = s.repeat_penalty;
  cfg.repeat_last_n = s.repeat_last_n;
  cfg.seed = s.seed >= 0 ? static_cast<uint64_t>(s.seed) : std::random_device{}();
}

}  // namespace bitnet::cli
