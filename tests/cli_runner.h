// Runs the qinfer binary as a user would and captures what it prints.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "test_util.h"

namespace qinfer::test {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// args is a shell-quoted argument string. Commands that record runs write to
// a scratch database unless the test names one (--db or QINFER_DB in env),
// never to ./qinfer-results.db.
inline CliResult run_qinfer(const std::string& args, const std::string& env = "") {
  static int counter = 0;
  const auto base = std::filesystem::temp_directory_path() /
                    ("qinfer-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  const std::string out = base.string() + ".out", err = base.string() + ".err", db = base.string() + ".db";
  const std::string db_env = env.find("QINFER_DB=") == std::string::npos ? "QINFER_DB=" + db + " " : "";
  const std::string cmd = db_env + env + " " + QINFER_BINARY + std::string(" ") + args + " >" + out + " 2>" + err + " </dev/null";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  for (const std::string& f : {out, err, db, db + "-wal", db + "-shm"}) std::filesystem::remove(f);
  return r;
}

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace qinfer::test
