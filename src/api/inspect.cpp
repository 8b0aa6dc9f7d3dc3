// inspect_model_file: describe a GGUF file from its header alone (architecture, hyper-parameters, tensor
// types), and say whether this engine can load it (model/file_check.hpp: every tensor it needs, by type and shape).
#include <map>
#include <sstream>

#include "bitnet/bitnet.hpp"
#include "formats/gguf.hpp"
#include "model/file_check.hpp"
#include "quant/quant.hpp"

namespace bitnet {
namespace {

std::string value_to_string(const gguf::Value& v) {
  std::ostringstream os;
  switch (v.type) {
    case gguf::ValueType::kString: return v.s;
    case gguf::ValueType::kF32:
    case gguf::ValueType::kF64: os << v.f; return os.str();
    case gguf::ValueType::kBool: return v.i ? "true" : "false";
    case gguf::ValueType::kArray:
      os << "[" << v.array_size() << " x " << gguf::value_type_name(v.elem_type) << "]";
      return os.str();
    default: return std::to_string(v.i);
  }
}

}  // namespace

Result<ModelFileInfo> inspect_model_file(const std::string& path) {
  auto opened = gguf::File::open(path);
  if (!opened.ok()) return opened.status();  // names the file already
  const gguf::File& f = *opened.value();
  ModelFileInfo info;
  info.format = "GGUF v" + std::to_string(f.version());
  info.file_size = f.file_size();
  info.architecture = f.get_string_or("general.architecture", "").value();
  info.name = f.get_string_or("general.name", "").value();
  info.n_tensors = f.tensors().size();
  const std::string prefix = info.architecture + ".";
  for (const auto& [key, value] : f.metadata()) {
    const bool arch_key = !info.architecture.empty() && key.rfind(prefix, 0) == 0;
    const bool tok_key = key.rfind("tokenizer.ggml.", 0) == 0 && key != "tokenizer.ggml.merges";
    if (arch_key || tok_key || key == "general.file_type") info.hparams.emplace_back(key, value_to_string(value));
  }
  std::map<std::string, uint64_t> types;
  for (const auto& t : f.tensors()) {
    types[quant::type_name(t.type)]++;
    info.n_params += static_cast<uint64_t>(t.n_elements());
  }
  info.tensor_types.assign(types.begin(), types.end());
  const Result<model::FilePlan> plan = model::check_model_file(f);
  info.loadable = plan.ok();
  if (!plan.ok()) info.not_loadable_reason = plan.status().message();
  return info;
}

}  // namespace bitnet
