#include "projections/eta_view.h"

#include <cereal/types/optional.hpp>
#include <tuple>

#include "projections/view_json.h"
#include "schemas/content_archive.h"
#include "schemas/event_json.h"
#include "schemas/time.h"

namespace waybill::projections {

// Format version of EtaView::Encode. Append fields under `if (ar.version() >= N)`.
constexpr std::uint32_t kEtaViewFormat = 1;

template <class Archive>
void serialize(Archive& ar, EtaEstimate& x) {
  ar(x.estimated_at, x.issued_at, x.seq, x.format);
}

template <class Archive>
void serialize(Archive& ar, EtaDelivered& x) {
  ar(x.at, x.seq, x.format);
}

template <class Archive>
void serialize(Archive& ar, EtaPromise& x) {
  ar(x.rank, x.at, x.seq, x.offset_minutes, x.date, x.window_start, x.window_end);
}

namespace {

constexpr __int128 kNanosPerMinute = 60'000'000'000;
constexpr __int128 kNanosPerDay = 24 * 60 * kNanosPerMinute;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool IsEtaEstimate(const Event& e) {
  return e.kind == EventKind::kEstimate && e.estimate &&
         (e.estimate->of == EstimateOf::kDelivery || e.estimate->of == EstimateOf::kArrival);
}

}  // namespace

std::optional<__int128> PromiseDeadline(const EtaPromise& p) {
  if (p.window_end) return *p.window_end;
  if (p.window_start) return *p.window_start;
  if (!p.date || !ValidateDate(*p.date).ok()) return std::nullopt;
  const std::string& d = *p.date;  // "YYYY-MM-DD", validated
  auto num = [&d](std::size_t pos, std::size_t n) {
    unsigned v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) v = v * 10 + static_cast<unsigned>(d[i] - '0');
    return v;
  };
  const std::int64_t days = DaysFromCivil(num(0, 4), num(5, 2), num(8, 2));
  // Local midnight after the promised day, at the order's offset: UTC = local - offset.
  return (days + 1) * kNanosPerDay - p.offset_minutes * kNanosPerMinute;
}

std::optional<UnixNanos> EtaView::eta() const {
  if (delivered_) return delivered_->at;
  if (estimate_) return estimate_->estimated_at;
  return std::nullopt;
}

bool EtaView::FoldEstimate(const Event& e) {
  const Estimate& est = *e.estimate;
  if (estimate_ &&
      std::tie(est.issued_at, e.ledger.seq) <= std::tie(estimate_->issued_at, estimate_->seq)) {
    return false;
  }
  header_.NoteStateChange();
  // Once delivered, the estimate is not shown: replacing it changes nothing visible.
  const bool visible = !delivered_ && (!estimate_ || estimate_->estimated_at != est.estimated_at ||
                                       estimate_->issued_at != est.issued_at ||
                                       estimate_->format != e.source.format);
  estimate_ = EtaEstimate{est.estimated_at, est.issued_at, e.ledger.seq, e.source.format};
  return visible;
}

bool EtaView::FoldDelivered(const Event& e) {
  if (delivered_ &&
      std::tie(e.occurred_at, e.ledger.seq) <= std::tie(delivered_->at, delivered_->seq)) {
    return false;
  }
  header_.NoteStateChange();
  const bool visible =
      !delivered_ || delivered_->at != e.occurred_at || delivered_->format != e.source.format;
  delivered_ = EtaDelivered{e.occurred_at, e.ledger.seq, e.source.format};
  return visible;
}

bool EtaView::FoldPromise(const Event& e) {
  const Promise& p = *e.order->promised;
  if (!p.date && !p.window_start && !p.window_end) return false;  // promises nothing
  const std::uint8_t rank = OrderAuthority(e.source.system);
  if (promise_ && std::tie(rank, e.occurred_at, e.ledger.seq) <=
                      std::tie(promise_->rank, promise_->at, promise_->seq)) {
    return false;
  }
  header_.NoteStateChange();
  EtaPromise next{rank,   e.occurred_at,  e.ledger.seq, e.occurred_offset_minutes,
                  p.date, p.window_start, p.window_end};
  const bool visible = !promise_ || promise_->date != next.date ||
                       promise_->window_start != next.window_start ||
                       promise_->window_end != next.window_end ||
                       PromiseDeadline(*promise_) != PromiseDeadline(next);
  promise_ = std::move(next);
  return visible;
}

