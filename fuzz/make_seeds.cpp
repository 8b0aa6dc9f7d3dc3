// fuzz_make_seeds OUT_DIR [FIXTURES_DIR]: the fuzz targets' starting inputs, one directory per target
// (OUT_DIR/<target>/): tiny synthesized models of each weight type, small tokenizer files, llama2.c checkpoints,
// request bodies, and the inputs that found the bugs fixed so far (a 2^24 block count; a llama2.c vocabulary size of
// INT32_MIN; a tokenizer.json naming token id 2^24 - 1), so a replay holds those fixes. Files from the fixtures are
// added where they are present. scripts/fuzz.sh runs it.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "bitnet/synth.hpp"

namespace fs = std::filesystem;

namespace {

std::string g_out;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(fs::path(g_out) / target);
  std::ofstream(fs::path(g_out) / target / name, std::ios::binary) << bytes;
}

template <typename T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// The llama2c target's input: u32 checkpoint length, the checkpoint, the tokenizer.
std::string llama2c_input(const std::string& checkpoint, const std::string& tokenizer) {
  std::string s;
  put(s, static_cast<uint32_t>(checkpoint.size()));
  return s + checkpoint + tokenizer;
}

// A llama2.c tokenizer.bin: i32 max token length, then per token f32 score, i32 length, bytes.
std::string llama2c_tokenizer(int vocab) {
  std::string s;
  put(s, int32_t{8});
  for (int i = 0; i < vocab; ++i) {
    const std::string text = i == 0 ? "<unk>" : i == 1 ? "\n<s>\n" : i == 2 ? "\n</s>\n" : std::string(1, 'a' + i % 26);
    put(s, -static_cast<float>(i));
    put(s, static_cast<int32_t>(text.size()));
    s += text;
  }
  return s;
}

// A llama2.c float checkpoint: 7 i32 (dim, hidden, layers, heads, kv heads, vocab, seq; vocab negative for an
// unshared classifier), then the float tensors in run.c's order.
std::string llama2c_checkpoint(int32_t vocab_field) {
  const int dim = 16, hidden = 32, layers = 1, heads = 2, kv_heads = 1, seq = 8, vocab = 16;
  const int head_dim = dim / heads, kv_dim = head_dim * kv_heads;
  std::string s;
  for (const int32_t v : {dim, hidden, layers, heads, kv_heads, vocab_field, seq}) put(s, v);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  const auto floats = [&](int n, bool ones) {
    for (int i = 0; i < n; ++i) put(s, ones ? 1.0f : u(rng));
  };
  // token embedding, rms_att, wq wk wv wo, rms_ffn, w1 w2 w3, rms_final, the old freq_cis tables, the classifier
  floats(vocab * dim, false);
  floats(layers * dim, true);
  for (const int n : {dim * dim, kv_dim * dim, kv_dim * dim, dim * dim}) floats(layers * n, false);
  floats(layers * dim, true);
  for (int i = 0; i < 3; ++i) floats(layers * hidden * dim, false);
  floats(dim, true);
  floats(seq * head_dim, false);
  if (vocab_field < 0) floats(vocab * dim, false);
  return s;
}

// A bitllama2.c "ak42" header (256 bytes) with the given vocabulary size field, nothing after it.
std::string bitllama2c_header(int32_t vocab_field) {
  std::string s;
  put(s, uint32_t{0x616b3432});
  put(s, int32_t{1});
  for (const int32_t v : {128, 128, 1, 2, 2, vocab_field, 8}) put(s, v);
  s.resize(256, '\0');
  return s;
}

// GPT-2's printable bytes as byte-level BPE writes them (the rest map to U+0100 and up).
std::vector<std::string> byte_level_alphabet() {
  std::vector<std::string> out;
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    const unsigned cp = printable ? static_cast<unsigned>(b) : static_cast<unsigned>(next++);
    std::string utf8;
    if (cp < 0x80) {
      utf8 += static_cast<char>(cp);
    } else {
      utf8 += static_cast<char>(0xc0 | (cp >> 6));
      utf8 += static_cast<char>(0x80 | (cp & 0x3f));
    }
    out.push_back(utf8);
  }
  return out;
}

