// bitnet-kernel-bench (Google Benchmark): one thread, every kernel level this CPU has, on the matmul shapes of
// BitNet 2B-4T (generation: 1 token; prompt processing: 128 tokens), beside two measured limits of the machine:
// the read bandwidth of one thread streaming a 512 MB buffer, and the int8 multiply-add rate of vpdpbusd
// (AVX-512 VNNI) / vpmaddubsw (AVX2) / tdpbsud (AMX, where present) in registers, or on aarch64 of sdot and smmla
// (i8mm, where present); the AVX-512 prompt rows with "+amx" take AMX tiles, and at NEON dotprod with i8mm the prompt
// rows run both builds ("+sdot", "+i8mm"). Counters: GB/s of weights read, GMAC/s (int8 multiply-adds).
// Asserts nothing; `--benchmark_filter=` picks rows, `--benchmark_format=json` for machines.
#include <benchmark/benchmark.h>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/aligned.hpp"
#include "core/cpu_features.hpp"
#if defined(__aarch64__)
#include "kernels/arm/dotprod.hpp"
#include "kernels/arm/i8mm.hpp"
#endif
#include "kernels/attention.hpp"
#include "kernels/kquant.hpp"
#include "kernels/ternary.hpp"
#include "quant/float_types.hpp"
#include "quant/quant.hpp"

