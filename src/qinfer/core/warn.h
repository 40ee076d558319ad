// The library's one way to say it replaced, capped or ignored something
// without failing (an out-of-range token id, a context beyond the trained
// one): one line each, "qinfer: warning: <message>" on stderr, or to the sink
// a program installs (a server's log, a test's capture).
#pragma once
#include <functional>
#include <string>

namespace qinfer {

void warn(const std::string& message);

using WarningSink = std::function<void(const std::string& message)>;
// Installs `sink` (an empty function restores stderr); returns the previous one.
WarningSink set_warning_sink(WarningSink sink);

}  // namespace qinfer
