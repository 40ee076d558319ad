// Whole-file reads for user-named inputs (texts, datasets, prompt lists).
#pragma once
#include <string>

namespace qinfer {

// The bytes of a file. InputError("<path>: <reason>") when it is missing,
// unreadable or a directory (which a stream would read as empty text).
std::string read_whole_file(const std::string& path);

}  // namespace qinfer
