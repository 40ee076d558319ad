#include "qinfer/serve/deadline_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace qinfer::serve {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int to_ms(time_t sec, time_t usec) { return int(std::min<int64_t>(int64_t(sec) * 1000 + usec / 1000, 1 << 30)); }

// Waits up to timeout_ms for `events` on sock; true when they came.
bool wait_for(socket_t sock, short events, int timeout_ms) {
  pollfd p{sock, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, std::max(timeout_ms, 0));
    if (n < 0 && errno == EINTR) continue;
    return n > 0 && (p.revents & (events | POLLHUP | POLLERR));
  }
}

void address_of(const sockaddr_storage& a, std::string& ip, int& port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(a);
    ::inet_ntop(AF_INET, &v4.sin_addr, buf, sizeof buf);
    port = ntohs(v4.sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, buf, sizeof buf);
    port = ntohs(v6.sin6_port);
  }
  ip = buf;
}

// A buffered socket stream. Between start_request() and the next one, reads
// fail once the deadline has passed (timed_out() then says so).
class DeadlineSocketStream final : public httplib::Stream {
 public:
  DeadlineSocketStream(socket_t sock, int read_timeout_ms, int write_timeout_ms)
      : sock_(sock), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms) {}

  void start_request(Clock::time_point deadline) {
    deadline_ = deadline;
    timed_out_ = false;
  }
  bool timed_out() const { return timed_out_; }
  bool has_buffered() const { return pos_ < len_; }

  bool is_readable() const override { return has_buffered() || wait_for(sock_, POLLIN, read_wait_ms()); }
  bool is_writable() const override { return wait_for(sock_, POLLOUT, write_timeout_ms_); }

  ssize_t read(char* ptr, size_t size) override {
    if (!has_buffered()) {
      if (!wait_for(sock_, POLLIN, read_wait_ms())) {
        if (Clock::now() >= deadline_) timed_out_ = true;
        return -1;
      }
      ssize_t n;
      do n = ::recv(sock_, buf_.data(), buf_.size(), 0);
      while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      pos_ = 0;
      len_ = size_t(n);
    }
    const size_t n = std::min(size, len_ - pos_);
    std::memcpy(ptr, buf_.data() + pos_, n);
    pos_ += n;
    return ssize_t(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0) address_of(a, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0) address_of(a, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  int read_wait_ms() const {
    // Rounded up, so a wait the deadline cut ends at or after it.
    const auto left = std::chrono::ceil<milliseconds>(deadline_ - Clock::now()).count();
    return int(std::clamp<int64_t>(left, 0, read_timeout_ms_));
  }

  socket_t sock_;
  int read_timeout_ms_;
  int write_timeout_ms_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timed_out_ = false;
  std::array<char, 4096> buf_{};
  size_t pos_ = 0, len_ = 0;
};

}  // namespace

DeadlineHttpServer::DeadlineHttpServer(milliseconds request_deadline, std::function<void()> on_timeout)
    : request_deadline_(request_deadline), on_timeout_(std::move(on_timeout)) {}

// The keep-alive loop: wait (up to the keep-alive timeout, watching for
// stop()) for a request's first byte, then let httplib read and answer it.
bool DeadlineHttpServer::process_and_close_socket(socket_t sock) {
  DeadlineSocketStream strm(sock, to_ms(read_timeout_sec_, read_timeout_usec_),
                            to_ms(write_timeout_sec_, write_timeout_usec_));
  const auto idle_limit = std::chrono::seconds(keep_alive_timeout_sec_);
  bool ok = false;
  for (size_t left = std::max<size_t>(keep_alive_max_count_, 1); left > 0; --left) {
    const Clock::time_point idle_since = Clock::now();
    bool ready = strm.has_buffered();
    while (!ready && svr_sock_ != INVALID_SOCKET && Clock::now() - idle_since < idle_limit)
      ready = wait_for(sock, POLLIN, 100);
    if (!ready || svr_sock_ == INVALID_SOCKET) break;
    strm.start_request(Clock::now() + request_deadline_);
    bool closed = false;
    ok = process_request(strm, left == 1, closed, nullptr);
    if (strm.timed_out()) {  // whatever httplib answered, the rest of this client's bytes are not a request
      if (on_timeout_) on_timeout_();
      break;
    }
    if (!ok || closed) break;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace qinfer::serve
