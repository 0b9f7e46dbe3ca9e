#include "cli/progress.h"

#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stop_token>

namespace waybill::cli {
namespace {

constexpr char kErase[] = "\r\033[K";

std::string Fixed1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string Bytes(std::uint64_t n) {
  if (n < 1024) return std::to_string(n) + " B";
  if (n < 1024 * 1024) return Fixed1(static_cast<double>(n) / 1024) + " KiB";
  if (n < 1024ull * 1024 * 1024) return Fixed1(static_cast<double>(n) / (1024 * 1024)) + " MiB";
  return Fixed1(static_cast<double>(n) / (1024.0 * 1024 * 1024)) + " GiB";
}

std::string Amount(std::uint64_t n, ProgressUnit unit) {
  return unit == ProgressUnit::kBytes ? Bytes(n) : std::to_string(n);
}

std::string Duration(double seconds) {
  const auto s = static_cast<std::uint64_t>(seconds + 0.5);
  if (s == 0) return "<1 s";
  if (s < 60) return std::to_string(s) + " s";
  if (s < 3600) return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
  return std::to_string(s / 3600) + " h " + std::to_string(s / 60 % 60) + " min";
}

std::string Rate(double per_second) {
  return per_second >= 100 ? std::to_string(static_cast<std::uint64_t>(per_second + 0.5))
                           : Fixed1(per_second);
}

void Write(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

bool StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

std::string FormatProgress(const std::string& label, std::uint64_t done, std::uint64_t total,
                           ProgressUnit unit, std::uint64_t events,
                           std::chrono::duration<double> elapsed) {
  const double secs = elapsed.count();
  std::string line = label + ": " + Amount(done, unit);
  if (total > 0) {
    line += " of " + Amount(total, unit) + " (" + std::to_string(done * 100 / total) + "%)";
  }
  if (events > 0) {
    line += ", " + std::to_string(events) + " events";
    if (secs > 0) line += ", " + Rate(events / secs) + " events/s";
  } else if (unit == ProgressUnit::kItems && secs > 0 && done > 0) {
    line += ", " + Rate(done / secs) + "/s";
  }
  if (total > 0 && done > 0 && done < total && secs > 0) {
    line += ", " + Duration(secs * static_cast<double>(total - done) / done) + " left";
  }
  return line;
}

std::string FormatSpinner(const std::string& label, std::uint64_t frame,
                          std::chrono::duration<double> elapsed) {
  static constexpr char kFrames[] = {'|', '/', '-', '\\'};
  return label + ": waiting for the server " + kFrames[frame % 4] + " " + Fixed1(elapsed.count()) +
         " s";
}

ProgressMeter::ProgressMeter(std::string label, std::uint64_t total, ProgressUnit unit,
                             bool enabled)
    : label_(std::move(label)), total_(total), unit_(unit), enabled_(enabled) {}

ProgressMeter::~ProgressMeter() { Clear(); }

void ProgressMeter::Update(std::uint64_t done, std::uint64_t events) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  Write(kErase + FormatProgress(label_, done, total_, unit_, events, now - started_));
}

void ProgressMeter::Clear() {
  if (!drawn_) return;
  drawn_ = false;
  Write(kErase);
}

Spinner::Spinner(std::string label, bool enabled) {
  if (!enabled) return;
  thread_ = std::jthread([label = std::move(label)](std::stop_token stop) {
    const auto started = std::chrono::steady_clock::now();
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    // Quick answers draw nothing: the first frame waits a moment.
    cv.wait_for(lock, stop, std::chrono::milliseconds(300), [] { return false; });
    bool drawn = false;
    for (std::uint64_t frame = 0; !stop.stop_requested(); ++frame) {
      Write(kErase + FormatSpinner(label, frame, std::chrono::steady_clock::now() - started));
      drawn = true;
      cv.wait_for(lock, stop, std::chrono::milliseconds(100), [] { return false; });
    }
    if (drawn) Write(kErase);
  });
}

Spinner::~Spinner() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

}  // namespace waybill::cli
