// Damaged storage (issue 6, "Disk faults"): a torn or corrupted WAL tail and a corrupted SST.
// The real `waybill serve` must refuse to start naming the damaged file, `waybill verify` must
// pinpoint it (exit 4), and a torn tail left by a crash (never acknowledged) must be dropped
// with a warning while every acknowledged event stays. Real RocksDB in temp dirs; the damage
// is made by editing the files the way a disk or a crash would.
#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "ledger/key_layout.h"
#include "ledger/ledger.h"
#include "tests/raw_rocksdb.h"
#include "tests/serve_process.h"
#include "tests/test_util.h"

namespace waybill {
namespace {
namespace fs = std::filesystem;

constexpr int kBatches = 10;
constexpr int kPerBatch = 20;
constexpr std::uint64_t kEvents = kBatches * kPerBatch;

// The newest non-empty write-ahead log of `dir`.
std::string LatestWal(const std::string& dir) {
  std::string latest;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".log" && fs::file_size(e.path()) > 0 &&
        e.path().string() > latest) {
      latest = e.path().string();
    }
  }
  REQUIRE_FALSE(latest.empty());
  return latest;
}

// Appends kBatches synced batches and closes cleanly (no pid file left). Returns the WAL's
// size after each batch (each append is synced, so the file ends at the record boundary):
// ends[i] is where batch i+1's record ends, ends[i-1] where it starts.
std::vector<std::uint64_t> Populate(const std::string& dir) {
  std::vector<std::uint64_t> ends;
  auto ledger = std::move(ledger::Ledger::Open(dir)).value();
  for (int b = 0; b < kBatches; ++b) {
    ledger::AppendBatch batch;
    for (int i = 0; i < kPerBatch; ++i) {
      const int n = b * kPerBatch + i;
      batch.events.push_back(ledger::PrepareEvent(testing::MakeMilestone(
          "d-" + std::to_string(n), "S" + std::to_string(n % 7), 1'700'000'000'000'000'000 + n)));
    }
    REQUIRE(ledger->Append(std::move(batch)).ok());
    ends.push_back(fs::file_size(LatestWal(dir)));
  }
  ledger.reset();
  REQUIRE_FALSE(fs::exists(dir + "/waybill.pid"));
  return ends;
}

void FlipBytes(const std::string& path, std::uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f);
  for (int i = 0; i < 4; ++i) {
    f.seekg(static_cast<std::streamoff>(offset + i));
    const char c = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(offset + i));
    f.put(static_cast<char>(c ^ 0x5a));
  }
}

// What a process killed by SIGKILL leaves behind: its pid file.
void LeaveStalePidFile(const std::string& dir) {
  std::ofstream(dir + "/waybill.pid") << "999999\nwaybill serve\n";
}

// Starts `waybill serve` and expects it to exit during startup; returns its log.
std::string ServeRefuses(const std::string& dir, const testing::TempDir& tmp) {
  testing::ServeProcess serve(dir, {}, tmp.Sub("serve.log"));
  std::string log;
  try {
    serve.Start();
    FAIL("waybill serve started on a damaged data dir; log:\n" << serve.LogTail());
  } catch (const std::runtime_error& e) {
    log = e.what();
  }
  CHECK(log.find("exited during startup") != std::string::npos);
  return log;
}

struct Verified {
  int code = -1;
  std::string out, err;
  std::uint64_t first_broken_seq = 0;
};

Verified RunVerify(const std::string& dir) {
  const testing::CliResult r = testing::RunCli({"verify", "--data-dir", dir});
  Verified v{r.code, r.out, r.err, 0};
  std::smatch m;
  if (std::regex_search(v.out, m, std::regex("\"first_broken_seq\":([0-9]+)"))) {
    v.first_broken_seq = std::stoull(m[1]);
  }
  return v;
}

// Opens `dir` with plain RocksDB (default options), flushes every family to table files and
// returns the live table files of `family`, largest first.
std::vector<std::string> FlushAndListTables(const std::string& dir, const std::string& family) {
  std::vector<rocksdb::LiveFileMetaData> files;
  testing::WithRawRocksDb(dir, [&](rocksdb::DB& db, const testing::RawFamilies& families) {
    REQUIRE(db.Flush(rocksdb::FlushOptions(), families).ok());
    db.GetLiveFilesMetaData(&files);
  });
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.size > b.size; });
  std::vector<std::string> out;
  for (const auto& f : files) {
    if (f.column_family_name == family) out.push_back(f.db_path + f.name);
  }
  REQUIRE_FALSE(out.empty());
  return out;
}

}  // namespace

