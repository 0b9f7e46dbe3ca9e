// The in-memory index behind GET /v1/shipments: every shipment's list attributes (customer,
// carrier, status, last_seq, updated_at) ordered newest first, by the sequence of the last
// event that changed any of its views, then by shipment id.
//
// Built at start from the stored views (one scan per view) and refreshed for the shipments
// each projection commit touched, so it trails the worker by one refresh. Pagination is by
// an opaque cursor naming the last (last_seq, shipment) returned: a shipment that changes
// while a client pages moves to the front (its last_seq grows), so a walk never returns it
// twice, and shipments that did not change keep their places, so none is skipped.
//
// Memory: about 156 bytes per shipment with an id of up to 15 bytes (320 before customers,
// carriers and statuses were stored once each and the id once per shipment; measured over
// 1M entries of the same containers). It grows with every shipment ever seen: the 30-minute soak
// (2.7M shipments) is where that shows (docs/benchmarks-compare.md).
// Thread-safety: all methods are safe from any thread (a shared mutex; List takes it shared).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ledger/ledger.h"
#include "projections/view_reader.h"

namespace waybill::server::api {

struct ShipmentSummary {
  std::string shipment_id;
  std::optional<std::string> customer_id;
  std::optional<std::string> carrier;
  std::optional<std::string> status;
  std::uint64_t last_seq = 0;  // over the status and ETA views (not freight cost, see below)
  UnixNanos updated_at = 0;
};

// Why not freight cost: a list sorted by a cost event's sequence would let a reader without
// costs:read infer when invoices arrived. Ordering uses the status and ETA views only.
ShipmentSummary SummarizeViews(std::string_view shipment_id,
                               const projections::ShipmentViews& views);

struct ListFilter {
  std::optional<std::string> customer;
  std::optional<std::string> status;
  std::optional<std::string> carrier;
  std::optional<UnixNanos> updated_since;  // updated_at >= this
};

struct ListCursor {
  std::uint64_t last_seq = 0;
  std::string shipment_id;
};
std::string EncodeCursor(const ListCursor& cursor);
// nullopt when `text` is not a cursor this server made.
std::optional<ListCursor> DecodeCursor(std::string_view text);

class ShipmentIndex {
 public:
  // Reads every stored view of the active generations.
  [[nodiscard]] static Result<std::unique_ptr<ShipmentIndex>> Load(const ledger::Ledger& ledger);

  // Re-reads the stored views of `shipment_ids` and updates their entries.
  [[nodiscard]] Status Refresh(const ledger::Ledger& ledger,
                               const std::vector<std::string>& shipment_ids);

  // Replaces the whole index with a fresh load (after a rebuild).
  [[nodiscard]] Status Reload(const ledger::Ledger& ledger);

  struct Page {
    std::vector<std::string> shipment_ids;  // newest first
    std::optional<ListCursor> next;         // set when more may follow
  };
  // Up to `limit` shipments passing `filter`, after `cursor` (from the start without one).
  Page List(const ListFilter& filter, const std::optional<ListCursor>& cursor,
            std::size_t limit) const;

  std::size_t size() const;

 private:
  // A customer, carrier or status value, stored once in values_; 0 is "none".
  using Atom = std::uint32_t;
  struct Order {
    std::uint64_t last_seq;
    const std::string* shipment_id;         // a key of seq_of_ (or the caller's, for lookups)
    bool operator<(const Order& o) const {  // newest first, then by id
      if (last_seq != o.last_seq) return last_seq > o.last_seq;
      return *shipment_id < *o.shipment_id;
    }
  };
  struct Entry {
    Atom customer = 0, carrier = 0, status = 0;
    UnixNanos updated_at = 0;
  };
  using SeqOf = std::unordered_map<std::string, std::uint64_t>;  // shipment -> Order.last_seq

  Atom Intern(const std::optional<std::string>& value);  // with mu_ held exclusively
  // The atom of `value`; nullopt when no shipment has it. With mu_ held.
  std::optional<Atom> Find(const std::optional<std::string>& value) const;
  void PutLocked(ShipmentSummary summary);

  mutable std::shared_mutex mu_;
  // Node-based, so ordered_'s pointers to its keys stay valid as it grows and rehashes.
  SeqOf seq_of_;
  std::map<Order, Entry> ordered_;
  std::vector<std::string> values_{std::string()};  // by atom; [0] unused
  std::unordered_map<std::string, Atom> atoms_;
};

}  // namespace waybill::server::api
