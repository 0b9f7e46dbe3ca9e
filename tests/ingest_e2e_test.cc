// End to end through the `waybill` binary: a source-format import whose message needs
// reference data, a dead letter, the fix (a partner profile), a retry, and the history.
#include <doctest/doctest.h>
#include <simdjson.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include "tests/cli_runner.h"
#include "tests/test_util.h"

namespace waybill {
namespace {

using Run = testing::CliRun;
using testing::Fixture;
using testing::Waybill;

}  // namespace

TEST_CASE("an X12 LT time without a partner zone is dead-lettered, then retried after the fix") {
  testing::TempDir dir;
  const std::string dd = "--data-dir " + dir.Sub("d");
  simdjson::dom::parser parser;

  // The UT set goes in; the LT set cannot be placed in time without the partner's zone.
  Run imported = Waybill("import " + dd + " --format x12 " + Fixture("e2e/local-time.x12"));
  CHECK(imported.code == 3);
  simdjson::dom::element summary = parser.parse(imported.out);
  CHECK(int64_t(summary["accepted"]) == 1);
  CHECK(int64_t(summary["rejected"]) == 1);
  std::string_view reason = summary["rejects"].at(0)["reason"];
  CHECK(reason.find("LT") != std::string_view::npos);
  const int64_t dl_id = int64_t(summary["rejects"].at(0)["dead_letter_id"]);

  Run listed = Waybill("dlq list " + dd + " --json");
  CHECK(listed.code == 0);
  simdjson::dom::array pending = parser.parse(listed.out);
  REQUIRE(pending.size() == 1);
  CHECK(int64_t(pending.at(0)["id"]) == dl_id);
  CHECK(std::string_view(pending.at(0)["position"]).find("ST 0001") != std::string_view::npos);

  // Retrying before the fix still fails and says why.
  CHECK(Waybill("dlq retry " + dd + " " + std::to_string(dl_id)).code == 3);

  // The fix: the partner's profile names its time zone.
  std::ofstream(dir.Sub("d") + "/partners.json")
      << R"({"version":1,"partners":[{"id":"ACME","aliases":["ACMEFREIGHT"],)"
      << R"("time_zone":"America/Chicago"}]})";
  Run retried = Waybill("dlq retry " + dd + " --all");
  CHECK(retried.code == 0);
  simdjson::dom::element r = parser.parse(retried.out);
  CHECK(int64_t(r["resolved"]) == 1);
  CHECK(int64_t(r["accepted"]) == 1);

  Run history = Waybill("history " + dd + " SHP-LT-1 --json");
  simdjson::dom::array events = parser.parse(history.out);
  REQUIRE(events.size() == 1);
  // 09:30 in Chicago in January (CST, UTC-6) is 15:30 UTC.
  CHECK(std::string_view(events.at(0)["occurred_at"]) == "2025-01-15T15:30:00Z");
  CHECK(std::string_view(events.at(0)["occurred_offset"]) == "-06:00");
  CHECK(std::string_view(events.at(0)["status"]) == "IN_TRANSIT");

  Run all = Waybill("dlq list " + dd + " --all --json");
  simdjson::dom::array every = parser.parse(all.out);
  REQUIRE(every.size() == 1);
  CHECK(std::string_view(every.at(0)["state"]) == "resolved");
  CHECK(Waybill("dlq list " + dd + " --json").out == "[]\n");

  // Importing the same file again adds nothing and dead-letters nothing new.
  Run again = Waybill("import " + dd + " --format x12 " + Fixture("e2e/local-time.x12"));
  simdjson::dom::element s2 = parser.parse(again.out);
  CHECK(int64_t(s2["accepted"]) == 0);
  CHECK(int64_t(s2["duplicates"]) == 2);
  CHECK(again.code == 0);
}

TEST_CASE("dlq usage errors and drop") {
  testing::TempDir dir;
  const std::string dd = "--data-dir " + dir.Sub("d");
  CHECK(Waybill("dlq frob " + dd).code == 2);
  CHECK(Waybill("dlq show " + dd).code == 2);
  CHECK(Waybill("dlq show " + dd + " abc").code == 2);
  Waybill("import " + dd + " --format x12 " + Fixture("e2e/local-time.x12"));
  CHECK(Waybill("dlq show " + dd + " 99").code == 1);
  Run shown = Waybill("dlq show " + dd + " 1");
  CHECK(shown.code == 0);
  CHECK(shown.out.find("\"raw\":\"ISA*00*") != std::string::npos);
  CHECK(Waybill("dlq drop " + dd + " 1 --reason \"test partner\"").code == 0);
  CHECK(Waybill("dlq drop " + dd + " 1").code == 1);  // already dropped
  Run stats = Waybill("stats " + dd);
  CHECK(stats.out.find("\"dead_letters\":1,\"dead_letters_pending\":0") != std::string::npos);
}

}  // namespace waybill
