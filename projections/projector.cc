#include "projections/projector.h"

#include <algorithm>
#include <set>
#include <thread>
#include <unordered_set>

namespace waybill::projections {
namespace {

constexpr std::size_t Index(ViewKind kind) { return static_cast<std::size_t>(kind) - 1; }

}  // namespace

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
  std::vector<std::pair<const std::string*, Entry*>> dirty;  // entries with dirty != 0
  std::vector<std::string> outbox;                           // encoded, in order
  std::size_t cache_bytes = 0;                               // sum of the entries' encoded_bytes
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
        outbox.push_back(EncodeOutboxEntry(ViewMessage(*view)));
      }
    }
    if (was_clean && entry.dirty != 0) dirty.emplace_back(&it->first, &entry);
  }
};

Projector::Projector(ledger::Ledger& ledger, ProjectorOptions options)
    : ledger_(ledger), options_(std::move(options)), live_(std::make_unique<Fold>()) {}

Projector::~Projector() = default;

Result<std::unique_ptr<Projector>> Projector::Open(ledger::Ledger& ledger,
                                                   ProjectorOptions options) {
  std::unique_ptr<Projector> p(new Projector(ledger, std::move(options)));
  WAYBILL_RETURN_IF_ERROR(p->Load());
  return p;
}

Status Projector::Load() {
  auto checkpoint = ReadCheckpoint(ledger_);
  if (!checkpoint.ok()) return checkpoint.status();
  if (checkpoint->last_seq > ledger_.Head().seq) {
    return Status::Corruption("projection checkpoint " + std::to_string(checkpoint->last_seq) +
                              " is past the ledger head " + std::to_string(ledger_.Head().seq) +
                              " in " + ledger_.data_dir() + "; run `waybill rebuild`");
  }
  checkpoint_ = *checkpoint;
  published_checkpoint_ = *checkpoint;
  // A crash between two writes of the views: the first Step refolds what they miss.
  recover_ = checkpoint_.views_through < checkpoint_.last_seq;
  views_written_at_ = std::chrono::steady_clock::now();
  for (ViewKind kind : kAllViews) {
    auto gen = ReadActiveGeneration(ledger_, kind);
    if (!gen.ok()) return gen.status();
    generation_[Index(kind)] = *gen;
  }
  live_->enabled = {true, true, true};
  live_->generation = generation_;
  live_->emit_outbox = options_.emit_outbox;
  return Status::Ok();
}

Projector::CacheFigures Projector::cache() const {
  return {cache_shipments_.load(std::memory_order_relaxed),
          cache_bytes_.load(std::memory_order_relaxed)};
}

void Projector::PublishCacheFigures() {
  cache_shipments_.store(live_->cache.size(), std::memory_order_relaxed);
  cache_bytes_.store(live_->estimated_bytes(), std::memory_order_relaxed);
}

Checkpoint Projector::checkpoint() const {
  std::lock_guard<std::mutex> lock(ckpt_mu_);
  return published_checkpoint_;
}

Status Projector::LoadViews(Fold& fold, std::span<const Event> events) {
  std::vector<std::string> shipments;
  for (const Event& e : events) {
    if (fold.cache.count(e.shipment_id) != 0) continue;
    fold.cache.emplace(e.shipment_id, Fold::Entry{});
    shipments.push_back(e.shipment_id);
  }
  if (shipments.empty() || fold.store_empty) return Status::Ok();
  std::vector<std::string> keys;
  std::vector<std::pair<std::size_t, ViewKind>> slots;  // shipment index, view
  for (std::size_t s = 0; s < shipments.size(); ++s) {
    for (ViewKind kind : kAllViews) {
      if (!fold.enabled[Index(kind)]) continue;
      keys.push_back(ViewKey(kind, fold.generation[Index(kind)], shipments[s]));
      slots.emplace_back(s, kind);
    }
  }
  auto values = ledger_.MultiGetAux(ledger::AuxSpace::kViews, keys);
  if (!values.ok()) return values.status();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!(*values)[i]) continue;
    auto view = DecodeView(slots[i].second, *(*values)[i]);
    if (!view.ok()) {
      return Status(view.status().code(),
                    "shipment " + shipments[slots[i].first] + ": " + view.status().message());
    }
    Fold::Entry& entry = fold.cache[shipments[slots[i].first]];
    entry.views[Index(slots[i].second)] = std::move(view).value();
    fold.NoteEncoded(entry, Index(slots[i].second), (*values)[i]->size());
  }
  return Status::Ok();
}

