// Starting a test's helper process (nats-server, waybill serve) with its output appended to a
// log file, and tied to the test's life so a crashed test leaves nothing running.
#pragma once

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace waybill::testing {

// fork + execv of args[0] with `args`; stdout and stderr go to `log_path` (appended). The
// child gets SIGKILL when the thread that started it exits. Returns the child's pid; throws
// when fork fails. Everything the child needs is prepared before fork(): after a fork in a
// multi-threaded process only async-signal-safe calls are allowed.
inline pid_t SpawnWithLog(std::vector<std::string> args, const std::string& log_path) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace waybill::testing
