#include "projections/view_reader.h"

namespace waybill::projections {

ShipmentView* ShipmentViews::get(ViewKind kind) const {
  switch (kind) {
    case ViewKind::kStatus:
      return status.get();
    case ViewKind::kEta:
      return eta.get();
    case ViewKind::kFreightCost:
      return freight_cost.get();
  }
  return nullptr;
}

std::string ShipmentViews::ToJson(std::string_view shipment_id, bool include_freight_cost) const {
  return CombinedViewJson(shipment_id, status.get(), eta.get(), freight_cost.get(),
                          include_freight_cost);
}

namespace {

std::unique_ptr<ShipmentView>& Slot(ShipmentViews& v, ViewKind kind) {
  switch (kind) {
    case ViewKind::kStatus:
      return v.status;
    case ViewKind::kEta:
      return v.eta;
    case ViewKind::kFreightCost:
      break;
  }
  return v.freight_cost;
}

}  // namespace

std::unique_ptr<ShipmentView>& ShipmentViews::slot(ViewKind kind) { return Slot(*this, kind); }

Result<Checkpoint> ReadCheckpoint(const ledger::Ledger& ledger) {
  auto bytes = ledger.GetAux(ledger::AuxSpace::kViews, kCheckpointKey);
  if (!bytes.ok()) {
    if (bytes.status().code() == ErrorCode::kNotFound) return Checkpoint{};
    return bytes.status();
  }
  return DecodeCheckpoint(*bytes);
}

Result<std::uint32_t> ReadActiveGeneration(const ledger::Ledger& ledger, ViewKind view) {
  auto bytes = ledger.GetAux(ledger::AuxSpace::kViews, ActiveGenerationKey(view));
  if (!bytes.ok()) {
    if (bytes.status().code() == ErrorCode::kNotFound) return std::uint32_t{0};
    return bytes.status();
  }
  return DecodeU32(*bytes, "active view generation");
}

Result<std::unique_ptr<ShipmentView>> ReadStoredView(const ledger::Ledger& ledger, ViewKind view,
                                                     std::uint32_t generation,
                                                     std::string_view shipment_id) {
  auto bytes = ledger.GetAux(ledger::AuxSpace::kViews, ViewKey(view, generation, shipment_id));
  if (!bytes.ok()) {
    if (bytes.status().code() == ErrorCode::kNotFound) return std::unique_ptr<ShipmentView>();
    return bytes.status();
  }
  return DecodeView(view, *bytes);
}

Result<ShipmentViews> ReadCurrentViews(const ledger::Ledger& ledger, std::string_view shipment_id) {
  // Two batched reads (portal GETs are hot): the checkpoint and the active generations,
  // then the three views. The checkpoint is read first, so events past it are refolded.
  std::vector<std::string> keys = {std::string(kCheckpointKey)};
  for (ViewKind kind : kAllViews) keys.push_back(ActiveGenerationKey(kind));
  auto meta = ledger.MultiGetAux(ledger::AuxSpace::kViews, keys);
  if (!meta.ok()) return meta.status();
  Checkpoint checkpoint_value;
  if ((*meta)[0]) {
    auto decoded = DecodeCheckpoint(*(*meta)[0]);
    if (!decoded.ok()) return decoded.status();
    checkpoint_value = *decoded;
  }
  const Checkpoint* checkpoint = &checkpoint_value;
  keys.clear();
  for (std::size_t i = 0; i < std::size(kAllViews); ++i) {
    std::uint32_t gen = 0;
    if (const auto& bytes = (*meta)[i + 1]) {
      auto decoded = DecodeU32(*bytes, "active view generation");
      if (!decoded.ok()) return decoded.status();
      gen = *decoded;
    }
    keys.push_back(ViewKey(kAllViews[i], gen, shipment_id));
  }
  auto stored = ledger.MultiGetAux(ledger::AuxSpace::kViews, keys);
  if (!stored.ok()) return stored.status();
  ShipmentViews out;
  for (std::size_t i = 0; i < std::size(kAllViews); ++i) {
    if (!(*stored)[i]) continue;
    auto view = DecodeView(kAllViews[i], *(*stored)[i]);
    if (!view.ok()) return view.status();
    Slot(out, kAllViews[i]) = std::move(view).value();
  }
  if (ledger.Head().seq <= checkpoint->last_seq) return out;
  auto events = ledger.ReadShipment(shipment_id);
  if (!events.ok()) return events.status();
  for (const Event& e : *events) {
    if (e.ledger.seq <= checkpoint->last_seq) continue;
    for (ViewKind kind : kAllViews) {
      auto& slot = Slot(out, kind);
      if (!slot) slot = MakeView(kind, shipment_id);
      slot->Apply(e);
    }
  }
  return out;
}

Result<ShipmentViews> FoldShipment(const ledger::Ledger& ledger, std::string_view shipment_id,
                                   const std::function<bool(const Event&)>& include) {
  auto events = ledger.ReadShipment(shipment_id);
  if (!events.ok()) return events.status();
  ShipmentViews out;
  for (const Event& e : *events) {
    if (!include(e)) continue;
    for (ViewKind kind : kAllViews) {
      auto& slot = Slot(out, kind);
      if (!slot) slot = MakeView(kind, shipment_id);
      slot->Apply(e);
    }
  }
  return out;
}

}  // namespace waybill::projections
