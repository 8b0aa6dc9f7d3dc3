// Random-weight GGUF models of the real BitNet shapes (include/bitnet/synth.hpp): plan every tensor, check
// each shape against its type before writing anything, then generate and stream the tensors one at a time.
#include "bitnet/synth.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <unordered_map>

#include "core/half.hpp"
#include "formats/gguf_writer.hpp"
#include "quant/quant.hpp"
#include "quant/tl.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {
namespace {

struct Shape {
  const char* name;
  int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
  double rope_theta;
  bool tied;         // the head is the token embedding
  const char* arch;  // written when --arch is not given: "llama" for ternary Llama-style models (no sub-norms)
  const char* description;
};

// From the models' Hugging Face config.json (hidden_size, num_hidden_layers, num_attention_heads,
// num_key_value_heads, intermediate_size, vocab_size, max_position_embeddings, rope_theta,
// tie_word_embeddings). 8b: HF1BitLLM/Llama3-8B-1.58 is fine-tuned from Llama-3-8B-Instruct and keeps its shape.
// falcon3-*: tiiuae/Falcon3-{1B,3B,7B,10B}-Instruct-1.58bit keep their float models' shapes (head_dim 256 =
// hidden / heads, rope_theta 1000042, separate head). Llama3-8B-1.58 and Falcon3 are LlamaForCausalLM checkpoints,
// which bitnet.cpp's converter writes as architecture llama (no sub-norms), so that is their default --arch.
const Shape kShapes[] = {
    {"2b4t", 2560, 30, 20, 5, 6912, 128256, 4096, 500000.0, true, "bitnet",
     "microsoft/bitnet-b1.58-2B-4T: 2560 x 30 layers, GQA 20/5, FFN 6912, vocab 128256, tied"},
    {"large", 1536, 24, 16, 16, 4096, 32002, 2048, 10000.0, true, "bitnet",
     "1bitLLM/bitnet_b1_58-large: 1536 x 24 layers, 16 heads, FFN 4096, vocab 32002, tied"},
    {"3b", 3200, 26, 32, 32, 8640, 32002, 2048, 10000.0, true, "bitnet",
     "1bitLLM/bitnet_b1_58-3B: 3200 x 26 layers, 32 heads, FFN 8640, vocab 32002, tied"},
    {"8b", 4096, 32, 32, 8, 14336, 128256, 8192, 500000.0, false, "llama",
     "HF1BitLLM/Llama3-8B-1.58: 4096 x 32 layers, GQA 32/8, FFN 14336, vocab 128256, separate head"},
    {"falcon3-1b", 2048, 18, 8, 4, 8192, 131072, 8192, 1000042.0, false, "llama",
     "tiiuae/Falcon3-1B-Instruct-1.58bit: 2048 x 18 layers, GQA 8/4 (head 256), FFN 8192, vocab 131072, separate head"},
    {"falcon3-3b", 3072, 22, 12, 4, 9216, 131072, 32768, 1000042.0, false, "llama",
     "tiiuae/Falcon3-3B-Instruct-1.58bit: 3072 x 22 layers, GQA 12/4 (head 256), FFN 9216, vocab 131072, separate "
     "head"},
    {"falcon3-7b", 3072, 28, 12, 4, 23040, 131072, 32768, 1000042.0, false, "llama",
     "tiiuae/Falcon3-7B-Instruct-1.58bit: 3072 x 28 layers, GQA 12/4 (head 256), FFN 23040, vocab 131072, separate "
     "head"},
    {"falcon3-10b", 3072, 40, 12, 4, 23040, 131072, 32768, 1000042.0, false, "llama",
     "tiiuae/Falcon3-10B-Instruct-1.58bit: 3072 x 40 layers, GQA 12/4 (head 256), FFN 23040, vocab 131072, separate "
     "head"},
    {"tiny", 256, 2, 4, 2, 1024, 1000, 512, 10000.0, true, "bitnet",
     "for tests: 256 x 2 layers, GQA 4/2, FFN 1024, vocab 1000"},
};

struct NamedType {
  const char* name;
  uint32_t id;
};
const NamedType kLinearTypes[] = {
    {"i2_s", quant::kI2_S}, {"tq1_0", quant::kTQ1_0}, {"tq2_0", quant::kTQ2_0}, {"tl1", quant::kTL1},
    {"tl2", quant::kTL2},   {"f16", quant::kF16},  // ternary values in float (llama.cpp's converter's way)
    {"bf16", quant::kBF16}, {"f32", quant::kF32}};
const NamedType kHeadTypes[] = {
    {"q6_k", quant::kQ6_K}, {"q8_0", quant::kQ8_0}, {"f16", quant::kF16}, {"bf16", quant::kBF16}};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

template <size_t N>
Result<uint32_t> pick_type(const NamedType (&table)[N], const std::string& value, const char* option) {
  std::string known;
  for (const NamedType& t : table) {
    if (lower(value) == t.name) return t.id;
    known += std::string(known.empty() ? "" : ", ") + t.name;
  }
  return invalid_argument(std::string(option) + " '" + value + "' is not one of " + known);
}

// splitmix64: small, fast, and the same sequence on every platform (std:: distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1), from the top 24 bits.
  float symmetric() { return static_cast<float>(static_cast<int64_t>(next() >> 40) - (1 << 23)) / (1 << 23); }

