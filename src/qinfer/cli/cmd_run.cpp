// qinfer run: prompt → streamed continuation.
#include <cstdio>
#include <memory>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/cli/kv_args.h"
#include "qinfer/cli/model_args.h"
#include "qinfer/cli/placement.h"
#include "qinfer/core/error.h"
#include "qinfer/core/read_file.h"
#include "qinfer/core/warn.h"
#include "qinfer/runtime/chat_template.h"
#include "qinfer/runtime/generate.h"

namespace qinfer::cli {

namespace {

struct RunArgs {
  ModelArgs model;
  KvArgs kv;
  std::string prompt = "Once upon a time";
  std::string prompt_file;
  std::string system;
  std::string chat_template_file;
  int n_predict = 128;
  int n_ctx = 0;
  int n_batch = 512;
  bool chat = false;
  bool verbose_prompt = false;
  bool quiet_stats = false;
  SamplerParams sampling;
  PlacementArgs placement;
};

// Holds back an incomplete UTF-8 sequence so a character split across tokens
// reaches the terminal whole.
class Utf8Out {
 public:
  void write(const std::string& bytes) {
    pending_ += bytes;
    size_t cut = complete_prefix(pending_);
    std::fwrite(pending_.data(), 1, cut, stdout);
    std::fflush(stdout);
    pending_.erase(0, cut);
  }
  void flush() {
    std::fwrite(pending_.data(), 1, pending_.size(), stdout);
    pending_.clear();
  }

