// Format compatibility (issue 6, "Backups and upgrades"): the committed data dirs
// tests/fixtures/ledger-format-N/ (each made by make-ledger-format-N.sh with the format-N
// binary) must open with today's code, verify to the head digest they had when they were made,
// show the same view and dead letters, and publish what their outbox holds; a data dir of a
// newer format must be refused by `waybill serve` and `waybill verify` with a message to
// upgrade. A later format adds its own fixture and keeps these.
#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <variant>

#include "ledger/key_layout.h"
#include "ledger/ledger.h"
#include "projections/outbox_resolver.h"
#include "schemas/sha256.h"
#include "tests/raw_rocksdb.h"
#include "tests/serve_process.h"
#include "tests/test_util.h"

namespace waybill {
namespace {
namespace fs = std::filesystem;

// Each fixture as made (its head.json says the same). Both hold the same messages: 43 events,
// 14 dead letters, and the views and outbox entries of an offline `waybill rebuild`.
struct Fixture {
  std::uint32_t format;
  const char* head_hash;
};
constexpr Fixture kFixtures[] = {
    {1, "1ec0537613ec9fd67e943058bb932e329e67e889a100181c19f761dcf47fbb42"},
    {2, "6968f218898b3745e5246ddb32ab9d109ec7c63773c1b894cae93f479d5963d6"},
};
constexpr std::uint64_t kFixtureEvents = 43;
constexpr std::uint64_t kFixtureDeadLetters = 14;

std::string FixtureDir(std::uint32_t format) {
  return std::string(WAYBILL_SOURCE_DIR) + "/tests/fixtures/ledger-format-" +
         std::to_string(format);
}

// A writable copy of a fixture's data dir (opening it read-write rewrites files).
std::string CopyFixture(const testing::TempDir& tmp, std::uint32_t format = 1) {
  const std::string dir = tmp.Sub("data");
  fs::copy(FixtureDir(format) + "/data", dir, fs::copy_options::recursive);
  return dir;
}

std::string StoredFormatVersion(const std::string& dir) {
  std::string version;
  testing::WithRawRocksDb(dir, [&](rocksdb::DB& db, const testing::RawFamilies&) {
    REQUIRE(db.Get(rocksdb::ReadOptions(), std::string(ledger::kMetaFormatVersion), &version).ok());
  });
  return version;
}

}  // namespace

TEST_CASE("every format's fixture opens, verifies to its pinned head and reads as it did") {
  for (const Fixture& fixture : kFixtures) {
    INFO("ledger-format-" << fixture.format);
    testing::TempDir tmp;
    const std::string dir = CopyFixture(tmp, fixture.format);
    CHECK(StoredFormatVersion(dir) == std::to_string(fixture.format));
    {
      auto ledger = ledger::Ledger::Open(dir);  // read-write, with the full startup check
      REQUIRE_MESSAGE(ledger.ok(), ledger.status().ToString());
      auto report = (*ledger)->Verify();
      REQUIRE(report.ok());
      CHECK(report->intact);
      CHECK(report->events == kFixtureEvents);
      CHECK(report->head.seq == kFixtureEvents);
      CHECK(ToHex(report->head.hash) == fixture.head_hash);

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

      // The outbox the publisher would drain: whole messages in format 1, view references
      // from format 2 on; each becomes a view message of the fixture's shipments.
      std::vector<std::uint64_t> seqs;
      std::vector<projections::OutboxEntry> entries;
      REQUIRE((*ledger)
                  ->ScanAux(ledger::AuxSpace::kOutbox, "", "",
                            [&](std::string_view key, std::string_view value) {
                              auto entry = projections::DecodeOutboxEntry(value);
                              REQUIRE_MESSAGE(entry.ok(), entry.status().ToString());
                              CHECK(std::holds_alternative<projections::OutboxViewRef>(*entry) ==
                                    (fixture.format >= 2));
                              seqs.push_back(ledger::GetU64BE(key.data()));
                              entries.push_back(std::move(entry).value());
                              return true;
                            })
                  .ok());
      CHECK(entries.size() > kFixtureEvents);
      auto messages = projections::ResolveOutboxEntries(**ledger, seqs, entries, nullptr);
      REQUIRE_MESSAGE(messages.ok(), messages.status().ToString());
      for (const auto& m : *messages) {
        CHECK(m.subject.starts_with("waybill.views."));
        CHECK(m.payload.starts_with("{\"view\":"));
      }
    }
    // A read-write open stamps today's format: an older binary must not open it any more.
    CHECK(StoredFormatVersion(dir) == std::to_string(ledger::kFormatVersion));
    const std::string fixture_dir = FixtureDir(fixture.format);
    const testing::CliResult view = testing::RunCli({"view", "--data-dir", dir, "SHP-1", "--json"});
    CHECK(view.code == 0);
    CHECK(view.out == testing::ReadWholeFile(fixture_dir + "/view-SHP-1.json"));
    const testing::CliResult verify = testing::RunCli({"verify", "--data-dir", dir});
    CHECK(verify.code == 0);
    CHECK(verify.out == testing::ReadWholeFile(fixture_dir + "/head.json"));
  }
}

TEST_CASE("a data dir of a newer format is refused by serve and verify, naming the upgrade") {
  testing::TempDir tmp;
  const std::string dir = CopyFixture(tmp);
  testing::WithRawRocksDb(dir, [](rocksdb::DB& db, const testing::RawFamilies&) {
    REQUIRE(db.Put(rocksdb::WriteOptions(), std::string(ledger::kMetaFormatVersion),
                   std::to_string(ledger::kFormatVersion + 1))
                .ok());
  });
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