 private:
  uint64_t state_;
};

// Each tensor draws from its own stream keyed by its name, so its values do not depend on the weight type
// or on which tensors came before it.
Rng tensor_rng(uint64_t seed, const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return Rng(Rng(seed ^ h).next());
}

// kTlScale: the "<weight>_scale" F32 scalar that follows a TL1/TL2 weight, as bitnet.cpp's converter writes it.
enum class Kind { kTernary, kNorm, kEmbedding, kTlScale };

struct Planned {
  std::string name;
  Kind kind;
  uint32_t type;
  int64_t ne0, n_rows;
  quant::TlKernelConfig tl{};  // TL1/TL2 weights: the tiling their bytes follow
};

bool is_tl(uint32_t type) { return type == quant::kTL1 || type == quant::kTL2; }

// {-1, 0, +1} with probability 1/3 each (two draws per 64-bit number: 3 * u32 >> 32), times `scale`.
void fill_ternary(Rng& rng, float scale, float* out, int64_t n) {
  for (int64_t i = 0; i < n; i += 2) {
    const uint64_t r = rng.next();
    out[i] = static_cast<float>(static_cast<int>(((r & 0xffffffffull) * 3) >> 32) - 1) * scale;
    if (i + 1 < n) out[i + 1] = static_cast<float>(static_cast<int>(((r >> 32) * 3) >> 32) - 1) * scale;
  }
}

Result<std::vector<uint8_t>> make_tensor(const Planned& t, uint64_t seed) {
  Rng rng = tensor_rng(seed, t.name);
  const int64_t n = t.ne0 * t.n_rows;
  if (t.kind == Kind::kNorm) {
    std::vector<float> w(static_cast<size_t>(n));
    for (float& x : w) x = 1.0f + 0.05f * rng.symmetric();
    std::vector<uint8_t> bytes(w.size() * sizeof(float));
    std::memcpy(bytes.data(), w.data(), bytes.size());
    return bytes;
  }
  if (t.kind == Kind::kTernary) {
    // sqrt(1.5 / fan_in) keeps unit-variance inputs at unit variance (2/3 of the weights are nonzero); the
    // scale is rounded to fp16 so TQ1_0/TQ2_0 (fp16 block scales) and F16 hold exactly what I2_S (f32) holds.
    const float scale = fp16_to_float(float_to_fp16(std::sqrt(1.5f / static_cast<float>(t.ne0))));
    std::vector<float> w(static_cast<size_t>(n));
    fill_ternary(rng, scale, w.data(), n);
    if (is_tl(t.type)) return quant::tl_quantize(t.type, t.tl, w.data());  // codes, then the scale's 32 bytes
    return quant::quantize_tensor(t.type, w.data(), t.ne0, t.n_rows);
  }
  // Embedding (and untied head): uniform with standard deviation 1/sqrt(n_embd), so tied logits of a
  // normalised state have unit scale. Quantized in row chunks: the float tensor is never whole in memory.
  const float amplitude = std::sqrt(3.0f / static_cast<float>(t.ne0));
  const int64_t chunk = std::max<int64_t>(1, (int64_t{1} << 22) / t.ne0);
  BITNET_ASSIGN_OR_RETURN(uint64_t total, quant::tensor_bytes(t.type, {t.ne0, t.n_rows}));
  std::vector<uint8_t> bytes;
  bytes.reserve(total);
  std::vector<float> w(static_cast<size_t>(std::min(chunk, t.n_rows) * t.ne0));
  for (int64_t r = 0; r < t.n_rows; r += chunk) {
    const int64_t rows = std::min(chunk, t.n_rows - r);
    for (int64_t i = 0; i < rows * t.ne0; ++i) w[static_cast<size_t>(i)] = amplitude * rng.symmetric();
    BITNET_ASSIGN_OR_RETURN(std::vector<uint8_t> q, quant::quantize_tensor(t.type, w.data(), t.ne0, rows));
    bytes.insert(bytes.end(), q.begin(), q.end());
  }
  return bytes;
}

