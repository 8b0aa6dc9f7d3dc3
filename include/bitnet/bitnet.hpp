// bitnet public C++ API: load a model, tokenize, evaluate, generate (streaming). The only header a front
// end needs. No exception crosses this boundary (every failure is a Status) and there is no global state,
// so C, Python and WebAssembly bindings can wrap it directly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bitnet/status.hpp"

namespace bitnet {

// How a KV cache stores keys and values, per position and layer: 2 x kv_dim values of 4 bytes (f32), 2 bytes
// (f16, as llama.cpp and bitnet.cpp store them by default) or 34 bytes per 32 (q8_0: llama.cpp's Q8_0 blocks;
// needs head_dim a multiple of 32). Smaller is less memory and memory traffic, and a little less accurate.
enum class KvType { kF16, kF32, kQ8_0 };
const char* kv_type_name(KvType type);  // "f16", "f32", "q8_0"
// "f32", "f16" or "q8_0" (case-insensitive); an invalid-argument error naming the choices otherwise.
Result<KvType> parse_kv_type(std::string_view name);

struct LoadOptions {
  int n_threads = 0;              // 0: one per CPU this process may run on (its affinity, its cgroup's CPU quota);
                                  // at most 512
  int n_ctx = 0;                  // KV cache positions; 0: the model's training context, capped at 4096
  KvType kv_type = KvType::kF16;  // of every KV cache of the model (its own and each Sequence's)
  // Copy I2_S weights at load into the layout the AVX-512 and AVX2 kernels read best (other ternary types always
  // are). On a 2-core Zen 5 VM: 2B-4T generation 2-5% faster and prompts 1-2%; on a 2-core Intel VM generation
  // 11-19% faster (plain AVX2, without AVX-VNNI: 4-11%). The cost is a longer load (2B-4T 0.04-0.06 -> 0.2-0.3 s
  // there). false reads I2_S where it lies in the file. No effect where neither AVX-512 nor AVX2 runs (a CPU without
  // them, or BITNET_ISA=scalar).
  bool repack_i2s = true;
  // Take float (F32, F16, BF16) layer weights of a BitNet model (bitnet, bitnet-b1.58, bitnet-25) that hold ternary
  // values, one magnitude times {-1, 0, +1} per tensor (as llama.cpp's converter writes them), as ternary weights at
  // load: 1.6-2 bits a weight instead of 16 or 32, run by the ternary kernels, with each token's input quantized to
  // int8 (the BitNet recipe, as for I2_S). Off by default: the float weights then compute in float, as llama.cpp
  // computes such a file. Float tensors that hold anything else, and other architectures' weights, stay float either
  // way. With it a file that has float layer weights is mapped in 4 KB pages, not 2 MB ones (whose set-up touches the
  // whole file: a 2B-4T F16 file's 4.4 GB would count in peak RSS, against 0.73 GB).
  bool repack_float = false;
};

struct GenerationConfig {
  int max_tokens = 128;            // tokens to generate at most (-n)
  float temperature = 0.8f;        // 0: greedy
  int top_k = 40;                  // 0: off
  float top_p = 0.95f;             // 1: off
  float min_p = 0.05f;             // 0: off
  float repeat_penalty = 1.0f;     // 1: off
  int repeat_last_n = 64;          // tokens the penalties look back over (prompt included)
  float presence_penalty = 0.0f;   // 0: off; OpenAI's rule: logit -= presence for every token seen
  float frequency_penalty = 0.0f;  // 0: off; OpenAI's rule: logit -= frequency * times seen
  uint64_t seed = 0;               // same seed, same prompt, same settings: same output
  bool add_bos = true;             // prepend BOS to a text prompt (when the model's vocabulary has one)
  bool parse_special = false;      // recognise special-token text ("<s>") in the prompt
  bool stop_at_eos = true;         // stop at end-of-generation tokens
};

struct GenerationResult {
  std::vector<int32_t> prompt_tokens;
  std::vector<int32_t> tokens;  // generated ids
  std::string text;             // generated text (the prompt not included)
  std::string stop_reason;      // "eos", "length", "callback", "context"
  double load_ms = 0;
  double prompt_ms = 0;    // prompt processing (batches of up to 512 tokens)
  double generate_ms = 0;  // token-by-token generation
  int64_t n_context = 0;   // tokens in the model's context after this call (see Model::context_tokens)
};

// One message of a conversation: role "system", "user" or "assistant" (templates may accept others).
struct ChatMessage {
  std::string role;
  std::string content;
};

// Called with each complete UTF-8 piece of generated text as it is produced; return false to stop.
using TokenCallback = std::function<bool(std::string_view piece, int32_t token)>;

struct ModelInfo {
  std::string path;
  std::string architecture;
  std::string name;
  int64_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0, n_ctx_train = 0;
  double rope_theta = 0;
  int n_ctx = 0;  // the context this instance was loaded with
  int n_threads = 0;
  std::string weight_type;      // the type of the attention/FFN weights, e.g. "I2_S"
  // The attention/FFN weights are float holding ternary values (a BitNet file from llama.cpp's converter: its first
  // layer's query matrix checked by its first row) and were left float: LoadOptions::repack_float would take them as
  // ternary.
  bool float_ternary_weights = false;
  std::string chat_template;    // tokenizer.chat_template as stored in the file (a Jinja string; "" if none)
  std::string isa = "scalar";   // kernels in use: scalar, avx2, avx512-vnni[+amx], neon, neon-dotprod
  std::string kv_type = "f16";  // LoadOptions::kv_type's name
  // Bytes of the KV cache of generate()/evaluate() (n_ctx positions); each Sequence holds another of its n_ctx.
  uint64_t kv_cache_bytes = 0;
  // Bytes of weights each generated token reads (every layer's matrices and the head, as the kernels hold them):
  // generation speed x this is the memory bandwidth it takes, which bounds it.
  uint64_t weight_bytes_per_token = 0;
  // Multiply-adds each prompt token takes in the layers' matrices (not the head, which a prompt runs for its last
  // token only, nor attention, which grows with the position): prompt speed x this is the arithmetic rate, which
  // bounds it, against the machine's (bitnet-kernel-bench's limit/peak_int8_*).
  uint64_t layer_macs_per_token = 0;
};

class Model;

// One sequence of batched generation (Model::new_sequence): its own KV cache, sampler and streaming text
// decoder. It must not outlive its Model, and is used from the thread that drives the Model.
class Sequence {
 public:
  ~Sequence();
  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;

