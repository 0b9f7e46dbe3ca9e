#include "ingest/message_intake.h"

#include "ingest/adapter_registry.h"
#include "ingest/canonical_import.h"
#include "ingest/document_import.h"
#include "schemas/time.h"

namespace waybill::ingest {
namespace {

constexpr std::string_view kCanonical = "canonical";

// The whole message as one dead letter: nothing could map it, so nothing of it is split.
// Its bytes are kept as the dead letter's raw, so `waybill dlq retry` can map it once the
// format exists (the dead letter's format is the one the message was sent as).
void SubmitUnmappable(std::string_view format, std::string_view bytes, const MessageOrigin& origin,
                      std::string reason, AppendPipeline& pipeline) {
  ledger::DeadLetter dl;
  dl.received_at = NowUnixNanos();
  dl.format = std::string(format);
  dl.partner = origin.partner;
  dl.principal = origin.principal;
  dl.raw = std::string(bytes);
  dl.reasons = {reason};
  dl.origin = origin.origin;
  ledger::AppendBatch batch;
  batch.dead_letters.push_back(std::move(dl));
  BatchOrigins origins;
  origins.dead_letters.push_back(Reject{origin.origin, 0, std::move(reason), 0, ""});
  pipeline.Submit(std::move(batch), std::move(origins));
}

}  // namespace

MessageIntake::MessageIntake(const IntakeConfig& config) : config_(config) {}

MessageIntake::~MessageIntake() = default;

Result<Adapter*> MessageIntake::AdapterFor(std::string_view format) {
  if (auto it = adapters_.find(format); it != adapters_.end()) return it->second.get();
  auto made = MakeAdapter(format, config_.adapters);
  if (!made.ok()) return made.status();
  Adapter* adapter = made->get();
  adapters_.emplace(std::string(format), std::move(made).value());
  return adapter;
}

void MessageIntake::Submit(std::string_view format, std::string_view bytes,
                           const MessageOrigin& origin, AppendPipeline& pipeline) {
  if (format == kCanonical) {
    ImportContext ctx;
    ctx.origin = origin.origin;
    ctx.partner = origin.partner;
    ctx.principal = origin.principal;
    // Over a buffer in memory there is nothing to fail reading; rejects are in the summary.
    ImportCanonicalBuffer(bytes, ctx, pipeline).IgnoreError();
    return;
  }
  Result<Adapter*> adapter = AdapterFor(format);
  if (!adapter.ok()) {
    std::string reason;
    if (adapter.status().code() == ErrorCode::kNotFound) {
      reason = "unknown format \"" + std::string(format) + "\"; known formats: ";
      bool first = true;
      for (const auto& f : KnownFormats(config_.adapters)) {
        if (!first) reason += ", ";
        reason += f;
        first = false;
      }
    } else {
      // A mapping file for the format is broken: the message is fine as far as we know,
      // so keep it for a retry after the file is fixed.
      reason =
          "format \"" + std::string(format) + "\" cannot be mapped: " + adapter.status().message();
    }
    SubmitUnmappable(format, bytes, origin, std::move(reason), pipeline);
    return;
  }
  DocumentContext ctx;
  ctx.origin = origin.origin;
  ctx.partner = origin.partner;
  ctx.principal = origin.principal;
  ctx.profiles = &config_.profiles;
  ImportDocument(**adapter, bytes, ctx, pipeline);
}

Result<ImportSummary> IngestOne(MessageIntake& intake, ledger::Ledger& ledger,
                                std::string_view format, std::string_view bytes,
                                const MessageOrigin& origin) {
  AppendPipeline pipeline(ledger);
  intake.Submit(format, bytes, origin, pipeline);
  return pipeline.Finish();
}

}  // namespace waybill::ingest