// Bijective base 26: 0 -> "a", 25 -> "z", 26 -> "aa": distinct numbers, distinct words.
std::string made_up_word(int64_t k) {
  std::string w;
  for (++k; k > 0; k = (k - 1) / 26) w.insert(w.begin(), static_cast<char>('a' + (k - 1) % 26));
  return w;
}

Vocab make_vocab(int64_t n) {
  Vocab v;
  v.model = "llama";
  auto add = [&](std::string text, TokenType type, float score) {
    v.tokens.push_back(std::move(text));
    v.types.push_back(static_cast<int32_t>(type));
    v.scores.push_back(score);
  };
  add("<unk>", TokenType::kUnknown, 0.0f);
  add("<s>", TokenType::kControl, 0.0f);
  add("</s>", TokenType::kControl, 0.0f);
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    add(buf, TokenType::kByte, 0.0f);
  }
  // The word-start mark "▁" alone (so a space never needs byte fallback), then made-up pieces alternately
  // with and without it ("▁a", "a", "▁b", ...); earlier pieces score higher.
  if (v.size() < n) add("\xE2\x96\x81", TokenType::kNormal, 0.0f);
  for (int64_t k = 0; v.size() < n; ++k)
    add((k % 2 == 0 ? "\xE2\x96\x81" : "") + made_up_word(k / 2), TokenType::kNormal, -static_cast<float>(k));
  return v;
}

// options.vocab's vocabulary padded to n tokens with unused ones, or the made-up one.
Result<Vocab> synth_vocab(const std::string& path, int64_t n, const char* shape) {
  if (path.empty()) return make_vocab(n);
  BITNET_ASSIGN_OR_RETURN(Vocab v, vocab_from_file(path));
  if (v.size() > n)
    return invalid_argument("vocabulary '" + path + "' has " + std::to_string(v.size()) + " tokens, more than shape '" +
                            shape + "' has (" + std::to_string(n) + ")");
  if (v.model == "gpt2" && v.pre.empty() && !v.pre_regexes.empty())
    return unsupported("vocabulary '" + path +
                       "': its pre-tokenizer is none that llama.cpp names, and GGUF has no key for the regexes");
  for (int64_t i = v.size(); i < n; ++i) {
    v.tokens.push_back("<|synth_unused_" + std::to_string(i) + "|>");
    v.scores.push_back(0.0f);
    v.types.push_back(static_cast<int32_t>(TokenType::kUnused));
  }
  return v;
}

