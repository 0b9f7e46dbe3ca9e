#include "cli/cli_common.h"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>

namespace waybill::cli {

void ReportError(const std::string& command, const std::string& message) {
  std::cerr << "waybill " << command << ": " << message << "\n";
}

void AddCommonOptions(po::options_description& options, std::string* data_dir) {
  const char* env = std::getenv("WAYBILL_DATA_DIR");
  options.add_options()("help,h", "show this help")(
      "data-dir", po::value<std::string>(data_dir)->default_value(env ? env : "./waybill-data"),
      "ledger data directory (env WAYBILL_DATA_DIR)");
}

int ParseCommandLine(int argc, char** argv, const CommandSpec& spec,
                     po::options_description& options,
                     const po::positional_options_description& positional, po::variables_map* vm) {
  auto usage = [&](std::ostream& os) {
    os << "usage: " << spec.synopsis << "\n\n"
       << spec.summary << "\n\n"
       << options << "\n"
       << "example:\n  " << spec.example << "\n";
  };
  try {
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(),
              *vm);
    if (vm->count("help")) {
      usage(std::cout);
      return kExitOk;
    }
    po::notify(*vm);
  } catch (const po::error& e) {
    ReportError(spec.name, e.what());
    usage(std::cerr);
    return kExitUsage;
  }
  return -1;
}

std::unique_ptr<ledger::Ledger> OpenLedgerOrReport(const std::string& data_dir,
                                                   ledger::OpenMode mode, bool bulk_load) {
  ledger::LedgerOptions options;
  options.mode = mode;
  options.bulk_load = bulk_load;
  auto r = ledger::Ledger::Open(data_dir, options);
  if (!r.ok()) {
    std::cerr << "waybill: " << r.status().ToString() << "\n";
    return nullptr;
  }
  return std::move(r).value();
}

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

std::string LocalPrincipal() {
  const passwd* pw = getpwuid(geteuid());
  return std::string("local:") + (pw != nullptr ? pw->pw_name : std::to_string(geteuid()));
}

}  // namespace waybill::cli
