// Helpers shared by the ledger's unit tests (real RocksDB in a temp dir).
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "ledger/ledger.h"

namespace waybill::ledger {

inline constexpr UnixNanos kT0 = 1'735'689'600'000'000'000;  // 2025-01-01T00:00:00Z

// Opens (creating) a ledger in `dir`; fails the test with the open error otherwise.
inline std::unique_ptr<Ledger> OpenOrDie(const std::string& dir, LedgerOptions options = {}) {
  auto r = Ledger::Open(dir, options);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return std::move(r).value();
}

// One append of `events`, prepared as a producer would.
inline AppendBatch BatchOf(const std::vector<Event>& events) {
  AppendBatch b;
  for (const auto& e : events) b.events.push_back(PrepareEvent(e));
  return b;
}

}  // namespace waybill::ledger
