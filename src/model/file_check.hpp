// What a model file's header alone says about loading it: the architecture, the hyper-parameters, and every tensor the
// model needs present, of a loadable type and the right shape (and, for TL1/TL2, with a known kernel config).
// load_weights runs it before reading any tensor's data, so a file missing its last block's tensor fails at once
// instead of after repacking the rest; inspect_model_file reports it as "loadable".
#pragma once

#include <vector>

#include "formats/gguf.hpp"
#include "model/weights.hpp"
#include "quant/tl_config.hpp"

namespace bitnet::model {

struct FilePlan {
  const ArchSpec* arch = nullptr;
  HParams hp;                                     // n_vocab from token_embd.weight
  std::vector<quant::TlKernelConfig> tl_configs;  // recorded in the file (quant::kTlConfigKey), else empty
};

Result<FilePlan> check_model_file(const gguf::File& f);

// The tensor `name`, which must be present and of a type this engine loads.
Result<const gguf::TensorInfo*> require_tensor(const gguf::File& f, const std::string& name);
// t's shape is `want` (trailing 1s in t ignored).
Status check_shape(const gguf::TensorInfo& t, const std::vector<int64_t>& want);

}  // namespace bitnet::model
