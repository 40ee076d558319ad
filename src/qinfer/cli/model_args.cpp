#include "qinfer/cli/model_args.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "qinfer/cli/flags.h"
#include "qinfer/core/error.h"
#include "qinfer/core/threads.h"
#include "qinfer/core/warn.h"
#include "qinfer/quant/type_registry.h"

namespace qinfer::cli {

namespace fs = std::filesystem;

namespace {

const char* kDefaultModelRel = "models/stories260K/stories260K.gguf";

// Directories that may hold ../shared/data: beside the working directory and
// beside the checkout the binary was built in.
std::vector<fs::path> shared_data_candidates() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("QINFER_SHARED_DATA")) dirs.emplace_back(env);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (fs::path p = ec ? fs::current_path() : exe.parent_path(); !p.empty(); p = p.parent_path()) {
    dirs.push_back(p / "shared" / "data");
    dirs.push_back(p / ".." / "shared" / "data");
    if (p == p.root_path()) break;
  }
  dirs.push_back(fs::current_path() / ".." / "shared" / "data");
  return dirs;
}

fs::path cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME")) return fs::path(x) / "qinfer";
  if (const char* h = std::getenv("HOME")) return fs::path(h) / ".cache" / "qinfer";
  return fs::path("/tmp") / "qinfer-cache";
}

}  // namespace

void add_model_args(CLI::App& cmd, ModelArgs& args, bool positional) {
  // A command whose one argument is the model (info) takes it either way.
  cmd.add_option(positional ? "model,-m,--model" : "-m,--model", args.model,
                 "model file (GGUF or llama2.c .bin); default: stories260K");
  cmd.add_option("--tokenizer", args.tokenizer, "tokenizer.bin for llama2.c checkpoints");
  add_threads_option(cmd, args.threads);
  cmd.add_flag("--no-repack", args.no_repack,
               "keep the weights in the file's layout instead of repacking them for the kernels at load "
               "(also QINFER_NO_REPACK=1)");
}

namespace {

// Caps each value at the hardware threads, saying so once per value.
CLI::Validator thread_cap() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        long long n = 0;
        if (!CLI::detail::lexical_cast(value, n)) return {};  // the option's own type check reports it
        const ThreadCount c = choose_thread_count(n > 1 << 30 ? 1 << 30 : int(n));
        if (n > 0 && c.capped) {
          warn("-t " + value + ": this machine has " + std::to_string(hardware_thread_count()) +
               " hardware threads; using " + std::to_string(c.threads));
          value = std::to_string(c.threads);
        }
        return {};
      },
      "", "thread cap");
}

}  // namespace

CLI::Option* add_threads_option(CLI::App& cmd, int& threads, const std::string& names) {
  return cmd.add_option(names, threads, "CPU threads (default: the physical cores)")
      ->check(Allowed::ints(0))
      ->transform(thread_cap());
}

CLI::Option* add_threads_option(CLI::App& cmd, std::vector<int>& threads) {
  return cmd.add_option("-t,--threads", threads, "thread counts, comma-separated (default: the physical cores)")
      ->delimiter(',')
      ->check(Allowed::ints(1))
      ->transform(thread_cap());
}

void add_load_in_arg(CLI::App& cmd, ModelArgs& args) {
  cmd.add_option("--load-in", args.load_in,
                 "convert the linear layers while loading: 4bit (NF4) or 8bit (LLM.int8), as transformers' "
                 "load_in_4bit/8bit; bf16 (F32/F16 weights rounded to BF16: twice the prefill speed on CPUs with "
                 "AVX-512 BF16, 8 significant bits instead of F16's 11)")
      ->check(CLI::IsMember({"4bit", "8bit", "bf16"}));
}

std::string default_model_path() {
  if (const char* env = std::getenv("QINFER_MODEL")) return env;
  for (const fs::path& d : shared_data_candidates()) {
    std::error_code ec;
    if (fs::exists(d / kDefaultModelRel, ec)) return fs::weakly_canonical(d / kDefaultModelRel).string();
  }
  const fs::path cached = cache_dir() / "stories260K.gguf";
  if (fs::exists(cached)) return cached.string();
  throw InputError("no model given and the default model stories260K is not available: pass -m MODEL, or run "
                   "`make model` to download it once into " + cache_dir().string());
}

std::string default_eval_text() {
  for (const fs::path& d : shared_data_candidates()) {
    std::error_code ec;
    if (fs::exists(d / "text" / "tinystories-valid-a.txt", ec))
      return fs::weakly_canonical(d / "text" / "tinystories-valid-a.txt").string();
  }
  // Without ../shared: the short stories that ship in the checkout's data/.
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (fs::path p = ec ? fs::current_path() : exe.parent_path(); !p.empty(); p = p.parent_path()) {
    if (fs::exists(p / "data" / "eval-stories.txt", ec)) return (p / "data" / "eval-stories.txt").string();
    if (p == p.root_path()) break;
  }
  return {};
}

std::string model_path_from_args(const ModelArgs& args) {
  if (!args.model.empty()) return args.model;
  const std::string path = default_model_path();
  std::fprintf(stderr, "qinfer: no model given (-m): using the default model %s\n", path.c_str());
  return path;
}

std::string text_path_or_default(const std::string& given, const char* flag) {
  if (!given.empty()) return given;
  const std::string path = default_eval_text();
  if (!path.empty()) std::fprintf(stderr, "qinfer: no text given (%s): using the default text %s\n", flag, path.c_str());
  return path;
}

std::unique_ptr<Model> load_model_from_args(const ModelArgs& args) {
  LoadOptions opt;
  opt.tokenizer_path = args.tokenizer;
  opt.load_in = parse_load_in(args.load_in);
  opt.repack = !args.no_repack;
  auto m = load_model(model_path_from_args(args), opt);
  if (opt.load_in != LoadIn::None) {
    const LoadInSummary& s = m->load_in;
    const double mib = 1024.0 * 1024.0;
    std::fprintf(stderr, "load-in %s: %d tensors converted to %s, %.2f -> %.2f MiB (%.2f MiB saved)%s\n",
                 args.load_in.c_str(), s.converted, type_info(load_in_type(opt.load_in)).name,
                 double(s.bytes_before) / mib, double(s.bytes_after) / mib,
                 double(s.bytes_before) / mib - double(s.bytes_after) / mib,
                 s.skipped ? (", " + std::to_string(s.skipped) + " left as they were (quantized already or rows not a "
                                                                  "multiple of the block)").c_str()
                           : "");
  }
  return m;
}

std::unique_ptr<Tokenizer> load_tokenizer_from_args(const ModelArgs& args) {
  LoadOptions opt;
  opt.tokenizer_path = args.tokenizer;
  return load_tokenizer(model_path_from_args(args), opt);
}

}  // namespace qinfer::cli
