// Ingest benchmark: canonical NDJSON through `waybill import`'s code path (read, parse,
// validate, prepare, group-commit with fsync), against a raw RocksDB baseline on the same
// data (WriteBatch of 1,000, MultiGet dedup, sync=true, no parsing, no hashing), plus the
// replay rate (decode every event) and peak RSS. Prints figures; asserts nothing.
//
// Each phase runs in its own child process, so its peak RSS is its own (the workload
// generator's memory does not count against the ledger).
//
// usage: ingest_bench [--events N] [--shipments N] [--dup-percent P] [--dir DIR]
//                     [--only import|raw|replay] [--keep yes]
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "bench/bench_util.h"
#include "ingest/canonical_import.h"
#include "ledger/key_layout.h"
#include "ledger/ledger.h"

namespace waybill {
namespace {

using bench::Clock;
using bench::PhaseResult;
using bench::RunInChild;
using bench::Seconds;
namespace fs = std::filesystem;

// About 300-byte canonical milestones over `shipments` shipments, written to `file`;
// `dup_percent` of the lines repeat an earlier line exactly (a re-sent message).
std::size_t WriteWorkload(const std::string& file, std::size_t events, std::size_t shipments,
                          unsigned dup_percent, std::size_t* bytes) {
  static const char* kStatuses[] = {"PICKED_UP", "IN_TRANSIT", "AT_DELIVERY", "DELIVERED"};
  static const char* kCodes[] = {"CP", "X6", "X1", "D1"};
  static const char* kCities[][3] = {{"Chicago", "IL", "USCHI"},
                                     {"Nashville", "TN", "USBNA"},
                                     {"Atlanta", "GA", "USATL"},
                                     {"Dallas", "TX", "USDAL"}};
  std::vector<std::string> lines;
  lines.reserve(events);
  std::mt19937_64 rng(1234);
  std::size_t fresh = 0;
  char buf[1024];
  std::ofstream out(file, std::ios::binary);
  *bytes = 0;
  for (std::size_t i = 0; i < events; ++i) {
    if (fresh > 0 && rng() % 100 < dup_percent) {
      lines.push_back(lines[rng() % lines.size()]);
    } else {
      const std::size_t n = fresh++;
      const int k = static_cast<int>(n % 4);
      const long long t = static_cast<long long>(n) * 7;  // seconds after 2025-01-01
      const long long day = t / 86400, sec = t % 86400;
      const int month = 1 + static_cast<int>(day / 28) % 12;
      const int dom = 1 + static_cast<int>(day % 28);
      const int len = std::snprintf(
          buf, sizeof buf,
          "{\"event_id\":\"evt-%012zu\",\"kind\":\"milestone\",\"occurred_at\":"
          "\"2025-%02d-%02dT%02lld:%02lld:%02lld-05:00\",\"source\":{\"system\":\"carrier\","
          "\"format\":\"canonical\",\"partner\":\"ACME\"},\"shipment_id\":\"SHP-%07zu\","
          "\"carrier\":\"ACME\",\"status\":\"%s\",\"source_code\":\"%s\",\"location\":{"
          "\"city\":\"%s\",\"region\":\"%s\",\"country\":\"US\",\"unlocode\":\"%s\"}}",
          n, month, dom, sec / 3600, sec / 60 % 60, sec % 60, n % shipments, kStatuses[k],
          kCodes[k], kCities[k][0], kCities[k][1], kCities[k][2]);
      lines.emplace_back(buf, static_cast<std::size_t>(len));
    }
    out << lines.back() << '\n';
    *bytes += lines.back().size() + 1;
  }
  return fresh;
}

PhaseResult WaybillImport(const std::string& file, const std::string& dir) {
  waybill::ledger::LedgerOptions options;
  options.bulk_load = true;  // as `waybill import` opens it
  auto opened = waybill::ledger::Ledger::Open(dir, options);
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
  PhaseResult r;
  r.seconds = Seconds(start);
  if (!summary.ok()) {
    std::fprintf(stderr, "import: %s\n", summary.status().ToString().c_str());
    std::exit(1);
  }
  r.count = summary->accepted;
  r.count2 = summary->duplicates;
  return r;
}

PhaseResult Replay(const std::string& dir) {
  waybill::ledger::LedgerOptions o;
  o.mode = waybill::ledger::OpenMode::kReadOnly;
  auto ledger = std::move(waybill::ledger::Ledger::Open(dir, o)).value();
  PhaseResult r;
  const auto start = Clock::now();
  auto st = ledger->ReadRange(1, UINT64_MAX, [&](const waybill::Event& e) {
    r.count += e.ledger.seq != 0;
    return true;
  });
  r.seconds = Seconds(start);
  if (!st.ok()) std::exit(1);
  return r;
}

// The baseline: what RocksDB alone does with the same bytes: key by sequence, dedup by
// event id with one MultiGet per batch of 1,000, one synced WriteBatch per batch. The event
// id is cut out of each line with a substring search: no JSON parsing, no hashing.
PhaseResult RawRocksDb(const std::string& file, const std::string& dir) {
  std::vector<std::string> lines, ids;
  {
    std::ifstream in(file, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
      const std::size_t at = line.find("\"event_id\":\"") + 12;
      ids.push_back(line.substr(at, line.find('"', at) - at));
      lines.push_back(std::move(line));
    }
  }
  rocksdb::DBOptions dbo;
  dbo.create_if_missing = true;
  dbo.create_missing_column_families = true;
  dbo.max_background_jobs = 2;
  rocksdb::ColumnFamilyOptions events;
  events.write_buffer_size = 64 << 20;
  rocksdb::ColumnFamilyOptions idem;
  idem.write_buffer_size = 64 << 20;
  idem.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(8));
  idem.memtable_prefix_bloom_size_ratio = 0.1;
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
  PhaseResult r;
  const auto start = Clock::now();
  constexpr std::size_t kBatch = 1000;
  std::vector<std::string> keys;
  std::unordered_set<std::string_view> in_batch;
  for (std::size_t i = 0; i < ids.size(); i += kBatch) {
    const std::size_t end = std::min(ids.size(), i + kBatch);
    keys.clear();
    for (std::size_t j = i; j < end; ++j) keys.push_back(waybill::ledger::IdempotencyKey(ids[j]));
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(slices.size());
    std::vector<rocksdb::Status> statuses(slices.size());
    db->MultiGet(rocksdb::ReadOptions(), h[1], slices.size(), slices.data(), values.data(),
                 statuses.data());
    rocksdb::WriteBatch wb;
    in_batch.clear();
    for (std::size_t j = i; j < end; ++j) {
      if (statuses[j - i].ok() || !in_batch.insert(ids[j]).second) continue;
      const std::string k = waybill::ledger::SeqKey(++r.count);
      wb.Put(h[0], k, lines[j]).PermitUncheckedError();
      wb.Put(h[1], keys[j - i], k).PermitUncheckedError();
    }
    if (!db->Write(wo, &wb).ok()) std::exit(1);
  }
  r.seconds = Seconds(start);
  for (auto* x : h) db->DestroyColumnFamilyHandle(x).PermitUncheckedError();
  delete db;
  return r;
}

}  // namespace
}  // namespace waybill

