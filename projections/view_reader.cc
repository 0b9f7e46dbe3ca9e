#include "projections/view_reader.h"

#include <array>

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

Result<std::vector<ShipmentViews>> ReadStoredViews(const ledger::Ledger& ledger,
                                                   const std::array<std::uint32_t, 3>& generations,
                                                   std::span<const std::string> shipment_ids) {
  constexpr std::size_t kViews = std::size(kAllViews);
  std::vector<std::string> keys;
  keys.reserve(shipment_ids.size() * kViews);
  for (const std::string& id : shipment_ids) {
    for (std::size_t i = 0; i < kViews; ++i) {
      keys.push_back(ViewKey(kAllViews[i], generations[i], id));
    }
  }
  auto read = ledger.MultiGetAux(ledger::AuxSpace::kViews, keys);
  if (!read.ok()) return read.status();
  std::vector<ShipmentViews> out(shipment_ids.size());
  for (std::size_t s = 0; s < shipment_ids.size(); ++s) {
    for (std::size_t i = 0; i < kViews; ++i) {
      const auto& bytes = (*read)[s * kViews + i];
      if (!bytes) continue;
      auto view = DecodeView(kAllViews[i], *bytes);
      if (!view.ok()) return view.status();
      out[s].slot(kAllViews[i]) = std::move(view).value();
    }
  }
  return out;
}

Result<ShipmentViews> ReadCurrentViews(const ledger::Ledger& ledger, std::string_view shipment_id) {
  // One batched read (portal GETs are hot), which RocksDB answers from one consistent state:
  // the checkpoint, the active generations, and the three views in the generations this thread
  // saw last. Generations change only when a rebuild swaps them; then the guess is wrong once
  // and the read is repeated with the generations it returned. Reading the views in a second,
  // separate read could miss them all if a swap deleted the old generation in between.
  thread_local const ledger::Ledger* guessed_for = nullptr;
  thread_local std::array<std::uint32_t, std::size(kAllViews)> guess{};
  if (guessed_for != &ledger) {
    guessed_for = &ledger;
    guess.fill(0);
  }
  constexpr std::size_t kViews = std::size(kAllViews);
  std::vector<std::string> keys(1 + 2 * kViews);
  keys[0] = std::string(kCheckpointKey);
  for (std::size_t i = 0; i < kViews; ++i) keys[1 + i] = ActiveGenerationKey(kAllViews[i]);
  Result<std::vector<std::optional<std::string>>> read = Status::Ok();
  std::array<std::uint32_t, kViews> active{};
  for (int attempt = 0;; ++attempt) {
    for (std::size_t i = 0; i < kViews; ++i) {
      keys[1 + kViews + i] = ViewKey(kAllViews[i], guess[i], shipment_id);
    }
    read = ledger.MultiGetAux(ledger::AuxSpace::kViews, keys);
    if (!read.ok()) return read.status();
    for (std::size_t i = 0; i < kViews; ++i) {
      active[i] = 0;
      if (const auto& bytes = (*read)[1 + i]) {
        auto decoded = DecodeU32(*bytes, "active view generation");
        if (!decoded.ok()) return decoded.status();
        active[i] = *decoded;
      }
    }
    if (active == guess) break;
    guess = active;
    // Back-to-back rebuilds could move the generations on every attempt; the reader then waits
    // for nothing but its turn, a few attempts at most in practice.
    if (attempt >= 100) {
      return Status::IoError("view generations of shipment \"" + std::string(shipment_id) +
                             "\" kept changing while being read (rebuilds in a loop?)");
    }
  }
  Checkpoint checkpoint_value;
  if ((*read)[0]) {
    auto decoded = DecodeCheckpoint(*(*read)[0]);
    if (!decoded.ok()) return decoded.status();
    checkpoint_value = *decoded;
  }
  const Checkpoint* checkpoint = &checkpoint_value;
  ShipmentViews out;
  for (std::size_t i = 0; i < kViews; ++i) {
    const auto& bytes = (*read)[1 + kViews + i];
    if (!bytes) continue;
    auto view = DecodeView(kAllViews[i], *bytes);
    if (!view.ok()) return view.status();
    Slot(out, kAllViews[i]) = std::move(view).value();
  }
  WAYBILL_RETURN_IF_ERROR(FoldEventsAfter(ledger, shipment_id, checkpoint->views_through, &out));
  return out;
}

Status FoldEventsAfter(const ledger::Ledger& ledger, std::string_view shipment_id,
                       std::uint64_t folded_through, ShipmentViews* views) {
  // Through the head as of now, not whatever the index holds: a group's events are readable
  // a moment before the head moves past them, and a read that folded them in followed by
  // one that stops at views_through == head (its view stored before them) would go back a
  // version (seen in projector_test's rebuild test, about one run in 25).
  const std::uint64_t head = ledger.Head().seq;
  if (head <= folded_through) return Status::Ok();
  auto events = ledger.ReadShipment(shipment_id, folded_through, head);
  if (!events.ok()) return events.status();
  for (const Event& e : *events) {
    for (ViewKind kind : kAllViews) {
      auto& slot = Slot(*views, kind);
      if (!slot) slot = MakeView(kind, shipment_id);
      slot->Apply(e);
    }
  }
  return Status::Ok();
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
