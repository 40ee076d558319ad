// Chat prompts from a model's Jinja template: llama.cpp's BOS/EOS handling,
// the choice between the model's template, a built-in format and plain text
// (and the reason given), errors, and what `info` reports.
#include <gtest/gtest.h>

#include <fstream>

#include "qinfer/core/error.h"
#include "qinfer/runtime/chat_template.h"
#include "qinfer/tokenizer/tokenizer.h"
#include "test_util.h"

using namespace qinfer;
using nlohmann::ordered_json;

namespace {

// A small SentencePiece vocabulary: <unk> <s> </s>, bytes, letters, and the given control tokens.
Tokenizer make_tokenizer(const std::vector<std::string>& specials, const std::string& chat_template = "") {
  VocabData v;
  v.kind = VocabKind::kSpm;
  v.model = "llama";
  auto add = [&](const std::string& text, int32_t type) {
    v.tokens.push_back(text);
    v.scores.push_back(0);
    v.types.push_back(type);
  };
  add("<unk>", kTokUnknown);
  add("<s>", kTokControl);
  add("</s>", kTokControl);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    add(buf, kTokByte);
  }
  for (const char* piece : {"▁", "a", "b", "c", "▁hello"}) add(piece, kTokNormal);
  for (const auto& s : specials) add(s, kTokControl);
  v.unk = 0;
  v.bos = 1;
  v.eos = 2;
  v.add_bos = true;
  v.chat_template = chat_template;
  finalize_special_tokens(v);
  return Tokenizer(std::move(v));
}

ChatInput conversation(bool add_generation_prompt = true) {
  ChatInput in;
  in.messages = ordered_json::parse(R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])");
  in.add_generation_prompt = add_generation_prompt;
  return in;
}

const char* kChatML =
    "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

TEST(ChatTemplate, RenderKeepsBosAndApplyDropsTheOneTheTokenizerAdds) {
  const ChatTemplate t(kChatML, ChatTokens{"<s>", "</s>", true, false});
  const std::string rendered = t.render(conversation());
  EXPECT_EQ(rendered, "<s><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(t.apply(conversation()), rendered.substr(3));
  // A tokenizer that adds no BOS keeps the template's.
  EXPECT_EQ(ChatTemplate(kChatML, ChatTokens{"<s>", "</s>", false, false}).apply(conversation()), rendered);
  // A trailing EOS goes when the tokenizer appends one itself.
  const ChatTemplate e("{{ messages[0].content }}{{ eos_token }}", ChatTokens{"", "</s>", false, true});
  EXPECT_EQ(e.render(conversation()), "Be brief.</s>");
  EXPECT_EQ(e.apply(conversation()), "Be brief.");
}

TEST(ChatTemplate, PassesToolsDocumentsAndExtraVariables) {
  const ChatTemplate t(
      "{{ tools | tojson }}|{{ documents }}|{{ enable_thinking | default('unset') }}|{{ messages[0].content[0].text }}",
      ChatTokens{});
  ChatInput in;
  in.messages = ordered_json::parse(R"([{"role": "user", "content": [{"type": "text", "text": "parts"}]}])");
  in.tools = ordered_json::parse(R"([{"type": "function", "function": {"name": "f"}}])");
  EXPECT_EQ(t.render(in), R"([{"type": "function", "function": {"name": "f"}}]|None|unset|parts)");
  in.extra["enable_thinking"] = false;
  EXPECT_EQ(t.render(in), R"([{"type": "function", "function": {"name": "f"}}]|None|False|parts)");
}

TEST(ChatTemplate, ErrorsAreInputErrorsThatSayWhy) {
  try {
    ChatTemplate("{% for m in messages %}\n{{ m.content }\n{% endfor %}", ChatTokens{});
    FAIL() << "parsed";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("chat template: TemplateSyntaxError: ", 0), 0u) << what;
    EXPECT_NE(what.find("(template line 2)"), std::string::npos) << what;
  }
  const ChatTemplate t("{% if messages[0].role != 'user' %}{{ raise_exception('Conversation must start with a user message') }}{% endif %}",
                       ChatTokens{});
  try {
    t.render(conversation());
    FAIL() << "rendered";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "chat template: Conversation must start with a user message (template line 1)");
  }
  ChatInput bad;
  bad.messages = ordered_json::object();
  EXPECT_THROW(t.render(bad), InputError);
}

