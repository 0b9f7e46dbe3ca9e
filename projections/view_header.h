// The header every view carries (shipment, order, customer, carrier, references, version)
// and its order-independent fold.
//
// order_id and customer_id come from the most authoritative source system that sent one
// (erp > tms > carrier > ops), carrier from tms > carrier > erp > ops; among equals the latest
// occurred_at wins, then the later ledger seq. Because the winner is a maximum over a total
// order, any arrival order folds to the same header. references is the sorted, deduplicated
// union of every event's references.
// Thread-safety: a plain value; one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "projections/views.h"
#include "schemas/event.h"
#include "schemas/result.h"

namespace waybill {
class ContentOutputArchive;
class ContentInputArchive;
}  // namespace waybill

namespace waybill::projections {

// Rank of `system` as an authority for order_id/customer_id (erp 4 .. ops 1; 0 unknown).
std::uint8_t OrderAuthority(SourceSystem system);
// Rank of `system` as an authority for carrier (tms 4, carrier 3, erp 2, ops 1; 0 unknown).
std::uint8_t CarrierAuthority(SourceSystem system);

// A value chosen by (rank, occurred_at, seq), highest wins.
struct RankedValue {
  std::optional<std::string> value;
  std::uint8_t rank = 0;
  UnixNanos at = 0;
  std::uint64_t seq = 0;

  // Takes `v` when it is present and its key beats the current one; true when the value
  // (not just the key) changed. `*took` (when given) is set when the key was taken, even
  // with an equal value: the state moved although the rendering did not.
  bool Offer(const std::optional<std::string>& v, std::uint8_t v_rank, UnixNanos v_at,
             std::uint64_t v_seq, bool* took = nullptr);
  bool operator==(const RankedValue&) const = default;
};

class ViewHeader {
 public:
  ViewHeader() = default;
  explicit ViewHeader(std::string shipment_id) : shipment_id_(std::move(shipment_id)) {}

  // A view's Apply is: `if (!h.ShouldFold(e)) return false; bool changed = h.Fold(e);
  // changed |= <own fold>; h.Finish(e, changed); return changed;`.
  //
  // False for an event whose seq is not above every seq folded so far: it was folded
  // already (a worker re-applying a batch after a restart). Seqs reach a view ascending.
  bool ShouldFold(const Event& e) const { return e.ledger.seq > last_folded_seq_; }
  // Folds the header fields of `e`; true when a rendered header field changed.
  bool Fold(const Event& e);
  // A view's own fold calls this when it changed its stored state without changing the
  // rendering (a later copy of the winning estimate, a re-sent invoice).
  void NoteStateChange() { pending_state_change_ = true; }
  // Records `e` as folded. When `changed`, bumps the version and takes last_seq/updated_at.
  // When the stored state changed at all, last_folded_seq becomes e's seq (so it is the
  // last event that moved the state: events after it that changed nothing are harmless to
  // fold again) and the state is marked dirty.
  void Finish(const Event& e, bool changed);
  // Whether the stored state changed since the last call; clears the mark. The projection
  // worker writes a view back only then.
  bool TakeStateChanged() {
    const bool dirty = state_dirty_;
    state_dirty_ = false;
    return dirty;
  }

  // `"view":...,"shipment_id":...,...,"updated_at":...` without braces or trailing comma.
  void AppendJson(ViewKind kind, std::string* out) const;
  // `"shipment_id":...,"order_id":...,"customer_id":...,"carrier":...,"references":[...]`.
  void AppendIdentityJson(std::string* out) const;

  // Folds another header of the same shipment into this one, as if this header had also
  // seen the other's events (the version fields are left alone). Used by CombinedViewJson.
  void MergeFieldsFrom(const ViewHeader& other);

  // Binary state (schemas/content_archive.h). Load throws cereal::Exception on bad bytes.
  void Save(ContentOutputArchive& ar) const;
  void Load(ContentInputArchive& ar);

  const std::string& shipment_id() const { return shipment_id_; }
  const std::optional<std::string>& order_id() const { return order_id_.value; }
  const std::optional<std::string>& customer_id() const { return customer_id_.value; }
  const std::optional<std::string>& carrier() const { return carrier_.value; }
  const std::vector<Reference>& references() const { return references_; }
  std::uint64_t version() const { return version_; }
  std::uint64_t last_seq() const { return last_seq_; }
  std::uint64_t last_folded_seq() const { return last_folded_seq_; }
  // recorded_at of the last change; 0 while version is 0.
  UnixNanos updated_at() const { return updated_at_; }

 private:
  bool AddReference(const Reference& r);

  std::string shipment_id_;
  RankedValue order_id_;
  RankedValue customer_id_;
  RankedValue carrier_;
  std::vector<Reference> references_;  // sorted by (type, value), unique
  std::uint64_t version_ = 0;
  std::uint64_t last_seq_ = 0;
  std::uint64_t last_folded_seq_ = 0;
  UnixNanos updated_at_ = 0;
  // Transient (not stored, not compared): state-change bookkeeping of the fold in progress.
  bool pending_state_change_ = false;
  bool state_dirty_ = false;

 public:
  bool operator==(const ViewHeader& o) const {
    return shipment_id_ == o.shipment_id_ && order_id_ == o.order_id_ &&
           customer_id_ == o.customer_id_ && carrier_ == o.carrier_ &&
           references_ == o.references_ && version_ == o.version_ && last_seq_ == o.last_seq_ &&
           last_folded_seq_ == o.last_folded_seq_ && updated_at_ == o.updated_at_;
  }
};

// Every view encodes as: a varint format version (the leading byte, from the archive), the
// ViewKind byte, the header, then the view's own state. These helpers write/check the kind
// byte and the end of input; the checks throw cereal::Exception, which Decode turns into
// ViewDecodeError: Corruption naming the view, the size and the reason.
void SaveViewKind(ContentOutputArchive& ar, ViewKind kind);
void ExpectViewKind(ContentInputArchive& ar, ViewKind kind);
void ExpectEnd(const ContentInputArchive& ar);
Status ViewDecodeError(ViewKind kind, std::size_t size, std::string_view reason);

}  // namespace waybill::projections
