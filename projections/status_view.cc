#include "projections/status_view.h"

#include <algorithm>
#include <cereal/types/optional.hpp>
#include <cereal/types/vector.hpp>
#include <tuple>

#include "projections/exception_codes.h"
#include "projections/view_json.h"
#include "schemas/content_archive.h"
#include "schemas/event_json.h"

namespace waybill::projections {

// Format version of StatusView::Encode. Append fields under `if (ar.version() >= N)`.
constexpr std::uint32_t kStatusViewFormat = 1;

template <class Archive>
void serialize(Archive& ar, ViewLocation& l) {
  ar(l.name, l.city, l.region, l.country, l.unlocode);
}

template <class Archive>
void serialize(Archive& ar, MilestoneEntry& m) {
  ar(m.status, m.at, m.seq, m.format, m.source_code, m.reason_code, m.location, m.event_id);
}

template <class Archive>
void serialize(Archive& ar, ExceptionEntry& x) {
  ar(x.code, x.at, x.seq, x.reason, x.format);
}

namespace {

template <typename T>
bool TimeSeqLess(const T& a, const T& b) {
  return std::tie(a.at, a.seq) < std::tie(b.at, b.seq);
}

// Inserts keeping (at, seq) order; in-order arrival appends at the end.
template <typename T>
void InsertSorted(std::vector<T>* v, T entry) {
  auto it = std::upper_bound(v->begin(), v->end(), entry, TimeSeqLess<T>);
  v->insert(it, std::move(entry));
}

std::optional<ViewLocation> ToViewLocation(const std::optional<Location>& l) {
  if (!l || (!l->name && !l->city && !l->region && !l->country && !l->unlocode)) {
    return std::nullopt;
  }
  return ViewLocation{l->name, l->city, l->region, l->country, l->unlocode};
}

void AppendLocation(const std::optional<ViewLocation>& l, std::string* out) {
  if (!l) {
    out->append("null");
    return;
  }
  out->append("{\"name\":");
  AppendOptString(l->name, out);
  out->append(",\"city\":");
  AppendOptString(l->city, out);
  out->append(",\"region\":");
  AppendOptString(l->region, out);
  out->append(",\"country\":");
  AppendOptString(l->country, out);
  out->append(",\"unlocode\":");
  AppendOptString(l->unlocode, out);
  out->push_back('}');
}

bool ValidStatus(ShipmentStatus s) {
  const auto v = static_cast<std::uint8_t>(s);
  return v >= static_cast<std::uint8_t>(ShipmentStatus::kOrderReleased) &&
         v <= static_cast<std::uint8_t>(ShipmentStatus::kCancelled);
}

template <typename T>
void CheckSorted(const std::vector<T>& v, std::uint64_t last_folded_seq, const char* what) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i].seq == 0 || v[i].seq > last_folded_seq) {
      throw cereal::Exception(std::string(what) + " entry has seq " + std::to_string(v[i].seq) +
                              " outside 1.." + std::to_string(last_folded_seq));
    }
    if (i != 0 && !TimeSeqLess(v[i - 1], v[i])) {
      throw cereal::Exception(std::string(what) + " are not sorted by time and seq");
    }
  }
}

}  // namespace

bool IsMovement(ShipmentStatus s) {
  switch (s) {
    case ShipmentStatus::kAtPickup:
    case ShipmentStatus::kPickedUp:
    case ShipmentStatus::kInTransit:
    case ShipmentStatus::kAtDelivery:
    case ShipmentStatus::kDelivered:
      return true;
    default:
      return false;
  }
}

bool StatusView::Apply(const Event& e) {
  if (!header_.ShouldFold(e)) return false;
  bool changed = header_.Fold(e);
  if (e.status && e.kind != EventKind::kEstimate) {
    // Every actual status-bearing event is listed in "milestones": always a change.
    InsertSorted(&milestones_, MilestoneEntry{*e.status, e.occurred_at, e.ledger.seq,
                                              e.source.format, e.source_code, e.reason_code,
                                              ToViewLocation(e.location), e.event_id});
    changed = true;
  } else if (IsExceptionEvent(e)) {
    InsertSorted(&exceptions_, ExceptionEntry{e.source_code, e.occurred_at, e.ledger.seq,
                                              e.reason_code, e.source.format});
    changed = true;
  }
  header_.Finish(e, changed);
  return changed;
}

