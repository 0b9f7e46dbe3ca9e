// The stored list index against a real RocksDB ledger and projection worker: every list it
// answers must equal the one computed from the stored views directly.
#include "server/api/shipment_index.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "projections/projection_test_util.h"
#include "projections/projector.h"
#include "tests/test_util.h"

namespace waybill::server::api {
namespace {

using projections::testing::EventGenerator;
using waybill::testing::TempDir;

constexpr int kShipments = 60;

struct Fixture {
  TempDir dir;
  std::unique_ptr<ledger::Ledger> ledger;
  std::unique_ptr<projections::Projector> projector;
  EventGenerator gen{17, kShipments, 0.1};

  // What the worker's on_commit handed over since the last Take: as the server gets it.
  std::vector<ShipmentSummary> committed;

  Fixture() { Open(); }
  void Open() {
    auto l = ledger::Ledger::Open(dir.path());
    REQUIRE_MESSAGE(l.ok(), l.status().ToString());
    ledger = std::move(l).value();
    projections::ProjectorOptions options;
    options.cache_shipments = 20;  // evictions too, so committed views are read back
    options.on_commit = [this](std::span<const Event>,
                               std::span<const projections::CommittedViews> views) {
      for (const auto& v : views)
        committed.push_back(SummarizeViews(v.shipment_id, v.status, v.eta, v.freight_cost));
    };
    auto p = projections::Projector::Open(*ledger, options);
    REQUIRE_MESSAGE(p.ok(), p.status().ToString());
    projector = std::move(p).value();
  }
  void Close() {
    projector.reset();
    ledger.reset();
  }
  // Appends `n` events and folds them; returns the shipments they touched.
  std::vector<std::string> AppendAndFold(int n) {
    ledger::AppendBatch batch;
    std::set<std::string> touched;
    for (int i = 0; i < n; ++i) {
      Event e = gen.Next();
      touched.insert(e.shipment_id);
      batch.events.push_back(ledger::PrepareEvent(std::move(e)));
    }
    auto r = ledger->Append(std::move(batch));
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    auto caught = projector->CatchUp();
    REQUIRE_MESSAGE(caught.ok(), caught.status().ToString());
    return {touched.begin(), touched.end()};
  }
  std::uint64_t checkpoint() const { return projector->checkpoint().last_seq; }
};

// The list `filter` should give, from the stored views of every shipment.
std::vector<std::string> Expected(const ledger::Ledger& ledger, const ListFilter& filter) {
  std::vector<ShipmentSummary> all;
  for (int s = 0; s < kShipments; ++s) {
    const std::string id = "SHP-" + std::to_string(s);
    auto views = projections::ReadCurrentViews(ledger, id);
    REQUIRE(views.ok());
    if (!views->empty()) all.push_back(SummarizeViews(id, *views));
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::tie(b.last_seq, a.shipment_id) < std::tie(a.last_seq, b.shipment_id);
  });
  std::vector<std::string> ids;
  for (const auto& s : all) {
    if (filter.customer && s.customer_id != filter.customer) continue;
    if (filter.status && s.status != filter.status) continue;
    if (filter.carrier && s.carrier != filter.carrier) continue;
    if (filter.updated_since && s.updated_at < *filter.updated_since) continue;
    ids.push_back(s.shipment_id);
  }
  return ids;
}

// Every shipment the index lists under `filter`, walking pages of `limit`.
std::vector<std::string> Walk(const ShipmentIndex& index, const ListFilter& filter,
                              std::size_t limit) {
  std::vector<std::string> ids;
  std::optional<ListCursor> cursor;
  for (int pages = 0; pages < 1000; ++pages) {
    auto page = index.List(filter, cursor, limit);
    REQUIRE_MESSAGE(page.ok(), page.status().ToString());
    CHECK(page->shipment_ids.size() <= limit);
    ids.insert(ids.end(), page->shipment_ids.begin(), page->shipment_ids.end());
    if (!page->next) break;
    CHECK(page->shipment_ids.size() == limit);
    cursor = DecodeCursor(EncodeCursor(*page->next));
    REQUIRE(cursor);
  }
  return ids;
}

ListFilter Filter(std::optional<std::string> customer, std::optional<std::string> status = {},
                  std::optional<std::string> carrier = {}) {
  ListFilter f;
  f.customer = std::move(customer);
  f.status = std::move(status);
  f.carrier = std::move(carrier);
  return f;
}

void CheckLists(const ledger::Ledger& ledger, const ShipmentIndex& index) {
  std::vector<ListFilter> filters(1);
  for (int c = 0; c < 7; ++c) filters.push_back(Filter("CUST-" + std::to_string(c)));
  filters.push_back(Filter("nobody"));
  filters.push_back(Filter({}, "IN_TRANSIT"));
  filters.push_back(Filter("CUST-3", "DELIVERED"));
  filters.push_back(Filter({}, {}, "ACME"));
  for (const ListFilter& f : filters) {
    INFO("customer " << f.customer.value_or("-") << " status " << f.status.value_or("-"));
    const auto expected = Expected(ledger, f);
    CHECK(Walk(index, f, 7) == expected);
    CHECK(Walk(index, f, 500) == expected);
  }
  CHECK(index.size() == Expected(ledger, {}).size());
}

std::size_t StoredIndexKeys(const ledger::Ledger& ledger) {
  std::size_t n = 0;
  REQUIRE(ledger
              .ScanAux(ledger::AuxSpace::kViews, IndexGenerationBegin(0), "m",
                       [&](std::string_view, std::string_view) {
                         ++n;
                         return true;
                       })
              .ok());
  return n;
}

TEST_CASE("the stored list index is built from the views and follows refreshes") {
  Fixture f;
  f.AppendAndFold(400);
  auto index = ShipmentIndex::Open(*f.ledger, f.checkpoint());
  REQUIRE_MESSAGE(index.ok(), index.status().ToString());
  CHECK((*index)->through_seq() == f.checkpoint());
  CHECK((*index)->size() > 0);
  CheckLists(*f.ledger, **index);

  for (int round = 0; round < 5; ++round) {
    const auto touched = f.AppendAndFold(150);
    REQUIRE((*index)->Refresh(touched, f.checkpoint()).ok());
    CHECK((*index)->through_seq() == f.checkpoint());
    CheckLists(*f.ledger, **index);
  }
  // One 'e' and one 'o' row per shipment, a 'c' row per shipment with a customer: the moved
  // rows' old keys are gone.
  std::size_t with_customer = 0;
  for (int c = 0; c < 7; ++c)
    with_customer += Expected(*f.ledger, Filter("CUST-" + std::to_string(c))).size();
  CHECK(StoredIndexKeys(*f.ledger) == 2 * (*index)->size() + with_customer);

  // A reload writes a new generation and drops the old one: the same lists, the same rows.
  const std::size_t keys = StoredIndexKeys(*f.ledger);
  REQUIRE((*index)->Reload(f.checkpoint()).ok());
  CheckLists(*f.ledger, **index);
  CHECK(StoredIndexKeys(*f.ledger) == keys);
}

TEST_CASE("rows put from the worker's commits equal rows refreshed from the stored views") {
  Fixture f;
  f.AppendAndFold(300);
  auto index = ShipmentIndex::Open(*f.ledger, f.checkpoint());
  REQUIRE(index.ok());
  f.committed.clear();
  for (int round = 0; round < 6; ++round) {
    f.AppendAndFold(120);
    REQUIRE(!f.committed.empty());
    REQUIRE((*index)->Put(f.committed, f.checkpoint()).ok());
    f.committed.clear();
    CHECK((*index)->through_seq() == f.checkpoint());
    CheckLists(*f.ledger, **index);
  }
}

TEST_CASE("after a restart the list index catches up from the log, not from every view") {
  Fixture f;
  f.AppendAndFold(300);
  {
    auto index = ShipmentIndex::Open(*f.ledger, f.checkpoint());
    REQUIRE(index.ok());
  }
  const std::uint64_t indexed_through = f.checkpoint();
  f.AppendAndFold(300);  // folded while no index was watching, as after a crash
  f.Close();
  f.Open();

  auto index = ShipmentIndex::Open(*f.ledger, f.checkpoint());
  REQUIRE(index.ok());
  CHECK((*index)->through_seq() == indexed_through);  // the stored state, not a rebuild
  REQUIRE((*index)->CatchUp(f.checkpoint()).ok());
  CHECK((*index)->through_seq() == f.checkpoint());
  CheckLists(*f.ledger, **index);
}

TEST_CASE("a damaged index state is rebuilt from the views at open") {
  Fixture f;
  f.AppendAndFold(200);
  ledger::AuxBatch damage;
  damage.Put(ledger::AuxSpace::kViews, std::string(kIndexStateKey), "not a state");
  REQUIRE(f.ledger->WriteAux(damage).ok());
  auto index = ShipmentIndex::Open(*f.ledger, f.checkpoint());
  REQUIRE_MESSAGE(index.ok(), index.status().ToString());
  CHECK((*index)->through_seq() == f.checkpoint());
  CheckLists(*f.ledger, **index);
}

TEST_CASE("an offline rebuild replaces every stored row") {
  Fixture f;
  f.AppendAndFold(200);
  {
    auto index = ShipmentIndex::Open(*f.ledger, f.checkpoint());
    REQUIRE(index.ok());
  }
  // A row no shipment has (as a bug or a partial write could leave), in every generation.
  ledger::AuxBatch damage;
  for (std::uint32_t gen : {1u, 2u})
    damage.Put(ledger::AuxSpace::kViews, OrderKey(gen, 1, "GHOST"), "garbage");
  REQUIRE(f.ledger->WriteAux(damage).ok());
  {
    auto index = ShipmentIndex::Open(*f.ledger, f.checkpoint());
    REQUIRE(index.ok());
    CHECK(!(*index)->List({}, std::nullopt, 500).ok());  // names the damage, not a wrong list
  }
  REQUIRE(ShipmentIndex::Rebuild(*f.ledger, f.checkpoint()).ok());
  auto index = ShipmentIndex::Open(*f.ledger, f.checkpoint());
  REQUIRE(index.ok());
  CheckLists(*f.ledger, **index);
}

TEST_CASE("list index rows and keys round-trip") {
  ShipmentSummary s{.shipment_id = "",
                    .customer_id = std::string("C\0\xff", 3),
                    .carrier = std::nullopt,
                    .status = "DELIVERED",
                    .last_seq = 42,
                    .updated_at = -5};
  auto back = DecodeRow(EncodeRow(s));
  REQUIRE(back.ok());
  CHECK(back->customer_id == s.customer_id);
  CHECK(!back->carrier);
  CHECK(back->status == s.status);
  CHECK(back->last_seq == 42);
  CHECK(back->updated_at == -5);
  CHECK(!DecodeRow(EncodeRow(s) + "x").ok());
  CHECK(!DecodeRow("short").ok());

  CHECK(ShipmentOfOrderedKey(OrderKey(3, 9, "SHP-1")) == "SHP-1");
  CHECK(ShipmentOfOrderedKey(CustomerKey(3, "CUST", 9, "SHP-1")) == "SHP-1");
  // Newest first, then by id; a customer's rows stay inside its range, even at last_seq 0.
  CHECK(OrderKey(1, 10, "B") < OrderKey(1, 9, "A"));
  CHECK(OrderKey(1, 9, "A") < OrderKey(1, 9, "B"));
  for (std::uint64_t seq : {std::uint64_t{0}, std::uint64_t{1}, UINT64_MAX}) {
    const std::string k = CustomerKey(1, "CUST", seq, "\xff\xff");
    CHECK(CustomerBegin(1, "CUST") <= k);
    CHECK(k < CustomerEnd(1, "CUST"));
    CHECK(!(CustomerBegin(1, "CUSTX") <= k && k < CustomerEnd(1, "CUSTX")));
  }
}

}  // namespace
}  // namespace waybill::server::api
