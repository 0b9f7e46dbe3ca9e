#include "ingest/document_import.h"

#include "schemas/sha256.h"
#include "schemas/time.h"

namespace waybill::ingest {
namespace {

std::string JoinReasons(const std::vector<std::string>& reasons) {
  std::string out;
  for (const auto& r : reasons) {
    if (!out.empty()) out += "; ";
    out += r;
  }
  return out;
}

// Collects mapped messages into batches.
//
// The raw message the events reference is the document as delivered when it is at most
// kWholeDocumentRawBytes (an HTTP body, a NATS message, a typical file): the auditor gets
// exactly what arrived, stored once. A larger document is kept unit by unit (interchanges,
// event objects), so no single stored value grows without bound. A raw message shared by
// consecutive messages is hashed once and carried into every batch that has events from
// it; the ledger stores it once. Dead letters always keep their message's unit, the piece
// a retry re-maps.
class DocumentBatcher {
 public:
  DocumentBatcher(const Adapter& adapter, std::string_view document, const DocumentContext& ctx,
                  AppendPipeline& pipeline)
      : adapter_(adapter),
        ctx_(ctx),
        pipeline_(pipeline),
        document_(document),
        whole_document_(document.size() <= kWholeDocumentRawBytes) {}

  void Add(MappedMessage&& m) {
    if (m.rejected()) {
      ledger::DeadLetter dl;
      dl.received_at = received_at_;
      dl.format = std::string(adapter_.format());
      dl.partner = ctx_.partner;
      dl.principal = ctx_.principal;
      dl.raw = std::string(m.unit);
      dl.reasons = m.errors;
      dl.origin = ctx_.origin;
      dl.position = m.position;
      batch_.dead_letters.push_back(std::move(dl));
      origins_.dead_letters.push_back(Reject{ctx_.origin, 0, JoinReasons(m.errors), 0, m.position});
    } else if (!m.events.empty()) {
      const int raw_index = RawIndex(whole_document_ ? document_ : m.unit);
      const Sha256 raw_hash = unit_raw_.hash;
      for (Event& e : m.events) {
        e.raw_hash = raw_hash;
        e.source.principal = ctx_.principal;
        batch_.events.push_back(ledger::PrepareEvent(e, raw_index));
      }
    }
    if (batch_.events.size() + batch_.dead_letters.size() >= ctx_.batch_events) Flush();
  }

  void Flush() {
    if (!batch_.events.empty() || !batch_.dead_letters.empty()) {
      pipeline_.Submit(std::move(batch_), std::move(origins_));
    }
    batch_ = {};
    origins_ = {};
    unit_raw_index_ = -1;
  }

  UnixNanos received_at() const { return received_at_; }

 private:
  // Index of `unit` in the current batch's raws, adding it when it is not there yet.
  // The unit is hashed and encoded once (an X12 interchange of 1,000 sets spans several
  // batches; hashing it again for each showed as 5% of an X12 import's CPU).
  int RawIndex(std::string_view unit) {
    if (unit.data() != unit_.data() || unit.size() != unit_.size()) {
      unit_ = unit;
      const std::string origin = ctx_.origin;
      unit_raw_ = ledger::PrepareRaw(unit, adapter_.format(), ctx_.partner, origin, received_at_);
      unit_raw_index_ = -1;
    }
    if (unit_raw_index_ < 0) {
      batch_.raws.push_back(unit_raw_);
      unit_raw_index_ = static_cast<int>(batch_.raws.size() - 1);
    }
    return unit_raw_index_;
  }

  static constexpr std::size_t kWholeDocumentRawBytes = 4 << 20;

  const Adapter& adapter_;
  const DocumentContext& ctx_;
  AppendPipeline& pipeline_;
  const std::string_view document_;
  const bool whole_document_;
  const UnixNanos received_at_ = NowUnixNanos();
  ledger::AppendBatch batch_;
  BatchOrigins origins_;
  // The unit last seen, prepared, and its index in batch_.raws (-1: not in this batch yet).
  std::string_view unit_;
  ledger::PreparedRaw unit_raw_;
  int unit_raw_index_ = -1;
};

}  // namespace

void ImportDocument(Adapter& adapter, std::string_view document, const DocumentContext& ctx,
                    AppendPipeline& pipeline) {
  static const PartnerProfiles kNoProfiles;
  DocumentBatcher batcher(adapter, document, ctx, pipeline);
  AdapterContext actx;
  actx.partner = ctx.partner;
  actx.profiles = ctx.profiles != nullptr ? ctx.profiles : &kNoProfiles;
  actx.received_at = batcher.received_at();
  adapter.Map(document, actx, [&](MappedMessage&& m) { batcher.Add(std::move(m)); });
  batcher.Flush();
}

}  // namespace waybill::ingest
