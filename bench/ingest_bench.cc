// Ingest benchmark: canonical NDJSON through `waybill import`'s code path (read, parse,
// validate, prepare, group-commit with fsync), against a raw RocksDB baseline on the same
// data (WriteBatch of 1,000, MultiGet dedup, sync=true, no parsing, no hashing), plus the
// replay rate (decode every event) and peak RSS. Prints figures; asserts nothing.
//
// usage: ingest_bench [--events N] [--shipments N] [--dup-percent P] [--dir DIR]
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "ingest/canonical_import.h"
#include "ledger/key_layout.h"
#include "ledger/ledger.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

long PeakRssMiB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

struct Workload {
  std::string ndjson;              // the file `waybill import` reads
  std::vector<std::string> ids;    // per line, for the raw baseline
  std::vector<std::string> lines;  // per line, for the raw baseline
  std::size_t unique = 0;
};

// About 300-byte canonical milestones over `shipments` shipments; `dup_percent` of the lines
// repeat an earlier line exactly (a re-sent message).
Workload MakeWorkload(std::size_t events, std::size_t shipments, unsigned dup_percent) {
  static const char* kStatuses[] = {"PICKED_UP", "IN_TRANSIT", "AT_DELIVERY", "DELIVERED"};
  static const char* kCodes[] = {"CP", "X6", "X1", "D1"};
  static const char* kCities[][3] = {{"Chicago", "IL", "USCHI"},
                                     {"Nashville", "TN", "USBNA"},
                                     {"Atlanta", "GA", "USATL"},
                                     {"Dallas", "TX", "USDAL"}};
  Workload w;
  w.ndjson.reserve(events * 320);
  w.ids.reserve(events);
  w.lines.reserve(events);
  std::mt19937_64 rng(1234);
  std::size_t fresh = 0;
  char buf[1024];
  for (std::size_t i = 0; i < events; ++i) {
    if (fresh > 0 && rng() % 100 < dup_percent) {
      const std::size_t j = rng() % w.lines.size();
      w.ids.push_back(w.ids[j]);
      w.lines.push_back(w.lines[j]);
    } else {
      const std::size_t n = fresh++;
      const int k = static_cast<int>(n % 4);
      const long long t = 1735689600LL + static_cast<long long>(n) * 7;
      const long long day = t / 86400, sec = t % 86400;
      // Day arithmetic kept simple: all times fall in 2025-01..2025-03 for 1M events.
      const int month = 1 + static_cast<int>((day - 20089) / 31) % 3;
      const int dom = 1 + static_cast<int>((day - 20089) % 28);
      int len = std::snprintf(
          buf, sizeof buf,
          "{\"event_id\":\"evt-%012zu\",\"kind\":\"milestone\",\"occurred_at\":"
          "\"2025-%02d-%02dT%02lld:%02lld:%02lld-05:00\",\"source\":{\"system\":\"carrier\","
          "\"format\":\"canonical\",\"partner\":\"ACME\"},\"shipment_id\":\"SHP-%07zu\","
          "\"carrier\":\"ACME\",\"status\":\"%s\",\"source_code\":\"%s\",\"location\":{"
          "\"city\":\"%s\",\"region\":\"%s\",\"country\":\"US\",\"unlocode\":\"%s\"}}",
          n, month, dom, sec / 3600, sec / 60 % 60, sec % 60, n % shipments, kStatuses[k],
          kCodes[k], kCities[k][0], kCities[k][1], kCities[k][2]);
      char id[32];
      std::snprintf(id, sizeof id, "evt-%012zu", n);
      w.ids.emplace_back(id);
      w.lines.emplace_back(buf, static_cast<std::size_t>(len));
    }
    w.ndjson += w.lines.back();
    w.ndjson += '\n';
  }
  w.unique = fresh;
  return w;
}

double RunWaybillImport(const std::string& file, const std::string& dir, std::size_t* accepted,
                        std::size_t* duplicates) {
  auto opened = waybill::ledger::Ledger::Open(dir);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    std::exit(1);
  }
  auto ledger = std::move(opened).value();
  const auto start = Clock::now();
  waybill::ingest::AppendPipeline pipeline(*ledger);
  waybill::ingest::ImportContext ctx;
  ctx.origin = file;
  ctx.principal = "local:bench";
  std::ifstream in(file, std::ios::binary);
  if (!waybill::ingest::ImportCanonicalStream(in, ctx, pipeline).ok()) std::exit(1);
  auto summary = pipeline.Finish();
  const double secs = Seconds(start);
  if (!summary.ok()) {
    std::fprintf(stderr, "import: %s\n", summary.status().ToString().c_str());
    std::exit(1);
  }
  *accepted = summary->accepted;
  *duplicates = summary->duplicates;
  return secs;
}

