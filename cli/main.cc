// waybill: the command-line entry point. Dispatches to one command per verb.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <iostream>
#include <string_view>

#include "cli/cli_common.h"
#include "cli/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"serve", waybill::cli::RunServe, "run the daemon: ledger, projections, NATS, inbox"},
    {"import", waybill::cli::RunImport, "validate and append messages from files"},
    {"history", waybill::cli::RunHistory, "a shipment's events in ledger order"},
    {"verify", waybill::cli::RunVerify, "check the hash chain, naming the first break"},
    {"stats", waybill::cli::RunStats, "events, shipments, dead letters, size, head"},
    {"dlq", waybill::cli::RunDlq, "list, show, retry or drop dead letters"},
    {"view", waybill::cli::RunView, "a shipment's status, ETA and freight-cost views"},
    {"asof", waybill::cli::RunAsOf, "a shipment's views as they stood at a time"},
    {"rebuild", waybill::cli::RunRebuild, "refold views from the log (online when serving)"},
    {"republish", waybill::cli::RunRepublish, "send a range of the log to NATS again"},
    {"export", waybill::cli::RunExport, "write a range of the log as restorable NDJSON"},
    {"send", waybill::cli::RunSend, "publish files to a server's NATS intake"},
    {"backup", waybill::cli::RunBackup, "copy a consistent snapshot of the ledger (online)"},
    {"restore", waybill::cli::RunRestore, "make a data dir from a backup, verified"},
};

void Usage(std::ostream& os) {
  os << "usage: waybill <command> [options]\n\ncommands:\n";
  for (const auto& c : kCommands) os << "  " << c.name << "\t" << c.summary << "\n";
  os << "\n`waybill <command> --help` shows a command's options and an example.\n";
}

}  // namespace

int main(int argc, char** argv) {
  // stdout carries results (JSON summaries, views); log lines go to stderr. Commands other
  // than serve report what matters themselves, so library logs below warn stay quiet.
  spdlog::set_default_logger(spdlog::stderr_color_mt("waybill"));
  spdlog::set_level(spdlog::level::warn);
  if (argc < 2) {
    Usage(std::cerr);
    return waybill::cli::kExitUsage;
  }
  const std::string_view verb = argv[1];
  if (verb == "--help" || verb == "-h" || verb == "help") {
    Usage(std::cout);
    return waybill::cli::kExitOk;
  }
  for (const auto& c : kCommands) {
    if (verb == c.name) return c.run(argc - 1, argv + 1);
  }
  std::cerr << "waybill: unknown command \"" << verb << "\"\n";
  Usage(std::cerr);
  return waybill::cli::kExitUsage;
}