  int64_t n_ctx() const;   // positions its KV cache holds
  int64_t n_past() const;  // positions filled
  // Starts over: empties the KV cache and sets the sampler up from cfg (temperature, top_k/p, min_p, penalties,
  // seed); `prompt` is recorded for the penalties, and text decoding starts after it.
  void reset(const GenerationConfig& cfg, const std::vector<int32_t>& prompt);
  // Picks the next token from this sequence's logits row ([n_vocab]) and records it for the penalties.
  int32_t sample(const float* logits);
  // The text a generated token adds: only complete UTF-8 (a split character comes with a later token).
  std::string push_text(int32_t id);
  std::string flush_text();  // whatever text is still held back
  bool is_end_of_generation(int32_t id) const;

 private:
  friend class Model;
  Sequence();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Tokens to append to one sequence (at its n_past) in a batched evaluation.
struct BatchItem {
  Sequence* sequence = nullptr;
  std::vector<int32_t> tokens;
};

class Model {
 public:
  static Result<std::unique_ptr<Model>> load(const std::string& path, const LoadOptions& options = {});
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelInfo& info() const;

  // After load, threads of the lowest priority move the repacked weights and the KV cache from 4 KB pages into
  // 2 MB pages (the bytes do not change), whenever no forward pass has run for 50 ms. 4 KB pages first, because some
  // VMs are slow to hand out fresh 2 MB pages (a 2B-4T model's 520 MB of repacked weights took 1.0-1.3 s in them,
  // 0.2 s in 4 KB pages, and its first prompt 0.33-0.42 s with the KV cache in them, 0.06 s in 4 KB pages);
  // generation is 5-9% faster once they are moved. A KV cache (a Sequence's too) moves once it holds a token.
  struct HugePages {
    double moved_mb = 0, total_mb = 0;  // in 2 MB pages now, of all that can be (0: nothing to move)
    double ms = 0;                      // how long the move took, from the end of the load
    bool unsupported = false;  // the kernel refused (Linux before 6.1, or THP off for the process): 4 KB pages stay
  };
  // Waits until the move of the weights, of this Model's own KV cache (once it holds a token) and of its scratch
  // (sized by the largest batch so far) has ended (at once where there is none: huge pages off, not Linux). Not
  // while this Model evaluates on another thread. Benchmarks call it so that they time what a long-running process
  // sees.
  HugePages wait_for_huge_pages();

