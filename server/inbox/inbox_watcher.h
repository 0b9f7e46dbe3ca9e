// The folder inbox: files an SFTP or AS2 gateway drops into DIR/<format>/ are ingested, then
// moved to DIR/done/<format>/, or to DIR/failed/<format>/ beside a note naming their dead
// letters. Operator's view: docs/inbox.md.
//
//   DIR/<format>/NAME          waiting; taken only once complete (the writer renames it into
//                              place; dotfiles and *.tmp are ignored)
//   DIR/done/<format>/NAME     every message accepted or duplicate
//   DIR/failed/<format>/NAME   something was rejected (its accepted events stay accepted),
//   DIR/failed/<format>/NAME.dead-letters.json   with this note:
//     {"file","accepted","duplicates","rejected","dead_letters":[{"dead_letter_id",
//      "reason","position","line"}]}
//
// A name already taken in done/ or failed/ gets a suffix (NAME.1, NAME.2, ...); nothing is
// overwritten. A file moves only after its events and dead letters are durable, so a crash
// in between re-ingests it on restart: its events come back as duplicates (its rejected
// messages are dead-lettered a second time).
//
// Thread-safety: one InboxWatcher per DIR, used by one thread (Run's, or the caller of
// ScanOnce). Other threads may append to the same ledger meanwhile.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <stop_token>
#include <string>

#include "ingest/import_summary.h"
#include "ingest/intake_config.h"
#include "ingest/message_intake.h"
#include "ledger/ledger.h"

namespace waybill::inbox {

// What became of one file, for metrics and tests.
struct InboxFileResult {
  std::string origin;    // "inbox/<format>/<name>", as recorded in the ledger
  std::string moved_to;  // its path now, under DIR/done/ or DIR/failed/
  bool failed = false;   // moved to failed/ (something was rejected)
  ingest::ImportSummary summary;
};

struct InboxOptions {
  std::string dir;  // the inbox root, DIR
  std::chrono::milliseconds poll_interval{200};
  std::string principal = "inbox";  // recorded on every event and dead letter
  // Larger files are not read: they go to failed/ with a note saying so (no dead letter,
  // since the bytes are not kept in the ledger; the file in failed/ is the copy).
  std::size_t max_file_bytes = std::size_t{256} << 20;
  // Optional: called on the scanning thread after each file is moved. Must not throw.
  std::function<void(const InboxFileResult&)> on_file;
};

class InboxWatcher {
 public:
  // `ledger` and `config` must outlive the watcher. Touches nothing until ScanOnce/Run.
  InboxWatcher(ledger::Ledger& ledger, const ingest::IntakeConfig& config, InboxOptions options);

  // Creates DIR, DIR/done and DIR/failed if missing, then processes every complete file now
  // in DIR/<format>/ (format = the subdirectory's name; "done", "failed" and dot-directories
  // are not formats), oldest first. Returns how many files it processed (moved to done/ or
  // failed/), or the first error. A ledger write error stops the scan and leaves the file in
  // place for the next scan; a file that cannot be read or moved is skipped (the others
  // are still processed) and its error returned at the end, with a count of any further
  // ones. Errors name the file. Logs each file's outcome (spdlog).
  [[nodiscard]] Result<std::size_t> ScanOnce();

  // Scans every poll_interval until `stop` is requested, logging (spdlog) each file's
  // outcome and each error, and keeps going after errors. Returns within about one file's
  // ingest time of the stop request.
  void Run(std::stop_token stop);

 private:
  Result<std::size_t> Scan(const std::stop_token& stop);

  ledger::Ledger& ledger_;
  ingest::MessageIntake intake_;
  const InboxOptions options_;
};

}  // namespace waybill::inbox
