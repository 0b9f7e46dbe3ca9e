// The projector's folding pass, shared by the worker (projector.cc) and the rebuild and
// republish paths (projector_rebuild.cc). Internal to projections/: include it from nowhere
// else.
// Thread-safety: a Fold belongs to one thread at a time (the live one to whoever holds
// Projector::fold_mu_, a rebuild's shadow to its partition's thread).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "projections/outbox.h"
#include "projections/projector.h"
#include "projections/views.h"

namespace waybill::projections {

// The slot of `kind` in per-view arrays (ViewSet, generations, dirty bits).
constexpr std::size_t Index(ViewKind kind) { return static_cast<std::size_t>(kind) - 1; }

// One folding pass. The live fold (the worker's) lives as long as the Projector and emits
// outbox entries; a rebuild's fold targets shadow generations and emits nothing.
struct Projector::Fold {
  struct Entry {
    ViewSet views;
    std::array<std::uint32_t, 3> encoded_bytes{};  // as last loaded or written
    std::uint8_t dirty = 0;       // bit per view index: changed since the last flush
    std::uint64_t last_used = 0;  // the fold's clock when an event was last folded in
  };
  std::array<bool, 3> enabled{};
  std::array<std::uint32_t, 3> generation{};
  bool emit_outbox = false;
  // True while the target generations are known to be empty in the store (a fresh shadow
  // before its first flush): a cache miss is then a new shipment, no read needed.
  bool store_empty = false;
  // A rebuild folds the shipments in `partitions` disjoint sets on as many threads; this
  // fold takes those whose hash falls in `partition`.
  std::size_t partitions = 1;
  std::size_t partition = 0;
  std::unordered_map<std::string, Entry> cache;
  // An entry with changes not yet stored, and since when: the event that first changed it
  // after its last write, and the batch that folded that event in.
  struct Dirty {
    const std::string* shipment;
    Entry* entry;
    std::uint64_t since_seq;
    std::chrono::steady_clock::time_point since;
  };
  // Every entry with dirty != 0, once, in the order they became dirty: by since_seq. Every
  // stored view therefore holds the events before the first one's since_seq.
  std::deque<Dirty> dirty;
  std::chrono::steady_clock::time_point batch_time{};  // of the batch being folded (live fold)
  std::vector<std::string> outbox;                     // encoded, in order
  // While set, each outbox reference's view is also rendered into `rendered` (same order),
  // for the publisher (RenderedOutbox); the live fold sets it per batch.
  bool render_outbox = false;
  std::vector<OutMessage> rendered;
  std::size_t cache_bytes = 0;           // sum of the entries' encoded_bytes
  std::uint64_t clock = 0;               // ticks once per batch (the live fold) for last_used
  std::uint64_t events_since_reset = 0;  // folded into the cache (a rebuild's fold)
  std::uint64_t events_unstored = 0;     // folded since the last flush (the live fold)

  // Views not yet stored are encoded only when they are, so their bytes are estimated: what
  // each event folded since adds to its encoded views (a milestone or a charge line; ~68
  // bytes over 1M events in projection_bench).
  static constexpr std::size_t kEncodedBytesPerEvent = 64;
  std::size_t estimated_bytes() const {
    return cache_bytes + events_unstored * kEncodedBytesPerEvent;
  }

  void NoteEncoded(Entry& entry, std::size_t i, std::size_t bytes) {
    cache_bytes = cache_bytes - entry.encoded_bytes[i] + bytes;
    entry.encoded_bytes[i] = static_cast<std::uint32_t>(bytes);
  }

  bool Owns(const std::string& shipment_id) const {
    return partitions == 1 || std::hash<std::string>{}(shipment_id) % partitions == partition;
  }

  void Reset() {
    cache.clear();
    dirty.clear();
    outbox.clear();
    rendered.clear();
    cache_bytes = 0;
    events_since_reset = 0;
    events_unstored = 0;
  }

  // Drops the entries least recently folded into until at most `max_shipments` and
  // `max_bytes` remain. Entries with changes not yet stored stay (callers store first).
  void EvictTo(std::size_t max_shipments, std::size_t max_bytes) {
    using Iterator = std::unordered_map<std::string, Entry>::iterator;
    std::vector<std::pair<std::uint64_t, Iterator>> by_age;
    by_age.reserve(cache.size());
    for (auto it = cache.begin(); it != cache.end(); ++it) {
      if (it->second.dirty == 0) by_age.emplace_back(it->second.last_used, it);
    }
    std::sort(by_age.begin(), by_age.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [used, it] : by_age) {
      if (cache.size() <= max_shipments && cache_bytes <= max_bytes) break;
      for (std::uint32_t bytes : it->second.encoded_bytes) cache_bytes -= bytes;
      cache.erase(it);
    }
  }

  // Folds `e` into its (loaded) entry.
  void Apply(const Event& e) { Apply(e, cache.find(e.shipment_id)); }
  void Apply(const Event& e, std::unordered_map<std::string, Entry>::iterator it) {
    Entry& entry = it->second;
    entry.last_used = clock;
    const bool was_clean = entry.dirty == 0;
    for (ViewKind kind : kAllViews) {
      const std::size_t i = Index(kind);
      if (!enabled[i]) continue;
      auto& view = entry.views[i];
      if (!view) view = MakeView(kind, e.shipment_id);
      const bool content_changed = view->Apply(e);
      // Written back whenever its state moved, not only when its rendering did (a later
      // copy of the winning estimate, a re-sent invoice): the stored state must be exactly
      // the in-memory one for restarts and rebuilds to agree byte for byte.
      if (view->TakeStateChanged()) entry.dirty |= static_cast<std::uint8_t>(1u << i);
      if (content_changed && emit_outbox) {
        outbox.push_back(
            EncodeOutboxEntry(OutboxViewRef{kind, e.ledger.seq, view->version(), e.shipment_id}));
        if (render_outbox) rendered.push_back(ViewMessage(*view));
      }
    }
    if (was_clean && entry.dirty != 0)
      dirty.push_back({&it->first, &entry, e.ledger.seq, batch_time});
  }
};

}  // namespace waybill::projections