Status Projector::FlushFold(Fold& fold, ledger::AuxBatch* batch) {
  return FlushDirty(fold, batch, SIZE_MAX);
}

Status Projector::FlushDirty(Fold& fold, ledger::AuxBatch* batch, std::size_t write_every) {
  // In key order (view, generation, shipment): the memtable's skiplist inserts a sorted run
  // from where the previous key went, while scattered keys each search it from the top.
  std::sort(fold.dirty.begin(), fold.dirty.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  std::string encoded;
  for (ViewKind kind : kAllViews) {
    const std::size_t i = Index(kind);
    const auto bit = static_cast<std::uint8_t>(1u << i);
    for (auto& [shipment, entry] : fold.dirty) {
      if ((entry->dirty & bit) == 0) continue;
      encoded.clear();
      entry->views[i]->Encode(&encoded);
      fold.NoteEncoded(*entry, i, encoded.size());
      batch->Put(ledger::AuxSpace::kViews, ViewKey(kind, fold.generation[i], *shipment), encoded);
      entry->dirty &= static_cast<std::uint8_t>(~bit);
      if (batch->size() >= write_every) {
        WAYBILL_RETURN_IF_ERROR(ledger_.WriteAux(*batch));
        *batch = ledger::AuxBatch();
      }
    }
  }
  fold.dirty.clear();
  fold.events_unstored = 0;
  return Status::Ok();
}

void Projector::PublishCheckpoint(const Checkpoint& next) {
  checkpoint_ = next;
  std::lock_guard<std::mutex> ckpt_lock(ckpt_mu_);
  published_checkpoint_ = next;
}

Status Projector::CommitViews(std::uint64_t through) {
  Checkpoint next = checkpoint_;
  next.views_through = through;
  // In pieces (a few seconds' changes of 50,000 shipments are tens of MiB): one huge batch
  // would stall the ledger's writes behind it. The cache holds no event past the stored
  // checkpoint here, so a crash between the pieces leaves views that are merely ahead of
  // views_through, which a restart's refold skips through.
  constexpr std::size_t kViewsPerWrite = 4096;
  ledger::AuxBatch batch;
  Status st = FlushDirty(*live_, &batch, kViewsPerWrite);
  if (st.ok()) {
    batch.Put(ledger::AuxSpace::kViews, std::string(kCheckpointKey), EncodeCheckpoint(next));
    st = ledger_.WriteAux(batch);
  }
  if (!st.ok()) {
    DropCache();  // its views were marked stored although they were not
    return st;
  }
  PublishCheckpoint(next);
  views_written_at_ = std::chrono::steady_clock::now();
  PublishCacheFigures();
  return Status::Ok();
}

Status Projector::RecoverIfNeeded() {
  if (!recover_) return Status::Ok();
  Fold& fold = *live_;
  fold.Reset();
  const bool emit_outbox = fold.emit_outbox;
  fold.emit_outbox = false;  // emitted before: the checkpoint is past these events
  const std::uint64_t to = checkpoint_.last_seq;
  Status st;
  std::vector<Event> events;
  for (std::uint64_t from = checkpoint_.views_through + 1; st.ok() && from <= to;) {
    const std::uint64_t upto = std::min<std::uint64_t>(to, from + options_.batch_events - 1);
    events.clear();
    st = ledger_.ReadRange(from, upto, [&](const Event& e) {
      events.push_back(e);
      return true;
    });
    if (st.ok()) st = LoadViews(fold, events);
    if (!st.ok()) break;
    ++fold.clock;
    for (const Event& e : events) fold.Apply(e);
    fold.events_unstored += events.size();
    if (CacheOverBounds()) {
      st = CommitViews(upto);  // on failure it sets recover_ again
      if (!st.ok()) break;
      ShrinkCache();
    }
    from = upto + 1;
  }
  fold.emit_outbox = emit_outbox;
  fold.outbox.clear();
  if (st.ok()) {
    recover_ = false;
    st = CommitViews(to);
  }
  if (!st.ok()) DropCache();
  PublishCacheFigures();
  return st;
}

Status Projector::StoreViews() {
  std::lock_guard<std::mutex> lock(fold_mu_);
  WAYBILL_RETURN_IF_ERROR(RecoverIfNeeded());
  if (live_->dirty.empty() && checkpoint_.views_through == checkpoint_.last_seq) {
    return Status::Ok();
  }
  return CommitViews(checkpoint_.last_seq);
}

Status Projector::StoreViewsIfDue() {
  Fold& fold = *live_;
  // The views wait in the cache until their interval is up, or until the cache must shrink
  // (only stored entries may go). Called between batches, so they hold nothing past the
  // stored checkpoint and may be written in pieces.
  const bool views_due =
      std::chrono::steady_clock::now() - views_written_at_ >= options_.views_write_interval &&
      (!fold.dirty.empty() || checkpoint_.views_through < checkpoint_.last_seq);
  const bool over_bounds = CacheOverBounds();
  if (views_due || over_bounds) {
    WAYBILL_RETURN_IF_ERROR(CommitViews(checkpoint_.last_seq));
  }
  if (over_bounds) ShrinkCache();
  return Status::Ok();
}

bool Projector::CacheOverBounds() const {
  return live_->cache.size() > options_.cache_shipments ||
         live_->estimated_bytes() > options_.cache_bytes;
}

void Projector::ShrinkCache() {
  // Down to 90% of the bounds, oldest first: shipments still moving stay cached, and the
  // worker's memory stays level instead of dropping to nothing and refilling (a 1 GiB
  // sawtooth in the soak, where 2,500 new shipments a second filled the cache in 40 s).
  live_->EvictTo(options_.cache_shipments - options_.cache_shipments / 10,
                 options_.cache_bytes - options_.cache_bytes / 10);
  PublishCacheFigures();
}

void Projector::DropCache() {
  live_->Reset();
  recover_ = true;
  PublishCacheFigures();
}

Result<std::size_t> Projector::Step() {
  std::lock_guard<std::mutex> lock(fold_mu_);
  WAYBILL_RETURN_IF_ERROR(RecoverIfNeeded());
  Fold& fold = *live_;
  const std::uint64_t head = ledger_.Head().seq;
  if (head <= checkpoint_.last_seq) {
    WAYBILL_RETURN_IF_ERROR(StoreViewsIfDue());  // idle: what waits is stored in time
    return std::size_t{0};
  }
  const std::uint64_t from = checkpoint_.last_seq + 1;
  const std::uint64_t to = std::min<std::uint64_t>(head, from + options_.batch_events - 1);
  std::vector<Event> events;
  events.reserve(to - from + 1);
  WAYBILL_RETURN_IF_ERROR(ledger_.ReadRange(from, to, [&](const Event& e) {
    events.push_back(e);
    return true;
  }));
  if (events.empty() || events.back().ledger.seq != to) {
    return Status::Corruption("the ledger has no events up to " + std::to_string(to) +
                              " although its head is " + std::to_string(head));
  }
  ++fold.clock;
  Status st = LoadViews(fold, events);
  if (st.ok()) {
    for (const Event& e : events) fold.Apply(e);
    fold.events_unstored += events.size();
  }
  Checkpoint next = checkpoint_;
  next.last_seq = to;
  ledger::AuxBatch batch;
  if (st.ok()) {
    for (auto& entry : fold.outbox) {
      batch.Put(ledger::AuxSpace::kOutbox, EncodeU64(next.next_outbox_seq++), std::move(entry));
    }
    batch.Put(ledger::AuxSpace::kViews, std::string(kCheckpointKey), EncodeCheckpoint(next));
    st = ledger_.WriteAux(batch);
  }
  fold.outbox.clear();
  if (!st.ok()) {
    DropCache();  // ahead of the store now: the retry refolds from the stored views
    return st;
  }
  PublishCheckpoint(next);
  if (options_.on_commit) {
    // Before eviction: every shipment of the batch is in the cache now.
    std::vector<CommittedViews> committed;
    std::unordered_set<std::string_view> seen;
    for (const Event& e : events) {
      if (!seen.insert(e.shipment_id).second) continue;
      auto it = fold.cache.find(e.shipment_id);
      if (it == fold.cache.end()) continue;
      const ViewSet& v = it->second.views;
      committed.push_back({it->first, v[Index(ViewKind::kStatus)].get(),
                           v[Index(ViewKind::kEta)].get(), v[Index(ViewKind::kFreightCost)].get()});
    }
    options_.on_commit(events, committed);
  }
  PublishCacheFigures();
  WAYBILL_RETURN_IF_ERROR(StoreViewsIfDue());
  return events.size();
}

Result<std::uint64_t> Projector::CatchUp() {
  const std::uint64_t target = ledger_.Head().seq;
  while (checkpoint().last_seq < target) {
    auto n = Step();
    if (!n.ok()) return n.status();
    if (*n == 0) break;
  }
  WAYBILL_RETURN_IF_ERROR(StoreViews());
  return checkpoint().last_seq;
}

void Projector::Run(std::stop_token stop, const std::function<void(const Status&)>& on_error,
                    const std::function<void()>& on_recovered) {
  constexpr std::chrono::milliseconds kFirstBackoff(100), kMaxBackoff(5000), kSlice(20);
  std::chrono::milliseconds backoff(0);  // 0: the last Step worked
  while (!stop.stop_requested()) {
    auto n = Step();
    if (!n.ok()) {
      if (backoff.count() == 0) {
        on_error(n.status());
        backoff = kFirstBackoff;
      } else {
        backoff = std::min(backoff * 2, kMaxBackoff);
      }
      for (auto slept = std::chrono::milliseconds(0); slept < backoff && !stop.stop_requested();
           slept += kSlice) {
        std::this_thread::sleep_for(kSlice);
      }
      continue;
    }
    if (backoff.count() != 0) {
      backoff = std::chrono::milliseconds(0);
      if (on_recovered) on_recovered();
    }
    if (*n == 0) ledger_.WaitForHeadAfter(checkpoint().last_seq, std::chrono::milliseconds(50));
  }
  // Not needed for correctness (a restart refolds what the store misses), but a clean stop
  // leaves the store complete for offline readers and a quick next start.
  if (Status st = StoreViews(); !st.ok()) on_error(st);
}

Result<std::unique_ptr<ShipmentView>> Projector::ReadView(ViewKind view,
                                                          std::string_view shipment_id) const {
  std::shared_lock<std::shared_mutex> lock(gen_mu_);
  return ReadStoredView(ledger_, view, generation_[Index(view)], shipment_id);
}

Result<ShipmentViews> Projector::ReadCurrentViews(std::string_view shipment_id) const {
  // The checkpoint first: the in-memory one trails the store (it moves after each commit), so
  // the views read next are at least as fresh, and folding the events after it on top
  // completes them (a view skips what it holds already).
  const std::uint64_t folded_through = checkpoint().views_through;
  const std::string id(shipment_id);
  Result<std::vector<ShipmentViews>> read = Status::Ok();
  {
    // Shared, so a rebuild cannot swap generations and delete the old one mid-read.
    std::shared_lock<std::shared_mutex> lock(gen_mu_);
    read = ReadStoredViews(ledger_, generation_, std::span<const std::string>(&id, 1));
  }
  if (!read.ok()) return read.status();
  ShipmentViews views = std::move(read->front());
  WAYBILL_RETURN_IF_ERROR(FoldEventsAfter(ledger_, shipment_id, folded_through, &views));
  return views;
}

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
    std::erase_if(live_->dirty, [&](const auto& d) { return d.second == entry; });
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
