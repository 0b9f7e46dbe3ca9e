// Format compatibility (issue 6, "Backups and upgrades"): the committed data dir
// tests/fixtures/ledger-format-1/ (made by make-ledger-format-1.sh with the format-1 binary)
// must open with today's code, verify to the head digest it had when it was made, and show the
// same view and dead letters; a data dir of a newer format must be refused by `waybill serve`
// and `waybill verify` with a message to upgrade. A later format adds its own fixture and
// keeps this one.
#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <filesystem>

#include "ledger/key_layout.h"
#include "ledger/ledger.h"
#include "schemas/sha256.h"
#include "tests/serve_process.h"
#include "tests/test_util.h"

namespace waybill {
namespace {
namespace fs = std::filesystem;

// The fixture as made (tests/fixtures/ledger-format-1/head.json says the same).
constexpr std::uint64_t kFixtureEvents = 43;
constexpr const char* kFixtureHeadHash =
    "1ec0537613ec9fd67e943058bb932e329e67e889a100181c19f761dcf47fbb42";
constexpr std::uint64_t kFixtureDeadLetters = 14;

const std::string kFixture = std::string(WAYBILL_SOURCE_DIR) + "/tests/fixtures/ledger-format-1";

// A writable copy of the fixture's data dir (opening it read-write rewrites files).
std::string CopyFixture(const testing::TempDir& tmp) {
  const std::string dir = tmp.Sub("data");
  fs::copy(kFixture + "/data", dir, fs::copy_options::recursive);
  return dir;
}

}  // namespace

TEST_CASE("the format-1 fixture opens, verifies to its pinned head and reads as it did") {
  testing::TempDir tmp;
  const std::string dir = CopyFixture(tmp);
  {
    auto ledger = ledger::Ledger::Open(dir);  // read-write, with the full startup check
    REQUIRE_MESSAGE(ledger.ok(), ledger.status().ToString());
    auto report = (*ledger)->Verify();
    REQUIRE(report.ok());
    CHECK(report->intact);
    CHECK(report->events == kFixtureEvents);
    CHECK(report->head.seq == kFixtureEvents);
    CHECK(ToHex(report->head.hash) == kFixtureHeadHash);

    auto dead = (*ledger)->ListDeadLetters(0, 100);
    REQUIRE(dead.ok());
    CHECK(dead->size() == kFixtureDeadLetters);
    auto first = (*ledger)->GetDeadLetter(1);
    REQUIRE(first.ok());
    CHECK(first->format == "canonical");
    CHECK(first->origin == std::optional<std::string>("canonical/mixed.ndjson:3"));
    CHECK(first->raw == "this is not json");
    REQUIRE(first->reasons.size() == 1);
    CHECK(first->reasons[0].find("expected a JSON object") != std::string::npos);

    auto shipment = (*ledger)->ReadShipment("SHP-1");
    REQUIRE(shipment.ok());
    CHECK(shipment->size() == 4);
  }
  const testing::CliResult view = testing::RunCli({"view", "--data-dir", dir, "SHP-1", "--json"});
  CHECK(view.code == 0);
  CHECK(view.out == testing::ReadWholeFile(kFixture + "/view-SHP-1.json"));
  const testing::CliResult verify = testing::RunCli({"verify", "--data-dir", dir});
  CHECK(verify.code == 0);
  CHECK(verify.out == testing::ReadWholeFile(kFixture + "/head.json"));
}

TEST_CASE("a data dir of a newer format is refused by serve and verify, naming the upgrade") {
  testing::TempDir tmp;
  const std::string dir = CopyFixture(tmp);
  {
    rocksdb::Options o;
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(o, dir, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    REQUIRE(rocksdb::DB::Open(o, dir, cfs, &handles, &db).ok());
    REQUIRE(db->Put(rocksdb::WriteOptions(), std::string(ledger::kMetaFormatVersion),
                    std::to_string(ledger::kFormatVersion + 1))
                .ok());
    for (auto* h : handles) REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
    REQUIRE(db->Close().ok());
    delete db;
  }
  const std::string newer = "has ledger format " + std::to_string(ledger::kFormatVersion + 1) +
                            ", newer than this binary's " + std::to_string(ledger::kFormatVersion) +
                            "; upgrade waybill";

  testing::ServeProcess serve(dir, {}, tmp.Sub("serve.log"));
  std::string log;
  try {
    serve.Start();
    FAIL("waybill serve started on a newer format; log:\n" << serve.LogTail());
  } catch (const std::runtime_error& e) {
    log = e.what();
  }
  CHECK(log.find("exited during startup") != std::string::npos);
  CHECK(log.find(newer) != std::string::npos);

  const testing::CliResult verify = testing::RunCli({"verify", "--data-dir", dir});
  CHECK(verify.code != 0);
  CHECK(verify.err.find(newer) != std::string::npos);
  CHECK(verify.out.find("head_hash") == std::string::npos);
}

}  // namespace waybill