 private:
  static size_t complete_prefix(const std::string& s) {
    // Walk back over at most 3 continuation bytes to the last lead byte.
    size_t n = s.size();
    for (size_t back = 1; back <= 4 && back <= n; ++back) {
      const unsigned char c = static_cast<unsigned char>(s[n - back]);
      if ((c & 0xC0) == 0x80) continue;  // continuation
      const size_t need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
      return need <= back ? n : n - back;
    }
    return n;
  }
  std::string pending_;
};

void run(const RunArgs& a) {
  const DeviceChoice device = choose_device(a.placement);
  ModelArgs margs = a.model;
  margs.model = model_path_from_args(a.model);
  check_memory_fits(a.placement, device, margs.model, {a.n_ctx, 1, a.n_batch, a.model.threads, 1, a.kv});
  auto model = load_model_from_args(margs);
  const Tokenizer& tok = *model->tokenizer;
  std::string text = a.prompt_file.empty() ? a.prompt : read_whole_file(a.prompt_file);
  bool parse_special = false;
  // A system message only means something in a conversation, so --system (or
  // a template file) turns chat mode on rather than being ignored.
  const bool chat = a.chat || !a.system.empty() || !a.chat_template_file.empty();
  if (chat && !a.chat) std::fprintf(stderr, "qinfer: %s implies --chat\n", a.system.empty() ? "--chat-template" : "--system");
  if (chat) {
    const std::string override_source = a.chat_template_file.empty() ? "" : read_whole_file(a.chat_template_file);
    const ChatPlan plan = plan_chat(tok, override_source, a.chat_template_file);
    std::fprintf(stderr, "qinfer: chat format: %s\n", plan.reason.c_str());
    ChatInput in;
    std::vector<ChatMessage> msgs;
    if (!a.system.empty()) msgs.push_back({"system", a.system});
    msgs.push_back({"user", text});
    in.messages = messages_to_json(msgs);
    text = apply_chat(plan, in);
    parse_special = plan.kind != ChatPlan::Kind::PlainText;
  }
  std::vector<int32_t> prompt = tok.encode(text, true, parse_special);
  if (prompt.empty()) throw InputError("the prompt tokenizes to nothing");

  ContextParams cp;
  cp.n_ctx = a.n_ctx;
  cp.n_batch = a.n_batch;
  cp.n_threads = a.model.threads;
  apply_kv_args(a.kv, *model, cp);
  Context ctx(*model, cp);
  if (int(prompt.size()) >= ctx.n_ctx())
    throw InputError("prompt of " + std::to_string(prompt.size()) + " tokens does not fit the context of " +
                     std::to_string(ctx.n_ctx()) + " tokens (raise -c)");
  if (!a.quiet_stats && a.kv.given()) std::fprintf(stderr, "%s\n", describe_kv(*model, cp.cache_type, cp.kv_block).c_str());

  // generate() stops when the context is full: the prompt leaves room for this many tokens.
  const int room = ctx.n_ctx() - int(prompt.size()) + 1;
  if (a.n_predict > room)
    warn("-n " + std::to_string(a.n_predict) + " does not fit: the prompt's " + std::to_string(prompt.size()) +
         " tokens leave room for " + std::to_string(room) + " more in the context of " + std::to_string(ctx.n_ctx()) +
         " tokens (-c); generation will stop there");
  if (a.verbose_prompt) {
    std::fprintf(stderr, "prompt: %zu tokens:", prompt.size());
    for (int32_t t : prompt) std::fprintf(stderr, " %d", t);
    std::fprintf(stderr, "\n");
  }
  Utf8Out out;
  if (!chat) out.write(text);
  GenerateParams gp;
  gp.n_predict = a.n_predict;
  gp.sampling = a.sampling;
  GenerateStats st = generate(ctx, prompt, gp, [&](int32_t t) {
    out.write(tok.token_to_piece(t, false));
    return true;
  });
  out.flush();
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (!a.quiet_stats) {
    const double pp = st.prompt_ms > 0 ? st.n_prompt * 1000.0 / st.prompt_ms : 0;
    const int decoded = std::max(0, st.n_generated - 1);  // the first token comes from the prefill
    const double tg = st.generate_ms > 0 ? decoded * 1000.0 / st.generate_ms : 0;
    const bool context_full = !st.stopped_at_eog && st.n_generated >= room;
    const std::string stop = st.stopped_at_eog ? ", stopped at end of text"
                             : context_full    ? ", stopped at the end of the context (" + std::to_string(ctx.n_ctx()) + " tokens)"
                                               : "";
    std::fprintf(stderr, "\nprompt: %d tokens in %.1f ms (%.1f tok/s); generated: %d tokens (%.1f tok/s)%s\n",
                 st.n_prompt, st.prompt_ms, pp, st.n_generated, tg, stop.c_str());
  }
}

}  // namespace

void define_run(CLI::App& cmd) {
  auto a = std::make_shared<RunArgs>();
  add_model_args(cmd, a->model);
  add_load_in_arg(cmd, a->model);
  add_kv_args(cmd, a->kv);
  cmd.add_option("-p,--prompt", a->prompt, "prompt text")->capture_default_str();
  cmd.add_option("-f,--file", a->prompt_file, "read the prompt from a file");
  cmd.add_option("-n,--n-predict", a->n_predict, "tokens to generate")
      ->capture_default_str()->check(Allowed::ints(0).or_value(-1, "until end of text or a full context"));
  cmd.add_option("-c,--ctx-size", a->n_ctx, "context size (default: the model's, at most 4096)")->check(Allowed::ints(1, 1 << 22));
  cmd.add_option("-b,--batch-size", a->n_batch, "prompt tokens per forward pass")->check(Allowed::ints(1));
  cmd.add_option("--temp", a->sampling.temp, "temperature (0: greedy)")->capture_default_str()->check(Allowed::reals(0));
  cmd.add_option("--top-k", a->sampling.top_k, "top-k sampling (0: off)")->capture_default_str()->check(Allowed::ints(0));
  cmd.add_option("--top-p", a->sampling.top_p, "top-p sampling (1: off)")->capture_default_str()->check(Allowed::reals(0, 1));
  cmd.add_option("--min-p", a->sampling.min_p, "min-p sampling (0: off)")->capture_default_str()->check(Allowed::reals(0, 1));
  cmd.add_option("--repeat-penalty", a->sampling.repeat_penalty, "repetition penalty (1: off)")
      ->capture_default_str()->check(Allowed::reals(0).above());
  cmd.add_option("--repeat-last-n", a->sampling.repeat_last_n, "tokens the penalty looks back over")
      ->capture_default_str()->check(Allowed::ints(0));
  add_seed_option(cmd, a->sampling.seed, "random seed (default: random)");
  cmd.add_flag("--chat", a->chat, "apply the model's chat template to the prompt as a user message");
  cmd.add_option("--system", a->system, "system message (implies --chat)");
  cmd.add_option("--chat-template", a->chat_template_file, "Jinja chat template file to use instead of the model's (implies --chat)");
  cmd.add_flag("--verbose-prompt", a->verbose_prompt, "print the prompt token ids");
  cmd.add_flag("--no-stats", a->quiet_stats, "do not print timings");
  add_placement_args(cmd, a->placement);
  cmd.callback([a] { run(*a); });
}

}  // namespace qinfer::cli
