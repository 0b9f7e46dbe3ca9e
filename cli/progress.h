// Progress of long `waybill` operations on stderr, for people at a terminal: one line,
// redrawn in place with \r and erased when the operation ends. When stderr is not a
// terminal (piped, redirected, under a test) nothing at all is written, so scripts and
// logs see only the commands' normal output.
//
//   ProgressMeter meter("import", total_bytes, ProgressUnit::kBytes);
//   meter.Update(bytes_sent, events_done);           // as work completes
//   Spinner spin("rebuild");                          // while one long request is pending
//
// Thread-safety: a ProgressMeter is driven by one thread. A Spinner redraws from a thread of
// its own; construct and destroy it on one thread and write nothing else to stderr while it
// lives.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace waybill::cli {

// Whether stderr is a terminal (isatty(2)).
bool StderrIsTerminal();

enum class ProgressUnit { kBytes, kItems };

// One progress line, without \r. `total` 0 means unknown (stdin): no percentage or time
// left. `events` is shown when non-zero, with its rate over `elapsed`; time left is
// extrapolated from `done` / `total`.
// "import: 12.0 MiB of 48.0 MiB (25%), 120000 events, 40000 events/s, 9 s left"
// "dlq retry: 3 of 12 (25%), 1.5/s, 6 s left"
std::string FormatProgress(const std::string& label, std::uint64_t done, std::uint64_t total,
                           ProgressUnit unit, std::uint64_t events,
                           std::chrono::duration<double> elapsed);

// "rebuild: waiting for the server | 12.3 s"; `frame` picks the spinner character.
std::string FormatSpinner(const std::string& label, std::uint64_t frame,
                          std::chrono::duration<double> elapsed);

class ProgressMeter {
 public:
  // `enabled` defaults to StderrIsTerminal(); a disabled meter does nothing.
  ProgressMeter(std::string label, std::uint64_t total, ProgressUnit unit,
                bool enabled = StderrIsTerminal());
  ~ProgressMeter();  // erases the line
  ProgressMeter(const ProgressMeter&) = delete;
  ProgressMeter& operator=(const ProgressMeter&) = delete;

  // Records progress; redraws at most ten times a second (and always the first time).
  void Update(std::uint64_t done, std::uint64_t events = 0);
  // Erases the line now (before printing a result or an error).
  void Clear();

 private:
  std::string label_;
  std::uint64_t total_;
  ProgressUnit unit_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
};

class Spinner {
 public:
  // Starts redrawing every 100 ms when `enabled` (default: StderrIsTerminal()).
  explicit Spinner(std::string label, bool enabled = StderrIsTerminal());
  ~Spinner();  // stops and erases the line
  Spinner(const Spinner&) = delete;
  Spinner& operator=(const Spinner&) = delete;

 private:
  std::jthread thread_;
};

}  // namespace waybill::cli
