// End-to-end tests of the `waybill` binary: real process, real RocksDB, real files.
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

TEST_CASE("import reports accepted, duplicates and rejects with line numbers; exit 3") {
  testing::TempDir dir;
  const std::string dd = "--data-dir " + dir.Sub("d");
  Run r = Waybill("import " + dd + " --format canonical " + Fixture("canonical/mixed.ndjson"));
  CHECK(r.code == 3);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(r.out);
  CHECK(int64_t(doc["accepted"]) == 4);
  CHECK(int64_t(doc["duplicates"]) == 1);
  CHECK(int64_t(doc["rejected"]) == 2);
  simdjson::dom::array rejects = doc["rejects"];
  std::vector<int64_t> lines;
  for (auto rej : rejects) lines.push_back(int64_t(rej["line"]));
  CHECK(lines == std::vector<int64_t>{3, 7});
  std::string_view reason = rejects.at(1)["reason"];
  CHECK(reason.find("charges.lines[0].amount") != std::string_view::npos);

  SUBCASE("importing the same file again adds no events") {
    Run again =
        Waybill("import " + dd + " --format canonical " + Fixture("canonical/mixed.ndjson"));
    simdjson::dom::element d2 = parser.parse(again.out);
    CHECK(int64_t(d2["accepted"]) == 0);
    CHECK(int64_t(d2["duplicates"]) == 5);
  }
  SUBCASE("history --json gives the canonical form in sequence order") {
    Run h = Waybill("history " + dd + " SHP-1 --json");
    CHECK(h.code == 0);
    simdjson::dom::array events = parser.parse(h.out);
    std::vector<std::string> ids;
    int64_t last_seq = 0;
    for (auto e : events) {
      ids.emplace_back(std::string_view(e["event_id"]));
      CHECK(int64_t(e["seq"]) > last_seq);
      last_seq = int64_t(e["seq"]);
      CHECK(std::string_view(e["hash"]).size() == 64);
    }
    CHECK(ids == std::vector<std::string>{"evt-1", "evt-2", "evt-3", "evt-5"});
    simdjson::dom::element first = events.at(0);
    CHECK(std::string_view(first["occurred_at"]) == "2025-03-01T08:00:00Z");
    CHECK(std::string_view(first["occurred_offset"]) == "+01:00");
    simdjson::dom::element charges = events.at(2)["charges"];
    CHECK(std::string_view(charges["total"]) == "2025.75");
  }
  SUBCASE("verify and stats describe the same head") {
    Run v = Waybill("verify " + dd);
    CHECK(v.code == 0);
    simdjson::dom::element vd = parser.parse(v.out);
    CHECK(int64_t(vd["events"]) == 4);
    CHECK(int64_t(vd["head_seq"]) == 4);
    const std::string head_hash{std::string_view(vd["head_hash"])};
    Run s = Waybill("stats " + dd);
    CHECK(s.code == 0);
    simdjson::dom::element sd = parser.parse(s.out);
    CHECK(int64_t(sd["events"]) == 4);
    CHECK(int64_t(sd["shipments"]) == 1);
    CHECK(int64_t(sd["dead_letters"]) == 2);
    CHECK(std::string_view(sd["head_hash"]) == head_hash);
  }
}

TEST_CASE("a clean import exits 0 with exactly the three counts") {
  testing::TempDir dir;
  const std::string file = dir.Sub("ok.ndjson");
  std::ofstream(file) << R"({"kind":"milestone","occurred_at":"2025-01-01T00:00:00Z",)"
                      << R"("source":{"system":"carrier"},"shipment_id":"A","status":"DELIVERED"})"
                      << "\n";
  Run r = Waybill("import --data-dir " + dir.Sub("d") + " --format canonical " + file);
  CHECK(r.code == 0);
  CHECK(r.out == "{\"accepted\":1,\"duplicates\":0,\"rejected\":0}\n");
}

TEST_CASE("usage errors exit 2, I/O errors exit 1, --help exits 0 with an example") {
  testing::TempDir dir;
  CHECK(Waybill("").code == 2);
  CHECK(Waybill("frobnicate").code == 2);
  CHECK(Waybill("import --data-dir " + dir.path() + " --format nope x").code == 2);
  CHECK(Waybill("import --data-dir " + dir.path() + " --format canonical").code == 2);
  CHECK(Waybill("history --data-dir " + dir.path()).code == 2);
  CHECK(Waybill("import --data-dir " + dir.Sub("d") + " --format canonical /no/such/file").code ==
        1);
  CHECK(Waybill("verify --data-dir " + dir.Sub("empty")).code == 1);
  for (const char* cmd : {"import", "history", "verify", "stats"}) {
    Run h = Waybill(std::string(cmd) + " --help");
    CHECK(h.code == 0);
    CHECK(h.out.find("example:") != std::string::npos);
  }
}

}  // namespace waybill
