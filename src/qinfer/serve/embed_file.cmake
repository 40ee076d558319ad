# Writes a C++ source defining `std::string_view NAME()` over the bytes of
# INPUT (run with cmake -P at build time, so an edited file is embedded again).
# Usage: cmake -DINPUT=page.html -DOUTPUT=page.cpp -DNAME=qinfer::serve::chat_page_html -P embed_file.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR n_bytes "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
# Lines of 16 bytes keep the generated file readable by compilers and people.
string(REGEX REPLACE "(('[^']*',){16})" "\\1\n" bytes "${bytes}")
string(REGEX MATCH "^(.*)::([^:]+)$" _ "${NAME}")
set(ns "${CMAKE_MATCH_1}")
set(fn "${CMAKE_MATCH_2}")
file(WRITE "${OUTPUT}.tmp" "// Generated from ${INPUT} by embed_file.cmake; do not edit.\n#include <string_view>\n\nnamespace ${ns} {\n\nnamespace {\nconst char kBytes[] = {\n${bytes}\n};\n}  // namespace\n\nstd::string_view ${fn}() { return std::string_view(kBytes, ${n_bytes}); }\n\n}  // namespace ${ns}\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
