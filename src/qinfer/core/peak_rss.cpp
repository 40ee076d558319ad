#include "qinfer/core/peak_rss.h"

#include <sys/resource.h>

#include <fstream>
#include <string>

namespace qinfer {

int64_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmHWM:  1234 kB"
  struct rusage ru {};
  if (::getrusage(RUSAGE_SELF, &ru) != 0 || ru.ru_maxrss <= 0) return -1;
  return int64_t(ru.ru_maxrss) * 1024;  // kB on Linux
}

}  // namespace qinfer
