#include "server/api/shipment_index.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <mutex>
#include <set>
#include <span>

#include "projections/views.h"

namespace waybill::server::api {
namespace {

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::optional<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
    if (ec != std::errc() || p != hex.data() + i + 2) return std::nullopt;
    out.push_back(static_cast<char>(v));
  }
  return out;
}

// Views grow with their shipment's history, and a refresh after a long stall may name every
// shipment: rows are read and written in chunks of this many shipments.
constexpr std::size_t kChunk = 256;

}  // namespace

ShipmentSummary SummarizeViews(std::string_view shipment_id,
                               const projections::ShipmentView* status,
                               const projections::ShipmentView* eta,
                               const projections::ShipmentView* freight_cost) {
  ShipmentSummary s;
  s.shipment_id = std::string(shipment_id);
  // What the masked combined object (GET without costs:read) says, without rendering it:
  // rendering the whole object, milestones and all, and parsing it back cost far more than
  // these five fields (docs/benchmarks-http.md).
  projections::CombinedSummary c = projections::SummarizeCombined(
      shipment_id, status, eta, freight_cost, /*include_freight_cost=*/false);
  s.customer_id = std::move(c.customer_id);
  s.carrier = std::move(c.carrier);
  s.status = std::move(c.status);
  s.last_seq = c.last_seq;
  s.updated_at = c.updated_at.value_or(0);
  return s;
}

ShipmentSummary SummarizeViews(std::string_view shipment_id,
                               const projections::ShipmentViews& views) {
  return SummarizeViews(shipment_id, views.status.get(), views.eta.get(), views.freight_cost.get());
}

std::string EncodeCursor(const ListCursor& cursor) {
  return std::to_string(cursor.last_seq) + "." + Hex(cursor.shipment_id);
}

std::optional<ListCursor> DecodeCursor(std::string_view text) {
  const std::size_t dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  ListCursor c;
  auto [p, ec] = std::from_chars(text.data(), text.data() + dot, c.last_seq);
  if (ec != std::errc() || p != text.data() + dot) return std::nullopt;
  auto id = Unhex(text.substr(dot + 1));
  if (!id || id->empty()) return std::nullopt;
  c.shipment_id = std::move(*id);
  return c;
}

Result<bool> ShipmentIndex::LoadState() {
  auto stored = ledger_.GetAux(ledger::AuxSpace::kViews, kIndexStateKey);
  if (!stored.ok()) {
    if (stored.status().code() == ErrorCode::kNotFound) return false;
    return stored.status();
  }
  auto state = DecodeIndexState(*stored);
  if (!state.ok()) {
    // Derived data: rebuilt rather than refusing to serve.
    spdlog::warn("{}; rebuilding the shipment list index from the stored views",
                 state.status().ToString());
    return false;
  }
  generation_.store(state->generation);
  through_seq_.store(state->through_seq);
  entries_.store(state->entries);
  return true;
}

Result<std::unique_ptr<ShipmentIndex>> ShipmentIndex::Open(ledger::Ledger& ledger,
                                                           std::uint64_t views_through_seq) {
  auto index = std::make_unique<ShipmentIndex>(ledger);
  auto loaded = index->LoadState();
  if (!loaded.ok()) return loaded.status();
  if (!*loaded) {
    if (Status st = index->Reload(views_through_seq); !st.ok()) return st;
  }
  return index;
}

Status ShipmentIndex::Rebuild(ledger::Ledger& ledger, std::uint64_t views_through_seq) {
  ShipmentIndex index(ledger);
  if (auto loaded = index.LoadState(); !loaded.ok()) return loaded.status();
  return index.Reload(views_through_seq);
}

Status ShipmentIndex::Commit(ledger::AuxBatch batch, std::int64_t entries_delta,
                             std::uint64_t through_seq) {
  IndexState state{generation_.load(), std::max(through_seq_.load(), through_seq),
                   entries_.load() + static_cast<std::uint64_t>(entries_delta)};
  batch.Put(ledger::AuxSpace::kViews, std::string(kIndexStateKey), EncodeIndexState(state));
  if (Status st = ledger_.WriteAux(batch); !st.ok()) return st;
  entries_.store(state.entries);
  through_seq_.store(state.through_seq);
  return Status::Ok();
}

