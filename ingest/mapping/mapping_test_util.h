// Helpers shared by the mapping adapter's tests.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/adapter.h"
#include "ingest/mapping/mapping_adapter.h"
#include "schemas/event_validate.h"
#include "schemas/time.h"

namespace waybill::ingest::testing {

inline std::string SourceDir() {
  const char* dir = std::getenv("WAYBILL_SOURCE_DIR");
  REQUIRE_MESSAGE(dir != nullptr, "WAYBILL_SOURCE_DIR is not set (run through ctest)");
  return dir;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read ", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string Fixture(std::string_view name) {
  return ReadFile(SourceDir() + "/tests/fixtures/erp/" + std::string(name));
}

inline std::unique_ptr<Adapter> Embedded(std::string_view format) {
  auto adapter = MakeEmbeddedMappingAdapter(format);
  REQUIRE_MESSAGE(adapter.ok(), adapter.status().ToString());
  return std::move(adapter).value();
}

// Maps `document` and returns every message; checks that every event passes ValidateEvent
// and that rejected messages carry no events.
inline std::vector<MappedMessage> MapAll(Adapter& adapter, std::string_view document,
                                         std::optional<std::string> partner = std::nullopt) {
  static const PartnerProfiles kProfiles;
  AdapterContext ctx;
  ctx.partner = std::move(partner);
  ctx.profiles = &kProfiles;
  ctx.received_at = UnixNanosFromCivil(2025, 3, 6, 12, 0, 0, 0);
  std::vector<MappedMessage> out;
  adapter.Map(document, ctx, [&](MappedMessage&& m) { out.push_back(std::move(m)); });
  for (const MappedMessage& m : out) {
    if (m.rejected()) CHECK(m.events.empty());
    for (const Event& e : m.events) {
      Status st = ValidateEvent(e);
      CHECK_MESSAGE(st.ok(), st.ToString());
      CHECK(e.correlation_id.has_value());
      CHECK(IsZero(e.raw_hash));
      CHECK_FALSE(e.source.principal.has_value());
    }
  }
  return out;
}

inline std::string Errors(const MappedMessage& m) {
  std::string all;
  for (const std::string& e : m.errors) all += e + "\n";
  return all;
}

inline UnixNanos Ms(std::int64_t ms) { return ms * 1'000'000; }

}  // namespace waybill::ingest::testing
