#include "ledger/clock.h"

#include <chrono>

namespace waybill::ledger {

UnixNanos SystemClock::Now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace waybill::ledger
