// bitnet-cli chat: an interactive multi-turn conversation on stdin/stdout. Each turn appends only the new
// text of the rendered conversation to the model's context, so earlier turns stay in the KV cache.
#include <cstdio>
#include <iostream>
#include <optional>
#include <random>

#include "bitnet/bitnet.hpp"
#include "commands.hpp"

namespace bitnet::cli {
namespace {

struct ChatArgs {
  std::string model;
  std::string chat_template;
  std::string system;
  int n_predict = 256;
  SamplingArgs sampling;
  int threads = 0;
  int ctx_size = 0;
  LoadArgs load;
  bool verbose = false;
};

// The conversation, and whether the model's context holds it (false at the start and after /reset).
struct Conversation {
  std::vector<ChatMessage> messages;
  bool in_context = false;
};

void reset(Conversation& c, const std::string& system) {
  c.messages.clear();
  if (!system.empty()) c.messages.push_back({"system", system});
  c.in_context = false;
}

// The text a new user turn appends to a context that ends with the model's reply: the end of the
// assistant's turn as the template writes it (found by rendering a marker in place of the reply: the model
// stopped before that text, or was cut off) plus what the full rendering adds after the earlier turns.
// nullopt when the template's renderings do not extend one another; the caller then starts over.
std::optional<std::string> new_turn_text(const Model& m, const std::vector<ChatMessage>& messages,
                                         const std::string& full, const std::string& template_name) {
  constexpr char kMarker = '\x1f';  // no template trims or rewrites it
  if (messages.size() < 2 || messages[messages.size() - 2].role != "assistant") return std::nullopt;
  std::vector<ChatMessage> before(messages.begin(), messages.end() - 1);
  auto prev = m.apply_chat_template(before, false, template_name);
  before.back().content = std::string(1, kMarker);
  auto marked = m.apply_chat_template(before, false, template_name);
  if (!prev.ok() || !marked.ok() || full.compare(0, prev->size(), prev.value()) != 0) return std::nullopt;
  const size_t at = marked->rfind(kMarker);
  if (at == std::string::npos) return std::nullopt;
  return marked->substr(at + 1) + full.substr(prev->size());
}

// Prints the reply as it streams, without the space SentencePiece puts before its first word.
TokenCallback printer(bool& started) {
  return [&started](std::string_view piece, int32_t) {
    if (!started) {
      const size_t first = piece.find_first_not_of(" \t\n");
      if (first == std::string_view::npos) return true;
      piece.remove_prefix(first);
      started = true;
    }
    std::cout << piece << std::flush;
    return true;
  };
}

int run_chat(const ChatArgs& a) {
  LoadOptions lo;
  lo.n_threads = a.threads;
  lo.n_ctx = a.ctx_size;
  if (std::string err; !apply_load_options(a.load, lo, err)) return fail(err);
  auto loaded = Model::load(a.model, lo);
  if (!loaded.ok()) return fail(loaded.status().to_string());
  Model& m = *loaded.value();
  note_load(m.info());
  // Fail before the first prompt when no template can be chosen.
  if (auto probe = m.apply_chat_template({{"user", "hi"}}, true, a.chat_template); !probe.ok())
    return fail(probe.status().to_string());

  GenerationConfig cfg;
  cfg.max_tokens = a.n_predict;
  apply_sampling(a.sampling, cfg);

  Conversation conv;
  reset(conv, a.system);
  int turn = 0;
  std::string line;
  while (true) {
    std::cout << "> " << std::flush;
    if (!std::getline(std::cin, line)) {
      std::cout << "\n";
      return 0;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line == "/reset") {
      reset(conv, a.system);
      m.clear_context();
      std::cout << "(conversation reset)\n";
      continue;
    }
    conv.messages.push_back({"user", line});
    auto full = m.apply_chat_template(conv.messages, true, a.chat_template);
    if (!full.ok()) return fail(full.status().to_string());

    // Earlier turns stay in the context as the model wrote them; only the new turn's text is evaluated.
    std::optional<std::string> turn_text;
    if (conv.in_context) turn_text = new_turn_text(m, conv.messages, full.value(), a.chat_template);
    const bool reuse = turn_text.has_value();
    const std::string new_text = reuse ? turn_text.value() : full.value();
    auto ids = m.tokenize(new_text, false, true);
    if (!ids.ok()) return fail(ids.status().to_string());
    bool started = false;
    auto res = reuse ? m.generate_continue(ids.value(), cfg, printer(started))
                     : m.generate_ids(ids.value(), cfg, printer(started));
    std::cout << "\n" << std::flush;
    if (!res.ok()) {
      conv.messages.pop_back();
      if (res.status().code() == StatusCode::kOutOfRange || res.status().code() == StatusCode::kInvalidArgument) {
        std::fprintf(stderr,
                     "error: the conversation no longer fits the context of %d tokens (%s); type /reset to start "
                     "over, or raise --ctx-size\n",
                     m.info().n_ctx, res.status().message().c_str());
        continue;
      }
      return fail(res.status().to_string());
    }
    const GenerationResult& r = res.value();
    ++turn;
    conv.in_context = true;
    conv.messages.push_back({"assistant", r.text});
    if (a.verbose)
      std::fprintf(stderr,
                   "[chat] turn=%d new_tokens=%zu generated=%zu context=%lld/%d reused=%s prompt_ms=%.1f "
                   "generate_ms=%.1f stop=%s\n",
                   turn, r.prompt_tokens.size(), r.tokens.size(), static_cast<long long>(r.n_context), m.info().n_ctx,
                   reuse ? "yes" : "no", r.prompt_ms, r.generate_ms, r.stop_reason.c_str());
    if (r.stop_reason == "context")
      std::fprintf(stderr, "warning: the context of %d tokens is full; type /reset to start over\n", m.info().n_ctx);
  }
}

}  // namespace

void add_chat(CLI::App& app, std::vector<Command>& out) {
  auto a = std::make_shared<ChatArgs>();
  CLI::App* sub = app.add_subcommand(
      "chat",
      "Interactive chat: type a message after \"> \", the answer streams back; earlier turns stay in the context. "
      "/reset starts over; end of input (Ctrl-D) quits");
  sub->add_option("-m,--model", a->model, "Model file (GGUF)")->required()->check(CLI::ExistingFile);
  sub->add_option("--chat-template", a->chat_template,
                  "Chat format: bitnet, llama3, llama2 or chatml (default: recognised from the model's "
                  "tokenizer.chat_template; templates are matched, not executed)");
  sub->add_option("--system", a->system, "System message opening the conversation");
  sub->add_option("-n,--n-predict", a->n_predict, "Tokens to generate at most per answer")
      ->check(at_least(0))
      ->capture_default_str();
  add_sampling_options(sub, a->sampling);
  sub->add_option("-t,--threads", a->threads, "Threads (default: one per CPU this process may run on)")
      ->check(at_least(0));
  sub->add_option("-c,--ctx-size", a->ctx_size, "Context size in tokens (default: the model's, at most 4096)")
      ->check(at_least(0));
  add_load_options(sub, a->load);
  sub->add_flag("-v,--verbose", a->verbose,
                "After each answer, print to stderr the tokens evaluated, generated and held in the context");
  out.push_back({sub, [a] { return run_chat(*a); }});
}

}  // namespace bitnet::cli
