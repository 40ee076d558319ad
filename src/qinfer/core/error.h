// One error policy: the library throws, never aborts or exits. Messages carry
// their context ("<file>: tensor blk.3.attn_q.weight: expected ..."), one line.
// The CLI (cli/main.cpp) prints "qinfer: error: <message>" and exits 2 for
// both; a server above runtime/ should answer InputError with a client error
// (HTTP 400) and Error with a server error (500).
#pragma once
#include <stdexcept>
#include <string>

namespace qinfer {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// The user's input is at fault (file contents, arguments, environment).
class InputError : public Error {
 public:
  using Error::Error;
};

}  // namespace qinfer
