// Shared plumbing of the `waybill` commands: exit codes, option parsing, opening ledgers.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <memory>
#include <string>

#include "ledger/ledger.h"

namespace waybill::cli {

// Exit codes are part of the CLI contract; scripts depend on them.
inline constexpr int kExitOk = 0;
inline constexpr int kExitIoError = 1;       // cannot read a file or open/write the ledger
inline constexpr int kExitUsage = 2;         // bad flags or arguments
inline constexpr int kExitRejected = 3;      // import: something was rejected (dead-lettered)
inline constexpr int kExitVerifyFailed = 4;  // verify: the chain is broken
inline constexpr int kExitNotFound = 5;      // view/asof: no such shipment (or none by then)

namespace po = boost::program_options;

struct CommandSpec {
  std::string name;
  std::string synopsis;  // "waybill history --data-dir DIR SHIPMENT [--json]"
  std::string summary;   // one sentence
  std::string example;   // one runnable example
};

// Parses argv (argv[0] is the command name) against `options` and `positional`. Prints help
// and returns kExitOk for --help, prints the error and usage and returns kExitUsage on a
// parse error; returns -1 when the command should run.
int ParseCommandLine(int argc, char** argv, const CommandSpec& spec,
                     po::options_description& options,
                     const po::positional_options_description& positional, po::variables_map* vm);

// Adds --data-dir (default $WAYBILL_DATA_DIR or ./waybill-data) and --help.
void AddCommonOptions(po::options_description& options, std::string* data_dir);

// Opens the ledger in `data_dir`; prints the error and returns nullptr on failure.
// `bulk_load`: see LedgerOptions::bulk_load (for `waybill import`).
std::unique_ptr<ledger::Ledger> OpenLedgerOrReport(const std::string& data_dir,
                                                   ledger::OpenMode mode, bool bulk_load = false);

// The principal recorded for offline CLI appends: "local:<user>".
std::string LocalPrincipal();

// Prints "waybill <command>: <message>" to stderr.
void ReportError(const std::string& command, const std::string& message);

// Reads a whole document (X12, JSON) into memory: they are mapped as one piece. IoError
// when it cannot be read, InvalidArgument beyond kMaxDocumentBytes.
inline constexpr std::size_t kMaxDocumentBytes = 256u << 20;
Result<std::string> ReadDocument(const std::string& path);

}  // namespace waybill::cli