void tokenizer_json_seeds() {
  using nlohmann::json;
  json vocab = json::object();
  for (const std::string& t : byte_level_alphabet()) vocab[t] = vocab.size();
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"\xc4\xa0", "t"}, {"h", "e"}, {"\xc4\xa0t", "he"}, {"i", "n"}, {"\xc4\xa0", "a"}, {"e", "r"}};
  json merge_pairs = json::array(), merge_strings = json::array();
  for (const auto& [a, b] : merges) {
    if (!vocab.contains(a + b)) vocab[a + b] = vocab.size();
    merge_pairs.push_back({a, b});
    merge_strings.push_back(a + " " + b);
  }
  json added = json::array();
  for (const char* special : {"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"})
    added.push_back({{"id", vocab.size() + added.size()}, {"content", special}, {"special", true}});
  const std::string llama3_split =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
      "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  json llama3 = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", llama3_split}}}, {"behavior", "Isolated"}, {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}}},
      {"model", {{"type", "BPE"}, {"ignore_merges", true}, {"vocab", vocab}, {"merges", merge_pairs}}}};
  write("fuzz_tokenizer_json", "llama3-like.json", llama3.dump());
  json gpt2 = llama3;
  gpt2.erase("post_processor");
  gpt2["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  gpt2["model"]["merges"] = merge_strings;
  write("fuzz_tokenizer_json", "gpt2-like.json", gpt2.dump());
  // Found by fuzzing: one token id of 2^24 - 1 built a 1 GB id table.
  json big_id = {{"model", {{"type", "BPE"}, {"vocab", json::object()}, {"merges", json::array()}}},
                 {"pre_tokenizer", {{"type", "ByteLevel"}, {"use_regex", true}}}};
  for (char c = '!'; c <= '~'; ++c) big_id["model"]["vocab"][std::string(1, c)] = c == 'x' ? 16777215 : c - '!';
  write("fuzz_tokenizer_json", "regression-large-id.json", big_id.dump());
}

bool synth(const std::string& arch, const std::string& type, const std::string& head, const fs::path& path) {
  bitnet::SynthOptions options;
  options.arch = arch;
  options.type = type;
  options.head = head;
  const bitnet::Status s = bitnet::synthesize_model(options, path.string());
  if (!s.ok())
    std::fprintf(stderr, "synth %s %s %s: %s\n", arch.c_str(), type.c_str(), head.c_str(), s.message().c_str());
  return s.ok();
}

bool model_seeds() {
  const fs::path dir = fs::path(g_out) / "fuzz_gguf_model";
  fs::create_directories(dir);
  bool ok = true;
  ok &= synth("bitnet", "i2_s", "q8_0", dir / "tiny-i2_s.gguf");
  ok &= synth("bitnet", "tq1_0", "q8_0", dir / "tiny-tq1_0.gguf");
  ok &= synth("bitnet", "tq2_0", "f16", dir / "tiny-tq2_0.gguf");
  ok &= synth("bitnet", "tl2", "q8_0", dir / "tiny-tl2.gguf");
  ok &= synth("bitnet", "f16", "q8_0", dir / "tiny-f16.gguf");  // ternary values in float (repack_float)
  ok &= synth("bitnet-b1.58", "i2_s", "q6_k", dir / "tiny-b1.58.gguf");
  ok &= synth("llama", "i2_s", "q8_0", dir / "tiny-llama-i2_s.gguf");  // ternary Llama-style: no sub-norms
  if (!ok) return false;
  const std::string tiny = read_file(dir / "tiny-i2_s.gguf");
  write("fuzz_tokenizer_gguf", "tiny-model.gguf", tiny);
  // Found by fuzzing: block_count = 2^24 in a file of 24 tensors allocated 23 GB of layers.
  const std::string key = "bitnet.block_count";
  const size_t at = tiny.find(key);
  if (at == std::string::npos) return false;
  std::string patched = tiny;
  const uint32_t lie = 1u << 24;
  std::memcpy(patched.data() + at + key.size() + 4, &lie, 4);  // after the key: u32 value type, then the value
  write("fuzz_gguf_model", "regression-block-count.gguf", patched);
  return true;
}

