#include "projections/view_header.h"

#include <algorithm>
#include <cereal/types/optional.hpp>
#include <cereal/types/vector.hpp>
#include <tuple>

#include "projections/view_json.h"
#include "schemas/content_archive.h"
#include "schemas/event_json.h"

namespace waybill::projections {

template <class Archive>
void serialize(Archive& ar, RankedValue& v) {
  ar(v.value, v.rank, v.at, v.seq);
}

namespace {

bool RefLess(const Reference& a, const Reference& b) {
  return std::tie(a.type, a.value) < std::tie(b.type, b.value);
}

}  // namespace

std::uint8_t OrderAuthority(SourceSystem system) {
  switch (system) {
    case SourceSystem::kErp:
      return 4;
    case SourceSystem::kTms:
      return 3;
    case SourceSystem::kCarrier:
      return 2;
    case SourceSystem::kOps:
      return 1;
  }
  return 0;
}

std::uint8_t CarrierAuthority(SourceSystem system) {
  switch (system) {
    case SourceSystem::kTms:
      return 4;
    case SourceSystem::kCarrier:
      return 3;
    case SourceSystem::kErp:
      return 2;
    case SourceSystem::kOps:
      return 1;
  }
  return 0;
}

bool RankedValue::Offer(const std::optional<std::string>& v, std::uint8_t v_rank, UnixNanos v_at,
                        std::uint64_t v_seq, bool* took) {
  if (!v) return false;
  if (value && std::tie(v_rank, v_at, v_seq) <= std::tie(rank, at, seq)) return false;
  if (took != nullptr) *took = true;
  rank = v_rank;
  at = v_at;
  seq = v_seq;
  if (value == v) return false;
  value = v;
  return true;
}

bool ViewHeader::AddReference(const Reference& r) {
  auto it = std::lower_bound(references_.begin(), references_.end(), r, RefLess);
  if (it != references_.end() && *it == r) return false;
  references_.insert(it, r);
  return true;
}

bool ViewHeader::Fold(const Event& e) {
  const std::uint8_t order_rank = OrderAuthority(e.source.system);
  bool took = false;
  bool changed = order_id_.Offer(e.order_id, order_rank, e.occurred_at, e.ledger.seq, &took);
  changed |= customer_id_.Offer(e.customer_id, order_rank, e.occurred_at, e.ledger.seq, &took);
  changed |= carrier_.Offer(e.carrier, CarrierAuthority(e.source.system), e.occurred_at,
                            e.ledger.seq, &took);
  for (const Reference& r : e.references) changed |= AddReference(r);
  if (took) pending_state_change_ = true;
  return changed;
}

void ViewHeader::Finish(const Event& e, bool changed) {
  const bool state_changed = changed || pending_state_change_;
  pending_state_change_ = false;
  if (!state_changed) return;
  last_folded_seq_ = e.ledger.seq;
  state_dirty_ = true;
  if (!changed) return;
  ++version_;
  last_seq_ = e.ledger.seq;
  updated_at_ = e.ledger.recorded_at;
}

void ViewHeader::AppendIdentityJson(std::string* out) const {
  AppendKey("shipment_id", out);
  AppendJsonString(shipment_id_, out);
  out->push_back(',');
  AppendKey("order_id", out);
  AppendOptString(order_id_.value, out);
  out->push_back(',');
  AppendKey("customer_id", out);
  AppendOptString(customer_id_.value, out);
  out->push_back(',');
  AppendKey("carrier", out);
  AppendOptString(carrier_.value, out);
  out->push_back(',');
  AppendKey("references", out);
  out->push_back('[');
  for (std::size_t i = 0; i < references_.size(); ++i) {
    if (i != 0) out->push_back(',');
    out->append("{\"type\":");
    AppendJsonString(references_[i].type, out);
    out->append(",\"value\":");
    AppendJsonString(references_[i].value, out);
    out->push_back('}');
  }
  out->push_back(']');
}

void ViewHeader::AppendJson(ViewKind kind, std::string* out) const {
  AppendKey("view", out);
  AppendJsonString(ToString(kind), out);
  out->push_back(',');
  AppendIdentityJson(out);
  out->append(",\"version\":");
  AppendUint(version_, out);
  out->append(",\"last_seq\":");
  AppendUint(last_seq_, out);
  out->append(",\"updated_at\":");
  AppendOptTime(version_ == 0 ? std::nullopt : std::optional<UnixNanos>(updated_at_), out);
}

void ViewHeader::MergeFieldsFrom(const ViewHeader& other) {
  order_id_.Offer(other.order_id_.value, other.order_id_.rank, other.order_id_.at,
                  other.order_id_.seq);
  customer_id_.Offer(other.customer_id_.value, other.customer_id_.rank, other.customer_id_.at,
                     other.customer_id_.seq);
  carrier_.Offer(other.carrier_.value, other.carrier_.rank, other.carrier_.at, other.carrier_.seq);
  for (const Reference& r : other.references_) AddReference(r);
}

void ViewHeader::Save(ContentOutputArchive& ar) const {
  ar(shipment_id_, order_id_, customer_id_, carrier_, version_, last_seq_, last_folded_seq_,
     updated_at_);
  ar.WriteVarint(references_.size());
  for (const Reference& r : references_) ar(r.type, r.value);
}

void ViewHeader::Load(ContentInputArchive& ar) {
  ar(shipment_id_, order_id_, customer_id_, carrier_, version_, last_seq_, last_folded_seq_,
     updated_at_);
  references_.resize(ar.ReadSize());
  for (Reference& r : references_) ar(r.type, r.value);
  if (shipment_id_.empty()) throw cereal::Exception("header has an empty shipment_id");
  if (last_seq_ > last_folded_seq_) {
    throw cereal::Exception("header last_seq " + std::to_string(last_seq_) +
                            " is above last_folded_seq " + std::to_string(last_folded_seq_));
  }
  for (const RankedValue* v : {&order_id_, &customer_id_, &carrier_}) {
    if (v->rank > 4) throw cereal::Exception("header has an authority rank above 4");
  }
  for (std::size_t i = 1; i < references_.size(); ++i) {
    if (!RefLess(references_[i - 1], references_[i])) {
      throw cereal::Exception("header references are not sorted and unique");
    }
  }
}

void SaveViewKind(ContentOutputArchive& ar, ViewKind kind) { ar(static_cast<std::uint8_t>(kind)); }

void ExpectViewKind(ContentInputArchive& ar, ViewKind kind) {
  std::uint8_t stored = 0;
  ar(stored);
  if (stored != static_cast<std::uint8_t>(kind)) {
    throw cereal::Exception("stored view kind " + std::to_string(stored) + " is not " +
                            std::to_string(static_cast<int>(kind)));
  }
}

void ExpectEnd(const ContentInputArchive& ar) {
  if (ar.remaining() != 0) {
    throw cereal::Exception(std::to_string(ar.remaining()) + " unexpected trailing bytes");
  }
}

Status ViewDecodeError(ViewKind kind, std::size_t size, std::string_view reason) {
  return Status::Corruption(std::string(ToString(kind)) + " view does not decode (" +
                            std::to_string(size) + " bytes): " + std::string(reason));
}

}  // namespace waybill::projections
