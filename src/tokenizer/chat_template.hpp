// Chat templates: turns a list of {role, content} messages into the prompt text a chat model was trained on.
// Templates are recognised (by name, or by distinctive substrings of a GGUF's Jinja string), not executed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bitnet/bitnet.hpp"

namespace bitnet::chat {

enum class ChatFormat { kBitnet, kLlama3, kLlama2, kChatml };

// The names --chat-template accepts, in the order error messages list them.
const std::vector<std::string>& format_names();
std::string_view format_name(ChatFormat format);
// "bitnet, llama3, llama2, chatml" (for error messages).
std::string format_name_list();

// A known name, or an error listing the names.
Result<ChatFormat> format_from_name(std::string_view name);
// Recognises a Hugging Face / GGUF Jinja template by substrings only its family writes (as llama.cpp's
// llm_chat_detect_template does); an error when none matches.
Result<ChatFormat> detect_format(std::string_view jinja);
// `name` if given (a known name, or a Jinja string to recognise); otherwise the model's template.
Result<ChatFormat> resolve_format(std::string_view name, std::string_view model_template);

// What the Jinja templates call bos_token / eos_token: the vocabulary's texts for those tokens.
struct SpecialTexts {
  std::string bos;
  std::string eos;
};

// The text the format's reference template renders. The BOS text appears where the template writes
// bos_token, so callers tokenize the result with add_bos = false and parse_special = true.
Result<std::string> render(ChatFormat format, const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                           const SpecialTexts& special);

}  // namespace bitnet::chat
