// Source-format ingest benchmark: X12 214 and EPCIS 2.0 workloads, 1,000,000 events each by
// default, through `waybill import`'s document path (adapter -> importer -> group commit with
// fsync). Prints events/s and peak RSS per workload; asserts nothing.
//
// X12: files of 100 interchanges x 1,000 214 sets (one AT7 each), read from disk like
// `waybill import --format x12`. EPCIS: EPCISDocuments of 100 ObjectEvents each, imported
// one document at a time as `POST /v1/ingest/epcis` or NATS intake would. 5% of the sets or
// events are re-sent (a new envelope or document around the same status), which the ledger
// must recognise as duplicates.
//
// usage: format_bench [--events N] [--shipments N] [--only x12|epcis] [--dir DIR]
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "ingest/adapter_registry.h"
#include "ingest/document_import.h"
#include "ledger/ledger.h"

namespace waybill {
namespace {

namespace fs = std::filesystem;
using bench::Clock;
using bench::PhaseResult;

constexpr const char* kStatus[] = {"X3", "CP", "X6", "AF", "X1", "D1"};
constexpr const char* kCity[][2] = {{"CHICAGO", "IL"}, {"NASHVILLE", "TN"}, {"ATLANTA", "GA"},
                                    {"DALLAS", "TX"},  {"DENVER", "CO"},    {"PHOENIX", "AZ"}};
constexpr const char* kZone[] = {"CT", "CT", "ET", "CT", "MT", "UT"};

// One 214 set with one AT7; `n` picks the shipment, status, place and time.
void Append214(std::string* out, std::size_t set_no, std::size_t n, std::size_t shipments) {
  const int k = static_cast<int>(n % 6);
  const long long minutes = static_cast<long long>(n);  // one status a minute from 2025-03-01
  const int day = 1 + static_cast<int>(minutes / 1440 % 28);
  const int month = 3 + static_cast<int>(minutes / (1440 * 28) % 9);
  char buf[512];
  const int len = std::snprintf(
      buf, sizeof buf,
      "ST*214*%04zu~B10*PRO%09zu*SHP%07zu*ACME~L11*BOL%07zu*BM~LX*1~"
      "AT7*%s*NS***2025%02d%02d*%02lld%02lld*%s~MS1*%s*%s*US~MS2*ACME*TRL%05zu~SE*8*%04zu~",
      set_no % 10000, n, n % shipments, n % shipments, kStatus[k], month, day, minutes / 60 % 24,
      minutes % 60, kZone[k], kCity[k][0], kCity[k][1], n % 99991, set_no % 10000);
  out->append(buf, static_cast<std::size_t>(len));
}

// Writes the X12 files; returns their paths. `n` counts statuses; re-sends reuse an old one.
std::vector<std::string> WriteX12(const std::string& dir, std::size_t events,
                                  std::size_t shipments) {
  constexpr std::size_t kSetsPerInterchange = 1000, kInterchangesPerFile = 100;
  std::mt19937_64 rng(214);
  std::vector<std::string> files;
  std::size_t fresh = 0, control = 0;
  std::string doc;
  for (std::size_t done = 0; done < events;) {
    ++control;
    char isa[256];
    std::snprintf(isa, sizeof isa,
                  "ISA*00*          *00*          *ZZ*ACMEFREIGHT    *ZZ*WAYBILL        "
                  "*250301*1200*U*00401*%09zu*0*P*>~GS*QM*ACMEFREIGHT*WAYBILL*20250301*1200*%zu*X*"
                  "004010~",
                  control, control);
    doc += isa;
    const std::size_t sets = std::min(kSetsPerInterchange, events - done);
    for (std::size_t s = 1; s <= sets; ++s) {
      const bool resend = fresh > 0 && rng() % 100 < 5;
      Append214(&doc, s, resend ? rng() % fresh : fresh++, shipments);
    }
    char tail[128];
    std::snprintf(tail, sizeof tail, "GE*%zu*%zu~IEA*1*%09zu~\n", sets, control, control);
    doc += tail;
    done += sets;
    if (control % kInterchangesPerFile == 0 || done == events) {
      files.push_back(dir + "/status-" + std::to_string(files.size()) + ".x12");
      std::ofstream(files.back(), std::ios::binary) << doc;
      doc.clear();
    }
  }
  return files;
}

void AppendEpcisEvent(std::string* out, std::size_t n, std::size_t shipments, bool first) {
  static const char* kSteps[] = {"shipping", "departing", "arriving", "receiving"};
  const long long minutes = static_cast<long long>(n);
  char buf[1024];
  const int len = std::snprintf(
      buf, sizeof buf,
      "%s{\"type\":\"ObjectEvent\",\"eventID\":\"urn:uuid:6f1d3c4e-0000-4000-8000-%012zu\","
      "\"eventTime\":\"2025-%02d-%02dT%02lld:%02lld:00.000+01:00\",\"eventTimeZoneOffset\":"
      "\"+01:00\",\"epcList\":[\"urn:epc:id:sscc:4012345.%010zu\"],\"action\":\"OBSERVE\","
      "\"bizStep\":\"%s\",\"disposition\":\"in_transit\",\"readPoint\":{\"id\":"
      "\"urn:epc:id:sgln:4012345.00001.%zu\"},\"bizTransactionList\":[{\"type\":\"desadv\","
      "\"bizTransaction\":\"urn:epcglobal:cbv:bt:4012345000009:DESADV-%07zu\"},{\"type\":\"po\","
      "\"bizTransaction\":\"urn:epcglobal:cbv:bt:4012345000009:PO-%07zu\"}]}",
      first ? "" : ",", n, 3 + static_cast<int>(minutes / (1440 * 28) % 9),
      1 + static_cast<int>(minutes / 1440 % 28), minutes / 60 % 24, minutes % 60, n, kSteps[n % 4],
      n % 97, n % shipments, n % shipments);
  out->append(buf, static_cast<std::size_t>(len));
}

// EPCISDocuments of 100 events each, newline-separated in one file.
std::string WriteEpcis(const std::string& dir, std::size_t events, std::size_t shipments,
                       std::size_t* documents) {
  constexpr std::size_t kPerDocument = 100;
  std::mt19937_64 rng(2);
  const std::string path = dir + "/epcis.jsonl";
  std::ofstream out(path, std::ios::binary);
  std::size_t fresh = 0;
  std::string doc;
  *documents = 0;
  for (std::size_t done = 0; done < events; done += kPerDocument) {
    doc =
        "{\"@context\":[\"https://ref.gs1.org/standards/epcis/epcis-context.jsonld\"],"
        "\"type\":\"EPCISDocument\",\"schemaVersion\":\"2.0\",\"creationDate\":"
        "\"2025-03-01T12:00:00Z\",\"epcisBody\":{\"eventList\":[";
    const std::size_t n = std::min(kPerDocument, events - done);
    for (std::size_t i = 0; i < n; ++i) {
      const bool resend = fresh > 0 && rng() % 100 < 5;
      AppendEpcisEvent(&doc, resend ? rng() % fresh : fresh++, shipments, i == 0);
    }
    doc += "]}}\n";
    out << doc;
    ++*documents;
  }
  return path;
}

PhaseResult Import(const std::string& format, const std::vector<std::string>& documents_files,
                   bool one_document_per_line, const std::string& ledger_dir) {
  ledger::LedgerOptions options;
  options.bulk_load = true;  // as `waybill import` opens it
  auto ledger = std::move(ledger::Ledger::Open(ledger_dir, options)).value();
  auto adapter = std::move(ingest::MakeAdapter(format)).value();
  ingest::PartnerProfiles profiles;
  PhaseResult r;
  const auto start = Clock::now();
  ingest::AppendPipeline pipeline(*ledger);
  for (const auto& file : documents_files) {
    std::ifstream in(file, std::ios::binary);
    ingest::DocumentContext ctx;
    ctx.origin = file;
    ctx.principal = "local:bench";
    ctx.profiles = &profiles;
    if (one_document_per_line) {
      std::string line;
      while (std::getline(in, line)) ingest::ImportDocument(*adapter, line, ctx, pipeline);
    } else {
      std::ostringstream ss;
      ss << in.rdbuf();
      ingest::ImportDocument(*adapter, ss.str(), ctx, pipeline);
    }
  }
  auto summary = pipeline.Finish();
  r.seconds = bench::Seconds(start);
  if (!summary.ok() || summary->rejected != 0) {
    std::fprintf(stderr, "%s import failed: %s (%zu rejected)\n", format.c_str(),
                 summary.status().ToString().c_str(),
                 summary.ok() ? static_cast<std::size_t>(summary->rejected) : 0);
    if (summary.ok() && !summary->rejects.empty()) {
      std::fprintf(stderr, "first reject: %s\n", summary->rejects[0].reason.c_str());
    }
    std::exit(1);
  }
  r.count = summary->accepted;
  r.count2 = summary->duplicates;
  const ledger::WriterFigures w = ledger->writer_figures();
  if (w.commits != 0) {
    std::printf("%-6s writer: %lu group commits, %.0f events each, %.2f ms per synced write\n",
                format.c_str(), static_cast<unsigned long>(w.commits),
                static_cast<double>(w.commit_events_sum) / static_cast<double>(w.commits),
                w.commit_seconds_sum * 1e3 / static_cast<double>(w.commits));
    std::fflush(stdout);  // this runs in a child that leaves with _exit
  }
  return r;
}

void Report(const char* name, std::size_t events, const PhaseResult& r) {
  std::printf(
      "%-6s import: %6.2f s  %8.0f events/s  (%lu accepted, %lu duplicates)  "
      "peak RSS %ld MiB  (target >= 150000 events/s)\n",
      name, r.seconds, static_cast<double>(events) / r.seconds, static_cast<unsigned long>(r.count),
      static_cast<unsigned long>(r.count2), r.peak_rss_mib);
}

}  // namespace
}  // namespace waybill

