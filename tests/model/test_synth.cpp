// Random-weight models (bitnet/synth.hpp): every type x head loads and runs, the same seed gives the same
// ternary values whatever the type, and bad options are clear errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "bitnet/bitnet.hpp"
#include "bitnet/synth.hpp"
#include "bitnet/tokenizer.hpp"
#include "core/cpu_features.hpp"
#include "core/half.hpp"
#include "formats/gguf.hpp"
#include "formats/gguf_writer.hpp"
#include "model/weights.hpp"
#include "quant/quant.hpp"
#include "quant/tl_config.hpp"
#include "test_util.hpp"

namespace bitnet {
namespace {

std::string synth_tiny(const std::string& dir, const std::string& type, const std::string& head,
                       const std::string& arch = "bitnet", uint64_t seed = 7) {
  SynthOptions o;
  o.arch = arch;
  o.shape = "tiny";
  o.type = type;
  o.head = head;
  o.seed = seed;
  const std::string path = dir + "/" + arch + "-" + type + "-" + head + "-" + std::to_string(seed) + ".gguf";
  Status s = synthesize_model(o, path);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return path;
}

std::vector<float> logits_of(const std::string& path, const std::vector<int32_t>& ids) {
  LoadOptions lo;
  lo.n_threads = 2;
  auto m = Model::load(path, lo);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  if (!m.ok()) return {};
  auto l = (*m)->evaluate(ids);
  EXPECT_TRUE(l.ok()) << l.status().to_string();
  return l.ok() ? *l : std::vector<float>{};
}

// The model at path loads as architecture `arch` and its logits of ids are finite (empty after a failure).
std::vector<float> finite_logits(const std::string& path, const std::string& arch, const std::vector<int32_t>& ids) {
  auto m = Model::load(path);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  if (!m.ok()) return {};
  EXPECT_EQ((*m)->info().architecture, arch);
  auto l = (*m)->evaluate(ids);
  EXPECT_TRUE(l.ok()) << l.status().to_string();
  if (!l.ok()) return {};
  for (float x : *l) EXPECT_TRUE(std::isfinite(x));
  return *l;
}

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// sum (a - b)^2 / sum b^2
double nmse(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return den > 0 ? num / den : 1.0;
}

const std::vector<int32_t> kIds = {1, 17, 300, 999, 42, 5};

TEST(ModelSynth, EveryTypeAndHeadLoadsAndRuns) {
  const std::string dir = test::temp_dir();
  const char* kTypeNames[][2] = {
      {"i2_s", "I2_S"}, {"tq1_0", "TQ1_0"}, {"tq2_0", "TQ2_0"}, {"tl1", "TL1"}, {"tl2", "TL2"}};
  for (const auto& type : kTypeNames) {
    for (const char* head : {"q6_k", "q8_0", "f16", "bf16"}) {
      SCOPED_TRACE(std::string(type[0]) + " / " + head);
      const std::string path = synth_tiny(dir, type[0], head);
      LoadOptions lo;
      lo.n_threads = 2;
      auto m = Model::load(path, lo);
      ASSERT_TRUE(m.ok()) << m.status().to_string();
      const ModelInfo& i = (*m)->info();
      EXPECT_EQ(i.architecture, "bitnet");
      EXPECT_EQ(i.weight_type, type[1]);
      EXPECT_EQ(i.n_embd, 256);
      EXPECT_EQ(i.n_layer, 2);
      EXPECT_EQ(i.n_head, 4);
      EXPECT_EQ(i.n_head_kv, 2);
      EXPECT_EQ(i.n_ff, 1024);
      EXPECT_EQ(i.n_vocab, 1000);
      EXPECT_EQ(i.isa, isa_description(active_isa()));
      auto l = (*m)->evaluate(kIds);
      ASSERT_TRUE(l.ok()) << l.status().to_string();
      ASSERT_EQ(l->size(), kIds.size() * 1000);
      double sum_sq = 0;
      for (float x : *l) {
        ASSERT_TRUE(std::isfinite(x));
        sum_sq += static_cast<double>(x) * x;
      }
      EXPECT_GT(sum_sq / static_cast<double>(l->size()), 1e-3);  // not a dead network
      // The vocabulary is a working SentencePiece one: text round trips through byte fallback.
      auto ids = (*m)->tokenize("Hello, synthetic world", true);
      ASSERT_TRUE(ids.ok()) << ids.status().to_string();
      EXPECT_EQ((*m)->detokenize(*ids), "Hello, synthetic world");
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(ModelSynth, Relu2ArchitectureLoadsAndRuns) {
  const std::string dir = test::temp_dir();
  EXPECT_FALSE(finite_logits(synth_tiny(dir, "i2_s", "q8_0", "bitnet-b1.58"), "bitnet-b1.58", kIds).empty());
  std::filesystem::remove_all(dir);
}

// Ternary Llama-style models (Llama3-8B-1.58, Falcon3-1.58bit, as bitnet.cpp converts them): architecture llama,
// no sub-norm tensors; the ternary matrices are the bitnet file's, so only the missing norms change the logits.
TEST(ModelSynth, LlamaArchitectureHasNoSubNormsAndRuns) {
  const std::string dir = test::temp_dir();
  const std::string path = synth_tiny(dir, "i2_s", "q8_0", "llama");
  {
    auto f = gguf::File::open(path);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_NE((*f)->find_tensor("blk.0.attn_q.weight"), nullptr);
    EXPECT_EQ((*f)->find_tensor("blk.0.attn_sub_norm.weight"), nullptr);
    EXPECT_EQ((*f)->find_tensor("blk.1.ffn_sub_norm.weight"), nullptr);
  }
  const std::vector<float> l = finite_logits(path, "llama", kIds);
  const std::string bitnet = synth_tiny(dir, "i2_s", "q8_0", "bitnet");
  const std::vector<float> with_sub_norms = logits_of(bitnet, kIds);
  ASSERT_EQ(with_sub_norms.size(), l.size());
  EXPECT_NE(with_sub_norms, l);
  // No --arch: the shape's own (tiny's is bitnet), so the same file as an explicit bitnet, byte for byte.
  SynthOptions o;
  o.shape = "tiny";
  o.type = "i2_s";
  o.head = "q8_0";
  o.seed = 7;
  ASSERT_TRUE(synthesize_model(o, dir + "/default.gguf").ok());
  EXPECT_EQ(file_bytes(dir + "/default.gguf"), file_bytes(bitnet));
  std::filesystem::remove_all(dir);
}

// Same seed, same ternary values: I2_S and TQ2_0 differ only in how activations are quantized (per token
// absmax vs Q8_K blocks of 256), TQ1_0 and TQ2_0 not at all.
TEST(ModelSynth, TypesWithTheSameSeedAgree) {
  const std::string dir = test::temp_dir();
  const std::vector<float> i2s = logits_of(synth_tiny(dir, "i2_s", "f16"), kIds);
  const std::vector<float> tq2 = logits_of(synth_tiny(dir, "tq2_0", "f16"), kIds);
  const std::vector<float> tq1 = logits_of(synth_tiny(dir, "tq1_0", "f16"), kIds);
  ASSERT_EQ(i2s.size(), tq2.size());
  ASSERT_EQ(tq1.size(), tq2.size());
  EXPECT_LT(nmse(i2s, tq2), 1e-2);
  EXPECT_LT(nmse(tq1, tq2), 1e-10);
  // A different seed is a different model.
  const std::vector<float> other = logits_of(synth_tiny(dir, "tq2_0", "f16", "bitnet", 8), kIds);
  EXPECT_GT(nmse(other, tq2), 0.1);
  std::filesystem::remove_all(dir);
}

// TL1/TL2 hold the same codes and the same per-tensor scale as I2_S, and run on the same kernels: the logits
// are the same bits. The files have bitnet.cpp's converter layout: each weight's scale is "<weight>_scale", in the
// 32 bytes ggml counts at the end of the weight, and the tilings are recorded (the tiny shape has no upstream one).
TEST(ModelSynth, TlModelsGiveTheI2sLogitsBitForBit) {
  const std::string dir = test::temp_dir();
  const std::vector<float> i2s = logits_of(synth_tiny(dir, "i2_s", "q8_0"), kIds);
  ASSERT_FALSE(i2s.empty());
  for (const char* type : {"tl1", "tl2"}) {
    const std::string path = synth_tiny(dir, type, "q8_0");
    EXPECT_EQ(logits_of(path, kIds), i2s) << type;
    auto f = gguf::File::open(path);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    const gguf::TensorInfo* w = (*f)->find_tensor("blk.1.ffn_down.weight");
    const gguf::TensorInfo* s = (*f)->find_tensor("blk.1.ffn_down.weight_scale");
    ASSERT_TRUE(w != nullptr && s != nullptr);
    EXPECT_EQ(s->offset, w->offset + w->nbytes - 32) << type;
    const gguf::Value* key = (*f)->find(quant::kTlConfigKey);
    ASSERT_NE(key, nullptr) << type;
    EXPECT_EQ(key->ints.size() % 5, 0u);
  }
  std::filesystem::remove_all(dir);
}

// Where tensor `name`'s data starts in the file at `path` (0 after a failed expectation).
uint64_t tensor_at(const std::string& path, const std::string& name) {
  auto f = gguf::File::open(path);
  EXPECT_TRUE(f.ok()) << f.status().to_string();
  const gguf::TensorInfo* t = f.ok() ? (*f)->find_tensor(name) : nullptr;
  EXPECT_NE(t, nullptr) << name;
  return t == nullptr ? 0 : (*f)->data_offset() + t->offset;
}

// A prompt's logits, then one token's at a time: the prompt and generation kernels.
std::vector<float> prompt_then_tokens(const std::string& path, bool repack_i2s = false, bool repack_float = false) {
  LoadOptions lo;
  lo.n_threads = 2;
  lo.repack_i2s = repack_i2s;
  lo.repack_float = repack_float;
  auto m = Model::load(path, lo);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  if (!m.ok()) return {};
  auto out = (*m)->evaluate({1, 5, 9, 14, 3, 27, 8, 2, 11, 6});
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  if (!out.ok()) return {};
  for (int32_t id : {4, 19, 7}) {
    auto l = (*m)->evaluate_continue({id});
    EXPECT_TRUE(l.ok()) << l.status().to_string();
    if (l.ok()) out->insert(out->end(), l->begin(), l->end());
  }
  return *out;
}

// --type f16|f32 writes I2_S's weights times the same scale in float; with repack_float they compute what the I2_S
// file computes, bit for bit, at every ISA level this machine has (prompt and generation kernels; the dense layout
// where AVX-512 has VBMI). BF16 rounds the scale to another one: its matrices hold I2_S's codes with that scale, and
// compute the same at every level as at the scalar one. Without repack_float they compute as float.
TEST(ModelSynth, FloatTernaryWithRepackFloatEqualsI2S) {
  const std::string dir = test::temp_dir();
  const std::string i2s = synth_tiny(dir, "i2_s", "q8_0");
  const IsaLevel before = active_isa();
  for (const char* type : {"f16", "f32", "bf16"}) {
    const std::string path = synth_tiny(dir, type, "q8_0");
    const bool same_scale = std::string(type) != "bf16";
    std::vector<float> want;
    for (IsaLevel level : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvx512}) {
      if (static_cast<int>(level) > static_cast<int>(max_supported_isa())) continue;
      set_active_isa(level);
      const std::vector<float> got = prompt_then_tokens(path, true, true);
      ASSERT_FALSE(got.empty());
      if (same_scale) want = prompt_then_tokens(i2s, true);
      if (!same_scale && level == IsaLevel::kScalar) {  // the reference: I2_S's codes, checked below
        want = got;
        continue;
      }
      ASSERT_EQ(want.size(), got.size());
      EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0)
          << type << " at " << isa_description(level);
    }
    set_active_isa(before);
    {  // the same codes as the I2_S file's, the scale the type's rounding of I2_S's
      auto fi = gguf::File::open(i2s);
      auto ff = gguf::File::open(path);
      ASSERT_TRUE(fi.ok() && ff.ok());
      auto wi = model::load_weights(**fi, false);
      auto wf = model::load_weights(**ff, false, true);
      ASSERT_TRUE(wi.ok() && wf.ok());
      for (size_t i = 0; i < (*wi)->layers.size(); ++i) {
        const model::Layer& a = (*wi)->layers[i];
        const model::Layer& b = (*wf)->layers[i];
        const model::Linear* la[] = {&a.wq, &a.wk, &a.wv, &a.wo, &a.gate, &a.up, &a.down};
        const model::Linear* lb[] = {&b.wq, &b.wk, &b.wv, &b.wo, &b.gate, &b.up, &b.down};
        for (int k = 0; k < 7; ++k) {
          const quant::TernaryMatrix& ma = la[k]->tern;
          const quant::TernaryMatrix& mb = lb[k]->tern;
          ASSERT_TRUE(lb[k]->ternary) << type << " " << lb[k]->name;
          ASSERT_EQ(ma.rows, mb.rows);
          const float scale = same_scale ? ma.scales[0] : bf16_to_float(float_to_bf16(ma.scales[0]));
          EXPECT_EQ(mb.scale(0, 0), scale) << type << " " << lb[k]->name;
          std::vector<uint8_t> ra(static_cast<size_t>(ma.row_bytes())), rb(ra.size());
          for (int64_t r = 0; r < ma.rows; ++r) {
            quant::row_codes(ma, r, ra.data());
            quant::row_codes(mb, r, rb.data());
            ASSERT_EQ(ra, rb) << type << " " << lb[k]->name << " row " << r;
          }
        }
      }
    }
    LoadOptions lo;
    lo.repack_float = true;
    auto m = Model::load(path, lo);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    std::string upper = type;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ((*m)->info().weight_type, upper + " (ternary at load)");
    const std::vector<float> floats = prompt_then_tokens(path);
    const std::vector<float> ternary = prompt_then_tokens(path, true, true);
    ASSERT_FALSE(floats.empty());
    ASSERT_EQ(floats.size(), ternary.size());
    EXPECT_NE(std::memcmp(floats.data(), ternary.data(), floats.size() * sizeof(float)), 0) << type;
  }
  set_active_isa(before);
  std::filesystem::remove_all(dir);
}

// A float layer matrix that is ternary in its first row but not further on stays float, and the rest are taken as
// ternary, each in its own place in the repacked buffer; a float model of an architecture other than BitNet's is not
// touched (a bitllama2c or Llama matrix would compute differently).
TEST(ModelSynth, RepackFloatLeavesOtherFloatMatricesFloat) {
  const std::string dir = test::temp_dir();
  const std::string path = synth_tiny(dir, "f16", "q8_0");
  const uint64_t at = tensor_at(path, "blk.0.ffn_up.weight") + 2 * (700 * 256 + 33);  // row 700, column 33
  {
    std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
    const uint16_t third = float_to_fp16(0.3333f);  // no synthesised scale is this
    io.seekp(static_cast<std::streamoff>(at));
    io.write(reinterpret_cast<const char*>(&third), 2);
    ASSERT_TRUE(io.good());
  }
  auto f = gguf::File::open(path, true);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_TRUE(model::float_ternary_possible(**f));
  auto w = model::load_weights(**f, true, true);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  const uint8_t* begin = (*w)->repacked.data();
  const uint8_t* end = begin + (*w)->repacked.size();
  std::vector<std::pair<const uint8_t*, const uint8_t*>> regions;
  for (const model::Layer& l : (*w)->layers)
    for (const model::Linear* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}) {
      if (m == &(*w)->layers[0].up) {
        EXPECT_FALSE(m->ternary);
        continue;
      }
      ASSERT_TRUE(m->ternary) << m->name;
      const uint8_t* p = m->tern.codes();
      EXPECT_TRUE(p >= begin && p + m->tern.rows * m->tern.stored_row_bytes() <= end) << m->name;
      regions.push_back({p, p + m->tern.rows * m->tern.stored_row_bytes()});
    }
  std::sort(regions.begin(), regions.end());
  for (size_t i = 1; i < regions.size(); ++i) EXPECT_LE(regions[i - 1].second, regions[i].first);
  // The buffer holds the 13 others and the space counted for the one found not ternary past its first row.
  size_t taken = 0;
  for (const auto& r : regions) taken += static_cast<size_t>((r.second - r.first + 63) / 64 * 64);
  const model::Linear& up = (*w)->layers[0].up;
  EXPECT_EQ(taken + static_cast<size_t>(up.out * up.in / 4), (*w)->repacked.size());

  const std::string stories = test::fixture("stories260k/stories260K.gguf");
  if (std::filesystem::exists(stories)) {
    auto g = gguf::File::open(stories);
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    EXPECT_FALSE(model::float_ternary_possible(**g));  // llama
  }
  std::filesystem::remove_all(dir);
}

// ModelInfo::float_ternary_weights (the CLI's note that --repack-float would take the weights as ternary): set for a
// BitNet F16 file loaded without the option; not with it, even where the first query matrix stayed float (ternary in
// its first row, not past it).
TEST(ModelSynth, FloatTernaryNoteOnlyWithoutTheOption) {
  const std::string dir = test::temp_dir();
  const std::string path = synth_tiny(dir, "f16", "q8_0");
  {
    std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
    const uint16_t third = float_to_fp16(0.3333f);
    io.seekp(static_cast<std::streamoff>(tensor_at(path, "blk.0.attn_q.weight") + 2 * (100 * 256 + 7)));
    io.write(reinterpret_cast<const char*>(&third), 2);
    ASSERT_TRUE(io.good());
  }
  for (bool repack_float : {false, true}) {
    LoadOptions lo;
    lo.repack_float = repack_float;
    auto m = Model::load(path, lo);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    EXPECT_EQ((*m)->info().weight_type, "F16");  // the query matrix stays float either way
    EXPECT_EQ((*m)->info().float_ternary_weights, !repack_float);
  }
  std::filesystem::remove_all(dir);
}

// A prompt's logits in one pass equal those of its tokens fed one at a time, bit for bit. The tiny shape's FFN of 1024
// has its rows of gate and up outputs a line more than 4 KB apart in a prompt pass (Forward's ff_stride_), which a
// single token never sees.
TEST(ModelSynth, PromptAtOnceEqualsTokenByToken) {
  const std::string dir = test::temp_dir();
  const std::vector<int32_t> ids = {1, 5, 9, 14, 3, 27, 8, 2, 11, 6, 400, 77, 31, 250, 18, 90, 12, 640, 3, 55};
  for (const char* type : {"i2_s", "tq2_0"}) {
    const std::string path = synth_tiny(dir, type, "q8_0");
    LoadOptions lo;
    lo.n_threads = 2;
    auto m = Model::load(path, lo);
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    auto whole = (*m)->evaluate(ids);
    ASSERT_TRUE(whole.ok()) << whole.status().to_string();
    const size_t nv = static_cast<size_t>((*m)->info().n_vocab);
    ASSERT_EQ(whole->size(), ids.size() * nv);
    for (size_t i = 0; i < ids.size(); ++i) {
      auto one = i == 0 ? (*m)->evaluate({ids[0]}) : (*m)->evaluate_continue({ids[i]});
      ASSERT_TRUE(one.ok()) << one.status().to_string();
      ASSERT_EQ(one->size(), nv);
      EXPECT_EQ(std::memcmp(one->data(), whole->data() + i * nv, nv * sizeof(float)), 0) << type << " position " << i;
    }
  }
  std::filesystem::remove_all(dir);
}

// From 512 positions on, one token's attention is shared out among the threads in pieces where its KV heads do not
// share out evenly (Forward::attention_split: the tiny shape's 2 on 3 threads); its logits are one thread's (whole
// blocks), bit for bit, with each KV cache type.
TEST(ModelSynth, GenerationAttentionInPiecesEqualsOneThread) {
  const std::string dir = test::temp_dir();
  const std::string path = synth_tiny(dir, "i2_s", "q8_0");
  std::vector<int32_t> prompt(520);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 37 + 11) % 1000);
  for (KvType kv : {KvType::kF16, KvType::kF32, KvType::kQ8_0}) {
    std::vector<float> want;
    for (int threads : {1, 3}) {
      LoadOptions lo;
      lo.n_threads = threads;
      lo.n_ctx = 600;
      lo.kv_type = kv;
      auto m = Model::load(path, lo);
      ASSERT_TRUE(m.ok()) << m.status().to_string();
      auto got = (*m)->evaluate(prompt);
      ASSERT_TRUE(got.ok()) << got.status().to_string();
      for (int32_t id : {4, 19, 7}) {  // positions 520..522
        auto l = (*m)->evaluate_continue({id});
        ASSERT_TRUE(l.ok()) << l.status().to_string();
        got->insert(got->end(), l->begin(), l->end());
      }
      if (threads == 1) {
        want = std::move(*got);
        continue;
      }
      ASSERT_EQ(want.size(), got->size());
      EXPECT_EQ(std::memcmp(want.data(), got->data(), want.size() * sizeof(float)), 0) << kv_type_name(kv);
    }
  }
  std::filesystem::remove_all(dir);
}

