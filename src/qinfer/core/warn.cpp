#include "qinfer/core/warn.h"

#include <cstdio>
#include <mutex>

namespace qinfer {

namespace {
std::mutex g_mu;
WarningSink g_sink;
std::string g_last;  // a warning repeated at once (e.g. per bench slot) is said once
}  // namespace

void warn(const std::string& message) {
  std::lock_guard lock(g_mu);
  if (message == g_last) return;
  g_last = message;
  if (g_sink) {
    g_sink(message);
    return;
  }
  std::fflush(stdout);  // keep the order of what a terminal shows
  std::fprintf(stderr, "qinfer: warning: %s\n", message.c_str());
}

WarningSink set_warning_sink(WarningSink sink) {
  std::lock_guard lock(g_mu);
  std::swap(g_sink, sink);
  g_last.clear();
  return sink;
}

}  // namespace qinfer
