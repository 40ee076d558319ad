#include "qinfer/bench/llama_bench_peer.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "qinfer/core/error.h"

namespace qinfer::bench {

std::string PeerRun::engine_version() const {
  // A build from a source archive (no git) reports number 0 and commit "unknown".
  std::string v = build_number > 0 ? "llama.cpp b" + std::to_string(build_number) : "llama.cpp (build unknown)";
  if (!build_commit.empty() && build_commit != "unknown") v += " (" + build_commit + ")";
  return v;
}

namespace {

template <class T>
T field(const nlohmann::json& o, const char* name, const std::string& where) {
  auto it = o.find(name);
  if (it == o.end() || it->is_null()) throw InputError(where + ": field \"" + name + "\" is missing");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw InputError(where + ": field \"" + name + "\" has the wrong type");
  }
}

template <class T>
T optional_field(const nlohmann::json& o, const char* name, const std::string& where, T fallback) {
  auto it = o.find(name);
  if (it == o.end() || it->is_null()) return fallback;
  return field<T>(o, name, where);
}

}  // namespace

PeerRun parse_llama_bench_json(const std::string& text, const std::string& source) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) throw InputError(source + ": not JSON (expected llama-bench -o json output)");
  if (!j.is_array()) throw InputError(source + ": expected a JSON array of llama-bench results");
  if (j.empty()) throw InputError(source + ": llama-bench reported no results");
  PeerRun run;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string where = source + ": result " + std::to_string(i);
    const nlohmann::json& o = j[i];
    if (!o.is_object()) throw InputError(where + ": not an object");
    if (i == 0) {
      run.build_commit = optional_field<std::string>(o, "build_commit", where, "");
      run.build_number = optional_field<int64_t>(o, "build_number", where, 0);
      run.cpu_info = optional_field<std::string>(o, "cpu_info", where, "");
      run.backends = optional_field<std::string>(o, "backends", where, "");
      run.model_type = optional_field<std::string>(o, "model_type", where, "");
    }
    PeerResult r;
    r.n_prompt = field<int>(o, "n_prompt", where);
    r.n_gen = field<int>(o, "n_gen", where);
    r.n_depth = optional_field<int>(o, "n_depth", where, 0);
    r.threads = field<int>(o, "n_threads", where);
    r.avg_ts = field<double>(o, "avg_ts", where);
    r.stddev_ts = optional_field<double>(o, "stddev_ts", where, 0.0);
    r.samples_ts = optional_field<std::vector<double>>(o, "samples_ts", where, {});
    if (r.n_prompt < 0 || r.n_gen < 0 || r.n_depth < 0 || r.threads <= 0 || !(r.avg_ts > 0))
      throw InputError(where + ": impossible values (n_prompt, n_gen, n_depth, n_threads or avg_ts)");
    run.results.push_back(std::move(r));
  }
  return run;
}

std::vector<std::string> llama_bench_args(const std::string& model_path, const PeerTest& t) {
  return {"-m", model_path,
          "-p", std::to_string(t.n_prompt),
          "-n", std::to_string(t.n_gen),
          "-d", std::to_string(t.n_depth),
          "-t", std::to_string(t.threads),
          "-r", std::to_string(t.reps),
          "-b", std::to_string(t.n_batch),
          "-o", "json"};
}

namespace {

// The last non-empty line of s.
std::string last_line(const std::string& s) {
  size_t end = s.find_last_not_of("\r\n \t");
  if (end == std::string::npos) return "";
  size_t begin = s.rfind('\n', end);
  return s.substr(begin == std::string::npos ? 0 : begin + 1, end + 1 - (begin == std::string::npos ? 0 : begin + 1));
}

struct Output {
  std::string out, err;
  int status = 0;
};

// fork/exec with stdout and stderr on pipes, both drained as they come.
Output run_capture(const std::string& binary, const std::vector<std::string>& args) {
  int po[2], pe[2];
  if (::pipe2(po, O_CLOEXEC) != 0) throw Error(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(pe, O_CLOEXEC) != 0) {
    ::close(po[0]);
    ::close(po[1]);
    throw Error(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw Error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::dup2(po[1], 1);
    ::dup2(pe[1], 2);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::execv(binary.c_str(), argv.data());
    const std::string msg = std::string("cannot run: ") + std::strerror(errno) + "\n";
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  ::close(po[1]);
  ::close(pe[1]);
  Output o;
  pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
  std::string* sinks[2] = {&o.out, &o.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(fds[k].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fds[k].fd);
        fds[k].fd = -1;
        --open_fds;
      } else {
        sinks[k]->append(buf, size_t(n));
      }
    }
  }
  while (::waitpid(pid, &o.status, 0) < 0 && errno == EINTR) {
  }
  return o;
}

}  // namespace

std::string resolve_llama_bench(const std::string& binary) {
  if (binary.find('/') != std::string::npos) return binary;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  size_t pos = 0;
  while (pos <= dirs.size()) {
    size_t end = dirs.find(':', pos);
    if (end == std::string::npos) end = dirs.size();
    const std::string dir = dirs.substr(pos, end - pos);
    const std::string cand = (dir.empty() ? "." : dir) + "/" + binary;
    if (::access(cand.c_str(), X_OK) == 0) return cand;
    pos = end + 1;
  }
  return binary;
}

void check_llama_bench_binary(const std::string& binary) {
  struct stat st;
  if (::stat(binary.c_str(), &st) != 0)
    throw InputError("--compare-llama-bench " + binary + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode) || ::access(binary.c_str(), X_OK) != 0)
    throw InputError("--compare-llama-bench " + binary + ": not an executable file");
}

PeerRun run_llama_bench(const std::string& name, const std::string& model_path, const PeerTest& test) {
  const std::string binary = resolve_llama_bench(name);
  check_llama_bench_binary(binary);
  const Output o = run_capture(binary, llama_bench_args(model_path, test));
  // The user chose the binary, so its failures are input errors, with its last words.
  if (WIFSIGNALED(o.status))
    throw InputError("--compare-llama-bench " + binary + " was killed by signal " + std::to_string(WTERMSIG(o.status)) +
                     ": " + last_line(o.err));
  if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0) {
    const std::string why = last_line(o.err).empty() ? last_line(o.out) : last_line(o.err);
    throw InputError("--compare-llama-bench " + binary + " failed (exit code " + std::to_string(WEXITSTATUS(o.status)) +
                     ")" + (why.empty() ? "" : ": " + why));
  }
  return parse_llama_bench_json(o.out, "--compare-llama-bench " + binary + " output");
}

}  // namespace qinfer::bench