TEST_CASE("a torn WAL tail after a clean close: serve refuses, verify names the file and byte") {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("data");
  const auto ends = Populate(dir);
  const std::string wal = LatestWal(dir);
  const std::string wal_name = fs::path(wal).filename().string();
  REQUIRE(fs::file_size(wal) == ends.back());
  // The last batch's record loses its last bytes: acknowledged events the WAL no longer holds.
  fs::resize_file(wal, ends.back() - 5);
  const std::string at = "torn at byte " + std::to_string(ends[kBatches - 2]);

  const std::string log = ServeRefuses(dir, tmp);
  CHECK(log.find(wal_name) != std::string::npos);
  CHECK(log.find(at) != std::string::npos);
  CHECK(log.find("acknowledged") != std::string::npos);
  // The refused open changed nothing: the torn file is still there, and still refused.
  CHECK(fs::file_size(wal) == ends.back() - 5);
  CHECK(ServeRefuses(dir, tmp).find(at) != std::string::npos);

  const Verified v = RunVerify(dir);
  CHECK(v.code == 4);
  CHECK(v.first_broken_seq == kEvents - kPerBatch + 1);
  CHECK(v.out.find(wal_name) != std::string::npos);
  CHECK(v.out.find(at) != std::string::npos);
  CHECK(v.out.find("\"events\":" + std::to_string(kEvents - kPerBatch) + ",") != std::string::npos);
}

TEST_CASE("flipped bytes in a WAL record: refused even after a crash, verify pinpoints them") {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("data");
  const auto ends = Populate(dir);
  const std::string wal = LatestWal(dir);
  const std::string wal_name = fs::path(wal).filename().string();
  // Inside the 5th batch's record, well before the tail.
  FlipBytes(wal, (ends[3] + ends[4]) / 2);
  const std::string at = "damaged at byte " + std::to_string(ends[3]);

  std::string log = ServeRefuses(dir, tmp);
  CHECK(log.find(wal_name) != std::string::npos);
  CHECK(log.find(at) != std::string::npos);
  CHECK(log.find("checksum mismatch") != std::string::npos);

  Verified v = RunVerify(dir);
  CHECK(v.code == 4);
  CHECK(v.first_broken_seq == 4 * kPerBatch + 1);
  CHECK(v.out.find(wal_name) != std::string::npos);
  CHECK(v.out.find(at) != std::string::npos);

  // A crash does not excuse damage that is not a torn tail.
  LeaveStalePidFile(dir);
  log = ServeRefuses(dir, tmp);
  CHECK(log.find(at) != std::string::npos);
  v = RunVerify(dir);
  CHECK(v.code == 4);
  CHECK(v.first_broken_seq == 4 * kPerBatch + 1);
}

TEST_CASE("a torn tail left by a crash is dropped with a warning; every acked event stays") {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("data");
  const auto ends = Populate(dir);
  const std::string wal = LatestWal(dir);
  const std::string wal_name = fs::path(wal).filename().string();
  // A write the killed process never finished: the first half of one more record (a copy of
  // the last one's first bytes, header included), never synced, so never acknowledged.
  std::string record;
  {
    std::ifstream in(wal, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(ends[kBatches - 2]));
    record.resize(ends.back() - ends[kBatches - 2]);
    in.read(record.data(), static_cast<std::streamsize>(record.size()));
  }
  std::ofstream(wal, std::ios::app | std::ios::binary) << record.substr(0, record.size() / 2);
  LeaveStalePidFile(dir);

  SUBCASE("verify reports the chain intact and warns about the tail") {
    const Verified v = RunVerify(dir);
    CHECK(v.code == 0);
    CHECK(v.out.find("\"events\":" + std::to_string(kEvents) + ",") != std::string::npos);
    CHECK(v.err.find(wal_name) != std::string::npos);
    CHECK(v.err.find("torn at byte " + std::to_string(ends.back())) != std::string::npos);
  }
  SUBCASE("the ledger opens, warning, with every acknowledged event") {
    std::vector<std::string> warnings;
    ledger::LedgerOptions o;
    o.on_warning = [&](const std::string& w) { warnings.push_back(w); };
    auto ledger = ledger::Ledger::Open(dir, o);
    REQUIRE(ledger.ok());
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find(wal_name) != std::string::npos);
    CHECK(warnings[0].find("torn at byte " + std::to_string(ends.back())) != std::string::npos);
    CHECK(warnings[0].find("pid 999999") != std::string::npos);
    REQUIRE((*ledger)->wal_damage().has_value());
    CHECK((*ledger)->wal_damage()->after_crash);
    CHECK((*ledger)->Head().seq == kEvents);
    auto report = (*ledger)->Verify();
    REQUIRE(report.ok());
    CHECK(report->intact);
    CHECK(report->events == kEvents);
  }
  SUBCASE("waybill serve starts, logs the warning, and the data dir verifies after it") {
    testing::ServeProcess serve(dir, {}, tmp.Sub("serve.log"));
    serve.Start();
    const std::string log = testing::ReadWholeFile(serve.log_path());
    CHECK(log.find("warn") != std::string::npos);
    CHECK(log.find(wal_name) != std::string::npos);
    CHECK(serve.Stop() == 0);
    const Verified v = RunVerify(dir);
    CHECK(v.code == 0);
    CHECK(v.out.find("\"events\":" + std::to_string(kEvents) + ",") != std::string::npos);
    CHECK(v.err.empty());
  }
}