int main(int argc, char** argv) {
  using namespace waybill;
  std::size_t events = 1'000'000, shipments = 50'000;
  std::string only;
  std::string dir = (fs::temp_directory_path() / "waybill-format-bench").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--events")
      events = std::stoull(value);
    else if (flag == "--shipments")
      shipments = std::stoull(value);
    else if (flag == "--only")
      only = value;
    else if (flag == "--dir")
      dir = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::printf("allocator: %s\n", bench::AllocatorName());
  if (only.empty() || only == "x12") {
    const auto files = WriteX12(dir, events, shipments);
    std::printf("x12 workload: %zu 214 sets (one AT7 each) in %zu files, 5%% re-sent\n", events,
                files.size());
    const PhaseResult r =
        bench::RunInChild([&] { return Import("x12", files, false, dir + "/x12-ledger"); });
    Report("x12", events, r);
    fs::remove_all(dir + "/x12-ledger");
  }
  if (only.empty() || only == "epcis") {
    std::size_t documents = 0;
    const std::string file = WriteEpcis(dir, events, shipments, &documents);
    std::printf("epcis workload: %zu ObjectEvents in %zu EPCISDocuments, 5%% re-sent\n", events,
                documents);
    const PhaseResult r =
        bench::RunInChild([&] { return Import("epcis", {file}, true, dir + "/epcis-ledger"); });
    Report("epcis", events, r);
  }
  fs::remove_all(dir);
  return 0;
}