// Loaded at the scalar level (every matrix in rows), and where AVX2 or AVX-512 runs (TQ and TL matrices in panels,
// and I2_S with repack_i2s): the same logits, bit for bit.
TEST(ModelSynth, PanelsAndRowsGiveTheSameLogits) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "not x86-64: matrices are never put in panels";
#endif
  if (max_supported_isa() == IsaLevel::kScalar) GTEST_SKIP() << "no AVX2 here: matrices are never put in panels";
  const std::string dir = test::temp_dir();
  const IsaLevel before = active_isa();
  for (const char* type : {"tq1_0", "tq2_0", "tl2", "i2_s"}) {
    const std::string path = synth_tiny(dir, type, "q8_0");
    set_active_isa(IsaLevel::kScalar);
    const std::vector<float> rows = prompt_then_tokens(path, true);
    ASSERT_FALSE(rows.empty());
    for (IsaLevel level : {IsaLevel::kAvx2, IsaLevel::kAvx512}) {
      if (static_cast<int>(level) > static_cast<int>(max_supported_isa())) continue;
      set_active_isa(level);
      const std::vector<float> got = prompt_then_tokens(path, true);
      ASSERT_EQ(rows.size(), got.size());
      EXPECT_EQ(std::memcmp(rows.data(), got.data(), rows.size() * sizeof(float)), 0)
          << type << " at " << isa_description(level);
    }
  }
  set_active_isa(before);
  std::filesystem::remove_all(dir);
}

