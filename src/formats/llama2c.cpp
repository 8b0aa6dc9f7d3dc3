// Import of llama2.c checkpoints into GGUF:
//  - "llama2c": karpathy's legacy float .bin (7 x i32 header: dim, hidden, layers, heads, kv_heads, vocab, seq;
//    vocab < 0 means an unshared classifier follows), written as architecture "llama" (llama2.c's RoPE pairs
//    (2i, 2i+1) are llama.cpp's "normal" mode, so tensors are copied unpermuted);
//  - "bitllama2c": bitllama2.c's ternary "ak42" v1 file (see ../shared/fixtures/tinystories-ternary/FORMAT.md),
//    written as our architecture "bitllama2c" with I2_S ternary tensors.
#include <cmath>
#include <cstring>

#include "bitnet/bitnet.hpp"
#include "core/mapped_file.hpp"
#include "formats/gguf_writer.hpp"
#include "quant/quant.hpp"
#include "tokenizer/tokenizer.hpp"

namespace bitnet {
namespace {

struct Config {
  int32_t dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq;
  bool shared;
};

class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  size_t left() const { return n_ - pos_; }
  size_t pos() const { return pos_; }
  Result<const uint8_t*> take(size_t bytes, const std::string& what) {
    if (bytes > left())
      return format_error("file ends inside " + what + " (needs " + std::to_string(bytes) + " bytes at offset " +
                          std::to_string(pos_) + ", " + std::to_string(left()) + " left)");
    const uint8_t* r = p_ + pos_;
    pos_ += bytes;
    return r;
  }
  Result<std::vector<float>> floats(size_t count, const std::string& what) {
    if (count > left() / 4) return format_error("file ends inside " + what);
    BITNET_ASSIGN_OR_RETURN(const uint8_t* p, take(count * 4, what));
    std::vector<float> v(count);
    std::memcpy(v.data(), p, count * 4);
    return v;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

// The header's seven fields; the vocabulary size's sign says whether the classifier is shared. INT32_MIN has no
// magnitude in int32: it becomes 0, which validate refuses.
Config config_from_header(const int32_t* h) {
  const int32_t v = h[5];
  return Config{h[0], h[1], h[2], h[3], h[4], v == INT32_MIN ? 0 : (v < 0 ? -v : v), h[6], v > 0};
}

Status validate(const Config& c) {
  auto bad = [](const std::string& what) { return format_error("llama2.c header: " + what); };
  const int32_t lim = 1 << 20;
  if (c.dim <= 0 || c.dim > lim || c.hidden <= 0 || c.hidden > lim || c.n_layers <= 0 || c.n_layers > 4096 ||
      c.n_heads <= 0 || c.n_kv_heads <= 0 || c.vocab <= 0 || c.vocab > lim || c.seq <= 0 || c.seq > lim)
    return bad("a dimension is zero, negative or implausibly large");
  if (c.dim % c.n_heads != 0) return bad("dim is not a multiple of n_heads");
  if (c.n_heads % c.n_kv_heads != 0) return bad("n_heads is not a multiple of n_kv_heads");
  if ((c.dim / c.n_heads) % 2 != 0) return bad("head size is odd");
  return Status::Ok();
}

void write_hparams(gguf::Writer& w, const std::string& arch, const Config& c, const std::string& name) {
  w.set_string("general.architecture", arch);
  w.set_string("general.name", name);
  w.set_u32(arch + ".context_length", static_cast<uint32_t>(c.seq));
  w.set_u32(arch + ".embedding_length", static_cast<uint32_t>(c.dim));
  w.set_u32(arch + ".block_count", static_cast<uint32_t>(c.n_layers));
  w.set_u32(arch + ".feed_forward_length", static_cast<uint32_t>(c.hidden));
  w.set_u32(arch + ".attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.set_u32(arch + ".attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  w.set_u32(arch + ".rope.dimension_count", static_cast<uint32_t>(c.dim / c.n_heads));
  w.set_f32(arch + ".rope.freq_base", 10000.0f);
  w.set_f32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
}

std::vector<uint8_t> as_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Adds n_layers tensors "blk.i.<name>.weight" of shape [in, out] taken in order from `all`.
void add_per_layer(gguf::Writer& w, const Config& c, const std::string& name, const std::vector<float>& all, int64_t in,
                   int64_t out) {
  const size_t per = static_cast<size_t>(in * out);
  for (int32_t l = 0; l < c.n_layers; ++l) {
    std::vector<float> part(all.begin() + static_cast<std::ptrdiff_t>(l * per),
                            all.begin() + static_cast<std::ptrdiff_t>((l + 1) * per));
    w.add_tensor("blk." + std::to_string(l) + "." + name + ".weight", quant::kF32,
                 out == 1 ? std::vector<int64_t>{in} : std::vector<int64_t>{in, out}, as_bytes(part));
  }
}

// Returns the vocabulary size.
Result<int32_t> convert_float(const MappedFile& in, gguf::Writer& w) {
  Cursor cur(in.data(), in.size());
  BITNET_ASSIGN_OR_RETURN(const uint8_t* hdr, cur.take(28, "the header"));
  int32_t h[7];
  std::memcpy(h, hdr, sizeof h);
  const Config c = config_from_header(h);
  BITNET_RETURN_IF_ERROR(validate(c));
  const int64_t d = c.dim, hd = c.dim / c.n_heads, kv = hd * c.n_kv_heads, L = c.n_layers, f = c.hidden;
  write_hparams(w, "llama", c, "llama2.c import");
  BITNET_ASSIGN_OR_RETURN(auto emb, cur.floats(static_cast<size_t>(c.vocab * d), "token_embedding_table"));
  BITNET_ASSIGN_OR_RETURN(auto rms_att, cur.floats(static_cast<size_t>(L * d), "rms_att_weight"));
  BITNET_ASSIGN_OR_RETURN(auto wq, cur.floats(static_cast<size_t>(L * d * d), "wq"));
  BITNET_ASSIGN_OR_RETURN(auto wk, cur.floats(static_cast<size_t>(L * kv * d), "wk"));
  BITNET_ASSIGN_OR_RETURN(auto wv, cur.floats(static_cast<size_t>(L * kv * d), "wv"));
  BITNET_ASSIGN_OR_RETURN(auto wo, cur.floats(static_cast<size_t>(L * d * d), "wo"));
  BITNET_ASSIGN_OR_RETURN(auto rms_ffn, cur.floats(static_cast<size_t>(L * d), "rms_ffn_weight"));
  BITNET_ASSIGN_OR_RETURN(auto w1, cur.floats(static_cast<size_t>(L * f * d), "w1"));
  BITNET_ASSIGN_OR_RETURN(auto w2, cur.floats(static_cast<size_t>(L * d * f), "w2"));
  BITNET_ASSIGN_OR_RETURN(auto w3, cur.floats(static_cast<size_t>(L * f * d), "w3"));
  BITNET_ASSIGN_OR_RETURN(auto rms_final, cur.floats(static_cast<size_t>(d), "rms_final_weight"));
  // RoPE tables (freq_cis_real/imag, seq x head_size/2 each) are recomputed by the engine: skip them.
  BITNET_RETURN_IF_ERROR(cur.take(static_cast<size_t>(c.seq) * static_cast<size_t>(hd) * 4, "freq_cis").status());
  std::vector<float> wcls;
  if (!c.shared) {
    BITNET_ASSIGN_OR_RETURN(wcls, cur.floats(static_cast<size_t>(c.vocab * d), "wcls"));
  }
  if (cur.left() != 0)
    return format_error(std::to_string(cur.left()) +
                        " unexpected bytes after the last tensor (header and size disagree)");

  w.add_tensor("token_embd.weight", quant::kF32, {d, c.vocab}, as_bytes(emb));
  w.add_tensor("output_norm.weight", quant::kF32, {d}, as_bytes(rms_final));
  if (!c.shared) w.add_tensor("output.weight", quant::kF32, {d, c.vocab}, as_bytes(wcls));
  add_per_layer(w, c, "attn_norm", rms_att, d, 1);
  add_per_layer(w, c, "attn_q", wq, d, d);
  add_per_layer(w, c, "attn_k", wk, d, kv);
  add_per_layer(w, c, "attn_v", wv, d, kv);
  add_per_layer(w, c, "attn_output", wo, d, d);
  add_per_layer(w, c, "ffn_norm", rms_ffn, d, 1);
  add_per_layer(w, c, "ffn_gate", w1, d, f);
  add_per_layer(w, c, "ffn_down", w2, f, d);
  add_per_layer(w, c, "ffn_up", w3, d, f);
  return c.vocab;
}

// One bitllama2.c matrix: f32 scale, then [out][in] 2-bit codes, first weight in bits 7..6;
// 00 = 0, 01 = +1, 11 = -1, 10 never occurs. Re-encoded as I2_S.
Status add_ternary(gguf::Writer& w, Cursor& cur, const std::string& name, int64_t in, int64_t out) {
  BITNET_ASSIGN_OR_RETURN(const uint8_t* sp, cur.take(4, name + " scale"));
  float scale;
  std::memcpy(&scale, sp, 4);
  if (!(scale > 0.0f) || !std::isfinite(scale))
    return format_error(name + ": scale " + std::to_string(scale) + " is not a positive number");
  const size_t n = static_cast<size_t>(in * out);
  BITNET_ASSIGN_OR_RETURN(const uint8_t* codes, cur.take(n / 4, name + " codes"));
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i) {
    const int code = (codes[i / 4] >> (6 - 2 * (i % 4))) & 3;
    if (code == 2) return format_error(name + ": invalid ternary code 10 at weight " + std::to_string(i));
    values[i] = code == 0 ? 0.0f : (code == 1 ? scale : -scale);
  }
  if (in % 128 != 0)
    return unsupported(name + ": input width " + std::to_string(in) + " is not a multiple of 128 (I2_S blocks)");
  BITNET_ASSIGN_OR_RETURN(auto packed, quant::quantize_tensor(quant::kI2_S, values.data(), in, out));
  w.add_tensor(name, quant::kI2_S, {in, out}, std::move(packed));
  return Status::Ok();
}

// Returns the vocabulary size.
Result<int32_t> convert_ternary(const MappedFile& in, gguf::Writer& w) {
  Cursor cur(in.data(), in.size());
  BITNET_ASSIGN_OR_RETURN(const uint8_t* hdr, cur.take(256, "the 256-byte header"));
  uint32_t magic;
  int32_t ver, h[7];
  std::memcpy(&magic, hdr, 4);
  std::memcpy(&ver, hdr + 4, 4);
  std::memcpy(h, hdr + 8, sizeof h);
  if (magic != 0x616b3432) return format_error("not a bitllama2.c file (magic is not \"ak42\")");
  if (ver != 1) return unsupported("bitllama2.c file version " + std::to_string(ver) + " (only version 1 is known)");
  const Config c = config_from_header(h);
  BITNET_RETURN_IF_ERROR(validate(c));
  if (!c.shared) return unsupported("bitllama2.c files with an unshared classifier");
  const int64_t d = c.dim, hd = c.dim / c.n_heads, kv = hd * c.n_kv_heads, f = c.hidden;
  if (d % 4 != 0 || f % 4 != 0) return format_error("dim and hidden_dim must be multiples of 4");
  write_hparams(w, "bitllama2c", c, "bitllama2.c import");
  BITNET_ASSIGN_OR_RETURN(auto rms_final, cur.floats(static_cast<size_t>(d), "rms_final_weight"));
  BITNET_ASSIGN_OR_RETURN(auto emb, cur.floats(static_cast<size_t>(c.vocab * d), "token_embedding_table"));
  w.add_tensor("token_embd.weight", quant::kF32, {d, c.vocab}, as_bytes(emb));
  w.add_tensor("output_norm.weight", quant::kF32, {d}, as_bytes(rms_final));
  struct Kind {
    const char* name;
    int64_t in, out;
  };
  const Kind kinds[] = {{"attn_q", d, d},   {"attn_k", d, kv},  {"attn_v", d, kv}, {"attn_output", d, d},
                        {"ffn_gate", d, f}, {"ffn_down", f, d}, {"ffn_up", d, f}};
  for (const Kind& k : kinds)
    for (int32_t l = 0; l < c.n_layers; ++l)
      BITNET_RETURN_IF_ERROR(add_ternary(w, cur, "blk." + std::to_string(l) + "." + k.name + ".weight", k.in, k.out));
  if (cur.left() != 0)
    return format_error(std::to_string(cur.left()) +
                        " unexpected bytes after the last matrix (header and size disagree)");
  return c.vocab;
}

}  // namespace

Status convert_llama2c(const std::string& kind, const std::string& in_path, const std::string& tokenizer_path,
                       const std::string& out_path) {
  try {
    if (kind != "llama2c" && kind != "bitllama2c")
      return invalid_argument("unknown source format '" + kind + "' (expected llama2c or bitllama2c)");
    auto in = MappedFile::open(in_path);
    if (!in.ok()) return in.status();
    gguf::Writer w;
    auto n_vocab = kind == "llama2c" ? convert_float(*in.value(), w) : convert_ternary(*in.value(), w);
    if (!n_vocab.ok()) return n_vocab.status().with_context(in_path);
    // The tokenizer: llama2.c's tok*.bin, or the SentencePiece tokenizer.model it was exported from.
    const bool sp_model =
        tokenizer_path.size() >= 6 && tokenizer_path.compare(tokenizer_path.size() - 6, 6, ".model") == 0;
    auto vocab =
        sp_model ? vocab_from_sentencepiece_model(tokenizer_path) : vocab_from_llama2c(tokenizer_path, n_vocab.value());
    if (vocab.ok() && vocab->size() != n_vocab.value())
      return format_error(tokenizer_path + ": the tokenizer has " + std::to_string(vocab->size()) +
                          " tokens but the checkpoint's vocabulary has " + std::to_string(n_vocab.value()));
    if (!vocab.ok()) return vocab.status();  // names the tokenizer file
    vocab_to_gguf(vocab.value(), w);
    return w.write(out_path);
  } catch (const std::bad_alloc&) {
    return out_of_range("out of memory while converting " + in_path);
  }
}

}  // namespace bitnet