std::vector<Planned> plan_tensors(const Shape& s, bool sub_norms, uint32_t linear, uint32_t head, Status& error) {
  std::vector<Planned> p;
  const int64_t kv = s.n_embd / s.n_head * s.n_head_kv;
  p.push_back({"token_embd.weight", Kind::kEmbedding, head, s.n_embd, s.n_vocab});
  p.push_back({"output_norm.weight", Kind::kNorm, quant::kF32, s.n_embd, 1});
  if (!s.tied) p.push_back({"output.weight", Kind::kEmbedding, head, s.n_embd, s.n_vocab});
  for (int64_t l = 0; l < s.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    p.push_back({b + "attn_norm.weight", Kind::kNorm, quant::kF32, s.n_embd, 1});
    p.push_back({b + "attn_q.weight", Kind::kTernary, linear, s.n_embd, s.n_embd});
    p.push_back({b + "attn_k.weight", Kind::kTernary, linear, s.n_embd, kv});
    p.push_back({b + "attn_v.weight", Kind::kTernary, linear, s.n_embd, kv});
    if (sub_norms) p.push_back({b + "attn_sub_norm.weight", Kind::kNorm, quant::kF32, s.n_embd, 1});
    p.push_back({b + "attn_output.weight", Kind::kTernary, linear, s.n_embd, s.n_embd});
    p.push_back({b + "ffn_norm.weight", Kind::kNorm, quant::kF32, s.n_embd, 1});
    p.push_back({b + "ffn_gate.weight", Kind::kTernary, linear, s.n_embd, s.n_ff});
    p.push_back({b + "ffn_up.weight", Kind::kTernary, linear, s.n_embd, s.n_ff});
    if (sub_norms) p.push_back({b + "ffn_sub_norm.weight", Kind::kNorm, quant::kF32, s.n_ff, 1});
    p.push_back({b + "ffn_down.weight", Kind::kTernary, linear, s.n_ff, s.n_embd});
  }
  if (is_tl(linear)) {
    // bitnet.cpp's tiling for the shape where its setup_env.py has one, else this engine's default (recorded in
    // the file); each weight is followed by its scale tensor.
    std::vector<Planned> with_scales;
    for (Planned& t : p) {
      if (t.kind == Kind::kTernary) {
        const quant::TlKernelConfig* known = quant::builtin_tl_config(linear, t.n_rows, t.ne0);
        Result<quant::TlKernelConfig> config = known != nullptr ? Result<quant::TlKernelConfig>(*known)
                                                                : quant::default_tl_config(linear, t.n_rows, t.ne0);
        if (!config.ok()) {
          error = config.status().with_context("shape '" + std::string(s.name) + "': tensor '" + t.name + "'");
          return {};
        }
        t.tl = *config;
      }
      with_scales.push_back(t);
      if (t.kind == Kind::kTernary) with_scales.push_back({t.name + "_scale", Kind::kTlScale, quant::kF32, 1, 1});
    }
    p = std::move(with_scales);
  }
  // Every row must fill whole blocks of its type; say which tensor and type do not fit, before any writing.
  // The head last: when the linear layers cannot fit at all, changing --head would not help.
  std::vector<const Planned*> order;
  for (const Planned& t : p)
    if (t.kind != Kind::kEmbedding) order.push_back(&t);
  for (const Planned& t : p)
    if (t.kind == Kind::kEmbedding) order.push_back(&t);
  for (const Planned* tp : order) {
    const Planned& t = *tp;
    const quant::TypeTraits* traits = quant::find_type(t.type);
    if (traits != nullptr && t.ne0 % traits->block_elems != 0) {
      const bool is_head = t.kind == Kind::kEmbedding;
      error = unsupported("shape '" + std::string(s.name) + "': tensor '" + t.name + "' has rows of " +
                          std::to_string(t.ne0) + " elements, not a multiple of the " + traits->name + " block of " +
                          std::to_string(traits->block_elems) +
                          (is_head ? " (choose another --head, e.g. q8_0 or f16)"
                                   : " (no ternary type this engine writes fits this shape)"));
      return {};
    }
    Result<uint64_t> bytes = quant::tensor_bytes(t.type, {t.ne0, t.n_rows});
    if (!bytes.ok()) {
      error = bytes.status().with_context("tensor '" + t.name + "'");
      return {};
    }
  }
  return p;
}