TEST_CASE("a corrupted SST of the events: serve refuses naming it, verify pinpoints the seq") {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("data");
  Populate(dir);
  const std::string sst = FlushAndListTables(dir, ledger::kCfEvents).front();
  const std::string sst_name = fs::path(sst).filename().string();
  // A third into the file: inside the data blocks (index and filter blocks sit at the end).
  FlipBytes(sst, fs::file_size(sst) / 3);

  const std::string log = ServeRefuses(dir, tmp);
  CHECK(log.find(sst_name) != std::string::npos);
  CHECK(log.find("block checksum mismatch") != std::string::npos);

  const Verified v = RunVerify(dir);
  CHECK(v.code == 4);
  CHECK(v.out.find(sst_name) != std::string::npos);
  REQUIRE(v.first_broken_seq > 1);
  REQUIRE(v.first_broken_seq <= kEvents);
  // Pinpointed: everything before it reads, it does not.
  ledger::LedgerOptions ro;
  ro.mode = ledger::OpenMode::kReadOnly;
  auto ledger = std::move(ledger::Ledger::Open(dir, ro)).value();
  for (std::uint64_t seq = 1; seq < v.first_broken_seq; ++seq) {
    CAPTURE(seq);
    CHECK(ledger->Get(seq).ok());
  }
  auto broken = ledger->Get(v.first_broken_seq);
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.status().code() == ErrorCode::kCorruption);
}

TEST_CASE("a corrupted SST outside the chain still fails verify and startup") {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("data");
  Populate(dir);
  const std::string sst = FlushAndListTables(dir, ledger::kCfShipments).front();
  FlipBytes(sst, fs::file_size(sst) / 3);
  const std::string sst_name = fs::path(sst).filename().string();

  CHECK(ServeRefuses(dir, tmp).find(sst_name) != std::string::npos);
  const Verified v = RunVerify(dir);
  CHECK(v.code == 4);
  CHECK(v.first_broken_seq == 0);
  CHECK(v.out.find(sst_name) != std::string::npos);
  CHECK(v.out.find(std::string("column family ") + ledger::kCfShipments) != std::string::npos);

  // `--startup-check quick` reads only the chain's tail: it starts, and says nothing false.
  testing::ServeProcess serve(dir, {"--startup-check", "quick"}, tmp.Sub("quick.log"));
  serve.Start();
  CHECK(serve.Stop() == 0);
}

TEST_CASE("a mislinked tail of the chain keeps the writer from opening") {
  testing::TempDir tmp;
  const std::string dir = tmp.Sub("data");
  Populate(dir);
  testing::WithRawRocksDb(dir, [](rocksdb::DB& db, const testing::RawFamilies& families) {
    rocksdb::ColumnFamilyHandle* events = testing::RawFamily(families, ledger::kCfEvents);
    std::string value;
    REQUIRE(db.Get(rocksdb::ReadOptions(), events, ledger::SeqKey(kEvents - 3), &value).ok());
    value[20] = static_cast<char>(value[20] ^ 1);  // inside prev_hash
    REQUIRE(db.Put(rocksdb::WriteOptions(), events, ledger::SeqKey(kEvents - 3), value).ok());
  });
  auto refused = ledger::Ledger::Open(dir);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == ErrorCode::kCorruption);
  CHECK(refused.status().message().find("sequence " + std::to_string(kEvents - 3)) !=
        std::string::npos);
  ledger::LedgerOptions off;
  off.startup_check = ledger::StartupCheck::kOff;
  CHECK(ledger::Ledger::Open(dir, off).ok());
}

}  // namespace waybill
