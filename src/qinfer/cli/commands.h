// The subcommand registry: each command file defines one `define_*` that adds
// its options to a CLI11 subcommand and sets the callback.
#pragma once
#include <CLI/CLI.hpp>

namespace qinfer::cli {

void define_run(CLI::App& cmd);
void define_info(CLI::App& cmd);
void define_tokenize(CLI::App& cmd);
void define_perplexity(CLI::App& cmd);
void define_devices(CLI::App& cmd);
void define_bench(CLI::App& cmd);
void define_create(CLI::App& cmd);

struct CommandSpec {
  const char* name;
  const char* help;
  void (*define)(CLI::App&);
};

inline const CommandSpec kCommands[] = {
    {"run", "generate text from a prompt, streaming to the terminal", define_run},
    {"info", "show a model file: architecture, metadata, tensors, types, sizes", define_info},
    {"tokenize", "print the tokens of a text", define_tokenize},
    {"perplexity", "perplexity of a text, as llama.cpp's llama-perplexity computes it", define_perplexity},
    {"devices", "list compute devices and the kernel path in use", define_devices},
    {"bench", "prefill (pp N) and decode (tg N) throughput, llama-bench style", define_bench},
    {"create", "write a random-weight model of a named shape (tinyllama-1.1b, qwen2-0.5b, ...) as GGUF", define_create},
};

}  // namespace qinfer::cli
