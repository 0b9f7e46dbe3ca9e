#include "projections/projector.h"

#include <algorithm>
#include <memory>
#include <unordered_set>

#include "projections/projector_fold.h"

namespace waybill::projections {

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
  WAYBILL_RETURN_IF_ERROR(PutDirty(fold, fold.dirty.size(), batch, write_every));
  fold.events_unstored = 0;
  return Status::Ok();
}

Status Projector::PutDirty(Fold& fold, std::size_t count, ledger::AuxBatch* batch,
                           std::size_t write_every) {
  const auto first = fold.dirty.begin();
  const auto last = first + static_cast<std::ptrdiff_t>(count);
  // In key order (view, generation, shipment): the memtable's skiplist inserts a sorted run
  // from where the previous key went, while scattered keys each search it from the top. Only
  // the entries written are reordered; those after them keep their order.
  std::sort(first, last,
            [](const Fold::Dirty& a, const Fold::Dirty& b) { return *a.shipment < *b.shipment; });
  std::string encoded;
  for (ViewKind kind : kAllViews) {
    const std::size_t i = Index(kind);
    const auto bit = static_cast<std::uint8_t>(1u << i);
    for (auto d = first; d != last; ++d) {
      if ((d->entry->dirty & bit) == 0) continue;
      encoded.clear();
      d->entry->views[i]->Encode(&encoded);
      fold.NoteEncoded(*d->entry, i, encoded.size());
      batch->Put(ledger::AuxSpace::kViews, ViewKey(kind, fold.generation[i], *d->shipment),
                 encoded);
      d->entry->dirty &= static_cast<std::uint8_t>(~bit);
      if (batch->size() >= write_every) {
        WAYBILL_RETURN_IF_ERROR(ledger_.WriteAux(*batch));
        *batch = ledger::AuxBatch();
      }
    }
  }
  fold.dirty.erase(first, last);
  return Status::Ok();
}

void Projector::PutDueViews(ledger::AuxBatch* batch, Checkpoint* next) {
  // A bounded share per batch: a burst of due entries (after a stall, say) is spread over
  // the next batches instead of stalling this one.
  constexpr std::size_t kEntriesPerBatch = 4096;
  Fold& fold = *live_;
  const auto due_before = Now() - options_.views_write_interval;
  std::size_t count = 0;
  while (count < fold.dirty.size() && count < kEntriesPerBatch &&
         fold.dirty[count].since <= due_before) {
    ++count;
  }
  if (count != 0) {
    // Cannot fail: `batch` is only written to by the caller (write_every unbounded).
    (void)PutDirty(fold, count, batch, SIZE_MAX);
  }
  next->views_through = fold.dirty.empty() ? next->last_seq : fold.dirty.front().since_seq - 1;
  fold.events_unstored = next->last_seq - next->views_through;  // an upper bound
}

bool Projector::OldestChangeDue() const {
  return live_->dirty.front().since <= Now() - options_.views_write_interval;
}

std::chrono::steady_clock::time_point Projector::Now() const {
  return options_.clock ? options_.clock() : std::chrono::steady_clock::now();
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
  const bool due =
      fold.dirty.empty() ? checkpoint_.views_through < checkpoint_.last_seq : OldestChangeDue();
  if (due) {
    Checkpoint next = checkpoint_;
    ledger::AuxBatch batch;
    PutDueViews(&batch, &next);
    batch.Put(ledger::AuxSpace::kViews, std::string(kCheckpointKey), EncodeCheckpoint(next));
    if (Status st = ledger_.WriteAux(batch); !st.ok()) {
      DropCache();  // its views were marked stored although they were not
      return st;
    }
    PublishCheckpoint(next);
  }
  return ShrinkIfOverBounds();
}

Status Projector::ShrinkIfOverBounds() {
  if (!CacheOverBounds()) return Status::Ok();
  // Only stored entries may go: all of them are stored first. Between batches, so the cache
  // holds nothing past the stored checkpoint and may be written in pieces.
  WAYBILL_RETURN_IF_ERROR(CommitViews(checkpoint_.last_seq));
  ShrinkCache();
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
  const bool behind = to < head;  // more events wait after this batch
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
  fold.batch_time = Now();
  fold.render_outbox = options_.rendered_outbox != nullptr && options_.rendered_outbox->HasRoom();
  Status st = LoadViews(fold, events);
  if (st.ok()) {
    for (const Event& e : events) fold.Apply(e);
    fold.events_unstored += events.size();
  }
  Checkpoint next = checkpoint_;
  next.last_seq = to;
  ledger::AuxBatch batch;
  const std::uint64_t first_outbox_seq = next.next_outbox_seq;
  if (st.ok()) {
    for (auto& entry : fold.outbox) {
      batch.Put(ledger::AuxSpace::kOutbox, EncodeU64(next.next_outbox_seq++), std::move(entry));
    }
    // Keeping up, the views changed an interval ago ride along, a share per batch: written
    // all at once they held the worker for ~250 ms every second (50,000 shipments at 60,000
    // events/s), the bulk of its lag. Behind, they are written all at once after the batch:
    // a long sorted run costs RocksDB's memtable far less per view than many short ones
    // (catch-up 84k events/s trickling, 108k at once).
    if (!behind) PutDueViews(&batch, &next);
    batch.Put(ledger::AuxSpace::kViews, std::string(kCheckpointKey), EncodeCheckpoint(next));
    st = ledger_.WriteAux(batch);
  }
  fold.outbox.clear();
  if (!st.ok()) {
    DropCache();  // ahead of the store now: the retry refolds from the stored views
    return st;
  }
  if (!fold.rendered.empty()) {
    options_.rendered_outbox->Add(first_outbox_seq, std::move(fold.rendered));
    fold.rendered.clear();
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
  if (behind && !fold.dirty.empty() && OldestChangeDue()) {
    WAYBILL_RETURN_IF_ERROR(CommitViews(checkpoint_.last_seq));
  }
  WAYBILL_RETURN_IF_ERROR(ShrinkIfOverBounds());
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

}  // namespace waybill::projections