Status ShipmentIndex::StageRows(std::span<const std::string> shipment_ids,
                                std::span<const std::optional<ShipmentSummary>> summaries,
                                ledger::AuxBatch* batch, std::int64_t* entries_delta) {
  constexpr auto kViews = ledger::AuxSpace::kViews;
  const std::uint32_t gen = generation_.load();
  std::vector<std::string> entry_keys;
  entry_keys.reserve(shipment_ids.size());
  for (const std::string& id : shipment_ids) entry_keys.push_back(EntryKey(gen, id));
  auto old_rows = ledger_.MultiGetAux(kViews, entry_keys);
  if (!old_rows.ok()) return old_rows.status();
  for (std::size_t i = 0; i < shipment_ids.size(); ++i) {
    const std::string& id = shipment_ids[i];
    const std::optional<ShipmentSummary>& summary = summaries[i];
    std::string row = summary ? EncodeRow(*summary) : std::string();
    std::optional<ShipmentSummary> old;
    if (const auto& bytes = (*old_rows)[i]) {
      if (summary && *bytes == row) continue;  // a change the list does not show (a charge)
      auto decoded = DecodeRow(*bytes);
      if (!decoded.ok()) return decoded.status();
      old = std::move(decoded).value();
      // A batch applies in order: rows rewritten below under the same keys survive.
      batch->Delete(kViews, OrderKey(gen, old->last_seq, id));
      if (old->customer_id)
        batch->Delete(kViews, CustomerKey(gen, *old->customer_id, old->last_seq, id));
    }
    if (!summary) {  // only a shipment rebuilt without events gets here
      if (old) {
        batch->Delete(kViews, std::move(entry_keys[i]));
        --*entries_delta;
      }
      continue;
    }
    batch->Put(kViews, OrderKey(gen, summary->last_seq, id), row);
    if (summary->customer_id)
      batch->Put(kViews, CustomerKey(gen, *summary->customer_id, summary->last_seq, id), row);
    batch->Put(kViews, std::move(entry_keys[i]), std::move(row));
    if (!old) ++*entries_delta;
  }
  return Status::Ok();
}

Status ShipmentIndex::StageRefresh(std::span<const std::string> shipment_ids,
                                   const std::array<std::uint32_t, 3>& view_generations,
                                   ledger::AuxBatch* batch, std::int64_t* entries_delta) {
  // The checkpoint first: the views read after it hold at least its views_through, and the
  // worker writes views behind, so the events after that are folded on top.
  auto checkpoint = projections::ReadCheckpoint(ledger_);
  if (!checkpoint.ok()) return checkpoint.status();
  auto stored = projections::ReadStoredViews(ledger_, view_generations, shipment_ids);
  if (!stored.ok()) return stored.status();
  std::vector<std::optional<ShipmentSummary>> summaries(shipment_ids.size());
  for (std::size_t i = 0; i < shipment_ids.size(); ++i) {
    projections::ShipmentViews& views = (*stored)[i];
    if (Status st = projections::FoldEventsAfter(ledger_, shipment_ids[i],
                                                 checkpoint->views_through, &views);
        !st.ok()) {
      return st;
    }
    if (!views.empty()) summaries[i] = SummarizeViews(shipment_ids[i], views);
  }
  return StageRows(shipment_ids, summaries, batch, entries_delta);
}

Status ShipmentIndex::Put(const std::vector<ShipmentSummary>& summaries,
                          std::uint64_t through_seq) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return CommitInChunks(
      summaries.size(), through_seq,
      [&](std::size_t begin, std::size_t n, ledger::AuxBatch* batch, std::int64_t* delta) {
        std::vector<std::string> ids;
        std::vector<std::optional<ShipmentSummary>> chunk;
        ids.reserve(n);
        chunk.reserve(n);
        for (std::size_t i = begin; i < begin + n; ++i) {
          ids.push_back(summaries[i].shipment_id);
          chunk.emplace_back(summaries[i]);
        }
        return StageRows(ids, chunk, batch, delta);
      });
}