namespace {

using namespace bitnet;

// group: cols (one scale a row, I2_S) or 256 (TQ1_0/TQ2_0, whose activations take the Q8_K rule).
quant::TernaryMatrix random_matrix(int64_t rows, int64_t cols, int64_t group, std::mt19937& rng) {
  quant::TernaryMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.group = group;
  m.owned.resize(static_cast<size_t>(rows * cols / 4));
  // Ternary codes (0..2) as in every real model; kernels may take a different path for code 3, which none holds.
  for (auto& b : m.owned) {
    const uint32_t v = rng();
    b = static_cast<uint8_t>(v % 3 | (v / 3 % 3) << 2 | (v / 9 % 3) << 4 | (v / 27 % 3) << 6);
  }
  m.scales.assign(static_cast<size_t>(rows * (cols / group)), 1.0f);
  return m;
}

std::vector<float> random_floats(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = nd(rng);
  return x;
}

void set_rates(benchmark::State& state, double bytes, double macs) {
  state.counters["GB/s"] =
      benchmark::Counter(bytes * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.counters["GMAC/s"] =
      benchmark::Counter(macs * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// The layout a matrix is timed in: rows; 16-row panels, as the loader lays out repacked codes for AVX-512; or the
// dense panel layout (five weights a byte) it makes with AVX-512 VBMI.
enum class Layout { kRows, kPanels, kDense };

// fn: the kernel to time, or nullptr for the dispatcher's at `level`.
void ternary(benchmark::State& state, IsaLevel level, int64_t rows, int64_t cols, int64_t tokens, bool q8k,
             Layout layout, bool amx, kernels::TernaryMatmulFn fn) {
  const bool amx_before = set_amx_enabled(amx);  // the AVX-512 level with or without AMX tiles
  std::mt19937 rng(1);
  auto w = random_matrix(rows, cols, q8k ? 256 : cols, rng);
  std::vector<uint8_t> dense_codes;
  if (layout != Layout::kRows) {
    if (layout == Layout::kPanels ? !quant::panels_fit(w) : !quant::dense_fit(w)) {
      state.SkipWithError("this shape cannot be put in this layout");
      set_amx_enabled(amx_before);
      return;
    }
    if (layout == Layout::kPanels) {
      quant::to_panels(w, w.owned.data());
    } else {
      dense_codes.resize(static_cast<size_t>(rows * w.dense_row_bytes()));
      if (!quant::to_dense_panels(w, w.owned.data(), dense_codes.data())) {
        state.SkipWithError("the matrix has a code 3");
        set_amx_enabled(amx_before);
        return;
      }
      w.owned.clear();
      w.view = dense_codes.data();
    }
  }
  const auto x = random_floats(tokens * cols, rng);
  kernels::PreparedActs a;
  kernels::prepare_acts(q8k ? quant::ActQuant::kQ8K : quant::ActQuant::kPerTokenAbsmax, x.data(), tokens, cols, a);
  std::vector<float> y(static_cast<size_t>(tokens * rows));
  const kernels::TernaryMatmulFn matmul = fn != nullptr ? fn : kernels::ternary_kernel(level).matmul;
  for (auto _ : state) {
    matmul(w, a, y.data(), rows, 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  set_rates(state, static_cast<double>(rows * w.stored_row_bytes()), static_cast<double>(rows * cols * tokens));
  set_amx_enabled(amx_before);
}

// An integer-dot head (Q6_K or Q8_0 weights) times int8 activations.
void int_head(benchmark::State& state, uint32_t type, IsaLevel level, int64_t rows, int64_t cols, int64_t tokens) {
  std::mt19937 rng(2);
  const auto wf = random_floats(rows * cols, rng);
  auto packed = quant::quantize_tensor(type, wf.data(), cols, rows);
  if (!packed.ok()) {
    state.SkipWithError(packed.status().to_string().c_str());
    return;
  }
  const auto x = random_floats(tokens * cols, rng);
  kernels::IntActs a;
  kernels::size_int_acts(kernels::int_act_type(type), tokens, cols, a);
  kernels::prepare_int_acts_rows(x.data(), 0, tokens, a);
  std::vector<float> y(static_cast<size_t>(tokens * rows));
  const kernels::FloatRows fr{type, packed->data(), cols, rows};
  const kernels::KQuantMatmulFn fn = kernels::kquant_matmul(type, level);
  for (auto _ : state) {
    fn(fr, a.view(), y.data(), rows, 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  set_rates(state, static_cast<double>(packed->size()), static_cast<double>(rows * cols * tokens));
}

void act_quant(benchmark::State& state, IsaLevel level, int64_t cols, int64_t tokens) {
  std::mt19937 rng(3);
  const auto x = random_floats(tokens * cols, rng);
  const IsaLevel before = active_isa();
  set_active_isa(level);
  kernels::PreparedActs a;
  kernels::size_prepared_acts(quant::ActQuant::kPerTokenAbsmax, tokens, cols, a);
  for (auto _ : state) {
    kernels::prepare_acts_rows(x.data(), 0, tokens, a);
    benchmark::DoNotOptimize(a.qa.q.data());
  }
  set_active_isa(before);
  set_rates(state, static_cast<double>(tokens * cols * 4), 0.0);
}

// A block of n_q consecutive tokens (query i attends to positions [0, n_pos - n_q + 1 + i)) against one KV head of a
// cache of `type` (its rows packed, as the engine's cache), softmax included (attend_block, as a forward pass runs
// it). GB/s: the keys and values read; GMAC/s: the multiply-adds of q.k and p.v.
// One KV head's keys and values at n_pos positions, random, stored as `type` (false, the benchmark skipped, on an
// error).
bool random_kv(benchmark::State& state, uint32_t type, int64_t head_dim, int64_t n_pos, std::mt19937& rng,
               std::vector<uint8_t>& k, std::vector<uint8_t>& v) {
  const auto kf = random_floats(n_pos * head_dim, rng), vf = random_floats(n_pos * head_dim, rng);
  auto kq = quant::quantize_tensor(type, kf.data(), head_dim, n_pos);
  auto vq = quant::quantize_tensor(type, vf.data(), head_dim, n_pos);
  if (!kq.ok() || !vq.ok()) {
    state.SkipWithError(kq.ok() ? vq.status().to_string().c_str() : kq.status().to_string().c_str());
    return false;
  }
  k = std::move(kq).value();
  v = std::move(vq).value();
  return true;
}

void attention(benchmark::State& state, IsaLevel level, uint32_t type, int64_t head_dim, int64_t n_pos, int n_q) {
  std::mt19937 rng(4);
  std::vector<uint8_t> kv[2];
  if (!random_kv(state, type, head_dim, n_pos, rng, kv[0], kv[1])) return;
  const std::vector<uint8_t>* kq = &kv[0];
  const std::vector<uint8_t>* vq = &kv[1];
  const auto q = random_floats(n_q * head_dim, rng);
  std::vector<float> out(static_cast<size_t>(n_q * head_dim)), scratch(static_cast<size_t>(n_q * n_pos));
  kernels::AttnBlock b{};
  b.n_q = n_q;
  b.k = kq->data();
  b.v = vq->data();
  b.stride = static_cast<int64_t>(kq->size()) / n_pos;
  b.head_dim = head_dim;
  b.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  double positions = 0;
  for (int i = 0; i < n_q; ++i) {
    b.q[i] = q.data() + i * head_dim;
    b.out[i] = out.data() + i * head_dim;
    b.n_pos[i] = n_pos - n_q + 1 + i;
    positions += static_cast<double>(b.n_pos[i]);
  }
  const kernels::KvAttentionKernel* k = kernels::kv_attention_kernel(type, level);
  for (auto _ : state) {
    kernels::attend_block(*k, b, scratch.data());
    benchmark::DoNotOptimize(out.data());
  }
  set_rates(state, static_cast<double>(kq->size() + vq->size()), 2.0 * positions * static_cast<double>(head_dim));
}

// Generation's attention from memory, as at a long context: one token's GQA group of n_q queries over each of
// `heads` KV heads in turn (2B-4T at 4096 positions: 150 such heads, 30 layers of 5, 300 MB of F16 keys and values),
// each thread over heads of its own, far more than the caches hold. The bytes are the keys' and values'.
void attention_stream(benchmark::State& state, IsaLevel level, uint32_t type, int64_t head_dim, int64_t n_pos, int n_q,
                      int64_t heads) {
  std::mt19937 rng(5 + static_cast<unsigned>(state.thread_index()));
  std::vector<uint8_t> kv[2];
  if (!random_kv(state, type, head_dim, n_pos, rng, kv[0], kv[1])) return;
  const std::vector<uint8_t>* kq = &kv[0];
  const std::vector<uint8_t>* vq = &kv[1];
  const size_t head_bytes = kq->size();
  AlignedVector<uint8_t> k(head_bytes * static_cast<size_t>(heads)), v(k.size());
  for (int64_t h = 0; h < heads; ++h) {
    std::memcpy(k.data() + static_cast<size_t>(h) * head_bytes, kq->data(), head_bytes);
    std::memcpy(v.data() + static_cast<size_t>(h) * head_bytes, vq->data(), head_bytes);
  }
  const auto q = random_floats(n_q * head_dim, rng);
  std::vector<float> out(static_cast<size_t>(n_q * head_dim)), scratch(static_cast<size_t>(n_q * n_pos));
  kernels::AttnBlock b{};
  b.n_q = n_q;
  b.stride = static_cast<int64_t>(head_bytes) / n_pos;
  b.head_dim = head_dim;
  b.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (int i = 0; i < n_q; ++i) {
    b.q[i] = q.data() + i * head_dim;
    b.out[i] = out.data() + i * head_dim;
    b.n_pos[i] = n_pos;
  }
  const kernels::KvAttentionKernel* kernel = kernels::kv_attention_kernel(type, level);
  for (auto _ : state) {
    for (int64_t h = 0; h < heads; ++h) {
      b.k = k.data() + static_cast<size_t>(h) * head_bytes;
      b.v = v.data() + static_cast<size_t>(h) * head_bytes;
      kernels::attend_block(*kernel, b, scratch.data());
    }
    benchmark::DoNotOptimize(out.data());
  }
  set_rates(state, static_cast<double>(k.size() + v.size()), 2.0 * static_cast<double>(heads * n_q * n_pos * head_dim));
}

#if defined(__x86_64__)
// The machine's limits: a thread reading a buffer of its own far larger than the caches (sum of bytes, 64 B per
// step).
__attribute__((target("avx2"))) void memory_read(benchmark::State& state) {
  const size_t n = size_t{512} << 20;
  AlignedVector<uint8_t> buf(n, 1);
  for (auto _ : state) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
    const __m256i zero = _mm256_setzero_si256();
    for (size_t i = 0; i < n; i += 64) {
      s0 = _mm256_add_epi64(s0, _mm256_sad_epu8(_mm256_load_si256(reinterpret_cast<const __m256i*>(&buf[i])), zero));
      s1 = _mm256_add_epi64(s1,
                            _mm256_sad_epu8(_mm256_load_si256(reinterpret_cast<const __m256i*>(&buf[i + 32])), zero));
    }
    benchmark::DoNotOptimize(_mm256_extract_epi64(_mm256_add_epi64(s0, s1), 0));
  }
  set_rates(state, static_cast<double>(n), 0.0);
}

// Peak int8 multiply-adds in registers: independent chains, no loads. AVX-512: vpdpbusd (64 per instruction);
// AVX2: vpmaddubsw (32 per instruction; the AVX2 kernels also need a vpaddw for each).
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void peak_vnni(benchmark::State& state) {
  constexpr int kAcc = 16;
  constexpr int64_t kSteps = 1 << 20;
  __m512i a = _mm512_set1_epi8(1), b = _mm512_set1_epi8(2);
  asm volatile("" : "+v"(a), "+v"(b));  // unknown to the compiler: no constant folding of the dot products
  for (auto _ : state) {
    __m512i acc[kAcc];
    for (int i = 0; i < kAcc; ++i) {
      acc[i] = _mm512_set1_epi32(i);  // distinct chains: the compiler may not merge them
      asm volatile("" : "+v"(acc[i]));
    }
    for (int64_t i = 0; i < kSteps; ++i)
      for (auto& v : acc) v = _mm512_dpbusd_epi32(v, a, b);
    for (auto& v : acc) benchmark::DoNotOptimize(v);
  }
  set_rates(state, 0.0, static_cast<double>(kSteps * kAcc * 64));
}

// AVX-VNNI: vpdpbusd on 256 bits (32 per instruction), what the AVX2 level's AVX-VNNI build takes.
__attribute__((target("avx2,avxvnni"))) void peak_avxvnni(benchmark::State& state) {
  constexpr int kAcc = 12;
  constexpr int64_t kSteps = 1 << 20;
  __m256i a = _mm256_set1_epi8(1), b = _mm256_set1_epi8(2);
  asm volatile("" : "+v"(a), "+v"(b));
  for (auto _ : state) {
    __m256i acc[kAcc];
    for (int i = 0; i < kAcc; ++i) {
      acc[i] = _mm256_set1_epi32(i);
      asm volatile("" : "+v"(acc[i]));
    }
    for (int64_t i = 0; i < kSteps; ++i) {
#pragma GCC unroll 16
      for (int k = 0; k < kAcc; ++k) acc[k] = _mm256_dpbusd_avx_epi32(acc[k], a, b);
    }
    for (int k = 0; k < kAcc; ++k) asm volatile("" : : "v"(acc[k]));  // used, from registers (see peak_avx2)
  }
  set_rates(state, 0.0, static_cast<double>(kSteps * kAcc * 32));
}

// AMX (tdpbsud: 16 x 16 x 64 per instruction) on four accumulator tiles from two pairs of operand tiles, as the AMX
// kernel's 2 x 2 step without its loads. The tiles' permission is asked for by cpu_features().
struct AmxConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
__attribute__((target("amx-tile,amx-int8"))) void peak_amx(benchmark::State& state) {
  constexpr int64_t kSteps = 1 << 16;
  alignas(64) AmxConfig c;
  for (int i = 0; i < 8; ++i) {
    c.colsb[i] = 64;
    c.rows[i] = 16;
  }
  alignas(64) uint8_t operand[1024];
  for (int i = 0; i < 1024; ++i) operand[i] = static_cast<uint8_t>(i % 3);
  _tile_loadconfig(&c);
  _tile_loadd(4, operand, 64);
  _tile_loadd(5, operand, 64);
  _tile_loadd(6, operand, 64);
  _tile_loadd(7, operand, 64);
  for (auto _ : state) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t i = 0; i < kSteps; ++i) {
      _tile_dpbsud(0, 4, 6);
      _tile_dpbsud(1, 4, 7);
      _tile_dpbsud(2, 5, 6);
      _tile_dpbsud(3, 5, 7);
    }
    alignas(64) int32_t out[256];
    _tile_stored(0, out, 64);
    benchmark::DoNotOptimize(out);
  }
  _tile_release();
  set_rates(state, 0.0, static_cast<double>(kSteps * 4 * 16 * 16 * 64));
}

__attribute__((target("avx2"))) void peak_avx2(benchmark::State& state) {
  // 10 chains: vpmaddubsw's latency (3 on Zen, 5 on Intel) times its 2 a cycle, within AVX2's 16 registers. The sums
  // are used from registers at the end: with DoNotOptimize on each (a memory operand) GCC stored them to the stack
  // every step, and the figure was the stores' (Zen 4: 155 G multiply-adds/s against 234).
  constexpr int kAcc = 10;
  constexpr int64_t kSteps = 1 << 20;
  __m256i b = _mm256_set1_epi8(1);
  asm volatile("" : "+v"(b));
  for (auto _ : state) {
    __m256i acc[kAcc];
    for (int i = 0; i < kAcc; ++i) {
      acc[i] = _mm256_set1_epi8(static_cast<char>(i));
      asm volatile("" : "+v"(acc[i]));
    }
    for (int64_t i = 0; i < kSteps; ++i) {  // each product depends on the last: nothing to hoist or merge
#pragma GCC unroll 10
      for (int k = 0; k < kAcc; ++k) acc[k] = _mm256_maddubs_epi16(acc[k], b);
    }
    for (int k = 0; k < kAcc; ++k) asm volatile("" : : "v"(acc[k]));  // used, from registers
  }
  set_rates(state, 0.0, static_cast<double>(kSteps * kAcc * 32));
}
#endif

#if defined(__aarch64__)
// The same limits on aarch64: one thread streaming 512 MB (bytes widened and summed), and int8 multiply-adds in
// registers by sdot (16 an instruction) and, where the CPU has i8mm, smmla (32).
void memory_read(benchmark::State& state) {
  const size_t n = size_t{512} << 20;
  AlignedVector<uint8_t> buf(n, 1);
  for (auto _ : state) {
    uint32x4_t s0 = vdupq_n_u32(0), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 64) {
      s0 = vpadalq_u16(s0, vpaddlq_u8(vld1q_u8(&buf[i])));
      s1 = vpadalq_u16(s1, vpaddlq_u8(vld1q_u8(&buf[i + 16])));
      s2 = vpadalq_u16(s2, vpaddlq_u8(vld1q_u8(&buf[i + 32])));
      s3 = vpadalq_u16(s3, vpaddlq_u8(vld1q_u8(&buf[i + 48])));
    }
    benchmark::DoNotOptimize(vaddvq_u32(vaddq_u32(vaddq_u32(s0, s1), vaddq_u32(s2, s3))));
  }
  set_rates(state, static_cast<double>(n), 0.0);
}

// kInstr(acc, a, b): one multiply-add instruction; kMacs: its products.
template <int32x4_t (*kInstr)(int32x4_t, int8x16_t, int8x16_t), int kMacs>
void peak_neon(benchmark::State& state) {
  constexpr int kAcc = 16;
  constexpr int64_t kSteps = 1 << 20;
  int8x16_t a = vdupq_n_s8(1), b = vdupq_n_s8(2);
  asm volatile("" : "+w"(a), "+w"(b));  // unknown to the compiler: no constant folding
  for (auto _ : state) {
    int32x4_t acc[kAcc];
    for (int i = 0; i < kAcc; ++i) {
      acc[i] = vdupq_n_s32(i);
      asm volatile("" : "+w"(acc[i]));
    }
    for (int64_t i = 0; i < kSteps; ++i)
      for (auto& v : acc) v = kInstr(v, a, b);
    for (auto& v : acc) benchmark::DoNotOptimize(v);
  }
  set_rates(state, 0.0, static_cast<double>(kSteps * kAcc * kMacs));
}

BITNET_DOTPROD __attribute__((flatten)) void peak_sdot(benchmark::State& state) { peak_neon<kernels::sdot, 16>(state); }
BITNET_I8MM __attribute__((flatten)) void peak_smmla(benchmark::State& state) { peak_neon<kernels::smmla, 32>(state); }
#endif

// A limit on one thread and, with `both`, also on two at once (figures summed over both), as `bitnet-cli bench -t 2`
// runs: on a shared or power-limited machine one core's rate alone says less about what two reach together.
void register_limit(const char* name, void (*fn)(benchmark::State&), bool both) {
  benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kMillisecond);
  if (both) benchmark::RegisterBenchmark(name, fn)->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);
}

void register_all() {
  std::vector<IsaLevel> levels;
  for (int l = 0; l <= static_cast<int>(max_supported_isa()); ++l) levels.push_back(static_cast<IsaLevel>(l));
#if defined(__x86_64__) || defined(__aarch64__)
  register_limit("limit/memory_read_512MB", memory_read, true);
#endif
#if defined(__x86_64__)
  register_limit("limit/peak_int8_avx2", peak_avx2, false);
  if (cpu_features().avxvnni) register_limit("limit/peak_int8_avxvnni", peak_avxvnni, false);
  if (max_supported_isa() == IsaLevel::kAvx512) register_limit("limit/peak_int8_avx512vnni", peak_vnni, true);
  if (cpu_features().amx_int8) register_limit("limit/peak_int8_amx", peak_amx, true);
#elif defined(__aarch64__)
  if (cpu_features().neon_dotprod) register_limit("limit/peak_int8_sdot", peak_sdot, false);
  if (cpu_features().neon_i8mm) register_limit("limit/peak_int8_smmla", peak_smmla, false);
#endif
  struct Shape {
    const char* name;
    int64_t rows, cols;
  };
  // The stream shape's codes (168 MB) are far larger than the caches: generation streaming from memory. The l2
  // shape's (196 KB) stay in L2: the generation kernel's own rate, steadier than through memory on a shared machine;
  // with 4 tokens, a batch of sequences generating together (the server's batched decoding).
  const Shape shapes[] = {{"2b4t_ffn_up_2560x6912", 6912, 2560},
                          {"2b4t_ffn_down_6912x2560", 2560, 6912},
                          {"large_ffn_up_1536x4096", 4096, 1536},
                          {"large_ffn_down_4096x1536", 1536, 4096},
                          // bitnet_b1_58-3B's (from TL1/TL2): 64 columns past the last 128-column block, in rows
                          {"3b_ffn_down_8640x3200", 3200, 8640},
                          {"l2_1536x512", 512, 1536},
                          {"stream_2560x262144", 262144, 2560}};
  for (bool q8k : {false, true})
    for (const Shape& sh : shapes)
      for (int64_t tokens : {int64_t{1}, int64_t{4}, int64_t{128}})
        for (IsaLevel level : levels) {
          if (level == IsaLevel::kScalar && (tokens > 1 || sh.rows > 100000)) continue;  // the reference: slow
          if ((sh.rows > 100000 || sh.rows < 1000) && tokens == 128) continue;
          if (tokens == 4 && sh.rows != 512) continue;
          if (q8k && (sh.rows > 100000 || level == IsaLevel::kScalar || sh.cols % 256 != 0)) continue;
          // ternary_tq: TQ1_0/TQ2_0's scale per 256 columns and Q8_K activations
          const std::string name = std::string(q8k ? "ternary_tq/" : "ternary/") + sh.name +
                                   "/tokens:" + std::to_string(tokens) + "/" + isa_name(level);
          // The kernels timed at this level: the dispatcher's; at AVX2, the plain build, and the AVX-VNNI build
          // ("+vnni") where the CPU has AVX-VNNI; at NEON dotprod, sdot ("+sdot") and smmla ("+i8mm") where the CPU
          // has i8mm.
          std::vector<std::pair<std::string, kernels::TernaryMatmulFn>> builds = {{"", nullptr}};
#if defined(__x86_64__)
          if (level == IsaLevel::kAvx2) {
            builds = {{"", kernels::ternary_matmul_avx2}};
            if (cpu_features().avxvnni) builds.emplace_back("+vnni", kernels::ternary_matmul_avx2_vnni);
          }
#elif defined(__aarch64__)
          if (level == IsaLevel::kNeonDot && cpu_features().neon_i8mm && tokens > 1)
            builds = {{"+sdot", kernels::ternary_matmul_neon_dot}, {"+i8mm", kernels::ternary_matmul_neon_i8mm}};
#endif
          for (const auto& [suffix, fn] : builds) {
            // in panels where the loader would put them (AVX-512, and AVX2 with AVX-VNNI); in the dense panel layout
            // where it would (AVX-512 with VBMI; one scale a row)
            std::vector<std::pair<Layout, const char*>> layouts = {{Layout::kRows, ""}};
#if defined(__x86_64__)
            const bool blocks = sh.cols % quant::kTernaryBlock == 0;  // the loader's layouts take whole blocks
            if ((level == IsaLevel::kAvx512 || level == IsaLevel::kAvx2) && blocks)
              layouts.emplace_back(Layout::kPanels, "/panels");
            if (level == IsaLevel::kAvx512 && cpu_features().avx512vbmi && !q8k && blocks)
              layouts.emplace_back(Layout::kDense, "/dense");
#endif
            for (const auto& [layout, layout_name] : layouts) {
              benchmark::RegisterBenchmark((name + suffix + layout_name).c_str(), ternary, level, sh.rows, sh.cols,
                                           tokens, q8k, layout, false, fn)
                  ->Unit(benchmark::kMillisecond);
              // Streaming on two threads at once, a matrix each (figures summed), beside limit/memory_read's two
              // threads: what generation on two threads can reach.
              if (sh.rows > 100000 && level != IsaLevel::kScalar)
                benchmark::RegisterBenchmark((name + suffix + layout_name).c_str(), ternary, level, sh.rows, sh.cols,
                                             tokens, q8k, layout, false, fn)
                    ->Threads(2)
                    ->UseRealTime()
                    ->Unit(benchmark::kMillisecond);
            }
          }
          if (level == IsaLevel::kAvx512 && tokens > 1 && cpu_features().amx_int8)
            for (Layout layout : {Layout::kRows, Layout::kPanels})
              benchmark::RegisterBenchmark((name + "+amx" + (layout == Layout::kPanels ? "/panels" : "")).c_str(),
                                           ternary, level, sh.rows, sh.cols, tokens, q8k, layout, true, nullptr)
                  ->Unit(benchmark::kMillisecond);
        }
  // The 2B-4T head: 128256 x 2560 in Q6_K (269 MB) and Q8_0 (349 MB), streamed from memory; one token and a batch
  // of 4.
  for (uint32_t type : {quant::kQ6_K, quant::kQ8_0})
    for (int64_t tokens : {int64_t{1}, int64_t{4}})
      for (IsaLevel level : levels) {
        if (level == IsaLevel::kScalar && tokens > 1) continue;
        const std::string name = std::string(type == quant::kQ6_K ? "q6_k" : "q8_0") +
                                 "_head/128256x2560/tokens:" + std::to_string(tokens) + "/" + isa_name(level);
        benchmark::RegisterBenchmark(name.c_str(), int_head, type, level, 128256, 2560, tokens)
            ->Unit(benchmark::kMillisecond);
        if (tokens == 1 && level != IsaLevel::kScalar)
          benchmark::RegisterBenchmark(name.c_str(), int_head, type, level, 128256, 2560, tokens)
              ->Threads(2)
              ->UseRealTime()
              ->Unit(benchmark::kMillisecond);
      }
  // The same head kernels on 512 rows (1.1-1.4 MB, in L2): their speed when memory is not the limit.
  for (uint32_t type : {quant::kQ6_K, quant::kQ8_0})
    for (IsaLevel level : levels)
      if (level != IsaLevel::kScalar)
        benchmark::RegisterBenchmark(
            (std::string(type == quant::kQ6_K ? "q6_k" : "q8_0") + "_head/l2_512x2560/tokens:1/" + isa_name(level))
                .c_str(),
            int_head, type, level, 512, 2560, 1)
            ->Unit(benchmark::kMicrosecond);
  // Prompt attention over F16 and Q8_0 caches: the large model's heads (96) and 2B-4T's (128), a block of 8 tokens.
  for (uint32_t type : {quant::kF16, quant::kQ8_0})
    for (int64_t head_dim : {int64_t{96}, int64_t{128}})
      for (int64_t n_pos : {int64_t{128}, int64_t{1024}})
        for (IsaLevel level : levels) {
          const std::string name = std::string(type == quant::kF16 ? "attention_f16" : "attention_q8_0") +
                                   "/head_dim:" + std::to_string(head_dim) + "/pos:" + std::to_string(n_pos) +
                                   "/queries:8/" + isa_name(level);
          benchmark::RegisterBenchmark(name.c_str(), attention, level, type, head_dim, n_pos, 8)
              ->Unit(benchmark::kMicrosecond);
        }
  // Generation at a long context, F16 and Q8_0 caches: the large model's one query a KV head, 2B-4T's GQA group of 4.
  for (uint32_t type : {quant::kF16, quant::kQ8_0})
    for (auto [head_dim, n_q] : {std::pair<int64_t, int>{96, 1}, std::pair<int64_t, int>{128, 4}})
      for (IsaLevel level : levels) {
        const std::string name = "attention_gen_" + quant::type_name(type) + "/head_dim:" + std::to_string(head_dim) +
                                 "/pos:2048/queries:" + std::to_string(n_q) + "/" + isa_name(level);
        benchmark::RegisterBenchmark(name.c_str(), attention, level, type, head_dim, int64_t{2048}, n_q)
            ->Unit(benchmark::kMicrosecond);
      }
  // The same from memory: 80 KV heads of 4096 positions a thread (160 MB of F16, 87 MB of Q8_0 keys and values).
  for (uint32_t type : {quant::kF16, quant::kQ8_0})
    for (IsaLevel level : levels) {
      if (level == IsaLevel::kScalar) continue;
      const std::string name =
          "attention_gen_" + quant::type_name(type) + "/head_dim:128/pos:4096/queries:4/stream/" + isa_name(level);
      for (int threads : {1, 2}) {
        auto* r = benchmark::RegisterBenchmark(name.c_str(), attention_stream, level, type, int64_t{128}, int64_t{4096},
                                               4, int64_t{80});
        r->Unit(benchmark::kMillisecond);
        if (threads == 2) r->Threads(2)->UseRealTime();
      }
    }
  for (IsaLevel level : levels) {
    const std::string name = std::string("act_quant_absmax/128x6912/") + isa_name(level);
    benchmark::RegisterBenchmark(name.c_str(), act_quant, level, 6912, 128)->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
