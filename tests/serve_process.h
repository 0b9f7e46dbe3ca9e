// ServeProcess: the real `waybill serve` as a child process, for end-to-end tests; and RunCli,
// which runs any `waybill` command capturing its exit code, stdout and stderr.
//
// ServeProcess forks and execs WAYBILL_CLI_PATH (set by CMake) as
//   waybill serve --data-dir DIR ARGS...
// with stdout and stderr appended to a log file, and waits until it is ready: the log shows
// the "waybill serve: data dir" line that serve prints once every part has started (the control
// socket is not a usable signal: a SIGKILLed server leaves a stale control.sock behind).
// Stop() sends SIGTERM and returns the exit code; Kill() sends SIGKILL. The destructor kills a
// server still running, and the child has PR_SET_PDEATHSIG, so a crashed test leaves no server
// behind.
// Thread-safety: none; drive one instance from the thread that constructed it.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/child_process.h"

namespace waybill::testing {

// The outcome of one `waybill` command.
struct CliResult {
  int code = -1;    // exit code; -1 if it did not exit normally
  std::string out;  // standard output
  std::string err;  // standard error
};

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `waybill ARGS...` (no shell: arguments are passed as they are) and waits for it.
inline CliResult RunCli(const std::vector<std::string>& args) {
  CliResult r;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  std::vector<std::string> all = {WAYBILL_CLI_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  // Read both pipes until EOF without deadlocking on either.
  int fds[2] = {out_pipe[0], err_pipe[0]};
  std::string* sinks[2] = {&r.out, &r.err};
  bool open_fd[2] = {true, true};
  char buf[8192];
  while (open_fd[0] || open_fd[1]) {
    fd_set set;
    FD_ZERO(&set);
    int maxfd = -1;
    for (int i = 0; i < 2; ++i) {
      if (open_fd[i]) {
        FD_SET(fds[i], &set);
        maxfd = std::max(maxfd, fds[i]);
      }
    }
    if (select(maxfd + 1, &set, nullptr, nullptr, nullptr) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (!open_fd[i] || !FD_ISSET(fds[i], &set)) continue;
      const ssize_t n = read(fds[i], buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        open_fd[i] = false;
      }
    }
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class ServeProcess {
 public:
  // `args` follow `serve --data-dir DATA_DIR`. Nothing starts until Start().
  ServeProcess(std::string data_dir, std::vector<std::string> args, std::string log_path)
      : data_dir_(std::move(data_dir)), args_(std::move(args)), log_path_(std::move(log_path)) {}
  ~ServeProcess() { Kill(); }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // Starts serve and waits (up to timeout) until it logs that it is ready. Throws with the log
  // tail if it exits or does not get ready in time.
  void Start(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    if (pid_ > 0) throw std::runtime_error("ServeProcess::Start: already running");
    std::vector<std::string> all = {WAYBILL_CLI_PATH, "serve", "--data-dir", data_dir_};
    all.insert(all.end(), args_.begin(), args_.end());
    // Tests run in parallel: never the default port. Port 0 picks a free one (DATA_DIR/http.url).
    if (std::find(args_.begin(), args_.end(), "--http") == args_.end()) {
      all.insert(all.end(), {"--http", "127.0.0.1:0"});
    }
    struct stat st {};
    log_offset_ = stat(log_path_.c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
    pid_ = SpawnWithLog(std::move(all), log_path_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int wstatus = 0;
      if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("waybill serve exited during startup (status " +
                                 std::to_string(wstatus) + "); log:\n" + LogTail());
      }
      if (ReadWholeFile(log_path_).find("waybill serve: data dir", log_offset_) !=
          std::string::npos) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Kill();
    throw std::runtime_error("waybill serve did not get ready in time; log:\n" + LogTail());
  }

  // SIGTERM, then waits up to `timeout` for the exit. Returns the exit code, -2 if it was
  // killed by a signal, or -1 if it did not exit in time (it is then SIGKILLed).
  // *elapsed receives the time it took.
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(15),
           std::chrono::milliseconds* elapsed = nullptr) {
    if (pid_ <= 0) return -3;
    const auto started = std::chrono::steady_clock::now();
    kill(pid_, SIGTERM);
    const auto deadline = started + timeout;
    int result = -1;
    while (std::chrono::steady_clock::now() < deadline) {
      int wstatus = 0;
      const pid_t r = waitpid(pid_, &wstatus, WNOHANG);
      if (r == pid_) {
        result = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -2;
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (elapsed != nullptr) {
      *elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - started);
    }
    if (pid_ > 0) Kill();
    return result;
  }

  // SIGKILL and reap. Idempotent.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  bool running() const { return pid_ > 0; }
  // The HTTP base URL the server wrote (after Start), without the newline; "" when none.
  std::string http_url() const {
    std::string url = ReadWholeFile(data_dir_ + "/http.url");
    while (!url.empty() && (url.back() == '\n' || url.back() == '\r')) url.pop_back();
    return url;
  }
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_path() const { return log_path_; }

  std::string LogTail(size_t max_bytes = 6000) const {
    std::string s = ReadWholeFile(log_path_);
    return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
  }

 private:
  std::string data_dir_;
  std::vector<std::string> args_;
  std::string log_path_;
  size_t log_offset_ = 0;
  pid_t pid_ = -1;
};

}  // namespace waybill::testing