bool EtaView::Apply(const Event& e) {
  if (!header_.ShouldFold(e)) return false;
  bool changed = header_.Fold(e);
  if (IsEtaEstimate(e)) changed |= FoldEstimate(e);
  if (e.status == ShipmentStatus::kDelivered && e.kind != EventKind::kEstimate) {
    changed |= FoldDelivered(e);
  }
  if (e.kind == EventKind::kOrder && e.order && e.order->promised) changed |= FoldPromise(e);
  header_.Finish(e, changed);
  return changed;
}

void EtaView::AppendFieldsJson(std::string* out) const {
  const std::optional<UnixNanos> shown = eta();
  out->append("\"eta\":");
  AppendOptTime(shown, out);
  out->append(",\"eta_source\":");
  if (delivered_) {
    // The ETA is the actual delivery: no estimate was issued for it.
    out->append("{\"format\":");
    AppendJsonString(delivered_->format, out);
    out->append(",\"issued_at\":null}");
  } else if (estimate_) {
    out->append("{\"format\":");
    AppendJsonString(estimate_->format, out);
    out->append(",\"issued_at\":");
    AppendOptTime(estimate_->issued_at, out);
    out->push_back('}');
  } else {
    out->append("null");
  }
  out->append(",\"promised\":");
  std::optional<__int128> deadline;
  if (promise_) {
    out->append("{\"date\":");
    AppendOptString(promise_->date, out);
    out->append(",\"window_start\":");
    AppendOptTime(promise_->window_start, out);
    out->append(",\"window_end\":");
    AppendOptTime(promise_->window_end, out);
    out->push_back('}');
    deadline = PromiseDeadline(*promise_);
  } else {
    out->append("null");
  }
  out->append(",\"late_by\":");
  if (shown && deadline) {
    out->push_back('"');
    AppendIsoDuration(static_cast<__int128>(*shown) - *deadline, out);
    out->push_back('"');
  } else {
    out->append("null");
  }
  out->append(",\"delivered_at\":");
  AppendOptTime(delivered_ ? std::optional<UnixNanos>(delivered_->at) : std::nullopt, out);
}

void EtaView::AppendJson(std::string* out) const {
  out->push_back('{');
  header_.AppendJson(kind(), out);
  out->push_back(',');
  AppendFieldsJson(out);
  out->push_back('}');
}

void EtaView::Encode(std::string* out) const {
  ContentOutputArchive ar(out, kEtaViewFormat);
  SaveViewKind(ar, kind());
  header_.Save(ar);
  ar(estimate_, delivered_, promise_);
}

Result<std::unique_ptr<EtaView>> EtaView::Decode(std::string_view bytes) {
  auto view = std::make_unique<EtaView>(std::string());
  try {
    ContentInputArchive ar(bytes, kEtaViewFormat);
    ExpectViewKind(ar, ViewKind::kEta);
    view->header_.Load(ar);
    ar(view->estimate_, view->delivered_, view->promise_);
    ExpectEnd(ar);
    const std::uint64_t max_seq = view->header_.last_folded_seq();
    if ((view->estimate_ && view->estimate_->seq > max_seq) ||
        (view->delivered_ && view->delivered_->seq > max_seq) ||
        (view->promise_ && view->promise_->seq > max_seq)) {
      throw cereal::Exception("a stored seq is above last_folded_seq " + std::to_string(max_seq));
    }
    if (view->promise_ && view->promise_->rank > 4) {
      throw cereal::Exception("promise has an authority rank above 4");
    }
  } catch (const std::exception& ex) {
    return ViewDecodeError(ViewKind::kEta, bytes.size(), ex.what());
  }
  return view;
}

}  // namespace waybill::projections
