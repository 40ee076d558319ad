// qinfer devices: what this machine offers and which kernels will run.
#include <cstdio>

#include "qinfer/cli/commands.h"
#include "qinfer/runtime/device_report.h"

namespace qinfer::cli {

void define_devices(CLI::App& cmd) {
  cmd.callback([] { std::fputs(describe_devices().c_str(), stdout); });
}

}  // namespace qinfer::cli
