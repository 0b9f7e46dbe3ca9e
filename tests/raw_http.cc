#include "tests/raw_http.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace waybill::testing {

using Clock = std::chrono::steady_clock;

std::vector<int> TakeResponses(std::string* buf) {
  std::vector<int> out;
  for (;;) {
    const std::size_t end = buf->find("\r\n\r\n");
    if (end == std::string::npos) break;
    const std::string head = buf->substr(0, end);
    std::size_t length = 0;
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (auto p = lower.find("\r\ncontent-length:"); p != std::string::npos) {
      length = std::strtoull(lower.c_str() + p + 17, nullptr, 10);
    }
    if (buf->size() < end + 4 + length) break;
    int status = 0;
    if (head.rfind("HTTP/1.", 0) == 0 && head.size() >= 12) status = std::atoi(head.c_str() + 9);
    if (status != 100) out.push_back(status);
    buf->erase(0, end + 4 + length);
  }
  return out;
}

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE_MESSAGE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0,
                  "connect: " << std::strerror(errno));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

RawOutcome Exchange(int port, const RawCase& c, std::chrono::milliseconds hang_after) {
  RawOutcome o;
  const int fd = Connect(port);
  const auto deadline = Clock::now() + hang_after;
  std::size_t sent = 0;
  bool write_open = true;
  auto next_byte_at = Clock::now();
  std::string pending;
  char buf[65536];
  while (!o.closed) {
    const auto now = Clock::now();
    if (now >= deadline) {
      o.hung = true;
      break;
    }
    const bool more = write_open && sent < c.bytes.size();
    const bool can_send_now = more && (c.byte_interval.count() == 0 || now >= next_byte_at);
    pollfd p{fd, static_cast<short>(POLLIN | (can_send_now ? POLLOUT : 0)), 0};
    int wait_ms = 200;
    if (more && !can_send_now) {
      wait_ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(next_byte_at - now).count() + 1);
    }
    if (poll(&p, 1, wait_ms) < 0 && errno != EINTR) break;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        o.received.append(buf, static_cast<std::size_t>(n));
        pending.append(buf, static_cast<std::size_t>(n));
        for (int s : TakeResponses(&pending)) o.statuses.push_back(s);
        // An answer that keeps the connection open is complete once read.
        if (static_cast<int>(o.statuses.size()) >= c.expect_responses &&
            o.received.find("Connection: close") == std::string::npos &&
            o.received.find("connection: close") == std::string::npos) {
          break;
        }
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        o.closed = true;
      }
    }
    if (can_send_now && (p.revents & POLLOUT)) {
      const std::size_t chunk = c.byte_interval.count() > 0 ? 1 : c.bytes.size() - sent;
      const ssize_t n = send(fd, c.bytes.data() + sent, chunk, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        next_byte_at = Clock::now() + c.byte_interval;
        if (sent == c.bytes.size() && c.half_close) shutdown(fd, SHUT_WR);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        write_open = false;  // the server stopped reading (it answered and closed)
      }
    }
  }
  close(fd);
  return o;
}

std::string Request(const std::string& method, const std::string& target,
                    const std::string& headers, const std::string& body) {
  return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n" + body;
}

}  // namespace waybill::testing
