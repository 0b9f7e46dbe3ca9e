// The projector's whole-log paths: Rebuild (a shadow generation folded beside the worker,
// then swapped in), RebuildShipment, and Republish. The worker's own loop is projector.cc.
#include <algorithm>
#include <array>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "projections/projector.h"
#include "projections/projector_fold.h"

namespace waybill::projections {

Status Projector::FoldRange(Fold& fold, std::uint64_t from, std::uint64_t to) {
  if (from > to) return Status::Ok();
  Status st;
  std::uint64_t since_flush = 0;
  Status read = ledger_.ReadRange(from, to, [&](const Event& e) {
    if (!fold.Owns(e.shipment_id)) return true;
    auto it = fold.cache.find(e.shipment_id);
    if (it == fold.cache.end()) {
      st = LoadViews(fold, std::span<const Event>(&e, 1));
      if (!st.ok()) return false;
      it = fold.cache.find(e.shipment_id);
    }
    fold.Apply(e, it);
    ++fold.events_since_reset;
    // A shadow's views are encoded only when they are flushed, so their bytes are estimated
    // (Fold::kEncodedBytesPerEvent).
    if (++since_flush >= options_.rebuild_batch_events &&
        (fold.cache.size() > options_.cache_shipments ||
         fold.cache_bytes + fold.events_since_reset * Fold::kEncodedBytesPerEvent >
             options_.cache_bytes)) {
      // Memory bound: park the shadow's state in the store and start a fresh cache.
      st = FlushShadow(fold);
      if (!st.ok()) return false;
      fold.Reset();
      fold.store_empty = false;
      since_flush = 0;
      rebuild_spills_.fetch_add(1, std::memory_order_relaxed);
    }
    return true;
  });
  WAYBILL_RETURN_IF_ERROR(st);
  return read;
}

Status Projector::Rebuild(std::span<const ViewKind> views) {
  std::lock_guard<std::mutex> rebuild_lock(rebuild_mu_);
  std::array<std::uint32_t, 3> generation{};
  {
    std::shared_lock<std::shared_mutex> lock(gen_mu_);
    generation = generation_;
  }
  std::array<bool, 3> enabled{};
  ledger::AuxBatch clear;
  for (ViewKind kind : views) {
    const std::size_t i = Index(kind);
    if (enabled[i]) continue;
    enabled[i] = true;
    generation[i] += 1;
    // Leftovers of a rebuild that crashed before its swap.
    clear.DeleteRange(ledger::AuxSpace::kViews, ViewGenerationBegin(kind, generation[i]),
                      ViewGenerationEnd(kind, UINT32_MAX));
  }
  WAYBILL_RETURN_IF_ERROR(ledger_.WriteAux(clear));

  // The bulk of the work, beside the live worker: fold the log up to its checkpoint into
  // the shadow generations, one partition of the shipments per thread, and store them.
  const std::size_t partitions = std::max<std::size_t>(1, options_.rebuild_threads);
  std::vector<std::unique_ptr<Fold>> shadows;
  for (std::size_t p = 0; p < partitions; ++p) {
    auto f = std::make_unique<Fold>();
    f->enabled = enabled;
    f->generation = generation;
    f->store_empty = true;
    f->partitions = partitions;
    f->partition = p;
    shadows.push_back(std::move(f));
  }
  const std::uint64_t upto = checkpoint().last_seq;
  std::vector<Status> results(partitions);
  auto build = [&](std::size_t p) {
    results[p] = FoldRange(*shadows[p], 1, upto);
    if (results[p].ok()) results[p] = FlushShadow(*shadows[p]);
  };
  {
    std::vector<std::thread> threads;
    for (std::size_t p = 1; p < partitions; ++p) threads.emplace_back(build, p);
    build(0);
    for (auto& t : threads) t.join();
  }
  for (const Status& st : results) WAYBILL_RETURN_IF_ERROR(st);

  {
    std::lock_guard<std::mutex> fold_lock(fold_mu_);
    WAYBILL_RETURN_IF_ERROR(RecoverIfNeeded());
    // The cache is dropped with the swap: the worker's changes not yet stored are stored
    // first, in pieces as between batches. Those of the rebuilt views land in the old
    // generations, which the swap deletes; a crash before the swap leaves them current.
    if (!live_->dirty.empty() || checkpoint_.views_through < checkpoint_.last_seq) {
      WAYBILL_RETURN_IF_ERROR(CommitViews(checkpoint_.last_seq));
    }
    // What the worker committed while the shadow was being built: usually a few batches.
    ledger::AuxBatch swap;
    for (auto& shadow : shadows) {
      WAYBILL_RETURN_IF_ERROR(FoldRange(*shadow, upto + 1, checkpoint_.last_seq));
      WAYBILL_RETURN_IF_ERROR(FlushFold(*shadow, &swap));
    }
    std::array<std::uint32_t, 3> old_generation{};
    {
      std::shared_lock<std::shared_mutex> lock(gen_mu_);
      old_generation = generation_;
    }
    for (ViewKind kind : kAllViews) {
      const std::size_t i = Index(kind);
      if (!enabled[i]) continue;
      swap.Put(ledger::AuxSpace::kViews, ActiveGenerationKey(kind), EncodeU32(generation[i]));
      swap.DeleteRange(ledger::AuxSpace::kViews, ViewGenerationBegin(kind, old_generation[i]),
                       ViewGenerationEnd(kind, old_generation[i]));
    }
    std::unique_lock<std::shared_mutex> gen_lock(gen_mu_);
    WAYBILL_RETURN_IF_ERROR(ledger_.WriteAux(swap));
    for (ViewKind kind : kAllViews) {
      if (enabled[Index(kind)]) generation_[Index(kind)] = generation[Index(kind)];
    }
    // Every cached view is stored (above); those of the rebuilt kinds are of the old
    // generations.
    live_->generation = generation_;
    live_->Reset();
    PublishCacheFigures();
  }
  // The shadows' memory is released here, after the worker is running again.
  return Status::Ok();
}

Status Projector::FlushShadow(Fold& fold) {
  // In pieces: one huge batch would hold every encoded view in memory twice.
  constexpr std::size_t kViewsPerBatch = 8192;
  ledger::AuxBatch batch;
  WAYBILL_RETURN_IF_ERROR(FlushDirty(fold, &batch, kViewsPerBatch));
  return ledger_.WriteAux(batch);
}

Status Projector::RebuildShipment(std::string_view shipment_id, std::span<const ViewKind> views) {
  std::lock_guard<std::mutex> fold_lock(fold_mu_);
  WAYBILL_RETURN_IF_ERROR(RecoverIfNeeded());
  auto events = ledger_.ReadShipment(shipment_id);
  if (!events.ok()) return events.status();
  ledger::AuxBatch batch;
  std::uint8_t rebuilt_bits = 0;
  for (ViewKind kind : views) rebuilt_bits |= static_cast<std::uint8_t>(1u << Index(kind));
  // The shipment's cached views are dropped below; those not rebuilt and not yet stored go
  // in the same batch.
  auto cached = live_->cache.find(std::string(shipment_id));
  if (cached != live_->cache.end()) {
    for (ViewKind kind : kAllViews) {
      const std::size_t i = Index(kind);
      const auto bit = static_cast<std::uint8_t>(1u << i);
      if ((cached->second.dirty & bit) == 0 || (rebuilt_bits & bit) != 0) continue;
      std::string encoded;
      cached->second.views[i]->Encode(&encoded);
      batch.Put(ledger::AuxSpace::kViews, ViewKey(kind, generation_[i], shipment_id),
                std::move(encoded));
    }
  }
  for (ViewKind kind : views) {
    auto view = MakeView(kind, shipment_id);
    for (const Event& e : *events) {
      if (e.ledger.seq <= checkpoint_.last_seq) view->Apply(e);
    }
    const std::string key = ViewKey(kind, generation_[Index(kind)], shipment_id);
    if (view->version() == 0) {
      batch.Delete(ledger::AuxSpace::kViews, key);
    } else {
      std::string encoded;
      view->Encode(&encoded);
      batch.Put(ledger::AuxSpace::kViews, key, std::move(encoded));
    }
  }
  WAYBILL_RETURN_IF_ERROR(ledger_.WriteAux(batch));
  if (cached != live_->cache.end()) {
    Fold::Entry* entry = &cached->second;
    std::erase_if(live_->dirty, [&](const Fold::Dirty& d) { return d.entry == entry; });
    for (std::size_t i = 0; i < 3; ++i) live_->NoteEncoded(*entry, i, 0);
    live_->cache.erase(cached);
    PublishCacheFigures();
  }
  return Status::Ok();
}

Result<Projector::RepublishResult> Projector::Republish(
    std::uint64_t from, std::uint64_t to, const std::optional<std::string>& shipment_id) {
  std::lock_guard<std::mutex> fold_lock(fold_mu_);
  WAYBILL_RETURN_IF_ERROR(RecoverIfNeeded());
  if (from == 0) from = 1;
  to = std::min(to, checkpoint_.last_seq);
  RepublishResult result;
  std::set<std::string> shipments;
  std::vector<std::string> entries;
  Checkpoint next = checkpoint_;
  auto flush = [&]() -> Status {
    if (entries.empty()) return Status::Ok();
    ledger::AuxBatch batch;
    for (auto& entry : entries) {
      batch.Put(ledger::AuxSpace::kOutbox, EncodeU64(next.next_outbox_seq++), std::move(entry));
    }
    entries.clear();
    batch.Put(ledger::AuxSpace::kViews, std::string(kCheckpointKey), EncodeCheckpoint(next));
    WAYBILL_RETURN_IF_ERROR(ledger_.WriteAux(batch));
    PublishCheckpoint(next);
    return Status::Ok();
  };
  constexpr std::size_t kEntriesPerBatch = 4096;
  Status st;
  if (from <= to) {
    auto fold_events = [&](const Event& e) {
      if (shipment_id && e.shipment_id != *shipment_id) return true;
      entries.push_back(EncodeOutboxEntry(EventMessage(e)));
      ++result.events;
      shipments.insert(e.shipment_id);
      if (entries.size() >= kEntriesPerBatch) st = flush();
      return st.ok();
    };
    Status read = shipment_id ? Status::Ok() : ledger_.ReadRange(from, to, fold_events);
    if (shipment_id) {
      auto events = ledger_.ReadShipment(*shipment_id);
      if (!events.ok()) return events.status();
      for (const Event& e : *events) {
        if (e.ledger.seq >= from && e.ledger.seq <= to && !fold_events(e)) break;
      }
    }
    WAYBILL_RETURN_IF_ERROR(st);
    WAYBILL_RETURN_IF_ERROR(read);
  }
  for (const std::string& shipment : shipments) {
    for (ViewKind kind : kAllViews) {
      auto message = CurrentViewMessage(kind, shipment);
      if (!message.ok()) return message.status();
      if (!*message) continue;
      entries.push_back(EncodeOutboxEntry(**message));
      ++result.views;
      if (entries.size() >= kEntriesPerBatch) WAYBILL_RETURN_IF_ERROR(flush());
    }
  }
  WAYBILL_RETURN_IF_ERROR(flush());
  return result;
}

Result<std::optional<OutMessage>> Projector::CurrentViewMessage(ViewKind kind,
                                                                const std::string& shipment) {
  // A cached shipment's views are its newest (loaded on its first event, stored behind);
  // one not cached has had no event since its views were last stored.
  if (auto it = live_->cache.find(shipment); it != live_->cache.end()) {
    const ShipmentView* view = it->second.views[Index(kind)].get();
    if (view == nullptr || view->version() == 0) return std::optional<OutMessage>();
    return std::optional<OutMessage>(ViewMessage(*view));
  }
  auto view = ReadStoredView(ledger_, kind, generation_[Index(kind)], shipment);
  if (!view.ok()) return view.status();
  if (!*view || (*view)->version() == 0) return std::optional<OutMessage>();
  return std::optional<OutMessage>(ViewMessage(**view));
}

}  // namespace waybill::projections
