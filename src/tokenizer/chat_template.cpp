// Chat template rendering for the formats this engine recognises. Each renderer writes what its reference
// Jinja template (named at the renderer) produces, character for character; nothing here executes Jinja.
#include "tokenizer/chat_template.hpp"

#include <cctype>

namespace bitnet::chat {
namespace {

struct NamedFormat {
  const char* name;
  ChatFormat format;
};
constexpr NamedFormat kFormats[] = {
    {"bitnet", ChatFormat::kBitnet},
    {"llama3", ChatFormat::kLlama3},
    {"llama2", ChatFormat::kLlama2},
    {"chatml", ChatFormat::kChatml},
};

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Jinja's `trim` filter (Python str.strip): leading and trailing whitespace go.
std::string trim(std::string_view s) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  size_t b = 0, e = s.size();
  while (b < e && space(s[b])) ++b;
  while (e > b && space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

// Jinja's `capitalize` filter (Python str.capitalize): first character upper case, the rest lower case.
std::string capitalize(std::string_view s) {
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    out[i] = static_cast<char>(i == 0 ? std::toupper(c) : std::tolower(c));
  }
  return out;
}

// microsoft/bitnet-b1.58-2B-4T tokenizer_config.json: Llama 3's loop with the header replaced by
// `role | capitalize + ': '`; each turn is "Role: content<|eot_id|>", bos_token before the first, and
// "Assistant: " as the generation prompt.
std::string render_bitnet(const std::vector<ChatMessage>& messages, bool add_gen, const SpecialTexts& sp) {
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i == 0) out += sp.bos;
    out += capitalize(messages[i].role) + ": " + trim(messages[i].content) + "<|eot_id|>";
  }
  if (add_gen) out += "Assistant: ";
  return out;
}

// meta-llama/Meta-Llama-3-8B-Instruct tokenizer_config.json: "<|start_header_id|>role<|end_header_id|>\n\n"
// + trimmed content + "<|eot_id|>", bos_token before the first turn.
std::string render_llama3(const std::vector<ChatMessage>& messages, bool add_gen, const SpecialTexts& sp) {
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i == 0) out += sp.bos;
    out +=
        "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n" + trim(messages[i].content) + "<|eot_id|>";
  }
  if (add_gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// meta-llama/Llama-2-7b-chat-hf tokenizer_config.json: an optional leading system message is folded into the
// first user turn as "<<SYS>>\n...\n<</SYS>>\n\n"; user turns are bos + "[INST] " + strip(content) + " [/INST]",
// assistant turns " " + strip(content) + " " + eos. Roles must alternate user/assistant (the template raises
// otherwise), and the "[/INST]" already is the generation prompt.
Result<std::string> render_llama2(const std::vector<ChatMessage>& messages, const SpecialTexts& sp) {
  size_t first = 0;
  std::string system;
  bool has_system = false;
  if (!messages.empty() && messages[0].role == "system") {
    system = messages[0].content;
    has_system = true;
    first = 1;
  }
  std::string out;
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const bool expect_user = (i - first) % 2 == 0;
    if ((m.role == "user") != expect_user || (!expect_user && m.role != "assistant"))
      return invalid_argument("llama2 chat template: message " + std::to_string(i + 1) + " has role '" + m.role +
                              "'; after an optional first system message, roles must alternate user/assistant");
    std::string content = m.content;
    if (i == first && has_system) content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
    if (expect_user)
      out += sp.bos + "[INST] " + trim(content) + " [/INST]";
    else  // appended piece by piece: GCC 12 warns falsely (-Wrestrict) on " " + std::string&&
      out.append(" ").append(trim(content)).append(" ").append(sp.eos);
  }
  return out;
}

// ChatML (as llama.cpp's chatml renderer and the common Hugging Face templates): "<|im_start|>role\ncontent
// <|im_end|>\n" per message, content untouched, no BOS.
std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_gen) {
  std::string out;
  for (const ChatMessage& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (add_gen) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace

const std::vector<std::string>& format_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const NamedFormat& f : kFormats) v.emplace_back(f.name);
    return v;
  }();
  return names;
}

std::string_view format_name(ChatFormat format) {
  for (const NamedFormat& f : kFormats)
    if (f.format == format) return f.name;
  return "unknown";
}

std::string format_name_list() {
  std::string out;
  for (const NamedFormat& f : kFormats) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

Result<ChatFormat> format_from_name(std::string_view name) {
  for (const NamedFormat& f : kFormats)
    if (name == f.name) return f.format;
  return invalid_argument("unknown chat template '" + std::string(name) + "'; known: " + format_name_list());
}

// Substring tests in the spirit of llama.cpp's llm_chat_detect_template; the order matters where families
// share tokens (BitNet's template uses Llama 3's <|eot_id|> but no header tokens).
Result<ChatFormat> detect_format(std::string_view jinja) {
  if (contains(jinja, "<|im_start|>")) return ChatFormat::kChatml;
  if (contains(jinja, "[INST]")) return ChatFormat::kLlama2;
  if (contains(jinja, "<|start_header_id|>") && contains(jinja, "<|end_header_id|>")) return ChatFormat::kLlama3;
  // The Hugging Face template ("'Assistant: '" with "<|eot_id|>"), and the placeholder Microsoft's GGUF
  // converter wrote into the released 2B-4T GGUF ("Human: ... BITNETAssistant: "): the model was trained on
  // the former, so both render as BitNet's Hugging Face format.
  if ((contains(jinja, "<|eot_id|>") && contains(jinja, "'Assistant: '")) || contains(jinja, "BITNETAssistant"))
    return ChatFormat::kBitnet;
  return unsupported(
      "the model's chat template is not one this engine recognises (templates are matched, not "
      "executed); choose one with --chat-template: " +
      format_name_list());
}

Result<ChatFormat> resolve_format(std::string_view name, std::string_view model_template) {
  if (!name.empty()) {
    auto by_name = format_from_name(name);
    if (by_name.ok()) return by_name;
    // A Jinja string passed instead of a name is recognised like the model's own.
    if (contains(name, "{%") || contains(name, "{{")) return detect_format(name);
    return by_name.status();
  }
  if (model_template.empty())
    return not_found("the model has no chat template (tokenizer.chat_template); choose one with --chat-template: " +
                     format_name_list());
  return detect_format(model_template);
}

Result<std::string> render(ChatFormat format, const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                           const SpecialTexts& special) {
  switch (format) {
    case ChatFormat::kBitnet:
      return render_bitnet(messages, add_generation_prompt, special);
    case ChatFormat::kLlama3:
      return render_llama3(messages, add_generation_prompt, special);
    case ChatFormat::kLlama2:
      return render_llama2(messages, special);
    case ChatFormat::kChatml:
      return render_chatml(messages, add_generation_prompt);
  }
  return internal_error("unhandled chat format");
}

}  // namespace bitnet::chat
