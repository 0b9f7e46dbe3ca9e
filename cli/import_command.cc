// waybill import --data-dir DIR --format FORMAT FILE...
// waybill import --server URL --format FORMAT FILE...     (POST /v1/ingest/{format})
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/import_online.h"
#include "cli/printers.h"
#include "cli/progress.h"
#include "ingest/adapter_registry.h"
#include "ingest/canonical_import.h"
#include "ingest/chain_restore.h"
#include "ingest/document_import.h"
#include "ingest/intake_config.h"

namespace waybill::cli {
namespace {

// Passes reads through to `source`, reporting the bytes read so far to a ProgressMeter.
class MeteredStreambuf : public std::streambuf {
 public:
  MeteredStreambuf(std::streambuf* source, ProgressMeter& meter, std::uint64_t* done)
      : source_(source), meter_(meter), done_(done) {}

 protected:
  std::streamsize xsgetn(char* s, std::streamsize n) override {
    // Drain what underflow() buffered first, then read straight through.
    std::streamsize got = std::min<std::streamsize>(n, egptr() - gptr());
    if (got > 0) {
      std::memcpy(s, gptr(), static_cast<std::size_t>(got));
      gbump(static_cast<int>(got));
    }
    if (got < n) {
      const std::streamsize more = source_->sgetn(s + got, n - got);
      if (more > 0) Count(more);
      got += std::max<std::streamsize>(more, 0);
    }
    return got;
  }
  int_type underflow() override {
    const std::streamsize got = source_->sgetn(buf_, sizeof buf_);
    if (got <= 0) return traits_type::eof();
    Count(got);
    setg(buf_, buf_, buf_ + got);
    return traits_type::to_int_type(buf_[0]);
  }

 private:
  void Count(std::streamsize n) {
    *done_ += static_cast<std::uint64_t>(n);
    meter_.Update(*done_);
  }
  std::streambuf* source_;
  ProgressMeter& meter_;
  std::uint64_t* done_;
  char buf_[1 << 16];
};

// Serves `prefix` (bytes already read to look at the first line), then `source`.
class PrefixedStreambuf : public std::streambuf {
 public:
  PrefixedStreambuf(std::string prefix, std::streambuf* source)
      : prefix_(std::move(prefix)), source_(source) {
    setg(prefix_.data(), prefix_.data(), prefix_.data() + prefix_.size());
  }

 protected:
  std::streamsize xsgetn(char* s, std::streamsize n) override {
    std::streamsize got = std::min<std::streamsize>(n, egptr() - gptr());
    if (got > 0) {
      std::memcpy(s, gptr(), static_cast<std::size_t>(got));
      gbump(static_cast<int>(got));
    }
    if (got < n) got += std::max<std::streamsize>(source_->sgetn(s + got, n - got), 0);
    return got;
  }
  int_type underflow() override {
    const std::streamsize got = source_->sgetn(buf_, sizeof buf_);
    if (got <= 0) return traits_type::eof();
    setg(buf_, buf_, buf_ + got);
    return traits_type::to_int_type(buf_[0]);
  }

 private:
  std::string prefix_;
  std::streambuf* source_;
  char buf_[1 << 16];
};

// Copies `prefix` and the rest of `in` into a new temporary file (a restore reads its input
// twice; stdin cannot be reread). Returns its path; the caller unlinks it.
Result<std::string> SpoolToTempFile(const std::string& prefix, std::istream& in) {
  std::string path = (std::filesystem::temp_directory_path() / "waybill-restore-XXXXXX").string();
  const int fd = ::mkstemp(path.data());
  if (fd < 0) return Status::IoError("cannot create a temporary file for stdin: " + path);
  ::close(fd);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(prefix.data(), static_cast<std::streamsize>(prefix.size()));
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.write(buf, in.gcount());
  }
  out.flush();
  if (!out || in.bad()) {
    ::unlink(path.c_str());
    return Status::IoError("cannot spool stdin to " + path + ": " + std::strerror(errno));
  }
  return path;
}

// The summary line with what chain restores did.
int PrintRestoredSummary(const ingest::ImportSummary& summary, std::uint64_t restored,
                         const ledger::LedgerHead& head) {
  std::string json = summary.ToJson();
  json.pop_back();  // the closing brace
  json += ",\"restored\":{\"events\":" + std::to_string(restored) +
          ",\"head_seq\":" + std::to_string(head.seq) + ",\"head_hash\":\"" + ToHex(head.hash) +
          "\"}}";
  std::cout << json << std::endl;
  for (const auto& r : summary.rejects) {
    std::cerr << r.origin;
    if (r.line != 0) std::cerr << ":" << r.line;
    std::cerr << ": rejected (dead letter " << r.dead_letter_id << "): " << r.reason << "\n";
  }
  return summary.rejected > 0 ? kExitRejected : kExitOk;
}

std::uint64_t TotalBytes(const std::vector<std::string>& files) {
  std::uint64_t total = 0;
  for (const auto& f : files) {
    struct stat st {};
    if (f != "-" && stat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      total += static_cast<std::uint64_t>(st.st_size);
    }
  }
  return total;
}

}  // namespace

