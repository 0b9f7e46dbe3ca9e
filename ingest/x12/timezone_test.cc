// schemas/timezone.h: civil times in IANA zones and at fixed offsets, to UTC.
#include "schemas/timezone.h"

#include <doctest/doctest.h>

#include "schemas/time.h"

namespace waybill {
namespace {

std::string Utc(const Result<ParsedTime>& r) {
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  return FormatUtc(r->utc);
}

TEST_CASE("LocalToUtc applies standard and daylight time") {
  auto winter = LocalToUtc("America/Chicago", 2025, 1, 15, 12, 0, 0);
  CHECK(Utc(winter) == "2025-01-15T18:00:00Z");
  CHECK(winter->offset_minutes == -360);
  auto summer = LocalToUtc("America/Chicago", 2025, 7, 15, 12, 0, 0);
  CHECK(Utc(summer) == "2025-07-15T17:00:00Z");
  CHECK(summer->offset_minutes == -300);
  CHECK(Utc(LocalToUtc("America/New_York", 2025, 7, 15, 12, 0, 0)) == "2025-07-15T16:00:00Z");
  CHECK(Utc(LocalToUtc("America/Denver", 2025, 1, 15, 12, 0, 0)) == "2025-01-15T19:00:00Z");
  CHECK(Utc(LocalToUtc("America/Los_Angeles", 2025, 1, 15, 12, 0, 0)) == "2025-01-15T20:00:00Z");
  auto tokyo = LocalToUtc("Asia/Tokyo", 2025, 3, 1, 9, 0, 0);
  CHECK(Utc(tokyo) == "2025-03-01T00:00:00Z");
  CHECK(tokyo->offset_minutes == 540);
  // Arizona does not observe daylight saving time.
  CHECK(LocalToUtc("America/Phoenix", 2025, 7, 15, 12, 0, 0)->offset_minutes == -420);
}

TEST_CASE("LocalToUtc: the spring-forward gap takes the offset in force before it") {
  // 2025-03-09 02:00 CST -> 03:00 CDT in Chicago: 02:30 does not exist.
  auto gap = LocalToUtc("America/Chicago", 2025, 3, 9, 2, 30, 0);
  CHECK(Utc(gap) == "2025-03-09T08:30:00Z");
  CHECK(gap->offset_minutes == -360);
  auto before = LocalToUtc("America/Chicago", 2025, 3, 9, 1, 59, 59);
  CHECK(Utc(before) == "2025-03-09T07:59:59Z");
  auto after = LocalToUtc("America/Chicago", 2025, 3, 9, 3, 0, 0);
  CHECK(Utc(after) == "2025-03-09T08:00:00Z");
  CHECK(after->offset_minutes == -300);
}

TEST_CASE("LocalToUtc: an ambiguous fall-back time takes the earliest instant") {
  // 2025-11-02 02:00 CDT -> 01:00 CST: 01:30 happens twice; the first (CDT) is chosen.
  auto ambiguous = LocalToUtc("America/Chicago", 2025, 11, 2, 1, 30, 0);
  CHECK(Utc(ambiguous) == "2025-11-02T06:30:00Z");
  CHECK(ambiguous->offset_minutes == -300);
  auto later = LocalToUtc("America/Chicago", 2025, 11, 2, 2, 30, 0);
  CHECK(Utc(later) == "2025-11-02T08:30:00Z");
  CHECK(later->offset_minutes == -360);
  // Europe too (last Sunday of October).
  auto paris = LocalToUtc("Europe/Paris", 2025, 10, 26, 2, 30, 0);
  CHECK(Utc(paris) == "2025-10-26T00:30:00Z");
  CHECK(paris->offset_minutes == 120);
}

TEST_CASE("LocalToUtc rejects unknown zones and impossible times, naming them") {
  auto unknown = LocalToUtc("Mars/Olympus_Mons", 2025, 1, 1, 0, 0, 0);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().message().find("Mars/Olympus_Mons") != std::string::npos);
  auto feb29 = LocalToUtc("America/Chicago", 2025, 2, 29, 0, 0, 0);
  REQUIRE_FALSE(feb29.ok());
  CHECK(feb29.status().message().find("2025-02-29") != std::string::npos);
  CHECK_FALSE(LocalToUtc("America/Chicago", 2025, 1, 1, 24, 0, 0).ok());
  CHECK_FALSE(LocalToUtc("America/Chicago", 2025, 1, 1, 0, 60, 0).ok());
  CHECK_FALSE(LocalToUtc("America/Chicago", 2025, 1, 1, 0, 0, 60).ok());
  CHECK_FALSE(LocalToUtc("America/Chicago", 2025, 13, 1, 0, 0, 0).ok());
  CHECK_FALSE(LocalToUtc("UTC", 1600, 1, 1, 0, 0, 0).ok());
  CHECK_FALSE(LocalToUtc("UTC", 9999, 1, 1, 0, 0, 0).ok());
  CHECK_FALSE(LocalToUtc("", 2025, 1, 1, 0, 0, 0).ok());
  CHECK(IsKnownTimeZone("America/Chicago"));
  CHECK_FALSE(IsKnownTimeZone("America/Nowhere"));
}

TEST_CASE("FixedOffsetToUtc") {
  auto t = FixedOffsetToUtc(-300, 2025, 7, 15, 12, 0, 0);
  CHECK(Utc(t) == "2025-07-15T17:00:00Z");
  CHECK(t->offset_minutes == -300);
  CHECK(Utc(FixedOffsetToUtc(-210, 2025, 1, 1, 0, 0, 0)) == "2025-01-01T03:30:00Z");
  CHECK(Utc(FixedOffsetToUtc(0, 2262, 4, 11, 23, 47, 16)) == "2262-04-11T23:47:16Z");
  CHECK_FALSE(FixedOffsetToUtc(0, 2262, 4, 11, 23, 47, 17).ok());
  CHECK_FALSE(FixedOffsetToUtc(24 * 60, 2025, 1, 1, 0, 0, 0).ok());
  CHECK_FALSE(FixedOffsetToUtc(0, 2025, 4, 31, 0, 0, 0).ok());
}

TEST_CASE("LocalToUtc is consistent across many lookups and threads of use") {
  // The cache must give the same answers whichever zone was used last.
  for (int i = 0; i < 1000; ++i) {
    const char* zone = i % 2 ? "America/Chicago" : "America/New_York";
    auto r = LocalToUtc(zone, 2025, 1, 15, 12, 0, 0);
    REQUIRE(r.ok());
    CHECK(r->offset_minutes == (i % 2 ? -360 : -300));
  }
}

}  // namespace
}  // namespace waybill
