// Tamper test: change one byte of a stored event directly in RocksDB; `verify` (the library
// call and the `waybill verify` command) must name that sequence.
#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <cstdio>
#include <random>

#include "ledger/key_layout.h"
#include "ledger/ledger.h"
#include "ledger/record_format.h"
#include "tests/raw_rocksdb.h"
#include "tests/test_util.h"

namespace waybill {
namespace {

constexpr int kEvents = 200;

void Populate(const std::string& dir) {
  auto ledger = std::move(ledger::Ledger::Open(dir)).value();
  ledger::AppendBatch batch;
  for (int i = 0; i < kEvents; ++i) {
    batch.events.push_back(ledger::PrepareEvent(testing::MakeMilestone(
        "t-" + std::to_string(i), "S" + std::to_string(i % 5), 1'700'000'000'000'000'000 + i)));
  }
  REQUIRE(ledger->Append(std::move(batch)).ok());
}

// Opens the data dir with plain RocksDB and applies `edit` to the events family.
template <typename Fn>
void WithRawEvents(const std::string& dir, Fn edit) {
  testing::WithRawRocksDb(dir, [&](rocksdb::DB& db, const testing::RawFamilies& families) {
    edit(&db, testing::RawFamily(families, ledger::kCfEvents));
  });
}

std::pair<int, std::string> RunVerifyCli(const std::string& dir) {
  const std::string cmd =
      std::string(WAYBILL_CLI_PATH) + " verify --data-dir " + dir + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

// A writer's open refuses a chain whose last events do not verify (StartupCheck); these
// tests look at Verify itself, so they open without that check.
ledger::LedgerOptions NoStartupCheck() {
  ledger::LedgerOptions o;
  o.startup_check = ledger::StartupCheck::kOff;
  return o;
}

}  // namespace

TEST_CASE("flipping any one byte of a stored event is caught at that sequence") {
  std::mt19937 rng(42);
  // Offsets in the header (version, seq, recorded_at, prev_hash, hash) and in the content.
  const std::vector<std::size_t> offsets = {0, 3, 12, 20, 60, 81, 90, 120};
  for (std::size_t offset : offsets) {
    testing::TempDir dir;
    Populate(dir.path());
    const std::uint64_t victim = 1 + rng() % kEvents;
    CAPTURE(offset);
    CAPTURE(victim);
    WithRawEvents(dir.path(), [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
      std::string value;
      REQUIRE(db->Get(rocksdb::ReadOptions(), cf, ledger::SeqKey(victim), &value).ok());
      REQUIRE(offset < value.size());
      value[offset] = static_cast<char>(value[offset] ^ 0x01);
      REQUIRE(db->Put(rocksdb::WriteOptions(), cf, ledger::SeqKey(victim), value).ok());
    });
    auto ledger_or = ledger::Ledger::Open(dir.path(), NoStartupCheck());
    REQUIRE(ledger_or.ok());
    auto report = ledger_or.value()->Verify();
    REQUIRE(report.ok());
    CHECK_FALSE(report->intact);
    CHECK(report->first_broken_seq == victim);
    CHECK(report->events == victim - 1);
    ledger_or.value().reset();

    auto [code, out] = RunVerifyCli(dir.path());
    CHECK(code == 4);
    CHECK(out.find("\"first_broken_seq\":" + std::to_string(victim) + ",") != std::string::npos);
  }
}

TEST_CASE("a deleted event is reported as missing at its sequence") {
  testing::TempDir dir;
  Populate(dir.path());
  WithRawEvents(dir.path(), [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    REQUIRE(db->Delete(rocksdb::WriteOptions(), cf, ledger::SeqKey(77)).ok());
  });
  auto ledger = std::move(ledger::Ledger::Open(dir.path(), NoStartupCheck())).value();
  auto report = ledger->Verify();
  REQUIRE(report.ok());
  CHECK_FALSE(report->intact);
  CHECK(report->first_broken_seq == 77);
  CHECK(report->reason.find("missing") != std::string::npos);
}

TEST_CASE("an intact ledger verifies through the CLI with the documented JSON") {
  testing::TempDir dir;
  Populate(dir.path());
  auto [code, out] = RunVerifyCli(dir.path());
  CHECK(code == 0);
  CHECK(out.find("{\"events\":200,\"head_seq\":200,\"head_hash\":\"") == 0);
}

}  // namespace waybill
