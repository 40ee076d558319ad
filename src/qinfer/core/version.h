// The qinfer version, as `qinfer --version` prints it and the results store records it.
#pragma once

namespace qinfer {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace qinfer
