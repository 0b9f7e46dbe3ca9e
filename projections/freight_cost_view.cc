#include "projections/freight_cost_view.h"

#include <algorithm>
#include <cereal/types/optional.hpp>
#include <cereal/types/vector.hpp>
#include <map>
#include <tuple>

#include "projections/view_json.h"
#include "schemas/content_archive.h"
#include "schemas/event_json.h"

namespace waybill::projections {

// Format version of FreightCostView::Encode. Append fields under `if (ar.version() >= N)`.
constexpr std::uint32_t kFreightCostViewFormat = 1;

template <class Archive>
void serialize(Archive& ar, ChargeDoc& d) {
  ar(d.basis, d.has_document, d.key, d.at, d.seq, d.currency, d.total);
  // ChargeLine is a schemas/ type; its fields are spelled out so this format does not
  // depend on the event codec's.
  if constexpr (Archive::is_saving::value) {
    ar.WriteVarint(d.lines.size());
  } else {
    d.lines.resize(ar.ReadSize());
  }
  for (ChargeLine& l : d.lines) ar(l.code, l.description, l.amount, l.currency);
}

namespace {

auto DocKey(const ChargeDoc& d) { return std::tie(d.basis, d.has_document, d.key); }
bool DocLess(const ChargeDoc& a, const ChargeDoc& b) { return DocKey(a) < DocKey(b); }

bool ValidBasis(ChargeBasis b) {
  return b == ChargeBasis::kQuoted || b == ChargeBasis::kInvoiced || b == ChargeBasis::kPosted;
}

// Appends a money value or, when it does not fit int64 minor units, null and the first
// such problem to `*error`.
void AppendAmount(const std::optional<__int128>& v, const std::string& currency,
                  std::string_view what, std::string* error, std::string* out) {
  if (!v) {
    out->append("null");
  } else if (!AppendMoney(*v, currency, out)) {
    out->append("null");
    if (error->empty()) {
      *error = "amount out of range: " + std::string(what) + " " + currency +
               " does not fit 64-bit minor units";
    }
  }
}

}  // namespace

bool FreightCostView::FoldCharges(const Event& e) {
  const Charges& c = *e.charges;
  ChargeDoc* slot = nullptr;
  std::vector<ChargeDoc>::iterator insert_at = docs_.end();
  if (c.basis == ChargeBasis::kQuoted) {
    if (quote_ && std::tie(e.occurred_at, e.ledger.seq) <= std::tie(quote_->at, quote_->seq)) {
      return false;
    }
  } else {
    ChargeDoc probe;
    probe.basis = c.basis;
    probe.has_document = c.document.has_value();
    probe.key = c.document ? *c.document : e.event_id;
    insert_at = std::lower_bound(docs_.begin(), docs_.end(), probe, DocLess);
    if (insert_at != docs_.end() && DocKey(*insert_at) == DocKey(probe)) {
      slot = &*insert_at;
      if (std::tie(e.occurred_at, e.ledger.seq) <= std::tie(slot->at, slot->seq)) return false;
    }
  }
  // Charges events are a handful per shipment: comparing the derived figures before and
  // after is cheap and exact (a re-sent identical invoice changes nothing).
  header_.NoteStateChange();
  const FreightSummary before = Summarize();
  ChargeDoc doc{c.basis,
                c.document.has_value(),
                c.document ? *c.document : e.event_id,
                e.occurred_at,
                e.ledger.seq,
                c.currency,
                c.total,
                c.lines};
  if (c.basis == ChargeBasis::kQuoted) {
    quote_ = std::move(doc);
  } else if (slot != nullptr) {
    *slot = std::move(doc);
  } else {
    docs_.insert(insert_at, std::move(doc));
  }
  return Summarize() != before;
}

bool FreightCostView::Apply(const Event& e) {
  if (!header_.ShouldFold(e)) return false;
  bool changed = header_.Fold(e);
  if (e.kind == EventKind::kCharges && e.charges && ValidBasis(e.charges->basis)) {
    changed |= FoldCharges(e);
  }
  header_.Finish(e, changed);
  return changed;
}

FreightSummary FreightCostView::Summarize() const {
  struct LineAcc {
    __int128 amount = 0;
    std::optional<std::string> description;
    UnixNanos desc_at = 0;  // the description comes from the latest document that has one
    std::uint64_t desc_seq = 0;
  };
  std::map<std::tuple<ChargeBasis, std::string, std::string>, LineAcc> lines;
  std::map<std::pair<ChargeBasis, std::string>, __int128> totals;
  const ChargeDoc* latest_invoice = nullptr;
  auto add = [&](const ChargeDoc& d) {
    totals[{d.basis, d.currency}] += d.total;
    for (const ChargeLine& l : d.lines) {
      LineAcc& acc = lines[{d.basis, l.code, l.currency}];
      acc.amount += l.amount;
      if (l.description &&
          (!acc.description || std::tie(d.at, d.seq) > std::tie(acc.desc_at, acc.desc_seq))) {
        acc.description = l.description;
        acc.desc_at = d.at;
        acc.desc_seq = d.seq;
      }
    }
  };
  if (quote_) add(*quote_);
  for (const ChargeDoc& d : docs_) {
    add(d);
    if (d.basis == ChargeBasis::kInvoiced &&
        (latest_invoice == nullptr ||
         std::tie(d.at, d.seq) > std::tie(latest_invoice->at, latest_invoice->seq))) {
      latest_invoice = &d;
    }
  }

  FreightSummary s;
  if (latest_invoice != nullptr) {
    s.currency = latest_invoice->currency;
  } else if (quote_) {
    s.currency = quote_->currency;
  }
  if (s.currency) {
    auto total_of = [&](ChargeBasis b) -> std::optional<__int128> {
      auto it = totals.find({b, *s.currency});
      return it == totals.end() ? std::nullopt : std::optional<__int128>(it->second);
    };
    s.quoted = total_of(ChargeBasis::kQuoted);
    s.invoiced = total_of(ChargeBasis::kInvoiced);
    s.posted = total_of(ChargeBasis::kPosted);
    s.current = s.invoiced ? s.invoiced : s.quoted;
    if (s.invoiced && s.quoted) s.variance = *s.invoiced - *s.quoted;
  }
  s.lines.reserve(lines.size());
  for (auto& [key, acc] : lines) {
    s.lines.push_back(FreightSummary::Line{std::get<0>(key), std::get<1>(key), std::get<2>(key),
                                           std::move(acc.description), acc.amount});
  }
  s.totals.reserve(totals.size());
  for (const auto& [key, amount] : totals) {
    s.totals.push_back(FreightSummary::Total{key.first, key.second, amount});
  }
  return s;
}

void FreightCostView::AppendFieldsJson(std::string* out) const {
  const FreightSummary s = Summarize();
  std::string error;
  const std::string no_currency;
  const std::string& cur = s.currency ? *s.currency : no_currency;
  out->append("\"freight_cost\":{\"currency\":");
  AppendOptString(s.currency, out);
  out->append(",\"quoted\":");
  AppendAmount(s.quoted, cur, "quoted", &error, out);
  out->append(",\"invoiced\":");
  AppendAmount(s.invoiced, cur, "invoiced", &error, out);
  out->append(",\"posted\":");
  AppendAmount(s.posted, cur, "posted", &error, out);
  out->append(",\"current\":");
  AppendAmount(s.current, cur, "current", &error, out);
  out->append(",\"variance\":");
  AppendAmount(s.variance, cur, "variance", &error, out);
  out->append(",\"lines\":[");
  for (std::size_t i = 0; i < s.lines.size(); ++i) {
    const FreightSummary::Line& l = s.lines[i];
    if (i != 0) out->push_back(',');
    out->append("{\"basis\":");
    AppendJsonString(ToString(l.basis), out);
    out->append(",\"code\":");
    AppendJsonString(l.code, out);
    out->append(",\"description\":");
    AppendOptString(l.description, out);
    out->append(",\"amount\":");
    AppendAmount(l.amount, l.currency, "line " + l.code, &error, out);
    out->append(",\"currency\":");
    AppendJsonString(l.currency, out);
    out->push_back('}');
  }
  out->append("],\"totals\":[");
  for (std::size_t i = 0; i < s.totals.size(); ++i) {
    const FreightSummary::Total& t = s.totals[i];
    if (i != 0) out->push_back(',');
    out->append("{\"basis\":");
    AppendJsonString(ToString(t.basis), out);
    out->append(",\"currency\":");
    AppendJsonString(t.currency, out);
    out->append(",\"amount\":");
    AppendAmount(t.amount, t.currency, std::string(ToString(t.basis)) + " total", &error, out);
    out->push_back('}');
  }
  out->append("],\"error\":");
  if (error.empty()) {
    out->append("null");
  } else {
    AppendJsonString(error, out);
  }
  out->push_back('}');
}

void FreightCostView::AppendJson(std::string* out) const {
  out->push_back('{');
  header_.AppendJson(kind(), out);
  out->push_back(',');
  AppendFieldsJson(out);
  out->push_back('}');
}

void FreightCostView::Encode(std::string* out) const {
  ContentOutputArchive ar(out, kFreightCostViewFormat);
  SaveViewKind(ar, kind());
  header_.Save(ar);
  ar(quote_, docs_);
}

Result<std::unique_ptr<FreightCostView>> FreightCostView::Decode(std::string_view bytes) {
  auto view = std::make_unique<FreightCostView>(std::string());
  try {
    ContentInputArchive ar(bytes, kFreightCostViewFormat);
    ExpectViewKind(ar, ViewKind::kFreightCost);
    view->header_.Load(ar);
    ar(view->quote_, view->docs_);
    ExpectEnd(ar);
    const std::uint64_t max_seq = view->header_.last_folded_seq();
    if (view->quote_ && (view->quote_->basis != ChargeBasis::kQuoted || view->quote_->seq == 0 ||
                         view->quote_->seq > max_seq)) {
      throw cereal::Exception("the stored quote is not a quote folded before");
    }
    for (std::size_t i = 0; i < view->docs_.size(); ++i) {
      const ChargeDoc& d = view->docs_[i];
      if (!ValidBasis(d.basis) || d.basis == ChargeBasis::kQuoted) {
        throw cereal::Exception("document has basis " + std::to_string(static_cast<int>(d.basis)));
      }
      if (d.seq == 0 || d.seq > max_seq) {
        throw cereal::Exception("document seq " + std::to_string(d.seq) + " is outside 1.." +
                                std::to_string(max_seq));
      }
      if (i != 0 && !DocLess(view->docs_[i - 1], d)) {
        throw cereal::Exception("documents are not sorted and unique");
      }
    }
  } catch (const std::exception& ex) {
    return ViewDecodeError(ViewKind::kFreightCost, bytes.size(), ex.what());
  }
  return view;
}

}  // namespace waybill::projections
