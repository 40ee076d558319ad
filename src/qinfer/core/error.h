// One error policy: the library throws qinfer::Error with context; the CLI turns
// it into a one-line message and exit code 2, the server into an OpenAI error.
#pragma once
#include <stdexcept>
#include <string>

namespace qinfer {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Bad user input (file contents, arguments): exit code 2 at the CLI.
class InputError : public Error {
 public:
  using Error::Error;
};

}  // namespace qinfer