// Where the loader would put an I2_S matrix in the dense panel layout (AVX-512 with VBMI) and the file holds a code 3
// (+2) in one of its super-blocks, which five weights a byte cannot hold, that matrix stays where it lies in the file,
// in rows; the other layers' go dense.
TEST(ModelSynth, DenseLayoutLeavesCodeThreeInRows) {
#if defined(__x86_64__)
  if (active_isa() != IsaLevel::kAvx512 || !cpu_features().avx512vbmi) {
    GTEST_SKIP() << "the dense layout is made where the AVX-512 level has VBMI; not here";
  }
#else
  GTEST_SKIP() << "the dense layout is an x86 AVX-512 layout";
#endif
  const std::string dir = test::temp_dir();
  const std::string path = synth_tiny(dir, "i2_s", "q8_0");
  const uint64_t at = tensor_at(path, "blk.0.ffn_down.weight");  // byte 0 of row 0: column 0's code at bits 6-7
  {
    std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(static_cast<std::streamoff>(at));
    char byte = 0;
    io.read(&byte, 1);
    byte = static_cast<char>(static_cast<uint8_t>(byte) | 0xC0);
    io.seekp(static_cast<std::streamoff>(at));
    io.write(&byte, 1);
    ASSERT_TRUE(io.good());
  }
  auto f = gguf::File::open(path, true);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  auto w = model::load_weights(**f, true);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  const quant::TernaryMatrix& bad = (*w)->layers[0].down.tern;
  EXPECT_FALSE(bad.panels || bad.dense);
  EXPECT_EQ(bad.codes(), (*f)->find_tensor("blk.0.ffn_down.weight")->data);  // read in place
  EXPECT_EQ(bad.code(0, 0), 3);
  EXPECT_TRUE((*w)->layers[1].down.tern.dense);
  std::filesystem::remove_all(dir);
}