double RunReplay(const std::string& dir, std::size_t* decoded) {
  waybill::ledger::LedgerOptions o;
  o.mode = waybill::ledger::OpenMode::kReadOnly;
  auto ledger = std::move(waybill::ledger::Ledger::Open(dir, o)).value();
  std::size_t n = 0;
  const auto start = Clock::now();
  auto st = ledger->ReadRange(1, UINT64_MAX, [&](const waybill::Event& e) {
    n += e.ledger.seq != 0;
    return true;
  });
  const double secs = Seconds(start);
  if (!st.ok()) std::exit(1);
  *decoded = n;
  return secs;
}

// The baseline: what RocksDB alone does with the same bytes and the same dedup tuning.
double RunRawRocksDb(const Workload& w, const std::string& dir, std::size_t* stored) {
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  dbo.allow_concurrent_memtable_write = false;
  dbo.max_background_jobs = 2;
  rocksdb::ColumnFamilyOptions events;
  events.write_buffer_size = 64 << 20;
  events.compression = rocksdb::kLZ4Compression;
  rocksdb::ColumnFamilyOptions idem;
  idem.write_buffer_size = 64 << 20;
  idem.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(8));
  idem.memtable_factory.reset(rocksdb::NewHashSkipListRepFactory(1 << 20));
  rocksdb::BlockBasedTableOptions t;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  idem.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {{rocksdb::kDefaultColumnFamilyName, events},
                                                      {"idempotency", idem}};
  std::vector<rocksdb::ColumnFamilyHandle*> h;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(dbo, dir, cfs, &h, &db).ok()) std::exit(1);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  std::uint64_t seq = 0;
  const auto start = Clock::now();
  constexpr std::size_t kBatch = 1000;
  std::vector<std::string> keys;
  std::unordered_set<std::string_view> in_batch;
  for (std::size_t i = 0; i < w.ids.size(); i += kBatch) {
    const std::size_t end = std::min(w.ids.size(), i + kBatch);
    keys.clear();
    for (std::size_t j = i; j < end; ++j) keys.push_back(waybill::ledger::IdempotencyKey(w.ids[j]));
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(slices.size());
    std::vector<rocksdb::Status> statuses(slices.size());
    db->MultiGet(rocksdb::ReadOptions(), h[1], slices.size(), slices.data(), values.data(),
                 statuses.data());
    rocksdb::WriteBatch wb;
    in_batch.clear();
    for (std::size_t j = i; j < end; ++j) {
      if (statuses[j - i].ok() || !in_batch.insert(w.ids[j]).second) continue;
      const std::string k = waybill::ledger::SeqKey(++seq);
      wb.Put(h[0], k, w.lines[j]).PermitUncheckedError();
      wb.Put(h[1], keys[j - i], k).PermitUncheckedError();
    }
    if (!db->Write(wo, &wb).ok()) std::exit(1);
  }
  const double secs = Seconds(start);
  for (auto* x : h) db->DestroyColumnFamilyHandle(x).PermitUncheckedError();
  delete db;
  *stored = seq;
  return secs;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t events = 1'000'000, shipments = 50'000;
  unsigned dup_percent = 5;
  std::string dir = (fs::temp_directory_path() / "waybill-ingest-bench").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--events"))
      events = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--shipments"))
      shipments = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dup-percent"))
      dup_percent = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir"))
      dir = argv[i + 1];
  }
  fs::remove_all(dir);
  fs::create_directories(dir);
  Workload w = MakeWorkload(events, shipments, dup_percent);
  const std::string file = dir + "/events.ndjson";
  std::ofstream(file, std::ios::binary) << w.ndjson;
  std::printf(
      "workload: %zu events (%zu unique, %u%% duplicates), %zu shipments, %.0f bytes/event\n",
      events, w.unique, dup_percent, shipments,
      static_cast<double>(w.ndjson.size()) / static_cast<double>(events));
  w.ndjson.clear();
  w.ndjson.shrink_to_fit();

  std::size_t stored = 0;
  const double raw_s = RunRawRocksDb(w, dir + "/raw", &stored);
  const double raw_rate = static_cast<double>(events) / raw_s;
  std::printf("raw rocksdb baseline: %.2f s, %.0f events/s (%zu stored)\n", raw_s, raw_rate,
              stored);
  fs::remove_all(dir + "/raw");
  std::vector<std::string>().swap(w.lines);
  std::vector<std::string>().swap(w.ids);

  std::size_t accepted = 0, dups = 0;
  const double imp_s = RunWaybillImport(file, dir + "/ledger", &accepted, &dups);
  const double imp_rate = static_cast<double>(events) / imp_s;
  std::printf("waybill import:       %.2f s, %.0f events/s (%zu accepted, %zu duplicates)\n", imp_s,
              imp_rate, accepted, dups);
  std::printf("ratio import/raw:     %.2f (target >= 0.6)\n", imp_rate / raw_rate);

  std::size_t decoded = 0;
  const double rep_s = RunReplay(dir + "/ledger", &decoded);
  std::printf("replay (decode all):  %.2f s, %.0f events/s (%zu events)\n", rep_s,
              static_cast<double>(decoded) / rep_s, decoded);
  std::printf("peak RSS:             %ld MiB\n", PeakRssMiB());
  fs::remove_all(dir);
  return 0;
}