TEST(ChatPlan, TheModelsTemplateComesFirst) {
  const Tokenizer tok = make_tokenizer({"<|im_start|>", "<|im_end|>"}, kChatML);
  const ChatPlan plan = plan_chat(tok);
  ASSERT_EQ(plan.kind, ChatPlan::Kind::Template);
  EXPECT_NE(plan.reason.find("the model's chat template"), std::string::npos) << plan.reason;
  EXPECT_NE(plan.reason.find("chatml-like"), std::string::npos) << plan.reason;
  // The tokenizer adds <s>: the prompt text does not repeat it.
  EXPECT_EQ(apply_chat(plan, conversation()).rfind("<|im_start|>system", 0), 0u);
  const ChatPlan other = plan_chat(tok, "{{ messages[-1].content }}!", "my.jinja");
  ASSERT_EQ(other.kind, ChatPlan::Kind::Template);
  EXPECT_NE(other.reason.find("my.jinja"), std::string::npos) << other.reason;
  EXPECT_EQ(apply_chat(other, conversation()), "Hi!");
  EXPECT_THROW(plan_chat(tok, "{% if %}"), InputError);  // a broken template is an error, not a fallback
}

TEST(ChatPlan, WithoutATemplateABuiltInFormatWhoseTokensTheVocabularyHas) {
  const ChatPlan chatml = plan_chat(make_tokenizer({"<|im_start|>", "<|im_end|>"}));
  ASSERT_EQ(chatml.kind, ChatPlan::Kind::BuiltIn);
  EXPECT_EQ(chatml.format, ChatFormat::ChatML);
  EXPECT_NE(chatml.reason.find("no chat template"), std::string::npos) << chatml.reason;
  EXPECT_EQ(apply_chat(chatml, conversation()),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  const ChatPlan llama3 = plan_chat(make_tokenizer({"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}));
  ASSERT_EQ(llama3.kind, ChatPlan::Kind::BuiltIn);
  EXPECT_EQ(llama3.format, ChatFormat::Llama3);
}

TEST(ChatPlan, PlainTextWhenTheVocabularyHasNoChatTokens) {
  const ChatPlan plan = plan_chat(make_tokenizer({}));
  ASSERT_EQ(plan.kind, ChatPlan::Kind::PlainText);
  EXPECT_NE(plan.reason.find("plain text"), std::string::npos) << plan.reason;
  EXPECT_EQ(apply_chat(plan, conversation()), "Be brief.\nHi");
}

TEST(ChatTemplate, InfoDescribesTheTemplate) {
  const std::string d = describe_chat_template(kChatML, ChatTokens{"<s>", "</s>", true, false});
  EXPECT_NE(d.find("chatml family"), std::string::npos) << d;
  EXPECT_NE(d.find("renders a system + user conversation"), std::string::npos) << d;
  const std::string bad = describe_chat_template("{{ raise_exception('no system role') }}", ChatTokens{});
  EXPECT_NE(bad.find("unrecognised family"), std::string::npos) << bad;
  EXPECT_NE(bad.find("does not render"), std::string::npos) << bad;
  EXPECT_NE(bad.find("no system role"), std::string::npos) << bad;
}

TEST(ChatTemplate, Llama32TemplateWithTheLlama3Tokens) {
  QINFER_REQUIRE_DATA("templates/meta-llama-Llama-3.2-3B-Instruct.jinja");
  std::ifstream f(test::data_path("templates/meta-llama-Llama-3.2-3B-Instruct.jinja"));
  const std::string source((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const ChatTemplate t(source, ChatTokens{"<|begin_of_text|>", "<|eot_id|>", true, false});
  const std::string text = t.apply(conversation());
  EXPECT_EQ(text.rfind("<|start_header_id|>system<|end_header_id|>\n\n", 0), 0u) << text;
  EXPECT_NE(text.find("Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"), std::string::npos);
  const std::string tail = "<|start_header_id|>assistant<|end_header_id|>\n\n";
  EXPECT_EQ(text.substr(text.size() - tail.size()), tail);
}

}  // namespace
