// check_model_file: hyper-parameters from `<arch>.*` keys, then every tensor the model will read checked by name,
// type and shape, without touching tensor data.
#include "model/file_check.hpp"

#include "quant/quant.hpp"

namespace bitnet::model {
namespace {

Result<int64_t> positive_key(const gguf::File& f, const std::string& key) {
  BITNET_ASSIGN_OR_RETURN(int64_t v, f.get_int(key));
  if (v <= 0 || v > (int64_t{1} << 24))
    return format_error("key '" + key + "' = " + std::to_string(v) + " is out of range");
  return v;
}

Result<HParams> read_hparams(const gguf::File& f, const ArchSpec& arch) {
  const std::string a = std::string(arch.name) + ".";
  HParams hp;
  BITNET_ASSIGN_OR_RETURN(hp.n_embd, positive_key(f, a + "embedding_length"));
  BITNET_ASSIGN_OR_RETURN(hp.n_layer, positive_key(f, a + "block_count"));
  BITNET_ASSIGN_OR_RETURN(hp.n_head, positive_key(f, a + "attention.head_count"));
  BITNET_ASSIGN_OR_RETURN(hp.n_ff, positive_key(f, a + "feed_forward_length"));
  BITNET_ASSIGN_OR_RETURN(hp.n_ctx_train, positive_key(f, a + "context_length"));
  BITNET_ASSIGN_OR_RETURN(hp.n_head_kv, f.get_int_or(a + "attention.head_count_kv", hp.n_head));
  if (hp.n_head_kv <= 0 || hp.n_head % hp.n_head_kv != 0)
    return format_error("attention.head_count_kv = " + std::to_string(hp.n_head_kv) +
                        " does not divide head_count = " + std::to_string(hp.n_head));
  if (hp.n_embd % hp.n_head != 0)
    return format_error("embedding_length " + std::to_string(hp.n_embd) + " is not a multiple of head_count " +
                        std::to_string(hp.n_head));
  hp.head_dim = hp.n_embd / hp.n_head;
  BITNET_ASSIGN_OR_RETURN(hp.rope_dim, f.get_int_or(a + "rope.dimension_count", hp.head_dim));
  if (hp.rope_dim != hp.head_dim)
    return unsupported("rope.dimension_count " + std::to_string(hp.rope_dim) + " != head dimension " +
                       std::to_string(hp.head_dim) + " (partial rotary embeddings are not supported)");
  BITNET_ASSIGN_OR_RETURN(hp.rope_theta, f.get_float_or(a + "rope.freq_base", arch.default_rope_theta));
  BITNET_ASSIGN_OR_RETURN(double eps, f.get_float_or(a + "attention.layer_norm_rms_epsilon", 1e-5));
  hp.norm_eps = static_cast<float>(eps);
  if (!(hp.rope_theta > 0) || !(eps >= 0)) return format_error("rope.freq_base or layer_norm_rms_epsilon is invalid");
  return hp;
}

Status check_vector(const gguf::File& f, const std::string& name, int64_t n, bool optional) {
  if (optional && f.find_tensor(name) == nullptr) return Status::Ok();
  BITNET_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, require_tensor(f, name));
  return check_shape(*t, {n});
}

Status check_linear(const gguf::File& f, const FilePlan& plan, const std::string& base, int64_t in, int64_t out) {
  const std::string name = base + ".weight";
  BITNET_ASSIGN_OR_RETURN(const gguf::TensorInfo* t, require_tensor(f, name));
  BITNET_RETURN_IF_ERROR(check_shape(*t, {in, out}));
  if (t->type == quant::kTL1 || t->type == quant::kTL2) {
    const Result<quant::TlKernelConfig> config = quant::find_tl_config(t->type, out, in, plan.tl_configs);
    if (!config.ok()) return config.status().with_context("tensor '" + name + "'");
  }
  if (const gguf::TensorInfo* s = f.find_tensor(base + ".scale"))
    if (s->n_elements() != 1 || s->type != quant::kF32)
      return format_error("tensor '" + s->name + "' must be a single F32 value");
  return Status::Ok();
}

}  // namespace

Result<const gguf::TensorInfo*> require_tensor(const gguf::File& f, const std::string& name) {
  const gguf::TensorInfo* t = f.find_tensor(name);
  if (t == nullptr) return not_found("tensor '" + name + "' is missing");
  if (!quant::is_supported(t->type))
    return unsupported("tensor '" + name + "' has type " + quant::type_name(t->type) +
                       ", which this engine cannot load yet");
  return t;
}