Status ShipmentIndex::CommitInChunks(std::size_t count, std::uint64_t through_seq,
                                     const StageChunk& stage) {
  std::size_t begin = 0;
  do {
    const std::size_t n = std::min(kChunk, count - begin);
    ledger::AuxBatch batch;
    std::int64_t delta = 0;
    if (Status st = stage(begin, n, &batch, &delta); !st.ok()) return st;
    begin += n;
    const bool last = begin == count;
    if (Status st = Commit(std::move(batch), delta, last ? through_seq : 0); !st.ok()) return st;
  } while (begin < count);
  return Status::Ok();
}

namespace {

Result<std::array<std::uint32_t, 3>> ActiveViewGenerations(const ledger::Ledger& ledger) {
  std::array<std::uint32_t, 3> gens{};
  for (int i = 0; i < 3; ++i) {
    auto gen = projections::ReadActiveGeneration(ledger, projections::kAllViews[i]);
    if (!gen.ok()) return gen.status();
    gens[i] = *gen;
  }
  return gens;
}

}  // namespace

Status ShipmentIndex::Refresh(const std::vector<std::string>& shipment_ids,
                              std::uint64_t through_seq) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return RefreshLocked(shipment_ids, through_seq);
}

Status ShipmentIndex::RefreshLocked(std::span<const std::string> shipment_ids,
                                    std::uint64_t through_seq) {
  auto gens = ActiveViewGenerations(ledger_);
  if (!gens.ok()) return gens.status();
  return CommitInChunks(
      shipment_ids.size(), through_seq,
      [&](std::size_t begin, std::size_t n, ledger::AuxBatch* batch, std::int64_t* delta) {
        return StageRefresh(shipment_ids.subspan(begin, n), *gens, batch, delta);
      });
}

Status ShipmentIndex::CatchUp(std::uint64_t to_seq) {
  std::lock_guard<std::mutex> lock(write_mu_);
  // Shipments are refreshed in groups as the events name them, so a long gap does not hold
  // every id in memory; through_seq moves with each group.
  std::set<std::string> pending;
  std::uint64_t pending_through = 0;
  Status refresh_error;
  auto flush = [&] {
    std::vector<std::string> ids(pending.begin(), pending.end());
    pending.clear();
    refresh_error = RefreshLocked(ids, pending_through);
    return refresh_error.ok();
  };
  const std::uint64_t from = through_seq_.load() + 1;
  if (from > to_seq) return Status::Ok();
  Status st = ledger_.ReadRange(from, to_seq, [&](const Event& e) {
    pending.insert(e.shipment_id);
    pending_through = e.ledger.seq;
    return pending.size() < 16 * kChunk || flush();
  });
  if (!st.ok()) return st;
  if (!refresh_error.ok()) return refresh_error;
  pending_through = to_seq;
  return flush() ? Status::Ok() : refresh_error;
}

