#include "projections/outbox_resolver.h"

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

namespace waybill::projections {
namespace {

// Renders `refs` (indices into `out`, in outbox order, all of one shipment) by folding the
// shipment's events once.
Status RenderFromLog(const ledger::Ledger& ledger, const std::string& shipment_id,
                     std::span<const std::uint64_t> outbox_seqs,
                     const std::vector<OutboxEntry>& entries, std::span<const std::size_t> refs,
                     std::vector<OutMessage>* out) {
  std::uint64_t through = 0;
  for (std::size_t i : refs) through = std::max(through, std::get<OutboxViewRef>(entries[i]).seq);
  auto events = ledger.ReadShipment(shipment_id, 0, through);
  if (!events.ok()) return events.status();
  std::array<std::unique_ptr<ShipmentView>, 3> views;
  for (std::size_t i : refs) {
    const auto slot = static_cast<std::size_t>(std::get<OutboxViewRef>(entries[i]).view) - 1;
    if (!views[slot]) views[slot] = MakeView(std::get<OutboxViewRef>(entries[i]).view, shipment_id);
  }
  // The worker queues a shipment's references in sequence order; each names the event after
  // which its view reached its version.
  std::size_t next = 0;
  for (const Event& e : *events) {
    if (next == refs.size()) break;
    for (auto& view : views) {
      if (view) view->Apply(e);
    }
    for (; next < refs.size(); ++next) {
      const std::size_t i = refs[next];
      const auto& ref = std::get<OutboxViewRef>(entries[i]);
      if (ref.seq > e.ledger.seq) break;
      const ShipmentView& view = *views[static_cast<std::size_t>(ref.view) - 1];
      if (ref.seq < e.ledger.seq || view.version() != ref.version) {
        return Status::Corruption("outbox entry " + std::to_string(outbox_seqs[i]) + ": the " +
                                  std::string(ToString(ref.view)) + " view of shipment " +
                                  shipment_id + " is at version " + std::to_string(view.version()) +
                                  " after ledger sequence " + std::to_string(e.ledger.seq) +
                                  ", the entry says version " + std::to_string(ref.version) +
                                  " after sequence " + std::to_string(ref.seq));
      }
      (*out)[i] = ViewMessage(view);
    }
  }
  if (next != refs.size()) {
    const std::size_t i = refs[next];
    const auto& ref = std::get<OutboxViewRef>(entries[i]);
    return Status::Corruption("outbox entry " + std::to_string(outbox_seqs[i]) +
                              " refers to ledger sequence " + std::to_string(ref.seq) +
                              ", which shipment " + shipment_id + " has no event at");
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<OutMessage>> ResolveOutboxEntries(const ledger::Ledger& ledger,
                                                     std::span<const std::uint64_t> outbox_seqs,
                                                     std::vector<OutboxEntry> entries,
                                                     const RenderedOutbox* rendered) {
  std::vector<OutMessage> out(entries.size());
  // Shipment -> its references still to render, in outbox order; `order` keeps the
  // shipments in first-seen order so the work does not depend on hashing.
  std::unordered_map<std::string, std::vector<std::size_t>> to_render;
  std::vector<const std::string*> order;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (auto* message = std::get_if<OutMessage>(&entries[i])) {
      out[i] = std::move(*message);
      continue;
    }
    if (rendered != nullptr) {
      if (auto kept = rendered->Find(outbox_seqs[i])) {
        out[i] = std::move(*kept);
        continue;
      }
    }
    const auto& ref = std::get<OutboxViewRef>(entries[i]);
    auto [it, added] = to_render.try_emplace(ref.shipment_id);
    if (added) order.push_back(&it->first);
    it->second.push_back(i);
  }
  for (const std::string* shipment : order) {
    WAYBILL_RETURN_IF_ERROR(
        RenderFromLog(ledger, *shipment, outbox_seqs, entries, to_render[*shipment], &out));
  }
  return out;
}

}  // namespace waybill::projections
