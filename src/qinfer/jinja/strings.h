// Python's str algorithms over UTF-8 (indices count code points, as in Python).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qinfer::jinja {

// strip()/lstrip()/rstrip(): whitespace when chars is nullopt, else any of chars' characters.
std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// split()/rsplit(): on runs of whitespace when sep is nullopt; maxsplit < 0 is unlimited.
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> py_splitlines(std::string_view s, bool keepends);
std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count);
// Byte offsets of the code-point slice [start:end] (Python's clamping of optional bounds).
std::pair<size_t, size_t> py_span(std::string_view s, std::optional<int64_t> start, std::optional<int64_t> end);
// find()/rfind() within [start:end]: the code point index, or -1.
int64_t py_find(std::string_view s, std::string_view sub, std::optional<int64_t> start, std::optional<int64_t> end,
                bool reverse);
int64_t py_count(std::string_view s, std::string_view sub, std::optional<int64_t> start, std::optional<int64_t> end);
// center()/ljust()/rjust() with a one-character fill; align '^', '<' or '>'.
std::string py_pad(std::string_view s, int64_t width, std::string_view fill, char align);
std::string py_zfill(std::string_view s, int64_t width);
std::string py_expandtabs(std::string_view s, int64_t tabsize);

}  // namespace qinfer::jinja
