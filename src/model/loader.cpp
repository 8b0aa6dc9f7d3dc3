// Loading a model from GGUF: the file checked from its header first (model/file_check.hpp), then I2_S tensors used
// in place (or, when asked, copied into panels for AVX-512 or AVX2), other ternary types repacked once into the
// compute layout.
#include <cmath>
#include <cstring>
#include <unordered_set>

#include "kernels/ternary.hpp"
#include "model/file_check.hpp"
#include "model/weights.hpp"
#include "quant/quant.hpp"
#include "quant/ternary.hpp"
#include "quant/tl_config.hpp"

namespace bitnet::model {
namespace {

Result<std::vector<float>> load_vector(const gguf::File& f, const std::string& name, int64_t n, bool optional) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  if (t == nullptr) {
    if (optional) return std::vector<float>{};
    return not_found("tensor '" + name + "' is missing");
  }
  BITNET_ASSIGN_OR_RETURN(t, require_tensor(f, name));
  BITNET_RETURN_IF_ERROR(check_shape(*t, {n}));
  std::vector<float> v(static_cast<size_t>(n));
  BITNET_RETURN_IF_ERROR(quant::dequantize_rows(t->type, t->data, n, 1, 0, 1, v.data()).with_context(name));
  return v;
}

// What the repacking of ternary tensors shares across a file: TL kernel configs and unpacking space
// (to_ternary_tl), and the buffer all repacked codes go to, handed out tensor by tensor in load order.
struct Repacking {
  bool i2_s = false;    // copy I2_S into panels too (load_weights' repack_i2s)
  // Float layer matrices the precount took for ternary (load_weights' repack_float): only these are tried, so a
  // matrix that was not counted takes no space.
  std::unordered_set<const gguf::TensorInfo*> float_ternary;
  std::vector<quant::TlKernelConfig> tl_configs;
  std::vector<int8_t> tl_scratch;
  HugePageBuffer* codes = nullptr;
  size_t used = 0;