int main(int argc, char** argv) {
  using namespace waybill;
  std::size_t events = 1'000'000, shipments = 50'000;
  unsigned dup_percent = 5;
  std::string only;
  bool keep = false;  // leave the data dir (ndjson file, ledger) for inspection
  std::string dir = (fs::temp_directory_path() / "waybill-ingest-bench").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--events")
      events = std::stoull(value);
    else if (flag == "--shipments")
      shipments = std::stoull(value);
    else if (flag == "--dup-percent")
      dup_percent = static_cast<unsigned>(std::stoul(value));
    else if (flag == "--dir")
      dir = value;
    else if (flag == "--only")
      only = value;
    else if (flag == "--keep")
      keep = value == "yes";
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string file = dir + "/events.ndjson";
  std::size_t bytes = 0;
  const std::size_t unique = WriteWorkload(file, events, shipments, dup_percent, &bytes);
  std::printf(
      "workload: %zu events (%zu unique, %u%% duplicates), %zu shipments, %.0f bytes/event\n",
      events, unique, dup_percent, shipments,
      static_cast<double>(bytes) / static_cast<double>(events));
  const double n = static_cast<double>(events);

  PhaseResult raw, imp;
  if (only.empty() || only == "raw") {
    raw = RunInChild([&] { return RawRocksDb(file, dir + "/raw"); });
    std::printf("raw rocksdb baseline: %6.2f s  %8.0f events/s  (%lu stored)  peak RSS %ld MiB\n",
                raw.seconds, n / raw.seconds, static_cast<unsigned long>(raw.count),
                raw.peak_rss_mib);
    fs::remove_all(dir + "/raw");
  }
  if (only.empty() || only == "import" || only == "replay") {
    imp = RunInChild([&] { return WaybillImport(file, dir + "/ledger"); });
    std::printf(
        "waybill import:       %6.2f s  %8.0f events/s  (%lu accepted, %lu duplicates)  "
        "peak RSS %ld MiB\n",
        imp.seconds, n / imp.seconds, static_cast<unsigned long>(imp.count),
        static_cast<unsigned long>(imp.count2), imp.peak_rss_mib);
  }
  if (only.empty()) {
    std::printf("ratio import/raw:     %6.2f  (target >= 0.6)\n", raw.seconds / imp.seconds);
  }
  if (only.empty() || only == "replay") {
    PhaseResult rep = RunInChild([&] { return Replay(dir + "/ledger"); });
    std::printf("replay (decode all):  %6.2f s  %8.0f events/s  (%lu events)  peak RSS %ld MiB\n",
                rep.seconds, static_cast<double>(rep.count) / rep.seconds,
                static_cast<unsigned long>(rep.count), rep.peak_rss_mib);
  }
  if (!keep) fs::remove_all(dir);
  return 0;
}