int RunImport(int argc, char** argv) {
  const CommandSpec spec{
      "import",
      "waybill import (--data-dir DIR [--partners FILE] [--mappings DIR]... | --server URL) "
      "--format FORMAT [--partner ID] FILE...",
      "Validates and appends every message in FILE (\"-\" for stdin) to the ledger. Formats: "
      "canonical (NDJSON canonical events), x12 (204/990/214/210), dcsa-tnt, epcis, and every "
      "mapping-file format (sap-s4-delivery, d365-sales-order, ...). Prints one JSON summary "
      "line {\"accepted\":N,\"duplicates\":N,\"rejected\":N}, with \"rejects\" (file, "
      "line, position, reason, dead_letter_id) when anything was rejected; rejected messages are "
      "kept as dead letters (see `waybill dlq`). Exit 0: all accepted or duplicate; 3: something "
      "rejected; 2: usage; 1: I/O error. With --server URL the files go to that server's HTTP "
      "API instead (token scope ingest), canonical NDJSON in chunks of 1000 lines, each "
      "request idempotent: running the same import again stores nothing twice. Canonical "
      "files whose first line carries ledger fields (seq, hash: `waybill export` output) are "
      "a chain restore, offline only: checked whole first, then stored at exactly their "
      "sequences and hashes; they must continue the ledger's head (an empty ledger: seq 1). "
      "A refused restore stores nothing and exits 3; the summary then has \"restored\": "
      "{\"events\",\"head_seq\",\"head_hash\"}.",
      "waybill import --data-dir ./waybill-data --format x12 --partner ACME status.edi"};
  std::string data_dir, format, partner, partners_file;
  std::vector<std::string> files, mapping_dirs;
  OnlineOptions online;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  AddOnlineOptions(options, &online, 300);
  options.add_options()("format", po::value<std::string>(&format)->required(),
                        "message format (see above)")("partner", po::value<std::string>(&partner),
                                                      "trading partner the files came from")(
      "partners", po::value<std::string>(&partners_file),
      "partner profiles file (default: DIR/partners.json if present)")(
      "mappings", po::value<std::vector<std::string>>(&mapping_dirs),
      "extra mapping-file directory (default: DIR/mappings if present); repeatable")(
      "file", po::value<std::vector<std::string>>(&files)->required(), "input files");
  po::positional_options_description positional;
  positional.add("file", -1);
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, positional, &vm); rc >= 0) return rc;
  if (online.enabled() && (!partners_file.empty() || !mapping_dirs.empty())) {
    ReportError("import",
                "--partners and --mappings are offline only: with --server the server maps "
                "with its own partner profiles and mapping files");
    return kExitUsage;
  }
  // Every file must be readable before anything is sent or appended.
  auto all_readable = [&] {
    for (const auto& f : files) {
      if (f == "-") continue;
      std::ifstream probe(f, std::ios::binary);
      if (!probe) {
        ReportError("import", "cannot read " + f + ": " + std::strerror(errno));
        return false;
      }
    }
    return true;
  };
  if (online.enabled()) {
    if (!all_readable()) return kExitIoError;
    return ImportOnline({format, partner, files}, online, data_dir);
  }

  auto config = ingest::LoadIntakeConfig(data_dir, partners_file, mapping_dirs);
  if (!config.ok()) {
    ReportError("import", config.status().ToString());
    return kExitIoError;
  }
  std::unique_ptr<ingest::Adapter> adapter;
  if (format != "canonical") {
    auto made = ingest::MakeAdapter(format, config->adapters);
    if (!made.ok()) {
      ReportError("import", made.status().message());
      return made.status().code() == ErrorCode::kNotFound ? kExitUsage : kExitIoError;
    }
    adapter = std::move(made).value();
  }
  if (!all_readable()) return kExitIoError;
  auto ledger = OpenLedgerOrReport(data_dir, ledger::OpenMode::kReadWrite, /*bulk_load=*/true);
  if (!ledger) return kExitIoError;

  // One pipeline for plain files; settled before a restore, which checks the head.
  std::unique_ptr<ingest::AppendPipeline> pipeline;
  ingest::ImportSummary total;
  Status failure, settle_failure;
  auto settle = [&] {
    if (!pipeline) return;
    auto part = pipeline->Finish();
    pipeline.reset();
    if (part.ok()) {
      total.Merge(*part);
    } else if (settle_failure.ok()) {
      settle_failure = part.status();
    }
  };
  std::uint64_t restored = 0;
  bool any_restore = false;
  Status refused;  // a restore the check pass or the ledger refused
  ProgressMeter meter("import", TotalBytes(files), ProgressUnit::kBytes);
  std::uint64_t bytes_read = 0;
  for (const auto& f : files) {
    const std::string origin = f == "-" ? "stdin" : f;
    const std::optional<std::string> partner_opt =
        partner.empty() ? std::nullopt : std::optional<std::string>(partner);
    if (!adapter) {
      ingest::ImportContext ctx;
      ctx.origin = origin;
      ctx.partner = partner_opt;
      ctx.principal = LocalPrincipal();
      ctx.refuse_ledger_fields = true;
      std::ifstream file;
      if (f != "-") file.open(f, std::ios::binary);
      std::istream& source = f == "-" ? std::cin : file;
      std::string first_bytes;
      Result<bool> is_export = ingest::StartsWithLedgerExport(source, &first_bytes);
      if (!is_export.ok()) {
        failure = Status::IoError(origin + ": " + is_export.status().message());
      } else if (*is_export) {
        settle();
        any_restore = true;
        std::string path = f, spooled;
        if (f == "-") {
          Result<std::string> spool = SpoolToTempFile(first_bytes, std::cin);
          if (!spool.ok()) {
            failure = spool.status();
            break;
          }
          path = spooled = *spool;
        }
        ingest::RestoreContext rctx;
        rctx.origin = origin;
        rctx.partner = partner_opt;
        auto done = ingest::RestoreCanonicalFile(path, rctx, *ledger);
        if (!spooled.empty()) ::unlink(spooled.c_str());
        if (done.ok()) {
          restored += done->events;
          total.accepted += done->events;
          if (done->events > 0) {
            if (total.first_seq == 0) total.first_seq = done->first_seq;
            total.last_seq = std::max(total.last_seq, done->head.seq);
          }
          bytes_read += TotalBytes({f});
          meter.Update(bytes_read);
        } else if (done.status().code() == ErrorCode::kInvalidArgument) {
          refused = done.status();
        } else {
          failure = done.status();
        }
        if (!refused.ok()) break;
      } else {
        if (!pipeline) pipeline = std::make_unique<ingest::AppendPipeline>(*ledger);
        PrefixedStreambuf prefixed(std::move(first_bytes), source.rdbuf());
        MeteredStreambuf metered(&prefixed, meter, &bytes_read);
        std::istream in(&metered);
        failure = ingest::ImportCanonicalStream(in, ctx, *pipeline);
      }
    } else {
      Result<std::string> doc = f == "-" ? ReadDocument("/dev/stdin") : ReadDocument(f);
      if (!doc.ok()) {
        failure = doc.status();
      } else {
        ingest::DocumentContext ctx;
        ctx.origin = origin;
        ctx.partner = partner_opt;
        ctx.principal = LocalPrincipal();
        ctx.profiles = &config->profiles;
        if (!pipeline) pipeline = std::make_unique<ingest::AppendPipeline>(*ledger);
        ingest::ImportDocument(*adapter, *doc, ctx, *pipeline);
        bytes_read += doc->size();
        meter.Update(bytes_read);
      }
    }
    if (!failure.ok()) break;
  }
  settle();
  meter.Clear();
  if (!settle_failure.ok()) {
    ReportError("import", (!failure.ok() ? failure : settle_failure).ToString());
    return kExitIoError;
  }
  if (!refused.ok()) {
    ReportError("import", "chain restore refused: " + refused.message());
    std::cout << total.ToJson() << std::endl;  // what did land
    return kExitRejected;
  }
  if (!failure.ok() || !any_restore) return PrintImportSummary(total, failure);
  return PrintRestoredSummary(total, restored, ledger->Head());
}

}  // namespace waybill::cli
