// bitnet-kernel-bench: one thread, each ternary kernel level this CPU has, on the matmul shapes of BitNet
// 2B-4T (generation: 1 token; prompt processing: 128 tokens). Times are per-thread CPU time (best of the
// repetitions), so other processes on a shared machine disturb them less than wall time; they still share caches
// and memory bandwidth. Prints GB/s of weight codes read and G int8 multiply-adds/s. Asserts nothing.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "core/cpu_features.hpp"
#include "kernels/ternary.hpp"

namespace {

double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

bitnet::quant::TernaryMatrix random_matrix(int64_t rows, int64_t cols, std::mt19937& rng) {
  bitnet::quant::TernaryMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.group = cols;
  m.owned.resize(static_cast<size_t>(rows * cols / 4));
  for (size_t i = 0; i < m.owned.size(); i += 4) {
    const uint32_t v = static_cast<uint32_t>(rng());
    for (size_t j = 0; j < 4 && i + j < m.owned.size(); ++j) m.owned[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  m.scales.assign(static_cast<size_t>(rows), 1.0f);
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bitnet;
  const int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  struct Shape {
    const char* name;
    int64_t rows, cols;
  };
  // The last shape is 168 MB of codes, far larger than the caches: generation's streaming case (the others stay
  // cache-resident across repetitions).
  const Shape shapes[] = {{"2b4t ffn_up 2560->6912", 6912, 2560},
                          {"2b4t ffn_down 6912->2560", 2560, 6912},
                          {"stream 2560->262144", 262144, 2560}};
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<IsaLevel> levels = {IsaLevel::kScalar};
  for (int l = 1; l <= static_cast<int>(max_supported_isa()); ++l) levels.push_back(static_cast<IsaLevel>(l));
  for (const Shape& sh : shapes) {
    const auto w = random_matrix(sh.rows, sh.cols, rng);
    for (int64_t tokens : {int64_t{1}, int64_t{128}}) {
      if (sh.rows > 100000 && tokens > 1) continue;
      std::vector<float> x(static_cast<size_t>(tokens * sh.cols));
      for (auto& v : x) v = nd(rng);
      kernels::PreparedActs a;
      kernels::prepare_acts(quant::ActQuant::kPerTokenAbsmax, x.data(), tokens, sh.cols, a);
      std::vector<float> y(static_cast<size_t>(tokens * sh.rows));
      for (IsaLevel level : levels) {
        const kernels::TernaryKernel& k = kernels::ternary_kernel(level);
        if (level == IsaLevel::kScalar && (tokens > 1 || sh.rows > 100000)) continue;  // the reference: slow
        double best = 1e30;
        for (int r = 0; r < reps; ++r) {
          const double t0 = thread_seconds();
          k.matmul(w, a, y.data(), sh.rows, 0, sh.rows);
          best = std::min(best, thread_seconds() - t0);
        }
        const double bytes = static_cast<double>(sh.rows * sh.cols / 4);
        const double macs = static_cast<double>(sh.rows * sh.cols * tokens);
        std::printf("%-26s tokens %3lld  %-11s %9.3f ms  %7.2f GB/s  %7.1f GMAC/s\n", sh.name,
                    static_cast<long long>(tokens), isa_name(k.isa), best * 1e3, bytes / best / 1e9, macs / best / 1e9);
      }
    }
  }
  return 0;
}