// The loader repacks every TQ1_0, TQ2_0, TL1 and TL2 matrix into one buffer (so that 2 MB pages can back all of
// it), each matrix in a region of its own; I2_S matrices stay in the file and leave the buffer empty, unless
// repack_i2s asks for them in panels where AVX-512 runs.
TEST(ModelSynth, RepackedCodesShareOneBuffer) {
  const std::string dir = test::temp_dir();
  for (const char* type_and_option : {"tq1_0", "tq2_0", "tl1", "tl2", "i2_s", "i2_s+repack", "f16+repack"}) {
    const std::string label = type_and_option;
    const bool repack_i2s = label == "i2_s+repack";
    const bool repack_float = label == "f16+repack";
    const char* type = repack_i2s ? "i2_s" : repack_float ? "f16" : type_and_option;
    auto f = gguf::File::open(synth_tiny(dir, type, "q8_0"));
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    auto w = model::load_weights(**f, repack_i2s, repack_float);
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    const uint8_t* begin = (*w)->repacked.data();
    const uint8_t* end = begin + (*w)->repacked.size();
    std::vector<std::pair<const uint8_t*, const uint8_t*>> regions;
    for (const model::Layer& l : (*w)->layers)
      for (const model::Linear* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}) {
        ASSERT_TRUE(m->ternary) << type << " " << m->name;
        EXPECT_TRUE(m->tern.owned.empty()) << type << " " << m->name;
        const uint8_t* codes = m->tern.codes();
        regions.push_back({codes, codes + m->tern.rows * m->tern.stored_row_bytes()});
      }
#if defined(__x86_64__)
    const bool avx512 = active_isa() == IsaLevel::kAvx512;
    const bool avx2 = active_isa() == IsaLevel::kAvx2;
#else
    const bool avx512 = false;  // (kNeonDot shares kAvx512's value)
    const bool avx2 = false;
#endif
    // Where the AVX-512 or AVX2 kernels run, the repacked matrices are in 16-row panels (quant/ternary.hpp); I2_S
    // only with repack_i2s. Those with one scale a row (I2_S, TL1, TL2, F16 with repack_float) in the dense panel
    // layout where the AVX-512 level has VBMI and the matrix one super-block or more (the tiny shape's ffn_down).
    const bool repacked = label != "i2_s";
    int in_panels = 0;
    for (const model::Layer& l : (*w)->layers)
      for (const model::Linear* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}) {
        const quant::TernaryMatrix& t = m->tern;
        const bool fits = t.rows % 16 == 0 && t.cols % 128 == 0 && t.group % 128 == 0;
        EXPECT_EQ(t.panels, repacked && fits && (avx512 || avx2)) << label << " " << m->name;
        const bool one_scale = repack_i2s || repack_float || label == "tl1" || label == "tl2";
        EXPECT_EQ(t.dense, one_scale && fits && avx512 && cpu_features().avx512vbmi && t.cols >= 640)
            << label << " " << m->name;
        in_panels += t.panels ? 1 : 0;
      }
    if (repacked && (avx512 || avx2)) {
      EXPECT_GT(in_panels, 0) << label;
    }
    if (!repacked || (repack_i2s && !avx512 && !avx2)) {  // I2_S in rows is read where it lies in the file
      EXPECT_EQ((*w)->repacked.size(), 0u) << label;
      continue;
    }
    std::sort(regions.begin(), regions.end());
    for (size_t i = 0; i < regions.size(); ++i) {
      EXPECT_GE(regions[i].first, begin) << label;
      EXPECT_LE(regions[i].second, end) << label;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(regions[i].first) % 64, 0u) << label;
      if (i > 0) {
        EXPECT_LE(regions[i - 1].second, regions[i].first) << label << ": two matrices overlap";
      }
    }
  }
  std::filesystem::remove_all(dir);
}

