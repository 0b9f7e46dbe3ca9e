// ViewKind names, the view factory and decoder, and the combined `waybill view` object.
#include "projections/views.h"

#include <algorithm>

#include "projections/eta_view.h"
#include "projections/freight_cost_view.h"
#include "projections/status_view.h"
#include "projections/view_header.h"
#include "projections/view_json.h"

namespace waybill::projections {
namespace {

// The header of one of this library's views, or null for another implementation.
const ViewHeader* HeaderOf(const ShipmentView* v) {
  if (const auto* s = dynamic_cast<const StatusView*>(v)) return &s->header();
  if (const auto* e = dynamic_cast<const EtaView*>(v)) return &e->header();
  if (const auto* f = dynamic_cast<const FreightCostView*>(v)) return &f->header();
  return nullptr;
}

template <typename T>
Result<std::unique_ptr<ShipmentView>> Upcast(Result<std::unique_ptr<T>> r) {
  if (!r.ok()) return r.status();
  return std::unique_ptr<ShipmentView>(std::move(r).value());
}

}  // namespace

std::string_view ToString(ViewKind v) {
  switch (v) {
    case ViewKind::kStatus:
      return "status";
    case ViewKind::kEta:
      return "eta";
    case ViewKind::kFreightCost:
      return "freight_cost";
  }
  return "unknown";
}

std::optional<ViewKind> ParseViewKind(std::string_view name) {
  for (ViewKind v : kAllViews) {
    if (ToString(v) == name) return v;
  }
  return std::nullopt;
}

std::unique_ptr<ShipmentView> MakeView(ViewKind kind, std::string_view shipment_id) {
  std::string id(shipment_id);
  switch (kind) {
    case ViewKind::kStatus:
      return std::make_unique<StatusView>(std::move(id));
    case ViewKind::kEta:
      return std::make_unique<EtaView>(std::move(id));
    case ViewKind::kFreightCost:
      return std::make_unique<FreightCostView>(std::move(id));
  }
  return nullptr;
}

Result<std::unique_ptr<ShipmentView>> DecodeView(ViewKind kind, std::string_view bytes) {
  switch (kind) {
    case ViewKind::kStatus:
      return Upcast(StatusView::Decode(bytes));
    case ViewKind::kEta:
      return Upcast(EtaView::Decode(bytes));
    case ViewKind::kFreightCost:
      return Upcast(FreightCostView::Decode(bytes));
  }
  return Status::Corruption("unknown view kind " + std::to_string(static_cast<int>(kind)));
}

namespace {

// The parts the combined object is made of: each view (a fresh one where none was given) and
// the header, last_seq and updated_at merged over them.
struct Combined {
  explicit Combined(std::string_view shipment_id) : header(std::string(shipment_id)) {}
  std::unique_ptr<ShipmentView> fresh[3];
  const ShipmentView* views[3] = {nullptr, nullptr, nullptr};
  int count = 0;
  ViewHeader header;
  std::uint64_t last_seq = 0;
  std::optional<UnixNanos> updated_at;
};

Combined Combine(std::string_view shipment_id, const ShipmentView* status, const ShipmentView* eta,
                 const ShipmentView* freight_cost, bool include_freight_cost) {
  Combined c(shipment_id);
  const ShipmentView* given[] = {status, eta, freight_cost};
  c.count = include_freight_cost ? 3 : 2;
  for (int i = 0; i < c.count; ++i) {
    // A missing view (or one of the wrong kind) renders as a fresh one.
    if (given[i] != nullptr && given[i]->kind() == kAllViews[i]) {
      c.views[i] = given[i];
    } else {
      c.fresh[i] = MakeView(kAllViews[i], shipment_id);
      c.views[i] = c.fresh[i].get();
    }
    c.last_seq = std::max(c.last_seq, c.views[i]->last_seq());
    if (const ViewHeader* h = HeaderOf(c.views[i])) {
      // Each header is a maximum over the same total order, so merging them yields the header
      // of all events any of the views has folded.
      c.header.MergeFieldsFrom(*h);
      if (h->version() != 0) {
        c.updated_at = std::max(c.updated_at.value_or(h->updated_at()), h->updated_at());
      }
    }
  }
  return c;
}

}  // namespace

std::string CombinedViewJson(std::string_view shipment_id, const ShipmentView* status,
                             const ShipmentView* eta, const ShipmentView* freight_cost,
                             bool include_freight_cost) {
  const Combined c = Combine(shipment_id, status, eta, freight_cost, include_freight_cost);
  std::string out;
  out.reserve(1024);
  out.push_back('{');
  c.header.AppendIdentityJson(&out);
  out.append(",\"last_seq\":");
  AppendUint(c.last_seq, &out);
  out.append(",\"updated_at\":");
  AppendOptTime(c.updated_at, &out);
  out.append(",\"versions\":{");
  for (int i = 0; i < c.count; ++i) {
    if (i != 0) out.push_back(',');
    AppendKey(ToString(kAllViews[i]), &out);
    AppendUint(c.views[i]->version(), &out);
  }
  out.push_back('}');
  for (int i = 0; i < c.count; ++i) {
    out.push_back(',');
    c.views[i]->AppendFieldsJson(&out);
  }
  out.push_back('}');
  return out;
}

CombinedSummary SummarizeCombined(std::string_view shipment_id, const ShipmentView* status,
                                  const ShipmentView* eta, const ShipmentView* freight_cost,
                                  bool include_freight_cost) {
  const Combined c = Combine(shipment_id, status, eta, freight_cost, include_freight_cost);
  CombinedSummary s;
  s.customer_id = c.header.customer_id();
  s.carrier = c.header.carrier();
  if (const auto* v = dynamic_cast<const StatusView*>(c.views[0])) {
    if (const MilestoneEntry* cur = v->current()) s.status = std::string(ToString(cur->status));
  }
  s.last_seq = c.last_seq;
  s.updated_at = c.updated_at;
  return s;
}

}  // namespace waybill::projections
