// One inbound message (a NATS message, a dropped file, an HTTP body) in any format, to the
// ledger: the format picks the importer, and a message nobody can map is kept, not dropped.
//
//   "canonical"          -> ImportCanonicalBuffer (NDJSON canonical events)
//   any adapter format   -> ImportDocument with the adapter MakeAdapter builds for it
//   anything else        -> the whole message becomes one dead letter (its bytes kept for a
//                           retry once the format exists), counted as rejected
//
// Thread-safety: a MessageIntake is used by one thread at a time (it caches adapters, which
// keep parser state); make one per thread. The IntakeConfig is shared read-only.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ingest/adapter.h"
#include "ingest/append_pipeline.h"
#include "ingest/import_summary.h"
#include "ingest/intake_config.h"
#include "ledger/ledger.h"

namespace waybill::ingest {

// Where a message came from, as recorded on its raw message and dead letters.
struct MessageOrigin {
  std::string origin;                  // "nats", "http", "inbox/x12/file.edi"
  std::optional<std::string> partner;  // as the channel states it; unset: the format's own
  std::string principal;               // the authenticated principal appending
};

class MessageIntake {
 public:
  // `config` must outlive the intake.
  explicit MessageIntake(const IntakeConfig& config);
  ~MessageIntake();
  MessageIntake(const MessageIntake&) = delete;
  MessageIntake& operator=(const MessageIntake&) = delete;

  // Maps `bytes` as `format` and submits the events and dead letters through `pipeline`;
  // the outcome (accepted, duplicates, rejected with dead-letter ids) is in the pipeline's
  // summary after Finish(). Never drops a message: an unknown format, or a mapping file
  // for it that fails to load, turns the whole message into one dead letter whose reason
  // says why (for an unknown format: `unknown format "X"; known formats: a, b, ...`).
  // The adapter built for a format is kept and reused by later messages of that format.
  void Submit(std::string_view format, std::string_view bytes, const MessageOrigin& origin,
              AppendPipeline& pipeline);

 private:
  // The cached adapter for `format`, building it on first use; an error when it cannot be
  // built (failures are not cached, so a mapping file added or fixed later is picked up).
  Result<Adapter*> AdapterFor(std::string_view format);

  const IntakeConfig& config_;
  std::map<std::string, std::unique_ptr<Adapter>, std::less<>> adapters_;
};

// Submits one message through a pipeline of its own and waits for it: when this returns
// ok, everything the message produced (events and dead letters) is durable in `ledger`.
// Errors are ledger write errors; the batches that failed were not stored (re-submitting
// is harmless: stored events come back as duplicates). Same thread rules as Submit.
[[nodiscard]] Result<ImportSummary> IngestOne(MessageIntake& intake, ledger::Ledger& ledger,
                                              std::string_view format, std::string_view bytes,
                                              const MessageOrigin& origin);

}  // namespace waybill::ingest