Status ShipmentIndex::Reload(std::uint64_t views_through_seq) {
  std::lock_guard<std::mutex> lock(write_mu_);
  constexpr auto kViews = ledger::AuxSpace::kViews;
  auto gens = ActiveViewGenerations(ledger_);
  if (!gens.ok()) return gens.status();
  const std::uint32_t old_gen = generation_.load();
  const std::uint32_t gen = old_gen + 1;
  {  // what an interrupted reload may have left; without a state, whatever rows there are
    ledger::AuxBatch clear;
    clear.DeleteRange(kViews, IndexGenerationBegin(old_gen == 0 ? 0 : gen),
                      IndexGenerationEnd(UINT32_MAX));
    if (Status st = ledger_.WriteAux(clear); !st.ok()) return st;
  }
  // Every shipment with any view, once: the status views' shipments, then those with an ETA
  // view but no status view, then those with only a freight-cost view. Each view family is
  // scanned in key order, a chunk of ids at a time, so memory stays flat.
  std::uint64_t entries = 0;
  Status error;
  std::vector<std::string> chunk;
  auto write_chunk = [&](std::size_t pass) {
    auto checkpoint = projections::ReadCheckpoint(ledger_);  // first, as in StageRefresh
    if (!checkpoint.ok()) {
      error = checkpoint.status();
      return false;
    }
    auto stored = projections::ReadStoredViews(ledger_, *gens, chunk);
    if (!stored.ok()) {
      error = stored.status();
      return false;
    }
    ledger::AuxBatch batch;
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      projections::ShipmentViews& views = (*stored)[i];
      if (views.empty() || (pass >= 1 && views.status) || (pass >= 2 && views.eta)) continue;
      error = projections::FoldEventsAfter(ledger_, chunk[i], checkpoint->views_through, &views);
      if (!error.ok()) return false;
      const ShipmentSummary summary = SummarizeViews(chunk[i], views);
      std::string row = EncodeRow(summary);
      batch.Put(kViews, OrderKey(gen, summary.last_seq, chunk[i]), row);
      if (summary.customer_id)
        batch.Put(kViews, CustomerKey(gen, *summary.customer_id, summary.last_seq, chunk[i]), row);
      batch.Put(kViews, EntryKey(gen, chunk[i]), std::move(row));
      ++entries;
    }
    chunk.clear();
    if (!batch.empty()) error = ledger_.WriteAux(batch);
    return error.ok();
  };
  for (std::size_t pass = 0; pass < 3; ++pass) {
    const projections::ViewKind kind = projections::kAllViews[pass];
    Status st = ledger_.ScanAux(kViews, projections::ViewGenerationBegin(kind, (*gens)[pass]),
                                projections::ViewGenerationEnd(kind, (*gens)[pass]),
                                [&](std::string_view key, std::string_view) {
                                  chunk.emplace_back(projections::ShipmentOfViewKey(key));
                                  return chunk.size() < kChunk || write_chunk(pass);
                                });
    if (!st.ok()) return st;
    if (!error.ok()) return error;
    if (!chunk.empty() && !write_chunk(pass)) return error;
  }
  // One batch points the state at the new generation and drops the old one.
  ledger::AuxBatch swap;
  IndexState state{gen, std::max(through_seq_.load(), views_through_seq), entries};
  swap.Put(kViews, std::string(kIndexStateKey), EncodeIndexState(state));
  if (old_gen != 0)
    swap.DeleteRange(kViews, IndexGenerationBegin(old_gen), IndexGenerationEnd(old_gen));
  if (Status st = ledger_.WriteAux(swap); !st.ok()) return st;
  generation_.store(gen);
  through_seq_.store(state.through_seq);
  entries_.store(entries);
  return Status::Ok();
}

Result<ShipmentIndex::Page> ShipmentIndex::List(const ListFilter& filter,
                                                const std::optional<ListCursor>& cursor,
                                                std::size_t limit) const {
  Page page;
  const std::uint32_t gen = generation_.load();
  std::string begin, end;
  if (filter.customer) {
    begin = cursor ? CustomerKey(gen, *filter.customer, cursor->last_seq, cursor->shipment_id)
                   : CustomerBegin(gen, *filter.customer);
    end = CustomerEnd(gen, *filter.customer);
  } else {
    begin = cursor ? OrderKey(gen, cursor->last_seq, cursor->shipment_id) : OrderBegin(gen);
    end = OrderEnd(gen);
  }
  if (cursor) begin.push_back('\0');  // the first key after the cursor's
  std::uint64_t last_seq = 0;
  bool more = false;
  Status decode_error;
  Status st = ledger_.ScanAux(
      ledger::AuxSpace::kViews, begin, end, [&](std::string_view key, std::string_view value) {
        auto row = DecodeRow(value);
        if (!row.ok()) {
          decode_error = row.status();
          return false;
        }
        if (filter.status && row->status != filter.status) return true;
        if (filter.carrier && row->carrier != filter.carrier) return true;
        if (filter.updated_since && row->updated_at < *filter.updated_since) return true;
        if (page.shipment_ids.size() == limit) {
          more = true;  // only when another match exists, so the last page says so
          return false;
        }
        page.shipment_ids.emplace_back(ShipmentOfOrderedKey(key));
        last_seq = row->last_seq;
        return true;
      });
  if (!st.ok()) return st;
  if (!decode_error.ok()) return decode_error;
  if (more) page.next = ListCursor{last_seq, page.shipment_ids.back()};
  return page;
}

}  // namespace waybill::server::api
