// waybill import --data-dir DIR --format canonical FILE...
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "ingest/canonical_import.h"

namespace waybill::cli {

int RunImport(int argc, char** argv) {
  const CommandSpec spec{
      "import", "waybill import --data-dir DIR --format canonical [--partner ID] FILE...",
      "Validates and appends every message in FILE (\"-\" for stdin) to the ledger. Prints one "
      "JSON summary line {\"accepted\":N,\"duplicates\":N,\"rejected\":N}, with \"rejects\" "
      "(file, line, reason, dead_letter_id) when anything was rejected; rejected messages are "
      "kept as dead letters. Exit 0: all accepted or duplicate; 3: something rejected; "
      "2: usage; 1: I/O error.",
      "waybill import --data-dir ./waybill-data --format canonical events.ndjson"};
  std::string data_dir, format, partner;
  std::vector<std::string> files;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  options.add_options()("format", po::value<std::string>(&format)->required(),
                        "message format: canonical (NDJSON canonical events)")(
      "partner", po::value<std::string>(&partner), "trading partner the files came from")(
      "file", po::value<std::vector<std::string>>(&files)->required(), "input files");
  po::positional_options_description positional;
  positional.add("file", -1);
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, positional, &vm); rc >= 0) return rc;
  if (format != "canonical") {
    ReportError("import", "unknown --format \"" + format + "\"; supported: canonical");
    return kExitUsage;
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
  for (const auto& f : files) {
    ingest::ImportContext ctx;
    ctx.origin = f == "-" ? "stdin" : f;
    if (!partner.empty()) ctx.partner = partner;
    ctx.principal = LocalPrincipal();
    Status st;
    if (f == "-") {
      st = ingest::ImportCanonicalStream(std::cin, ctx, pipeline);
    } else {
      std::ifstream in(f, std::ios::binary);
      st = ingest::ImportCanonicalStream(in, ctx, pipeline);
    }
    if (!st.ok()) {
      auto partial = pipeline.Finish();
      ReportError("import", st.ToString());
      if (partial.ok()) std::cout << partial->ToJson() << std::endl;
      return kExitIoError;
    }
  }
  auto summary = pipeline.Finish();
  if (!summary.ok()) {
    ReportError("import", summary.status().ToString());
    return kExitIoError;
  }
  std::cout << summary->ToJson() << std::endl;
  for (const auto& r : summary->rejects) {
    std::cerr << r.origin << ":" << r.line << ": rejected (dead letter " << r.dead_letter_id
              << "): " << r.reason << "\n";
  }
  return summary->rejected > 0 ? kExitRejected : kExitOk;
}

}  // namespace waybill::cli
