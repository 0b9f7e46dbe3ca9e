// Helpers shared by tests: temporary directories and small canonical events.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "schemas/event.h"

namespace waybill::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/waybill-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A valid milestone event for `shipment` at `occurred_at` (ns), with the given id.
inline Event MakeMilestone(std::string event_id, std::string shipment, UnixNanos occurred_at,
                           ShipmentStatus status = ShipmentStatus::kInTransit) {
  Event e;
  e.event_id = std::move(event_id);
  e.kind = EventKind::kMilestone;
  e.occurred_at = occurred_at;
  e.source.system = SourceSystem::kCarrier;
  e.source.format = "canonical";
  e.source.partner = "ACME";
  e.shipment_id = std::move(shipment);
  e.carrier = "ACME";
  e.status = status;
  e.source_code = "X6";
  Location loc;
  loc.city = "Chicago";
  loc.country = "US";
  loc.unlocode = "USCHI";
  e.location = loc;
  return e;
}

}  // namespace waybill::testing
