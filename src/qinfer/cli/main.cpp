// qinfer: one binary, one subcommand per capability. Errors from the library
// become one line on stderr and exit code 2.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "qinfer/cli/commands.h"
#include "qinfer/cli/flags.h"
#include "qinfer/core/error.h"
#include "qinfer/core/version.h"
#include "qinfer/kernels/kernels.h"

namespace {

// llama.cpp's multi-letter short options, which CLI11 cannot declare, as their long names.
char* long_name_of(char* arg) {
  static const struct {
    const char* llama;
    const char* ours;
  } kAliases[] = {{"-ctk", "--cache-type-k"}, {"-ctv", "--cache-type-v"}, {"-np", "--parallel"}};
  for (const auto& a : kAliases)
    if (std::strcmp(arg, a.llama) == 0) return const_cast<char*>(a.ours);
  return arg;
}

}  // namespace

int main(int argc, char** argv) {
  if (const std::string unknown = qinfer::cli::unknown_command_message(argc, argv); !unknown.empty()) {
    std::fprintf(stderr, "qinfer: error: %s\n", unknown.c_str());
    return 2;
  }
  for (int i = 1; i < argc; ++i) argv[i] = long_name_of(argv[i]);
  CLI::App app{"qinfer: make LLMs smaller and faster, and prove it"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("qinfer ") + qinfer::kVersion);
  for (const auto& spec : qinfer::cli::kCommands) spec.define(*app.add_subcommand(spec.name, spec.help));
  // A bad QINFER_ISA fails before any command starts work.
  app.parse_complete_callback([] { qinfer::kernels::active_isa(); });
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "qinfer: error: %s\n", qinfer::cli::plain_parse_error(e).c_str());
    return 2;
  } catch (const qinfer::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "qinfer: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "qinfer: error: out of memory\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qinfer: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
