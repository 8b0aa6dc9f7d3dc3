// Helpers shared by the model-level tests: load a model for a test, and greedy generation settings.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "bitnet/bitnet.hpp"

namespace bitnet::test {

// The model at `path` on 2 threads (n_ctx 0: the model's default), or nullptr after a failed expectation.
inline std::unique_ptr<Model> load_model(const std::string& path, int n_ctx = 0, KvType kv_type = KvType::kF16,
                                         bool repack_float = false) {
  LoadOptions lo;
  lo.n_threads = 2;
  lo.n_ctx = n_ctx;
  lo.kv_type = kv_type;
  lo.repack_float = repack_float;
  auto m = Model::load(path, lo);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::move(m).value() : nullptr;
}

// Greedy decoding of exactly n tokens (EOS does not stop it).
inline GenerationConfig greedy(int n) {
  GenerationConfig cfg;
  cfg.temperature = 0.0f;
  cfg.max_tokens = n;
  cfg.stop_at_eos = false;
  return cfg;
}

}  // namespace bitnet::test
