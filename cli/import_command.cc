// waybill import --data-dir DIR --format FORMAT FILE...
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "ingest/adapter_registry.h"
#include "ingest/canonical_import.h"
#include "ingest/document_import.h"
#include "ingest/intake_config.h"

namespace waybill::cli {

namespace {

constexpr std::size_t kMaxDocumentBytes = 256u << 20;

// Reads a whole document (X12, JSON) into memory; they are mapped as one piece.
Result<std::string> ReadDocument(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  std::string data;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<std::size_t>(in.gcount()));
    if (data.size() > kMaxDocumentBytes) {
      return Status::Invalid(path + " is larger than " + std::to_string(kMaxDocumentBytes >> 20) +
                             " MiB; split it into smaller files");
    }
  }
  if (in.bad()) return Status::IoError("reading " + path + ": " + std::strerror(errno));
  return data;
}

}  // namespace

int RunImport(int argc, char** argv) {
  const CommandSpec spec{
      "import",
      "waybill import --data-dir DIR --format FORMAT [--partner ID] [--partners FILE] "
      "[--mappings DIR]... FILE...",
      "Validates and appends every message in FILE (\"-\" for stdin) to the ledger. Formats: "
      "canonical (NDJSON canonical events), x12 (204/990/214/210), dcsa-tnt, epcis, and every "
      "mapping-file format (sap-s4-delivery, d365-sales-order, ...). Prints one JSON summary "
      "line {\"accepted\":N,\"duplicates\":N,\"rejected\":N}, with \"rejects\" (file, "
      "line, position, reason, dead_letter_id) when anything was rejected; rejected messages are "
      "kept as dead letters (see `waybill dlq`). Exit 0: all accepted or duplicate; 3: something "
      "rejected; 2: usage; 1: I/O error.",
      "waybill import --data-dir ./waybill-data --format x12 --partner ACME status.edi"};
  std::string data_dir, format, partner, partners_file;
  std::vector<std::string> files, mapping_dirs;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
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
  // Every file must be readable before anything is appended.
  for (const auto& f : files) {
    if (f == "-") continue;
    std::ifstream probe(f, std::ios::binary);
    if (!probe) {
      ReportError("import", "cannot read " + f + ": " + std::strerror(errno));
      return kExitIoError;
    }
  }
  auto ledger = OpenLedgerOrReport(data_dir, ledger::OpenMode::kReadWrite);
  if (!ledger) return kExitIoError;

  ingest::AppendPipeline pipeline(*ledger);
  Status failure;
  for (const auto& f : files) {
    const std::string origin = f == "-" ? "stdin" : f;
    const std::optional<std::string> partner_opt =
        partner.empty() ? std::nullopt : std::optional<std::string>(partner);
    if (!adapter) {
      ingest::ImportContext ctx;
      ctx.origin = origin;
      ctx.partner = partner_opt;
      ctx.principal = LocalPrincipal();
      if (f == "-") {
        failure = ingest::ImportCanonicalStream(std::cin, ctx, pipeline);
      } else {
        std::ifstream in(f, std::ios::binary);
        failure = ingest::ImportCanonicalStream(in, ctx, pipeline);
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
        ingest::ImportDocument(*adapter, *doc, ctx, pipeline);
      }
    }
    if (!failure.ok()) break;
  }
  auto summary = pipeline.Finish();
  if (!failure.ok() || !summary.ok()) {
    ReportError("import", (!failure.ok() ? failure : summary.status()).ToString());
    if (summary.ok()) std::cout << summary->ToJson() << std::endl;  // what did land
    return kExitIoError;
  }
  std::cout << summary->ToJson() << std::endl;
  for (const auto& r : summary->rejects) {
    std::cerr << r.origin;
    if (r.line != 0) std::cerr << ":" << r.line;
    if (!r.position.empty()) std::cerr << " [" << r.position << "]";
    std::cerr << ": rejected (dead letter " << r.dead_letter_id << "): " << r.reason << "\n";
  }
  return summary->rejected > 0 ? kExitRejected : kExitOk;
}

}  // namespace waybill::cli
