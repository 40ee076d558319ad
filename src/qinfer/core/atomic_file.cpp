#include "qinfer/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "qinfer/core/error.h"

namespace qinfer {

namespace {
constexpr size_t kBufferBytes = size_t(1) << 16;
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp." + std::to_string(::getpid())) {
  buf_.reserve(kBufferBytes);
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    // A device or a pipe (/dev/stdout, a FIFO): there is nothing to rename, write to it directly.
    tmp_ = path_;
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) fail("cannot open " + path_, errno);
    return;
  }
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("cannot create " + tmp_, errno);
  created_ = true;
}

AtomicFile::~AtomicFile() { abandon(); }

void AtomicFile::fail(const std::string& problem, int err) {
  abandon();
  throw InputError(path_ + ": " + problem + (err ? std::string(": ") + std::strerror(err) : std::string()));
}

void AtomicFile::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  if (buf_.size() + n > kBufferBytes) flush();
  if (n >= kBufferBytes) emit(p, n);
  else buf_.insert(buf_.end(), p, p + n);
}

void AtomicFile::flush() {
  if (!buf_.empty()) emit(buf_.data(), buf_.size());
  buf_.clear();
}

void AtomicFile::emit(const char* p, size_t n) {
  if (fd_ < 0) fail("cannot write " + tmp_ + ": already failed");
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, std::min<size_t>(n, size_t(1) << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("cannot write " + tmp_, errno);
    }
    if (w == 0) fail("cannot write " + tmp_ + ": no progress");
    p += w;
    n -= size_t(w);
  }
}

void AtomicFile::commit() {
  flush();
  if (!created_) {  // a device or pipe, written in place
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("cannot close " + path_, errno);
    return;
  }
  if (::fsync(fd_) != 0) fail("cannot sync " + tmp_, errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("cannot close " + tmp_, errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot rename " + tmp_ + " to the final name", errno);
  created_ = false;
  // Make the rename durable; best effort (some file systems refuse fsync on directories).
  const std::string dir = path_.find('/') == std::string::npos ? "." : path_.substr(0, path_.rfind('/') + 1);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

void AtomicFile::abandon() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (created_) {
    ::unlink(tmp_.c_str());
    created_ = false;
  }
}

void write_file_atomically(const std::string& path, std::string_view content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

}  // namespace qinfer
