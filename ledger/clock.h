// Clock: where the ledger's `recorded_at` comes from. Tests inject a manual clock to
// check reads by recorded time; production uses the system clock.
// Thread-safety: implementations must be safe to call from any thread.
#pragma once

#include <atomic>

#include "schemas/event.h"

namespace waybill::ledger {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual UnixNanos Now() = 0;
};

// Wall-clock time (std::chrono::system_clock).
class SystemClock final : public Clock {
 public:
  UnixNanos Now() override;
};

// A clock that only moves when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(UnixNanos start) : now_(start) {}
  UnixNanos Now() override { return now_.load(); }
  void Set(UnixNanos t) { now_.store(t); }
  void Advance(UnixNanos by) { now_.fetch_add(by); }

 private:
  std::atomic<UnixNanos> now_;
};

}  // namespace waybill::ledger
