#include "server/api/shipment_index.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <mutex>
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

}  // namespace

ShipmentSummary SummarizeViews(std::string_view shipment_id,
                               const projections::ShipmentViews& views) {
  ShipmentSummary s;
  s.shipment_id = std::string(shipment_id);
  // What the masked combined object (GET without costs:read) says, without rendering it:
  // rendering the whole object, milestones and all, and parsing it back cost far more than
  // these five fields (docs/benchmarks-http.md).
  projections::CombinedSummary c =
      projections::SummarizeCombined(shipment_id, views.status.get(), views.eta.get(),
                                     views.freight_cost.get(), /*include_freight_cost=*/false);
  s.customer_id = std::move(c.customer_id);
  s.carrier = std::move(c.carrier);
  s.status = std::move(c.status);
  s.last_seq = c.last_seq;
  s.updated_at = c.updated_at.value_or(0);
  return s;
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

Result<std::unique_ptr<ShipmentIndex>> ShipmentIndex::Load(const ledger::Ledger& ledger) {
  auto index = std::make_unique<ShipmentIndex>();
  if (Status st = index->Reload(ledger); !st.ok()) return st;
  return index;
}

Status ShipmentIndex::Reload(const ledger::Ledger& ledger) {
  std::map<std::string, projections::ShipmentViews, std::less<>> all;
  for (projections::ViewKind kind : projections::kAllViews) {
    auto gen = projections::ReadActiveGeneration(ledger, kind);
    if (!gen.ok()) return gen.status();
    Status decode_error;
    Status st =
        ledger.ScanAux(ledger::AuxSpace::kViews, projections::ViewGenerationBegin(kind, *gen),
                       projections::ViewGenerationEnd(kind, *gen),
                       [&](std::string_view key, std::string_view value) {
                         auto view = projections::DecodeView(kind, value);
                         if (!view.ok()) {
                           decode_error = view.status();
                           return false;
                         }
                         all[std::string(projections::ShipmentOfViewKey(key))].slot(kind) =
                             std::move(view).value();
                         return true;
                       });
    if (!st.ok()) return st;
    if (!decode_error.ok()) return decode_error;
  }
  std::vector<ShipmentSummary> summaries;
  summaries.reserve(all.size());
  for (auto& [id, views] : all) summaries.push_back(SummarizeViews(id, views));
  all.clear();
  // Built aside and swapped in, so lists keep answering meanwhile. Swapping node-based
  // containers moves no node: the Order pointers stay valid.
  ShipmentIndex fresh;
  fresh.seq_of_.reserve(summaries.size());
  for (auto& s : summaries) fresh.PutLocked(std::move(s));
  std::unique_lock lock(mu_);
  seq_of_.swap(fresh.seq_of_);
  ordered_.swap(fresh.ordered_);
  values_.swap(fresh.values_);
  atoms_.swap(fresh.atoms_);
  return Status::Ok();
}

Status ShipmentIndex::Refresh(const ledger::Ledger& ledger,
                              const std::vector<std::string>& shipment_ids) {
  if (shipment_ids.empty()) return Status::Ok();
  std::array<std::uint32_t, 3> gens{};
  for (int i = 0; i < 3; ++i) {
    auto gen = projections::ReadActiveGeneration(ledger, projections::kAllViews[i]);
    if (!gen.ok()) return gen.status();
    gens[i] = *gen;
  }
  std::vector<ShipmentSummary> summaries;
  summaries.reserve(shipment_ids.size());
  // Batched reads, in chunks: views grow with their shipment's history, and a refresh after a
  // long stall may name every shipment.
  constexpr std::size_t kChunk = 256;
  const std::span<const std::string> all(shipment_ids);
  for (std::size_t begin = 0; begin < all.size(); begin += kChunk) {
    const auto chunk = all.subspan(begin, std::min(kChunk, all.size() - begin));
    auto stored = projections::ReadStoredViews(ledger, gens, chunk);
    if (!stored.ok()) return stored.status();
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      const projections::ShipmentViews& views = (*stored)[i];
      if (!views.empty()) summaries.push_back(SummarizeViews(chunk[i], views));
    }
  }
  std::unique_lock lock(mu_);
  for (auto& s : summaries) PutLocked(std::move(s));
  return Status::Ok();
}

ShipmentIndex::Atom ShipmentIndex::Intern(const std::optional<std::string>& value) {
  if (!value) return 0;
  auto [it, added] = atoms_.try_emplace(*value, static_cast<Atom>(values_.size()));
  if (added) values_.push_back(*value);
  return it->second;
}

std::optional<ShipmentIndex::Atom> ShipmentIndex::Find(
    const std::optional<std::string>& value) const {
  if (!value) return Atom{0};
  auto it = atoms_.find(*value);
  if (it == atoms_.end()) return std::nullopt;
  return it->second;
}

void ShipmentIndex::PutLocked(ShipmentSummary summary) {
  auto [it, added] = seq_of_.try_emplace(std::move(summary.shipment_id), summary.last_seq);
  if (!added) {
    ordered_.erase(Order{it->second, &it->first});
    it->second = summary.last_seq;
  }
  Entry e;
  e.customer = Intern(summary.customer_id);
  e.carrier = Intern(summary.carrier);
  e.status = Intern(summary.status);
  e.updated_at = summary.updated_at;
  ordered_.insert_or_assign(Order{summary.last_seq, &it->first}, e);
}

ShipmentIndex::Page ShipmentIndex::List(const ListFilter& filter,
                                        const std::optional<ListCursor>& cursor,
                                        std::size_t limit) const {
  Page page;
  std::shared_lock lock(mu_);
  // A filter on a value no shipment has matches nothing.
  std::optional<Atom> customer, status, carrier;
  if (filter.customer && !(customer = Find(filter.customer))) return page;
  if (filter.status && !(status = Find(filter.status))) return page;
  if (filter.carrier && !(carrier = Find(filter.carrier))) return page;
  auto it = ordered_.begin();
  if (cursor) it = ordered_.upper_bound(Order{cursor->last_seq, &cursor->shipment_id});
  bool more = false;
  for (; it != ordered_.end(); ++it) {
    const Entry& e = it->second;
    if (customer && e.customer != *customer) continue;
    if (status && e.status != *status) continue;
    if (carrier && e.carrier != *carrier) continue;
    if (filter.updated_since && e.updated_at < *filter.updated_since) continue;
    if (page.shipment_ids.size() == limit) {
      more = true;  // only when another match exists, so the last page says so
      break;
    }
    page.shipment_ids.push_back(*it->first.shipment_id);
  }
  if (more) {
    const auto& last_id = page.shipment_ids.back();
    page.next = ListCursor{seq_of_.at(last_id), last_id};
  }
  return page;
}

std::size_t ShipmentIndex::size() const {
  std::shared_lock lock(mu_);
  return ordered_.size();
}

}  // namespace waybill::server::api
