#include "ingest/partner_profiles.h"

#include <doctest/doctest.h>

namespace waybill::ingest {

TEST_CASE("profiles are found by id or alias, ignoring padding") {
  auto p = PartnerProfiles::Parse(R"({"partners":[{"id":"ACME","aliases":["ACMEFREIGHT"],
      "time_zone":"America/Chicago","default_currency":"USD"}]})");
  REQUIRE(p.ok());
  REQUIRE(p->Find("ACME") != nullptr);
  CHECK(p->Find("ACMEFREIGHT    ") == p->Find("ACME"));
  CHECK(p->Find("ACME")->time_zone == std::optional<std::string>("America/Chicago"));
  CHECK(p->Find("ACME")->envelope_time_zone == "UTC");
  CHECK(p->Find("OTHER") == nullptr);
}

TEST_CASE("bad profiles are rejected naming the field") {
  auto zone = PartnerProfiles::Parse(R"({"partners":[{"id":"A","time_zone":"Mars/Olympus"}]})");
  CHECK(zone.status().message().find("$.partners[0].time_zone") != std::string::npos);
  auto cur = PartnerProfiles::Parse(R"({"partners":[{"id":"A","default_currency":"XYZ"}]})");
  CHECK(cur.status().message().find("default_currency") != std::string::npos);
  auto dup = PartnerProfiles::Parse(R"({"partners":[{"id":"A"},{"id":"B","aliases":["A"]}]})");
  CHECK(dup.status().message().find("already used") != std::string::npos);
  CHECK_FALSE(PartnerProfiles::Parse("{").ok());
  CHECK_FALSE(PartnerProfiles::Parse(R"({"partners":[{"name":"no id"}]})").ok());
}

TEST_CASE("the shipped example file is valid") {
  auto p = PartnerProfiles::Load(std::string(std::getenv("WAYBILL_SOURCE_DIR")) +
                                 "/schemas/partners.example.json");
  REQUIRE_MESSAGE(p.ok(), p.status().ToString());
  CHECK(p->size() >= 2);
}

}  // namespace waybill::ingest