  // Space for `bytes` of codes, 64-byte aligned; nullptr where the buffer has no room left (the matrix then owns
  // its codes: a file whose tensors were not all counted still loads).
  uint8_t* take(uint64_t bytes) {
    const uint64_t n = (bytes + 63) / 64 * 64;
    if (n > codes->size() - used) return nullptr;
    uint8_t* p = codes->data() + used;
    used += n;
    return p;
  }
};

// Codes the loader repacked are its own to lay out: in 16-row panels where the kernels will read them
// (kernels/ternary.hpp). `dst`: where they went, or nullptr if m owns them.
void to_kernel_layout(quant::TernaryMatrix& m, uint8_t* dst) {
  if (kernels::ternary_wants_panels(m)) quant::to_panels(m, dst != nullptr ? dst : m.owned.data());
}

bool repacked_type(uint32_t type) {
  return type == quant::kTQ1_0 || type == quant::kTQ2_0 || type == quant::kTL1 || type == quant::kTL2;
}

quant::TernaryMatrix i2_s_shape(int64_t ne0, int64_t n_rows) {
  quant::TernaryMatrix shape;
  shape.rows = n_rows;
  shape.cols = ne0;
  shape.group = ne0;  // one scale per tensor
  return shape;
}

// Whether an I2_S tensor of this shape goes into panels when repack_i2s asks for it: where the kernels read panels
// and the shape fits (kernels::ternary_wants_panels).
bool i2_s_fits_panels(int64_t ne0, int64_t n_rows) { return kernels::ternary_wants_panels(i2_s_shape(ne0, n_rows)); }

// Whether it then goes into the dense panel layout (five weights a byte) rather than panels (four): the one decision
// both the buffer's size and the copy follow.
bool i2_s_dense(int64_t ne0, int64_t n_rows) { return kernels::ternary_wants_dense(i2_s_shape(ne0, n_rows)); }

uint64_t i2_s_repacked_bytes(int64_t ne0, int64_t n_rows) {
  return static_cast<uint64_t>(n_rows *
                               (i2_s_dense(ne0, n_rows) ? i2_s_shape(ne0, n_rows).dense_row_bytes() : ne0 / 4));
}

bool float_type(uint32_t type) { return type == quant::kF32 || type == quant::kF16 || type == quant::kBF16; }

// The BitNet b1.58 families (bitnet, bitnet-b1.58, bitnet-25: the architectures with sub-norms), whose linear layers
// quantize their inputs to int8 per token as trained: repack_float's numerics are theirs. (Elsewhere a ternary matrix
// would change more than rounding: bitllama2c's normalise their inputs first.)
bool bitnet_family(const ArchSpec& a) { return a.sub_norms; }

// A layer's float matrix that repack_float may take as ternary: judged by its first row here, where the codes buffer
// is sized (its pages are all touched later, so a plain float model must not reserve any), and by every element when
// it is repacked. The pages that row mapped are dropped again: with large folios in the page cache one row can map
// 2 MB (a large F16 model's 168 first rows: 350 MB of RSS).
bool float_layer_matrix(const gguf::TensorInfo& t) {
  return float_type(t.type) && t.name.rfind("blk.", 0) == 0 && t.n_rows() > 1;
}

bool float_ternary_candidate(const gguf::File& f, const gguf::TensorInfo& t) {
  if (!float_layer_matrix(t)) return false;
  const bool ternary = quant::float_to_ternary(t.type, t.data, t.ne0(), 1).ok();
  f.drop_pages(t.data, t.nbytes);
  return ternary;
}

// A repacked matrix with one scale a row (TL1, TL2, float ternary) goes where I2_S's copy goes: into the dense
// layout where the kernels want it, made from rows of the matrix's own (one_scale_dense), else into 2-bit panels, or
// rows, at the buffer's codes. What it takes of the buffer:
bool one_scale_dense(int64_t ne0, int64_t n_rows) { return i2_s_fits_panels(ne0, n_rows) && i2_s_dense(ne0, n_rows); }
uint64_t one_scale_bytes(int64_t ne0, int64_t n_rows) {
  return i2_s_fits_panels(ne0, n_rows) ? i2_s_repacked_bytes(ne0, n_rows) : static_cast<uint64_t>(ne0 / 4 * n_rows);
}

// m (in rows: its own where `dense`, else at `codes` unless that is nullptr) into that layout at `codes`. A code 3
// (which five weights a byte cannot hold; none of these types makes one) leaves it in 2-bit panels of its own.
void place_one_scale(quant::TernaryMatrix& m, uint8_t* codes, bool dense) {
  if (dense && codes != nullptr && quant::to_dense_panels(m, m.codes(), codes)) {
    m.view = codes;
    m.owned = ByteBuffer();
  } else {
    to_kernel_layout(m, dense ? nullptr : codes);
  }
}

// A float matrix as ternary, in the layout the kernels read (as I2_S's copy: dense where they want it); false, and
// l untouched, where its values are not one magnitude times {-1, 0, +1}.
bool load_float_ternary(const gguf::File& f, const gguf::TensorInfo& t, Linear& l, Repacking& rp) {
  const int64_t in = t.ne0(), out = t.n_rows();
  const bool dense = one_scale_dense(in, out);
  uint8_t* codes = rp.take(one_scale_bytes(in, out));
  Result<quant::TernaryMatrix> m = quant::float_to_ternary(t.type, t.data, in, out, dense ? nullptr : codes);
  if (!m.ok()) return false;
  place_one_scale(*m, codes, dense);
  l.tern = std::move(m).value();
  l.ternary = true;
  f.drop_pages(t.data, t.nbytes);
  return true;
}

// bitnet.cpp's TL1/TL2: unpacked with the kernel config of their shape (recorded in the file by this engine's
// writer, else bitnet.cpp's setup_env.py configs). The scale is read where bitnet.cpp's kernels read it, at the end
// of the tensor; the converter's "<name>_scale" tensor lies there, and must agree if it lies elsewhere.
Result<quant::TernaryMatrix> load_tl(const gguf::File& f, const gguf::TensorInfo& t, int64_t in, int64_t out,
                                     Repacking& rp) {
  BITNET_ASSIGN_OR_RETURN(quant::TlKernelConfig config, quant::find_tl_config(t.type, out, in, rp.tl_configs));
  const bool dense = one_scale_dense(in, out);
  uint8_t* dst = rp.take(one_scale_bytes(in, out));
  BITNET_ASSIGN_OR_RETURN(quant::TernaryMatrix m,
                          quant::to_ternary_tl(t.type, t.data, in, out, config, &rp.tl_scratch, dense ? nullptr : dst));
  if (const gguf::TensorInfo* s = f.find_tensor(t.name + "_scale")) {
    float v = 0.0f;
    if (s->type != quant::kF32 || s->n_elements() != 1 || (std::memcpy(&v, s->data, 4), v != m.scales[0]))
      return format_error("tensor '" + s->name + "' is not the F32 scale found at the end of '" + t.name + "'");
  }
  place_one_scale(m, dst, dense);
  return m;
}

Result<Linear> load_linear(const gguf::File& f, const std::string& base, int64_t in, int64_t out, Repacking& rp) {
  Linear l;
  l.name = base + ".weight";
  l.in = in;
  l.out = out;
  const gguf::TensorInfo* t;
  BITNET_ASSIGN_OR_RETURN(t, require_tensor(f, l.name));
  BITNET_RETURN_IF_ERROR(check_shape(*t, {in, out}));
  l.file_type = t->type;
  const quant::TypeTraits* traits = quant::find_type(t->type);
  if (t->type == quant::kTL1 || t->type == quant::kTL2) {
    Result<quant::TernaryMatrix> m = load_tl(f, *t, in, out, rp);
    if (!m.ok()) return m.status().with_context("tensor '" + l.name + "'");
    l.tern = std::move(m).value();
    l.ternary = true;
    f.drop_pages(t->data, t->nbytes);
  } else if (traits->ternary) {
    const bool repack = repacked_type(t->type);
    uint8_t* dst = repack && in % 4 == 0 ? rp.take(static_cast<uint64_t>(in / 4 * out)) : nullptr;
    BITNET_ASSIGN_OR_RETURN(l.tern, quant::to_ternary(t->type, t->data, in, out, dst));
    l.ternary = true;
    if (repack) {
      to_kernel_layout(l.tern, dst);
      f.drop_pages(t->data, t->nbytes);  // the file's copy is not read again
    } else if (rp.i2_s && t->type == quant::kI2_S && i2_s_fits_panels(in, out)) {
      const bool dense = i2_s_dense(in, out);
      if (uint8_t* codes = rp.take(i2_s_repacked_bytes(in, out))) {
        if (!dense) quant::to_panels(l.tern, t->data, codes);
        // (a code 3, which the dense layout cannot hold, leaves the tensor where it lies, in rows)
        if (!dense || quant::to_dense_panels(l.tern, t->data, codes)) {
          l.tern.view = codes;
          f.drop_pages(t->data, t->nbytes);
        }
      }
    }
  } else if (!(rp.float_ternary.count(t) != 0 && load_float_ternary(f, *t, l, rp))) {
    l.rows = kernels::FloatRows{t->type, t->data, in, out};
  }
  if (const gguf::TensorInfo* s = f.find_tensor(base + ".scale")) {
    if (s->n_elements() != 1 || s->type != quant::kF32)
      return format_error("tensor '" + s->name + "' must be a single F32 value");
    std::memcpy(&l.scale, s->data, 4);
    l.has_scale = true;
  }
  return l;
}

}  // namespace

