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
void define_quantize(CLI::App& cmd);
void define_imatrix(CLI::App& cmd);
void define_optimize(CLI::App& cmd);
void define_eval(CLI::App& cmd);
void define_runs(CLI::App& cmd);
void define_report(CLI::App& cmd);
void define_convert(CLI::App& cmd);
void define_chat_template(CLI::App& cmd);
void define_serve(CLI::App& cmd);
void define_plan(CLI::App& cmd);

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
    {"plan", "memory a load needs (weights, KV, buffers) against what is available; what fits if not", define_plan},
    {"bench", "pp/tg throughput (llama-bench style), or serving latency/throughput of the engine or an endpoint (vLLM style)", define_bench},
    {"create", "write a random-weight model of a named shape (tinyllama-1.1b, qwen2-0.5b, ...) as GGUF", define_create},
    {"quantize", "GGUF model -> quantized GGUF (llama-quantize's types, mixes and bytes)", define_quantize},
    {"imatrix", "importance matrix of a model over a text (llama-imatrix's imatrix.dat)", define_imatrix},
    {"optimize", "the main job: quantize into several types, measure speed, memory and quality, compare", define_optimize},
    {"eval", "perplexity, KL-divergence against saved logits, HellaSwag accuracy; recorded in the results store", define_eval},
    {"runs", "list, show, compare and export the runs in the results store", define_runs},
    {"report", "HTML + Markdown report with charts and recommendations from stored runs", define_report},
    {"convert", "Hugging Face checkpoint directory (safetensors, config.json, tokenizer) -> GGUF", define_convert},
    {"serve", "OpenAI-compatible HTTP server (chat, completions, streaming) over the batching engine", define_serve},
    {"chat-template", "chat templates: `render` applies one to messages (Jinja, as Hugging Face renders it)", define_chat_template},
};

}  // namespace qinfer::cli
