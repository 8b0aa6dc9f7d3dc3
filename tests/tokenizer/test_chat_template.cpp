// Chat templates: each format rendered for a small conversation equals the text its reference Jinja template
// produces (written out by hand from the template, source named per test), and recognition of real templates.
#include <gtest/gtest.h>

#include "tokenizer/chat_template.hpp"

namespace bitnet::chat {
namespace {

const SpecialTexts kLlama3Specials{"<|begin_of_text|>", "<|end_of_text|>"};
const SpecialTexts kLlama2Specials{"<s>", "</s>"};

// System, user, and an assistant reply with surrounding spaces (the templates that trim must drop them).
std::vector<ChatMessage> conversation() {
  return {{"system", "You are terse."}, {"user", "Hi there"}, {"assistant", " Hello! "}};
}

std::string render_ok(ChatFormat f, const std::vector<ChatMessage>& msgs, bool add_gen, const SpecialTexts& sp) {
  auto r = render(f, msgs, add_gen, sp);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? r.value() : std::string();
}

// microsoft/bitnet-b1.58-2B-4T tokenizer_config.json: bos_token + "Role: " + trim(content) + "<|eot_id|>" per
// message (role capitalised), "Assistant: " as the generation prompt.
TEST(ChatTemplate, BitnetRendersRoleColonTurns) {
  EXPECT_EQ(render_ok(ChatFormat::kBitnet, conversation(), true, kLlama3Specials),
            "<|begin_of_text|>System: You are terse.<|eot_id|>User: Hi there<|eot_id|>Assistant: Hello!<|eot_id|>"
            "Assistant: ");
  // The example the Hugging Face transformers BitNet PR gives (quoted in ik_llama.cpp issue #339).
  EXPECT_EQ(
      render_ok(ChatFormat::kBitnet, {{"user", "Hey, are you conscious? Can you talk to me?"}}, true, kLlama3Specials),
      "<|begin_of_text|>User: Hey, are you conscious? Can you talk to me?<|eot_id|>Assistant: ");
}

// meta-llama/Meta-Llama-3-8B-Instruct tokenizer_config.json.
TEST(ChatTemplate, Llama3RendersHeaders) {
  EXPECT_EQ(render_ok(ChatFormat::kLlama3, conversation(), true, kLlama3Specials),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render_ok(ChatFormat::kLlama3, {{"user", "x"}}, false, kLlama3Specials),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>");
}

// meta-llama/Llama-2-7b-chat-hf tokenizer_config.json: the system message folded into the first [INST].
TEST(ChatTemplate, Llama2FoldsSystemIntoFirstInst) {
  EXPECT_EQ(render_ok(ChatFormat::kLlama2, conversation(), true, kLlama2Specials),
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello! </s>");
  std::vector<ChatMessage> two_turns = conversation();
  two_turns.push_back({"user", "More?"});
  EXPECT_EQ(render_ok(ChatFormat::kLlama2, two_turns, true, kLlama2Specials),
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello! </s><s>[INST] More? [/INST]");
}

TEST(ChatTemplate, Llama2RejectsRolesThatDoNotAlternate) {
  auto r = render(ChatFormat::kLlama2, {{"user", "a"}, {"user", "b"}}, true, kLlama2Specials);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("alternate"), std::string::npos) << r.status().to_string();
}

// ChatML as llama.cpp's chatml renderer writes it: content untouched, no BOS.
TEST(ChatTemplate, ChatmlRendersImStartBlocks) {
  EXPECT_EQ(render_ok(ChatFormat::kChatml, conversation(), true, kLlama3Specials),
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
            "<|im_start|>assistant\n Hello! <|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, NamesResolveAndUnknownNamesAreListed) {
  for (const std::string& name : format_names()) {
    auto f = format_from_name(name);
    ASSERT_TRUE(f.ok()) << name;
    EXPECT_EQ(format_name(f.value()), name);
  }
  auto bad = resolve_format("vicuna", "");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bitnet, llama3, llama2, chatml"), std::string::npos)
      << bad.status().to_string();
  auto none = resolve_format("", "");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no chat template"), std::string::npos) << none.status().to_string();
}

// Short excerpts of the real templates: each family is recognised by what only it writes.
TEST(ChatTemplate, DetectsRealTemplates) {
  struct Case {
    const char* jinja;
    ChatFormat want;
  };
  const Case cases[] = {
      // microsoft/bitnet-b1.58-2B-4T tokenizer_config.json
      {"{% set content = message['role'] | capitalize + ': '+ message['content'] | trim + '<|eot_id|>' %}"
       "{% if add_generation_prompt %}{{ 'Assistant: ' }}{% endif %}",
       ChatFormat::kBitnet},
      // the placeholder in Microsoft's bitnet-b1.58-2B-4T GGUF (Human: / BITNETAssistant: labels)
      {"{{ 'Human: ' + message['content'] + '\\n\\nBITNETAssistant: ' + eos_token }}", ChatFormat::kBitnet},
      // meta-llama/Meta-Llama-3-8B-Instruct
      {"{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | "
       "trim + '<|eot_id|>' %}",
       ChatFormat::kLlama3},
      // meta-llama/Llama-2-7b-chat-hf
      {"{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}", ChatFormat::kLlama2},
      // ChatML (e.g. teknium/OpenHermes-2.5-Mistral-7B)
      {"{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}", ChatFormat::kChatml},
  };
  for (const Case& c : cases) {
    auto f = detect_format(c.jinja);
    ASSERT_TRUE(f.ok()) << c.jinja << ": " << f.status().to_string();
    EXPECT_EQ(f.value(), c.want) << c.jinja;
    // The model's template is used when no name is given; a Jinja string given as the name works too.
    EXPECT_EQ(resolve_format("", c.jinja).value(), c.want);
    EXPECT_EQ(resolve_format(c.jinja, "").value(), c.want);
  }
  // A name wins over the model's template.
  EXPECT_EQ(resolve_format("chatml", cases[0].jinja).value(), ChatFormat::kChatml);
}

TEST(ChatTemplate, UnrecognisedTemplateIsAClearError) {
  // google/gemma-7b-it: a family this engine does not render.
  auto f = detect_format("{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("--chat-template"), std::string::npos) << f.status().to_string();
  EXPECT_FALSE(detect_format("").ok());
}

}  // namespace
}  // namespace bitnet::chat