bool float_ternary_possible(const gguf::File& f) {
  Result<std::string> arch = f.get_string_or("general.architecture", "");
  const ArchSpec* a = arch.ok() ? find_arch(arch.value()) : nullptr;
  if (a == nullptr || !bitnet_family(*a)) return false;
  for (const gguf::TensorInfo& t : f.tensors())
    if (float_layer_matrix(t)) return true;
  return false;
}

Result<std::unique_ptr<Weights>> load_weights(const gguf::File& f, bool repack_i2s, bool repack_float) {
  auto w = std::make_unique<Weights>();
  BITNET_ASSIGN_OR_RETURN(FilePlan plan, check_model_file(f));
  w->arch = plan.arch;
  w->hp = plan.hp;
  const HParams& hp = w->hp;
  Repacking rp;
  rp.i2_s = repack_i2s;
  rp.tl_configs = std::move(plan.tl_configs);
  // One buffer for the codes of every tensor to be repacked, so that 2 MB pages back all of them but the last
  // partial 2 MB. A buffer per tensor left the ones under 2 MB, and each one's partial last 2 MB, in 4 KB pages
  // (160 MB of a 2B-4T TQ2_0 model's 520 MB), and cost a mapping and its page faults each: that model loaded in
  // 0.73-1.45 s, and 0.51-0.55 s with one buffer. (The parser checked every tensor's bytes against the file, so this
  // is bounded by about the file's size.)
  uint64_t repacked_bytes = 0;
  for (const gguf::TensorInfo& t : f.tensors()) {
    uint64_t bytes = 0;
    if (t.type == quant::kTL1 || t.type == quant::kTL2)
      bytes = one_scale_bytes(t.ne0(), t.n_rows());
    else if (repacked_type(t.type) && t.ne0() % 4 == 0)
      bytes = static_cast<uint64_t>(t.n_elements()) / 4;
    else if (repack_i2s && t.type == quant::kI2_S && i2_s_fits_panels(t.ne0(), t.n_rows()))
      bytes = i2_s_repacked_bytes(t.ne0(), t.n_rows());
    else if (repack_float && bitnet_family(*plan.arch) && float_ternary_candidate(f, t)) {
      bytes = one_scale_bytes(t.ne0(), t.n_rows());
      rp.float_ternary.insert(&t);
    }
    repacked_bytes += (bytes + 63) / 64 * 64;
  }
  w->repacked = HugePageBuffer(static_cast<size_t>(repacked_bytes));
  rp.codes = &w->repacked;

  const gguf::TensorInfo* emb = f.find_tensor("token_embd.weight");  // checked by check_model_file
  w->token_embd = kernels::FloatRows{emb->type, emb->data, hp.n_embd, hp.n_vocab};

  BITNET_ASSIGN_OR_RETURN(w->output_norm, load_vector(f, "output_norm.weight", hp.n_embd, false));
  if (f.find_tensor("output.weight") != nullptr) {
    BITNET_ASSIGN_OR_RETURN(w->output, load_linear(f, "output", hp.n_embd, hp.n_vocab, rp));
  } else {
    w->output.name = "token_embd.weight";
    w->output.in = hp.n_embd;
    w->output.out = hp.n_vocab;
    w->output.rows = w->token_embd;
    w->output.file_type = emb->type;
  }

  const int64_t kv_dim = hp.head_dim * hp.n_head_kv;
  const ArchSpec& arch = *w->arch;
  w->layers.resize(static_cast<size_t>(hp.n_layer));
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    Layer& L = w->layers[static_cast<size_t>(i)];
    const std::string p = "blk." + std::to_string(i) + ".";
    BITNET_ASSIGN_OR_RETURN(L.attn_norm, load_vector(f, p + "attn_norm.weight", hp.n_embd, !arch.learned_prenorms));
    BITNET_ASSIGN_OR_RETURN(L.ffn_norm, load_vector(f, p + "ffn_norm.weight", hp.n_embd, !arch.learned_prenorms));
    BITNET_ASSIGN_OR_RETURN(L.attn_sub_norm, load_vector(f, p + "attn_sub_norm.weight", hp.n_embd, !arch.sub_norms));
    BITNET_ASSIGN_OR_RETURN(L.ffn_sub_norm, load_vector(f, p + "ffn_sub_norm.weight", hp.n_ff, !arch.sub_norms));
    BITNET_ASSIGN_OR_RETURN(L.wq, load_linear(f, p + "attn_q", hp.n_embd, hp.n_embd, rp));
    BITNET_ASSIGN_OR_RETURN(L.wk, load_linear(f, p + "attn_k", hp.n_embd, kv_dim, rp));
    BITNET_ASSIGN_OR_RETURN(L.wv, load_linear(f, p + "attn_v", hp.n_embd, kv_dim, rp));
    BITNET_ASSIGN_OR_RETURN(L.wo, load_linear(f, p + "attn_output", hp.n_embd, hp.n_embd, rp));
    BITNET_ASSIGN_OR_RETURN(L.gate, load_linear(f, p + "ffn_gate", hp.n_embd, hp.n_ff, rp));
    BITNET_ASSIGN_OR_RETURN(L.up, load_linear(f, p + "ffn_up", hp.n_embd, hp.n_ff, rp));
    BITNET_ASSIGN_OR_RETURN(L.down, load_linear(f, p + "ffn_down", hp.n_ff, hp.n_embd, rp));
  }
  return w;
}

uint64_t weight_bytes_per_token(const Weights& w) {
  const auto bytes = [](const Linear& l) -> uint64_t {
    if (l.ternary)
      return static_cast<uint64_t>(l.tern.rows * l.tern.stored_row_bytes()) + l.tern.scales.size() * sizeof(float);
    const Result<uint64_t> b = quant::tensor_bytes(l.rows.type, {l.rows.ne0, l.rows.n_rows});
    return b.ok() ? b.value() : 0;  // a loaded matrix has a valid shape
  };
  uint64_t total = bytes(w.output);
  for (const Layer& l : w.layers)
    for (const Linear* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}) total += bytes(*m);
  return total;
}

uint64_t layer_macs_per_token(const Weights& w) {
  uint64_t total = 0;
  for (const Layer& l : w.layers)
    for (const Linear* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down})
      total += static_cast<uint64_t>(m->in * m->out);
  return total;
}

}  // namespace bitnet::model