const MilestoneEntry* StatusView::current() const {
  const MilestoneEntry* cur = nullptr;
  for (const MilestoneEntry& m : milestones_) {
    // A delay is not lifted by paperwork (a re-tender, an order update): only by the shipment
    // moving again, being cancelled, or a newer delay.
    if (cur != nullptr && cur->status == ShipmentStatus::kDelayed && !IsMovement(m.status) &&
        m.status != ShipmentStatus::kCancelled && m.status != ShipmentStatus::kDelayed) {
      continue;
    }
    cur = &m;
  }
  return cur;
}

void StatusView::AppendFieldsJson(std::string* out) const {
  const MilestoneEntry* cur = current();
  out->append("\"status\":");
  if (cur != nullptr) {
    AppendJsonString(ToString(cur->status), out);
    out->append(",\"status_at\":");
    AppendOptTime(cur->at, out);
    out->append(",\"status_source\":{\"format\":");
    AppendJsonString(cur->format, out);
    out->append(",\"source_code\":");
    AppendOptString(cur->source_code, out);
    out->append("},\"delay_reason\":");
    if (cur->status == ShipmentStatus::kDelayed) {
      AppendOptString(cur->reason_code, out);
    } else {
      out->append("null");
    }
  } else {
    out->append("null,\"status_at\":null,\"status_source\":null,\"delay_reason\":null");
  }
  out->append(",\"exceptions\":[");
  for (std::size_t i = 0; i < exceptions_.size(); ++i) {
    const ExceptionEntry& x = exceptions_[i];
    if (i != 0) out->push_back(',');
    out->append("{\"code\":");
    AppendOptString(x.code, out);
    out->append(",\"at\":");
    AppendOptTime(x.at, out);
    out->append(",\"reason\":");
    AppendOptString(x.reason, out);
    out->append(",\"format\":");
    AppendJsonString(x.format, out);
    out->push_back('}');
  }
  out->append("],\"milestones\":[");
  for (std::size_t i = 0; i < milestones_.size(); ++i) {
    const MilestoneEntry& m = milestones_[i];
    if (i != 0) out->push_back(',');
    out->append("{\"status\":");
    AppendJsonString(ToString(m.status), out);
    out->append(",\"at\":");
    AppendOptTime(m.at, out);
    out->append(",\"format\":");
    AppendJsonString(m.format, out);
    out->append(",\"source_code\":");
    AppendOptString(m.source_code, out);
    out->append(",\"reason_code\":");
    AppendOptString(m.reason_code, out);
    out->append(",\"location\":");
    AppendLocation(m.location, out);
    out->append(",\"seq\":");
    AppendUint(m.seq, out);
    out->append(",\"event_id\":");
    AppendJsonString(m.event_id, out);
    out->push_back('}');
  }
  out->push_back(']');
}

void StatusView::AppendJson(std::string* out) const {
  out->push_back('{');
  header_.AppendJson(kind(), out);
  out->push_back(',');
  AppendFieldsJson(out);
  out->push_back('}');
}

void StatusView::Encode(std::string* out) const {
  ContentOutputArchive ar(out, kStatusViewFormat);
  SaveViewKind(ar, kind());
  header_.Save(ar);
  ar(milestones_, exceptions_);
}

Result<std::unique_ptr<StatusView>> StatusView::Decode(std::string_view bytes) {
  auto view = std::make_unique<StatusView>(std::string());
  try {
    ContentInputArchive ar(bytes, kStatusViewFormat);
    ExpectViewKind(ar, ViewKind::kStatus);
    view->header_.Load(ar);
    ar(view->milestones_, view->exceptions_);
    ExpectEnd(ar);
    for (const MilestoneEntry& m : view->milestones_) {
      if (!ValidStatus(m.status)) {
        throw cereal::Exception("milestone has unknown status " +
                                std::to_string(static_cast<int>(m.status)));
      }
    }
    CheckSorted(view->milestones_, view->header_.last_folded_seq(), "milestones");
    CheckSorted(view->exceptions_, view->header_.last_folded_seq(), "exceptions");
  } catch (const std::exception& ex) {
    return ViewDecodeError(ViewKind::kStatus, bytes.size(), ex.what());
  }
  return view;
}

}  // namespace waybill::projections