  Result<std::vector<int32_t>> tokenize(std::string_view text, bool add_bos, bool parse_special = false) const;
  std::string detokenize(const std::vector<int32_t>& ids) const;

  // Logits of every position of `ids`, evaluated from an empty context (in batches of up to 512 tokens, with the
  // logits of one batch, bit for bit): [ids.size()][n_vocab].
  // Afterwards the context holds `ids`.
  Result<std::vector<float>> evaluate(const std::vector<int32_t>& ids);
  // Same, but appended to the current context (the KV cache is kept): logits of the positions of `ids` only.
  Result<std::vector<float>> evaluate_continue(const std::vector<int32_t>& ids);

  // Generates from a text prompt (tokenized with cfg.add_bos / cfg.parse_special) or from ids.
  Result<GenerationResult> generate(std::string_view prompt, const GenerationConfig& cfg,
                                    const TokenCallback& on_token = {});
  // Both start from an empty context (whatever an earlier call left is dropped).
  Result<GenerationResult> generate_ids(const std::vector<int32_t>& prompt_ids, const GenerationConfig& cfg,
                                        const TokenCallback& on_token = {});

  // Multi-turn generation: appends `new_ids` to the current context instead of clearing it, so only they are
  // evaluated (the KV cache of earlier turns is kept), then generates. result.prompt_tokens is `new_ids`.
  // An error (the context is full, a bad id) leaves the context as it was, except a failure inside the forward
  // pass, which clears it.
  Result<GenerationResult> generate_continue(const std::vector<int32_t>& new_ids, const GenerationConfig& cfg,
                                             const TokenCallback& on_token = {});
  // The tokens in the context: the prompt and generated tokens of the last generate_ids/evaluate and of every
  // generate_continue since. A generated token enters the KV cache when the next call evaluates it.
  const std::vector<int32_t>& context_tokens() const;
  // Empties the context (the next generate_continue starts from nothing).
  void clear_context();

  // Continuous batching. new_sequence: a sequence with its own KV cache of n_ctx positions (0: this model's
  // context; no more than it). decode_batch: one forward pass over the tokens of all items (every weight read
  // once for all of them; attention per sequence), appending them to their sequences' caches. Returns the
  // logits of each item's last token, [items.size()][n_vocab]. Each row equals, bit for bit, what the same
  // sequence gives evaluated alone (activations are quantized per token; no arithmetic mixes rows). On an error
  // no sequence advances. Neither touches the single-sequence context of generate()/evaluate().
  Result<std::unique_ptr<Sequence>> new_sequence(int n_ctx = 0);
  Result<std::vector<float>> decode_batch(const std::vector<BatchItem>& items);

  // tokenize, detokenize and apply_chat_template only read the tokenizer: they may run on other threads while
  // one thread drives generation or decode_batch.

  // Renders a conversation with a chat template. template_name: "bitnet", "llama3", "llama2" or "chatml", or a
  // Jinja template string to recognise; empty: the model's own tokenizer.chat_template (an error if it has
  // none). Templates are recognised by distinctive substrings and rendered by built-in code; no Jinja is
  // executed. The text holds the BOS token's text where the template writes bos_token: tokenize it with
  // add_bos = false and parse_special = true.
  Result<std::string> apply_chat_template(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                          const std::string& template_name = "") const;

 private:
  Model();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What a model file is, without loading its weights (works for files the engine cannot run, too).
struct ModelFileInfo {
  std::string format;  // "GGUF v3"
  std::string architecture;
  std::string name;
  uint64_t file_size = 0;
  uint64_t n_params = 0;
  uint64_t n_tensors = 0;
  std::vector<std::pair<std::string, std::string>> hparams;    // "<arch>.*" and tokenizer summary keys
  std::vector<std::pair<std::string, uint64_t>> tensor_types;  // type name -> tensor count
  bool loadable = false;
  std::string not_loadable_reason;
};
Result<ModelFileInfo> inspect_model_file(const std::string& path);

// Converts a llama2.c checkpoint to GGUF. kind "llama2c": float legacy .bin (7 x i32 header) -> arch "llama";
// "bitllama2c": the bitllama2.c ternary "ak42" file -> arch "bitllama2c" with I2_S weights.
// tokenizer_path: the llama2.c tokenizer file (tok512.bin format).
Status convert_llama2c(const std::string& kind, const std::string& in_path, const std::string& tokenizer_path,
                       const std::string& out_path);

}  // namespace bitnet