void request_seeds() {
  // Byte 0: bit 0 chat, bits 1-3 the chat template.
  write("fuzz_request", "completion", std::string(1, '\0') + R"({"prompt":"Hello","max_tokens":4,"stop":["\n"]})");
  write("fuzz_request", "completion-ids", std::string(1, '\0') + R"({"prompt":[1,2,3],"temperature":0.5,"seed":3})");
  write("fuzz_request", "chat",
        std::string(1, '\x01') +
            R"({"messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}],"stream":true,)"
            R"("stream_options":{"include_usage":true},"top_p":0.9,"frequency_penalty":0.5})");
  write("fuzz_request", "chat-parts",
        std::string(1, '\x03') + R"({"messages":[{"role":"user","content":[{"type":"text","text":"a"}]}]})");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR [FIXTURES_DIR]\n", argv[0]);
    return 2;
  }
  g_out = argv[1];
  const fs::path fixtures = argc == 3 ? fs::path(argv[2]) : fs::path();
  if (!model_seeds()) return 1;
  tokenizer_json_seeds();
  request_seeds();
  write("fuzz_llama2c", "float", llama2c_input(llama2c_checkpoint(16), llama2c_tokenizer(16)));
  write("fuzz_llama2c", "float-unshared", llama2c_input(llama2c_checkpoint(-16), llama2c_tokenizer(16)));
  // Found by fuzzing: a vocabulary size of INT32_MIN was negated (signed overflow).
  write("fuzz_llama2c", "regression-vocab-int-min", llama2c_input(llama2c_checkpoint(INT32_MIN).substr(0, 92), ""));
  write("fuzz_llama2c", "regression-ternary-vocab-int-min", llama2c_input(bitllama2c_header(INT32_MIN), ""));
  for (const char* text : {"\x00Hello world! 123", "\x01 the cat\n\n", "\x04<|begin_of_text|>hi<|eot_id|>",
                           "\x0a\xe6\x97\xa5\xe6\x9c\xac \xc3\xb1", "\x03  \t\r\n x"})
    write("fuzz_encode", "text-" + std::to_string(static_cast<unsigned char>(text[0])),
          std::string(text, 1) + (text + 1));
  int from_fixtures = 0;
  const auto fixture = [&](const char* relative, const std::string& target, const std::string& name) {
    const fs::path p = fixtures / relative;
    if (fixtures.empty() || !fs::exists(p)) return std::string();
    ++from_fixtures;
    std::string bytes = read_file(p);
    if (!target.empty()) write(target, name, bytes);
    return bytes;
  };
  fixture("tokenizers/gpt-2/ggml-vocab-gpt-2.gguf", "fuzz_tokenizer_gguf", "gpt-2.gguf");
  fixture("tokenizers/llama-spm/ggml-vocab-llama-spm.gguf", "fuzz_tokenizer_gguf", "llama-spm.gguf");
  fixture("stories260k/tok512.model", "fuzz_tokenizer_model", "tok512.model");
  const std::string tok512 = fixture("stories260k/tok512.bin", "", "");
  const std::string stories = fixture("stories260k/stories260K.bin", "", "");
  const std::string ternary = fixture("tinystories-ternary/bit_model_3M.bin", "", "");
  if (!tok512.empty() && !stories.empty()) write("fuzz_llama2c", "stories260K", llama2c_input(stories, tok512));
  if (!tok512.empty() && !ternary.empty()) write("fuzz_llama2c", "bit_model_3M", llama2c_input(ternary, tok512));
  std::printf("seeds written to %s (%d files from the fixtures%s)\n", g_out.c_str(), from_fixtures,
              from_fixtures == 0 ? ": none found, so fuzz_tokenizer_model has no seeds" : "");
  return 0;
}
