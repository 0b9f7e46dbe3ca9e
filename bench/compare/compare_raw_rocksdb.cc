// Raw RocksDB baseline of the side-by-side benchmark: what RocksDB alone does with the same
// NDJSON. The write path is bench/ingest_bench.cc's baseline (same options and column
// families; key by sequence, dedup by event id with one MultiGet per batch of 1,000, one
// synced WriteBatch per batch; no JSON parsing, no hashing). One difference: the file is read
// batch by batch as it goes (inside the timing, as `waybill import` reads it), so peak RSS is
// the database's and not a copy of the whole file's.
//
// usage: compare_raw_rocksdb ingest FILE DIR
//          prints {"events":N,"stored":N,"seconds":X,"p50_ms":X,"p99_ms":X,"peak_rss_kib":N};
//          latency is per synced batch
//        compare_raw_rocksdb replay DIR
//          opens DIR read-only (as the Waybill replay opens its ledger: the WAL is read, not
//          flushed) and iterates every stored event; prints {"replay_events":N,
//          "replay_seconds":X}
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "bench/bench_util.h"
#include "bench/compare/stats.h"
#include "bench/compare/workload.h"
#include "ledger/key_layout.h"

namespace {

using waybill::bench::Clock;
using waybill::bench::Seconds;

struct Db {
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  ~Db() {
    for (auto* h : cfs) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    delete db;
  }
};

void Fail(const char* what, const rocksdb::Status& st) {
  std::fprintf(stderr, "compare_raw_rocksdb: %s: %s\n", what, st.ToString().c_str());
  std::exit(1);
}

std::unique_ptr<Db> Open(const std::string& dir, bool read_only) {
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
  auto db = std::make_unique<Db>();
  rocksdb::Status st;
  if (read_only) {
    st = rocksdb::DB::OpenForReadOnly(dbo, dir, cfs, &db->cfs, &db->db);
  } else {
    st = rocksdb::DB::Open(dbo, dir, cfs, &db->cfs, &db->db);
  }
  if (!st.ok()) Fail("open", st);
  return db;
}

int Replay(const std::string& dir) {
  std::uint64_t replayed = 0;
  auto db = Open(dir, true);
  const auto replay_start = Clock::now();  // after the open, as in compare_replay
  {
    std::unique_ptr<rocksdb::Iterator> it(db->db->NewIterator(rocksdb::ReadOptions(), db->cfs[0]));
    std::size_t bytes = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      bytes += it->value().size();
      ++replayed;
    }
    if (!it->status().ok()) Fail("replay", it->status());
    if (bytes == 0 && replayed > 0) return 1;
  }
  std::printf("{\"replay_events\":%llu,\"replay_seconds\":%.3f}\n",
              static_cast<unsigned long long>(replayed), Seconds(replay_start));
  return 0;
}

int Ingest(const char* file, const std::string& dir) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "compare_raw_rocksdb: cannot read %s\n", file);
    return 1;
  }
  constexpr std::size_t kBatch = 1000;
  std::uint64_t events = 0, stored = 0;
  std::vector<double> latency_ms;
  double seconds = 0;
  {
    auto db = Open(dir, false);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    std::vector<std::string> lines, keys;
    std::vector<std::string_view> ids;
    std::unordered_set<std::string_view> in_batch;
    const auto start = Clock::now();
    while (waybill::bench::ReadLines(in, kBatch, &lines) > 0) {
      const auto batch_start = Clock::now();
      keys.clear();
      ids.clear();
      for (const auto& line : lines) {
        ids.push_back(waybill::bench::WorkloadGenerator::EventId(line));
        keys.push_back(waybill::ledger::IdempotencyKey(ids.back()));
      }
      std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
      std::vector<rocksdb::PinnableSlice> values(slices.size());
      std::vector<rocksdb::Status> statuses(slices.size());
      db->db->MultiGet(rocksdb::ReadOptions(), db->cfs[1], slices.size(), slices.data(),
                       values.data(), statuses.data());
      rocksdb::WriteBatch wb;
      in_batch.clear();
      for (std::size_t j = 0; j < lines.size(); ++j) {
        if (statuses[j].ok() || !in_batch.insert(ids[j]).second) continue;
        const std::string k = waybill::ledger::SeqKey(++stored);
        wb.Put(db->cfs[0], k, lines[j]).PermitUncheckedError();
        wb.Put(db->cfs[1], keys[j], k).PermitUncheckedError();
      }
      if (auto st = db->db->Write(wo, &wb); !st.ok()) Fail("write", st);
      events += lines.size();
      latency_ms.push_back(Seconds(batch_start) * 1000);
    }
    seconds = Seconds(start);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const long peak_kib = ru.ru_maxrss;

  const double p50 = waybill::bench::Percentile(latency_ms, 50);
  const double p99 = waybill::bench::Percentile(latency_ms, 99);
  std::printf(
      "{\"events\":%llu,\"stored\":%llu,\"seconds\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
      "\"peak_rss_kib\":%ld}\n",
      static_cast<unsigned long long>(events), static_cast<unsigned long long>(stored), seconds,
      p50, p99, peak_kib);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "ingest") return Ingest(argv[2], argv[3]);
  if (argc == 3 && std::string(argv[1]) == "replay") return Replay(argv[2]);
  std::fprintf(stderr, "usage: compare_raw_rocksdb ingest FILE DIR | replay DIR\n");
  return 2;
}
