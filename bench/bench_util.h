// Helpers shared by the benchmarks: timing and running a phase in a child process so its
// peak RSS is its own.
#pragma once

#include <dlfcn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>

namespace waybill::bench {

using Clock = std::chrono::steady_clock;

inline double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

struct PhaseResult {
  double seconds = 0;
  std::uint64_t count = 0;   // events stored / decoded
  std::uint64_t count2 = 0;  // duplicates (or rejects)
  long peak_rss_mib = 0;
};

// The malloc the process runs with, for the benchmarks' headers: "tcmalloc" when gperftools'
// is linked (or preloaded), else "glibc".
inline const char* AllocatorName() {
  return dlsym(RTLD_DEFAULT, "tc_version") != nullptr ? "tcmalloc" : "glibc";
}

// Runs `fn` in a forked child; returns its result with the child's peak RSS.
inline PhaseResult RunInChild(const std::function<PhaseResult()>& fn) {
  int fds[2];
  if (pipe(fds) != 0) std::exit(1);
  std::fflush(nullptr);  // or the child would print the parent's buffered lines again
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    PhaseResult r = fn();
    if (write(fds[1], &r, sizeof r) != sizeof r) _exit(1);
    _exit(0);
  }
  close(fds[1]);
  PhaseResult r;
  if (read(fds[0], &r, sizeof r) != sizeof r) {
    std::fprintf(stderr, "benchmark phase failed\n");
    std::exit(1);
  }
  close(fds[0]);
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  r.peak_rss_mib = ru.ru_maxrss / 1024;
  return r;
}

}  // namespace waybill::bench
