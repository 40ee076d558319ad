// The render set-up of ../shared/data/golden/templates/README.md: Hugging
// Face's environment with strftime_now fixed at 2026-11-22 00:00:00.
#pragma once
#include <ctime>
#include <string>

#include "qinfer/jinja/template.h"

namespace qinfer::test {

inline std::string fixed_strftime(const std::string& format) {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 10;
  tm.tm_mday = 22;
  const std::time_t t = timegm(&tm);  // normalises tm_wday / tm_yday
  gmtime_r(&t, &tm);
  char buf[512];
  const size_t n = format.empty() ? 0 : std::strftime(buf, sizeof buf, format.c_str(), &tm);
  return std::string(buf, n);
}

inline jinja::RenderOptions golden_options() {
  jinja::RenderOptions o;
  o.strftime_now = fixed_strftime;
  return o;
}

}  // namespace qinfer::test
