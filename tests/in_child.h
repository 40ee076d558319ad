// Runs part of a test in a forked child under a resource limit, so that the
// limit cannot touch the test process: RLIMIT_FSIZE stands in for a full disk,
// RLIMIT_AS for a small machine. The body's text comes back through a pipe.
#pragma once
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <exception>
#include <functional>
#include <string>

#include "qinfer/core/error.h"

namespace qinfer::test {

struct ChildLimit {
  int resource;
  rlim_t bytes;
};

// Writes past `bytes` fail with EFBIG (SIGXFSZ is ignored in the child), as
// they fail with ENOSPC on a full disk.
inline ChildLimit file_size_limit(rlim_t bytes) { return {RLIMIT_FSIZE, bytes}; }
inline ChildLimit address_space_limit(rlim_t bytes) { return {RLIMIT_AS, bytes}; }

// What `body` returned; "escaped exception: WHAT" when it threw; followed by
// " [child killed by signal N]" when the child did not exit by itself.
inline std::string in_child(ChildLimit limit, const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    if (limit.resource == RLIMIT_FSIZE) ::signal(SIGXFSZ, SIG_IGN);
    const struct rlimit rl{limit.bytes, limit.bytes};
    ::setrlimit(limit.resource, &rl);
    std::string r;
    try {
      r = body();
    } catch (const std::exception& e) {
      r = std::string("escaped exception: ") + e.what();
    }
    (void)!::write(fds[1], r.data(), r.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string r;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) r.append(buf, size_t(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return r + " [child killed by signal " + std::to_string(WTERMSIG(status)) + "]";
  return r;
}

// The message of the InputError `fn` throws, or "no error". Other exceptions
// pass through (in_child reports them as escaped).
inline std::string input_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace qinfer::test