Status synthesize(const SynthOptions& o, const std::string& out_path) {
  if (out_path.empty()) return invalid_argument("no output path given");
  std::string arch = lower(o.arch);
  if (!arch.empty() && arch != "bitnet" && arch != "bitnet-b1.58" && arch != "llama")
    return invalid_argument("architecture '" + o.arch + "' is not one of bitnet, bitnet-b1.58, llama");
  const Shape* shape = nullptr;
  std::string known;
  for (const Shape& s : kShapes) {
    if (lower(o.shape) == s.name) shape = &s;
    known += std::string(known.empty() ? "" : ", ") + s.name;
  }
  if (shape == nullptr) return invalid_argument("shape '" + o.shape + "' is not one of " + known);
  if (arch.empty()) arch = shape->arch;
  const bool sub_norms = arch != "llama";  // the BitNet b1.58 families have them; ternary Llama models do not
  BITNET_ASSIGN_OR_RETURN(uint32_t linear, pick_type(kLinearTypes, o.type, "weight type"));
  BITNET_ASSIGN_OR_RETURN(uint32_t head, pick_type(kHeadTypes, o.head, "head type"));

  BITNET_ASSIGN_OR_RETURN(const Vocab vocab, synth_vocab(o.vocab, shape->n_vocab, shape->name));
  Status plan_error;
  std::vector<Planned> plan = plan_tensors(*shape, sub_norms, linear, head, plan_error);
  BITNET_RETURN_IF_ERROR(plan_error);

  gguf::Writer w;
  const std::string a = arch + ".";
  w.set_string("general.architecture", arch);
  w.set_string("general.name", "synthetic " + std::string(shape->name) + " " + quant::type_name(linear));
  w.set_string("general.description", "random weights (bitnet-cli model synth, seed " + std::to_string(o.seed) +
                                          "): for benchmarks and tests, not a trained model");
  w.set_u32(a + "context_length", static_cast<uint32_t>(shape->n_ctx));
  w.set_u32(a + "embedding_length", static_cast<uint32_t>(shape->n_embd));
  w.set_u32(a + "block_count", static_cast<uint32_t>(shape->n_layer));
  w.set_u32(a + "feed_forward_length", static_cast<uint32_t>(shape->n_ff));
  w.set_u32(a + "attention.head_count", static_cast<uint32_t>(shape->n_head));
  w.set_u32(a + "attention.head_count_kv", static_cast<uint32_t>(shape->n_head_kv));
  w.set_u32(a + "rope.dimension_count", static_cast<uint32_t>(shape->n_embd / shape->n_head));
  w.set_f32(a + "rope.freq_base", static_cast<float>(shape->rope_theta));
  w.set_f32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
  vocab_to_gguf(vocab, w);
  if (is_tl(linear)) {
    std::vector<quant::TlKernelConfig> configs;
    for (const Planned& t : plan)
      if (t.kind == Kind::kTernary && std::find(configs.begin(), configs.end(), t.tl) == configs.end())
        configs.push_back(t.tl);
    w.set_i32_array(quant::kTlConfigKey, quant::serialize_tl_configs(configs));
  }

  std::unordered_map<std::string, const Planned*> by_name;
  uint64_t total_bytes = 0, n_params = 0;
  for (const Planned& t : plan) {
    w.add_tensor_deferred(t.name, t.type,
                          t.kind == Kind::kTlScale ? std::vector<int64_t>{1} : std::vector<int64_t>{t.ne0, t.n_rows});
    by_name[t.name] = &t;
    if (t.kind == Kind::kTlScale) continue;                                 // inside the weight's counted bytes
    total_bytes += quant::tensor_bytes(t.type, {t.ne0, t.n_rows}).value();  // checked in plan_tensors
    n_params += static_cast<uint64_t>(t.ne0 * t.n_rows);
  }
  auto say = [&](const std::string& line) {
    if (o.progress) o.progress(line);
  };
  char line[256];
  std::snprintf(line, sizeof line, "%s: %s %s, %.3f B parameters, %.1f MB of tensors (%s head)", out_path.c_str(),
                arch.c_str(), shape->name, static_cast<double>(n_params) / 1e9, static_cast<double>(total_bytes) / 1e6,
                quant::type_name(head).c_str());
  say(line);

  const auto t0 = std::chrono::steady_clock::now();
  uint64_t done_bytes = 0;
  std::vector<uint8_t> tl_scale;  // the last TL weight's scale, written next as its "_scale" tensor
  gguf::TensorSource source = [&](const std::string& name) -> Result<std::vector<uint8_t>> {
    auto it = by_name.find(name);
    if (it == by_name.end()) return internal_error("no plan for tensor '" + name + "'");
    const Planned& t = *it->second;
    if (t.name.ends_with(".attn_norm.weight") || t.kind == Kind::kEmbedding) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::snprintf(line, sizeof line, "  %-28s %6.1f / %.1f MB  %5.1f s", t.name.c_str(),
                    static_cast<double>(done_bytes) / 1e6, static_cast<double>(total_bytes) / 1e6, s);
      say(line);
    }
    if (t.kind == Kind::kTlScale) return std::vector<uint8_t>(tl_scale.begin(), tl_scale.begin() + 4);
    BITNET_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, make_tensor(t, o.seed));
    done_bytes += bytes.size();
    if (t.kind == Kind::kTernary && is_tl(t.type)) {  // the writer takes the codes; the scale comes next
      tl_scale.assign(bytes.end() - 32, bytes.end());
      bytes.resize(bytes.size() - 32);
    }
    return bytes;
  };
  BITNET_RETURN_IF_ERROR(w.write(out_path, source));
  std::snprintf(line, sizeof line, "wrote %s (%.1f MB) in %.1f s", out_path.c_str(),
                static_cast<double>(total_bytes) / 1e6,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  say(line);
  return Status::Ok();
}

}  // namespace

std::vector<std::pair<std::string, std::string>> synth_shapes() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Shape& s : kShapes) out.emplace_back(s.name, s.description);
  return out;
}

Status synthesize_model(const SynthOptions& options, const std::string& out_path) {
  try {
    return synthesize(options, out_path);
  } catch (const std::bad_alloc&) {
    return out_of_range("out of memory while synthesizing '" + out_path + "'");
  } catch (const std::exception& e) {
    return internal_error(std::string("unexpected exception: ") + e.what());
  }
}

}  // namespace bitnet
