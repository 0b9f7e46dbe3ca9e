// NatsTestServer: a private nats-server with JetStream for integration tests.
//
// Runs `nats-server -js -a 127.0.0.1 -p PORT -sd STOREDIR` as a child process on a free loopback
// port, with its stdout/stderr in STOREDIR/nats-server.log. Stop() and Restart() keep the port
// and the store dir, so a test can simulate an outage and the recovery of a server that keeps its
// streams. The binary is $WAYBILL_NATS_SERVER if set, else `nats-server` on PATH, else
// /usr/sbin/nats-server.
//
// Errors throw std::runtime_error (with the log's tail), so a broken environment fails the test
// loudly instead of producing confusing connection errors later.
// Thread-safety: none; drive one instance from one thread (the one that constructed it: the child
// gets PR_SET_PDEATHSIG, which fires when the *thread* that forked it exits).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/child_process.h"
#include "tests/test_util.h"

namespace waybill::testing {

class NatsTestServer {
 public:
  enum class StartMode { kStarted, kNotStarted };

  // Picks a free port and a fresh store dir; starts the server unless told not to (tests of
  // "connect before the server is up" construct it stopped and call Start() later).
  explicit NatsTestServer(StartMode mode = StartMode::kStarted)
      : binary_(FindBinary()), port_(PickFreePort()) {
    if (mode == StartMode::kStarted) Start();
  }
  ~NatsTestServer() { Stop(); }
  NatsTestServer(const NatsTestServer&) = delete;
  NatsTestServer& operator=(const NatsTestServer&) = delete;

  // Starts the server and waits (up to 10 s) until it accepts TCP connections. Throws if it is
  // already running, exits early, or never listens. JetStream may need a few more milliseconds
  // after the port opens before it answers API requests; clients should retry briefly.
  void Start() {
    if (pid_ > 0) throw std::runtime_error("NatsTestServer::Start: already running");
    pid_ = SpawnWithLog(
        {binary_, "-js", "-a", "127.0.0.1", "-p", std::to_string(port_), "-sd", dir_.path()},
        log_path());
    WaitUntilListening();
  }

  // Stops the server: SIGTERM, then SIGKILL if it has not exited after 5 s. Idempotent.
  void Stop() {
    if (pid_ <= 0) return;
    const pid_t pid = pid_;
    pid_ = -1;
    kill(pid, SIGTERM);
    kill(pid, SIGCONT);  // a frozen (SIGSTOPped) server cannot act on SIGTERM
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      const pid_t r = waitpid(pid, nullptr, WNOHANG);
      if (r == pid || (r < 0 && errno == ECHILD)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }

  // Stop() then Start() on the same port and store dir (streams and consumers survive).
  void Restart() {
    Stop();
    Start();
  }

  // SIGSTOP/SIGCONT the server: it keeps its sockets open but answers nothing, like a hung
  // server or a silent network. Clients stay "connected" and see timeouts.
  // Freeze() returns once every thread of the server is stopped: kill() alone returns before
  // the stop takes effect, and the server could still answer a request sent right after.
  void Freeze() {
    if (pid_ <= 0) return;
    kill(pid_, SIGSTOP);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (AllThreadsStopped()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    throw std::runtime_error("nats-server " + std::to_string(pid_) + " did not stop on SIGSTOP");
  }
  void Thaw() {
    if (pid_ > 0) kill(pid_, SIGCONT);
  }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  const std::string& store_dir() const { return dir_.path(); }
  std::string log_path() const { return dir_.Sub("nats-server.log"); }

  // The last `max_bytes` of the server log, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const {
    std::ifstream in(log_path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
  }

 private:
  static std::string FindBinary() {
    if (const char* env = std::getenv("WAYBILL_NATS_SERVER"); env != nullptr && *env != '\0') {
      return env;
    }
    if (const char* path = std::getenv("PATH"); path != nullptr) {
      std::stringstream ss(path);
      std::string dir;
      while (std::getline(ss, dir, ':')) {
        if (dir.empty()) continue;
        const std::string candidate = dir + "/nats-server";
        if (access(candidate.c_str(), X_OK) == 0) return candidate;
      }
    }
    if (access("/usr/sbin/nats-server", X_OK) == 0) return "/usr/sbin/nats-server";
    throw std::runtime_error(
        "nats-server not found: set WAYBILL_NATS_SERVER or put nats-server on PATH");
  }

  // Binds port 0 on loopback and returns what the kernel chose. The socket is closed before the
  // server binds, so another process could grab the port in between; on loopback in a test
  // sandbox that race is rare, and Start() then fails with a clear message.
  static int PickFreePort() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      const std::string err = std::strerror(errno);
      close(fd);
      throw std::runtime_error("pick a free loopback port: " + err);
    }
    close(fd);
    return ntohs(addr.sin_port);
  }

  // True if every task of the server is in state 'T' (stopped) per /proc/PID/task/*/stat.
  bool AllThreadsStopped() const {
    std::error_code ec;
    const std::string dir = "/proc/" + std::to_string(pid_) + "/task";
    bool any = false;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      std::ifstream in(entry.path() / "stat");
      std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      // Format: "tid (comm) S ...": the state follows the last ')'.
      const size_t paren = stat.rfind(')');
      if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
      const char state = stat[paren + 2];
      if (state != 'T' && state != 't') return false;
      any = true;
    }
    return any && !ec;
  }

  static bool CanConnect(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    return ok;
  }

  void WaitUntilListening() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int wstatus = 0;
      if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("nats-server (" + binary_ + ") exited during startup on port " +
                                 std::to_string(port_) + " (status " + std::to_string(wstatus) +
                                 "); log " + log_path() + ":\n" + LogTail());
      }
      if (CanConnect(port_)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Stop();
    throw std::runtime_error(
        "nats-server did not accept connections on 127.0.0.1:" + std::to_string(port_) +
        " within 10 s; log " + log_path() + ":\n" + LogTail());
  }

  TempDir dir_;
  std::string binary_;
  int port_;
  pid_t pid_ = -1;
};

}  // namespace waybill::testing
