#include "server/control_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace waybill::server {
namespace {

constexpr std::size_t kMaxRequestBytes = 1 << 16;

Result<sockaddr_un> Address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status::Invalid("control socket path " + path + " is longer than " +
                           std::to_string(sizeof(addr.sun_path) - 1) +
                           " bytes; use a shorter --data-dir");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads up to the first newline (or EOF); false when the peer sent too much or failed.
bool ReadLine(int fd, std::string* line, int timeout_ms) {
  char buf[4096];
  while (line->find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    line->append(buf, static_cast<std::size_t>(n));
    if (line->size() > kMaxRequestBytes) return false;
  }
  if (auto nl = line->find('\n'); nl != std::string::npos) line->resize(nl);
  return true;
}

}  // namespace

std::string ControlSocketPath(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / kControlSocketName).string();
}

Result<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& path,
                                                            Handler handler) {
  auto addr = Address(path);
  if (!addr.ok()) return addr.status();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError(std::string("control socket: ") + std::strerror(errno));
  ::unlink(path.c_str());  // a stale socket of a server that died; the data dir lock is ours
  const mode_t old_mask = ::umask(0077);
  const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_un));
  ::umask(old_mask);
  if (bound != 0 || ::listen(fd, 8) != 0) {
    const std::string err = std::strerror(errno);
    ::close(fd);
    return Status::IoError("cannot listen on control socket " + path + ": " + err);
  }
  std::unique_ptr<ControlServer> server(new ControlServer(path, fd, std::move(handler)));
  if (::pipe2(server->wake_pipe_, O_CLOEXEC) != 0) {
    return Status::IoError(std::string("control socket: pipe: ") + std::strerror(errno));
  }
  server->thread_ = std::thread([s = server.get()] { s->Serve(); });
  return server;
}

ControlServer::ControlServer(std::string path, int listen_fd, Handler handler)
    : path_(std::move(path)), listen_fd_(listen_fd), handler_(std::move(handler)) {}

ControlServer::~ControlServer() {
  if (wake_pipe_[1] >= 0) {
    const char c = 'x';
    [[maybe_unused]] ssize_t n = ::write(wake_pipe_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
  ::unlink(path_.c_str());
}

void ControlServer::Serve() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    const int r = ::poll(fds, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || (fds[1].revents & POLLIN) != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int conn = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    std::string request;
    if (ReadLine(conn, &request, 5000)) {
      std::string response = handler_(request);
      response.push_back('\n');
      WriteAll(conn, response);
    }
    ::close(conn);
  }
}

Result<std::string> ControlRequest(const std::string& path, const std::string& request) {
  auto addr = Address(path);
  if (!addr.ok()) return addr.status();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError(std::string("control socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_un)) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED) {
      return Status::NotFound("no waybill serve is listening on " + path);
    }
    return Status::IoError("cannot connect to " + path + ": " + std::strerror(err));
  }
  std::string response;
  const bool ok = WriteAll(fd, request + "\n") && ReadLine(fd, &response, 3600 * 1000);
  ::close(fd);
  if (!ok || response.empty()) {
    return Status::IoError("the server at " + path + " closed the control connection");
  }
  return response;
}

}  // namespace waybill::server
