// Runs a command and reports its wall time and peak RSS (the child's ru_maxrss), as
// `/usr/bin/time -v` would, without needing the `time` package. The command's own stdout
// goes to OUT_FILE.
//
// usage: compare_exec OUT_FILE COMMAND [ARGS...]
// Prints {"exit":N,"seconds":X,"peak_rss_kib":N}; exits 0 when the command could be run.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "bench/bench_util.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: compare_exec OUT_FILE COMMAND [ARGS...]\n");
    return 2;
  }
  const auto start = waybill::bench::Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || dup2(fd, 1) < 0) _exit(126);
    execvp(argv[2], argv + 2);
    _exit(127);
  }
  if (pid < 0) {
    std::perror("compare_exec: fork");
    return 1;
  }
  int status = 0;
  rusage ru{};
  if (wait4(pid, &status, 0, &ru) != pid) {
    std::perror("compare_exec: wait4");
    return 1;
  }
  const double seconds = waybill::bench::Seconds(start);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::printf("{\"exit\":%d,\"seconds\":%.3f,\"peak_rss_kib\":%ld}\n", code, seconds, ru.ru_maxrss);
  return 0;
}