// Without the recorded tilings, the tiny shape's TL2 weights have no known layout: a clear error, not a guess.
// A truncated file is a format error.
TEST(ModelSynth, TlFilesThatCannotBeDecodedAreClearErrors) {
  const std::string dir = test::temp_dir();
  const std::string path = synth_tiny(dir, "tl2", "q8_0");
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string key = quant::kTlConfigKey;
  const size_t at = bytes.find(key);
  ASSERT_NE(at, std::string::npos);
  std::string unkeyed = bytes;
  unkeyed[at + key.size() - 1] = 'X';  // the key is no longer found
  std::ofstream(dir + "/unkeyed.gguf", std::ios::binary) << unkeyed;
  auto keyed_info = inspect_model_file(path);
  ASSERT_TRUE(keyed_info.ok());
  EXPECT_TRUE(keyed_info->loadable) << keyed_info->not_loadable_reason;
  auto info = inspect_model_file(dir + "/unkeyed.gguf");
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->loadable);
  EXPECT_NE(info->not_loadable_reason.find("no known kernel config"), std::string::npos) << info->not_loadable_reason;
  auto m = Model::load(dir + "/unkeyed.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(m.status().message().find("blk.0.attn_q.weight"), std::string::npos) << m.status().to_string();
  EXPECT_NE(m.status().message().find("256 rows x 256 columns: no known kernel config"), std::string::npos)
      << m.status().to_string();
  std::ofstream(dir + "/short.gguf", std::ios::binary) << bytes.substr(0, bytes.size() - 100);
  m = Model::load(dir + "/short.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kFormatError) << m.status().to_string();
  std::filesystem::remove_all(dir);
}

// A block_count the file's tensors cannot back: refused before the layers are allocated (2^24 took 23 GB), and
// one block more than the file has names the first missing tensor.
TEST(ModelSynth, BlockCountBeyondTheTensorsIsRefused) {
  const std::string dir = test::temp_dir();
  std::ifstream in(synth_tiny(dir, "i2_s", "q8_0"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string key = "bitnet.block_count";
  const size_t at = bytes.find(key);
  ASSERT_NE(at, std::string::npos);
  uint32_t type = 0, n_layer = 0;
  std::memcpy(&type, bytes.data() + at + key.size(), 4);
  ASSERT_EQ(type, 4u) << "block_count is expected as a uint32";  // GGUF's type 4
  std::memcpy(&n_layer, bytes.data() + at + key.size() + 4, 4);
  for (const uint32_t lie : {uint32_t{1} << 24, n_layer + 1}) {
    std::string patched = bytes;
    std::memcpy(patched.data() + at + key.size() + 4, &lie, 4);
    const std::string path = dir + "/lie.gguf";
    std::ofstream(path, std::ios::binary) << patched;
    auto m = Model::load(path);
    ASSERT_FALSE(m.ok()) << lie;
    // `info` says so from the header alone, with the loader's reason.
    auto info = inspect_model_file(path);
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    EXPECT_FALSE(info->loadable) << lie;
    EXPECT_FALSE(info->not_loadable_reason.empty());
    EXPECT_NE(m.status().message().find(info->not_loadable_reason), std::string::npos) << info->not_loadable_reason;
    if (lie == n_layer + 1) {
      EXPECT_EQ(m.status().code(), StatusCode::kNotFound) << m.status().to_string();
      EXPECT_NE(m.status().message().find("tensor 'blk." + std::to_string(n_layer) + "."), std::string::npos)
          << m.status().to_string();
    } else {
      EXPECT_EQ(m.status().code(), StatusCode::kFormatError) << m.status().to_string();
      EXPECT_NE(m.status().message().find("block_count = 16777216, but the file has only"), std::string::npos)
          << m.status().to_string();
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(ModelSynth, SameOptionsSameBytes) {
  const std::string dir = test::temp_dir();
  const std::string a = synth_tiny(dir, "i2_s", "q6_k");
  const std::vector<char> first = file_bytes(a);
  std::filesystem::remove(a);
  EXPECT_EQ(file_bytes(synth_tiny(dir, "i2_s", "q6_k")), first);
  std::filesystem::remove_all(dir);
}

// --vocab: a real vocabulary (stories260K's 512 SentencePiece tokens) in place of the made-up one, padded with
// unused tokens to the shape's 1000; the written model tokenizes as the vocabulary's own file does.
TEST(ModelSynth, RealVocabularyIsWrittenAndPadded) {
  const std::string vocab = test::fixture("stories260k/stories260K.gguf");
  BITNET_REQUIRE_FIXTURE(vocab);
  const std::string dir = test::temp_dir();
  SynthOptions o;
  o.vocab = vocab;
  const std::string path = dir + "/vocab.gguf";
  Status s = synthesize_model(o, path);
  ASSERT_TRUE(s.ok()) << s.to_string();
  auto mine = TokenizerHandle::load(path);
  auto theirs = TokenizerHandle::load(vocab);
  ASSERT_TRUE(mine.ok()) << mine.status().to_string();
  ASSERT_TRUE(theirs.ok()) << theirs.status().to_string();
  EXPECT_EQ((*mine)->n_vocab(), 1000);
  EXPECT_EQ((*theirs)->n_vocab(), 512);
  for (const char* text : {"Once upon a time, there was a little girl.", "Lily's dog ran fast!"})
    EXPECT_EQ((*mine)->tokenize(text, true).value(), (*theirs)->tokenize(text, true).value()) << text;
  EXPECT_EQ((*mine)->token_text(511).value(), (*theirs)->token_text(511).value());
  EXPECT_EQ((*mine)->token_text(512).value(), "<|synth_unused_512|>");
  EXPECT_EQ((*mine)->detokenize({512, 999}).value(), "");  // unused tokens have no text
  LoadOptions lo;
  lo.n_threads = 2;
  auto m = Model::load(path, lo);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ((*m)->info().n_vocab, 1000);
  std::filesystem::remove_all(dir);
}

TEST(ModelSynth, VocabularyErrorsNameTheFile) {
  const std::string dir = test::temp_dir();
  const std::string out = dir + "/never.gguf";
  SynthOptions o;
  o.vocab = dir + "/absent.gguf";
  Status s = synthesize_model(o, out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("absent.gguf"), std::string::npos) << s.to_string();
  const std::string gpt2 = test::fixture("tokenizers/gpt-2/ggml-vocab-gpt-2.gguf");
  if (test::file_exists(gpt2)) {  // 50257 tokens do not fit the tiny shape's 1000
    o.vocab = gpt2;
    s = synthesize_model(o, out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
    EXPECT_NE(s.message().find("has 50257 tokens, more than shape 'tiny' has (1000)"), std::string::npos)
        << s.to_string();
  } else {
    std::cout << "[ note ] fixture not found, the size check is not tested: " << gpt2 << "\n";
  }
  EXPECT_FALSE(std::filesystem::exists(out));
  std::filesystem::remove_all(dir);
}

TEST(ModelSynth, ShapesAreListed) {
  std::vector<std::string> names;
  for (const auto& [name, description] : synth_shapes()) {
    names.push_back(name);
    EXPECT_FALSE(description.empty());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"2b4t", "large", "3b", "8b", "falcon3-1b", "falcon3-3b", "falcon3-7b",
                                             "falcon3-10b", "tiny"}));
}

TEST(ModelSynth, BadOptionsAreClearErrors) {
  const std::string dir = test::temp_dir();
  const std::string out = dir + "/never.gguf";
  struct Case {
    std::string arch, shape, type, head;
    StatusCode code;
    std::string needle;
  };
  const Case cases[] = {
      {"bitnet", "huge", "i2_s", "q6_k", StatusCode::kInvalidArgument, "shape 'huge' is not one of 2b4t, large"},
      {"bitnet", "tiny", "q4_0", "q6_k", StatusCode::kInvalidArgument, "weight type 'q4_0' is not one of i2_s"},
      {"bitnet", "tiny", "i2_s", "q4_k", StatusCode::kInvalidArgument, "head type 'q4_k' is not one of q6_k"},
      {"gpt2", "tiny", "i2_s", "q6_k", StatusCode::kInvalidArgument, "architecture 'gpt2'"},
      // 1bitLLM's 3B: FFN rows of 8640 fill no whole I2_S block of 128 (bitnet.cpp runs it with TL2 on x86).
      {"bitnet", "3b", "i2_s", "f16", StatusCode::kUnsupported, "'blk.0.ffn_down.weight' has rows of 8640"},
      {"bitnet", "3b", "tq2_0", "f16", StatusCode::kUnsupported, "rows of 3200 elements, not a multiple of the TQ2_0"},
  };
  for (const Case& c : cases) {
    SynthOptions o;
    o.arch = c.arch;
    o.shape = c.shape;
    o.type = c.type;
    o.head = c.head;
    Status s = synthesize_model(o, out);
    EXPECT_EQ(s.code(), c.code) << s.to_string();
    EXPECT_NE(s.message().find(c.needle), std::string::npos) << s.to_string();
    EXPECT_FALSE(std::filesystem::exists(out));
  }
  EXPECT_EQ(synthesize_model(SynthOptions{}, "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(synthesize_model(SynthOptions{}, "/nonexistent/dir/x.gguf").code(), StatusCode::kIoError);
  std::filesystem::remove_all(dir);
}

// Optional per-tensor "<weight base>.scale" tensors (F32 [1]) multiply a linear's output. A model carrying them
// must compute what the same model computes with those factors folded into the I2_S per-tensor scales (up to
// float rounding: the factor is applied after the epilogue instead of inside it), for the attention and the
// fused gate/up FFN paths, with both FFN activations.
TEST(ModelSynth, ScaleTensorsMultiplyTheirLinears) {
  const std::string dir = test::temp_dir();
  const std::vector<std::pair<std::string, float>> factors = {
      {"ffn_gate", 2.0f}, {"ffn_up", 0.5f}, {"attn_q", 2.0f}, {"attn_output", 0.25f}};
  for (const char* arch : {"bitnet", "bitnet-b1.58"}) {
    const std::string base = synth_tiny(dir, "i2_s", "f16", arch);
    auto f = gguf::File::open(base);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    gguf::Writer with_tensors, folded;
    for (const auto& [key, value] : (*f)->metadata()) {
      if (key == "general.alignment") continue;
      with_tensors.set_value(key, value);
      folded.set_value(key, value);
    }
    auto factor_of = [&](const std::string& name) {
      for (const auto& [part, k] : factors)
        if (name.find("." + part + ".weight") != std::string::npos) return k;
      return 1.0f;
    };
    for (const gguf::TensorInfo& t : (*f)->tensors()) {
      std::vector<uint8_t> bytes(t.data, t.data + t.nbytes);
      with_tensors.add_tensor(t.name, t.type, t.ne, bytes);
      const float k = factor_of(t.name);
      if (k != 1.0f) {
        ASSERT_EQ(t.type, quant::kI2_S) << t.name;
        float s;
        std::memcpy(&s, bytes.data() + t.n_elements() / 4, 4);
        s *= k;
        std::memcpy(bytes.data() + t.n_elements() / 4, &s, 4);
        std::vector<uint8_t> kb(4);
        std::memcpy(kb.data(), &k, 4);
        with_tensors.add_tensor(t.name.substr(0, t.name.size() - 7) + ".scale", quant::kF32, {1}, kb);
      }
      folded.add_tensor(t.name, t.type, t.ne, std::move(bytes));
    }
    const std::string a = dir + "/with-scale-tensors.gguf", b = dir + "/folded.gguf";
    ASSERT_TRUE(with_tensors.write(a).ok());
    ASSERT_TRUE(folded.write(b).ok());
    const std::vector<float> la = logits_of(a, kIds), lb = logits_of(b, kIds), l0 = logits_of(base, kIds);
    ASSERT_EQ(la.size(), lb.size());
    EXPECT_LT(nmse(la, lb), 1e-9) << arch;
    EXPECT_GT(nmse(la, l0), 1e-3) << arch << ": the factors must change the model";
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bitnet