Status check_shape(const gguf::TensorInfo& t, const std::vector<int64_t>& want) {
  std::vector<int64_t> have = t.ne;
  while (have.size() > want.size() && have.back() == 1) have.pop_back();
  if (have != want) {
    auto fmt = [](const std::vector<int64_t>& v) {
      std::string s = "[";
      for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
      return s + "]";
    };
    return format_error("tensor '" + t.name + "' has shape " + fmt(t.ne) + ", expected " + fmt(want));
  }
  return Status::Ok();
}

Result<FilePlan> check_model_file(const gguf::File& f) {
  FilePlan plan;
  BITNET_ASSIGN_OR_RETURN(std::string arch_name, f.get_string("general.architecture"));
  plan.arch = find_arch(arch_name);
  if (plan.arch == nullptr)
    return unsupported("architecture " + in_quotes(arch_name) + " is not supported (known: " + known_arch_names() +
                       ")");
  const ArchSpec& arch = *plan.arch;
  BITNET_ASSIGN_OR_RETURN(plan.hp, read_hparams(f, arch));
  HParams& hp = plan.hp;
  if (const gguf::Value* v = f.find(quant::kTlConfigKey)) {
    if (!v->is_array() || v->ints.size() != v->array_size())
      return format_error(std::string("key '") + quant::kTlConfigKey + "' must be an array of integers");
    BITNET_ASSIGN_OR_RETURN(plan.tl_configs, quant::parse_tl_configs(v->ints));
  }

  BITNET_ASSIGN_OR_RETURN(const gguf::TensorInfo* emb, require_tensor(f, "token_embd.weight"));
  if (emb->ne.size() < 2 || emb->ne[0] != hp.n_embd)
    return format_error("tensor 'token_embd.weight' must be [" + std::to_string(hp.n_embd) + ", n_vocab]");
  hp.n_vocab = emb->ne[1];
  BITNET_RETURN_IF_ERROR(check_shape(*emb, {hp.n_embd, hp.n_vocab}));
  if (quant::find_type(emb->type)->ternary)
    return unsupported("a ternary token embedding ('token_embd.weight' is " + quant::type_name(emb->type) + ")");
  BITNET_RETURN_IF_ERROR(check_vector(f, "output_norm.weight", hp.n_embd, false));
  if (f.find_tensor("output.weight") != nullptr)
    BITNET_RETURN_IF_ERROR(check_linear(f, plan, "output", hp.n_embd, hp.n_vocab));

  // Every block has its 7 matrices in the file: a block_count beyond what the tensors allow is refused before
  // anything is sized by it (2^24 layers took 23 GB).
  constexpr int64_t kMatricesPerBlock = 7;
  if (hp.n_layer > static_cast<int64_t>(f.tensors().size()) / kMatricesPerBlock)
    return format_error(std::string(arch.name) + ".block_count = " + std::to_string(hp.n_layer) +
                        ", but the file has only " + std::to_string(f.tensors().size()) + " tensors (each block has " +
                        std::to_string(kMatricesPerBlock) + " matrices)");
  const int64_t kv_dim = hp.head_dim * hp.n_head_kv;
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    BITNET_RETURN_IF_ERROR(check_vector(f, p + "attn_norm.weight", hp.n_embd, !arch.learned_prenorms));
    BITNET_RETURN_IF_ERROR(check_vector(f, p + "ffn_norm.weight", hp.n_embd, !arch.learned_prenorms));
    BITNET_RETURN_IF_ERROR(check_vector(f, p + "attn_sub_norm.weight", hp.n_embd, !arch.sub_norms));
    BITNET_RETURN_IF_ERROR(check_vector(f, p + "ffn_sub_norm.weight", hp.n_ff, !arch.sub_norms));
    BITNET_RETURN_IF_ERROR(check_linear(f, plan, p + "attn_q", hp.n_embd, hp.n_embd));
    BITNET_RETURN_IF_ERROR(check_linear(f, plan, p + "attn_k", hp.n_embd, kv_dim));
    BITNET_RETURN_IF_ERROR(check_linear(f, plan, p + "attn_v", hp.n_embd, kv_dim));
    BITNET_RETURN_IF_ERROR(check_linear(f, plan, p + "attn_output", hp.n_embd, hp.n_embd));
    BITNET_RETURN_IF_ERROR(check_linear(f, plan, p + "ffn_gate", hp.n_embd, hp.n_ff));
    BITNET_RETURN_IF_ERROR(check_linear(f, plan, p + "ffn_up", hp.n_embd, hp.n_ff));
    BITNET_RETURN_IF_ERROR(check_linear(f, plan, p + "ffn_down", hp.n_ff, hp.n_embd));
  }
  return plan;
}

}  // namespace bitnet::model
