#include "projections/freight_cost_view.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "projections/view_test_util.h"
#include "schemas/time.h"

namespace waybill::projections {
namespace {

using testing::Feed;
using testing::Fields;
using testing::Json;
using testing::T;
using testing::TestEvent;

Event ChargesEvent(std::string id, const char* at, ChargeBasis basis,
                   std::optional<std::string> document, std::string currency, std::int64_t total,
                   std::vector<ChargeLine> lines = {}) {
  Event e;
  e.event_id = std::move(id);
  e.kind = EventKind::kCharges;
  e.occurred_at = T(at);
  e.source.system = basis == ChargeBasis::kPosted ? SourceSystem::kErp : SourceSystem::kTms;
  e.source.format = "canonical";
  e.shipment_id = "SH1";
  Charges c;
  c.basis = basis;
  c.document = std::move(document);
  c.currency = std::move(currency);
  c.total = total;
  c.lines = std::move(lines);
  e.charges = std::move(c);
  return e;
}

ChargeLine Line(std::string code, std::int64_t amount, std::string currency = "USD",
                std::optional<std::string> description = std::nullopt) {
  return ChargeLine{std::move(code), std::move(description), amount, std::move(currency)};
}

bool Has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_CASE("freight: fresh view renders the full shape with nulls") {
  FreightCostView v("SH1");
  CHECK(Fields(v) == R"("freight_cost":{"currency":null,"quoted":null,"invoiced":null,)"
                     R"("posted":null,"current":null,"variance":null,"lines":[],"totals":[],)"
                     R"("error":null})");
}

TEST_CASE("freight: quote, invoice and posting; variance is invoiced minus quoted") {
  FreightCostView v("SH1");
  Feed feed;
  CHECK(
      feed(v, ChargesEvent("q1", "2025-03-01T00:00:00Z", ChargeBasis::kQuoted, "Q-1", "USD", 150000,
                           {Line("FRT", 140000, "USD", "Linehaul"), Line("FSC", 10000)})));
  CHECK(Has(Fields(v), R"("currency":"USD","quoted":"1500.00","invoiced":null,"posted":null,)"
                       R"("current":"1500.00","variance":null)"));
  CHECK(
      feed(v, ChargesEvent("i1", "2025-03-08T00:00:00Z", ChargeBasis::kInvoiced, "INV-1", "USD",
                           162550, {Line("FRT", 140000), Line("FSC", 12550), Line("DET", 10000)})));
  CHECK(feed(
      v, ChargesEvent("p1", "2025-03-09T00:00:00Z", ChargeBasis::kPosted, "GL-1", "USD", 162550)));
  CHECK(
      Fields(v) ==
      R"("freight_cost":{"currency":"USD","quoted":"1500.00","invoiced":"1625.50",)"
      R"("posted":"1625.50","current":"1625.50","variance":"125.50","lines":[)"
      R"({"basis":"quoted","code":"FRT","description":"Linehaul","amount":"1400.00","currency":"USD"},)"
      R"({"basis":"quoted","code":"FSC","description":null,"amount":"100.00","currency":"USD"},)"
      R"({"basis":"invoiced","code":"DET","description":null,"amount":"100.00","currency":"USD"},)"
      R"({"basis":"invoiced","code":"FRT","description":null,"amount":"1400.00","currency":"USD"},)"
      R"({"basis":"invoiced","code":"FSC","description":null,"amount":"125.50","currency":"USD"}],)"
      R"("totals":[{"basis":"quoted","currency":"USD","amount":"1500.00"},)"
      R"({"basis":"invoiced","currency":"USD","amount":"1625.50"},)"
      R"({"basis":"posted","currency":"USD","amount":"1625.50"}],"error":null})");
}

TEST_CASE("freight: quotes are alternatives: the latest by event time is kept") {
  FreightCostView v("SH1");
  Feed feed;
  feed(v, ChargesEvent("q2", "2025-03-02T00:00:00Z", ChargeBasis::kQuoted, "Q-2", "USD", 90000));
  CHECK_FALSE(
      feed(v, ChargesEvent("q1", "2025-03-01T00:00:00Z", ChargeBasis::kQuoted, "Q-1", "USD", 1)));
  CHECK(Has(Fields(v), R"("quoted":"900.00")"));
  CHECK(feed(v, ChargesEvent("q3", "2025-03-03T00:00:00Z", ChargeBasis::kQuoted, std::nullopt,
                             "USD", 95000)));
  CHECK(Has(Fields(v), R"("quoted":"950.00")"));
}

TEST_CASE("freight: a corrected invoice replaces the earlier version of its document") {
  FreightCostView v("SH1");
  Feed feed;
  feed(v, ChargesEvent("i1", "2025-03-08T00:00:00Z", ChargeBasis::kInvoiced, "INV-1", "USD", 200000,
                       {Line("FRT", 200000)}));
  CHECK(feed(v, ChargesEvent("i1c", "2025-03-10T00:00:00Z", ChargeBasis::kInvoiced, "INV-1", "USD",
                             180000, {Line("FRT", 180000)})));
  CHECK(Has(Fields(v), R"("invoiced":"1800.00")"));
  CHECK(
      Has(Fields(v), R"({"basis":"invoiced","code":"FRT","description":null,"amount":"1800.00")"));
  // The superseded version arriving late changes nothing.
  CHECK_FALSE(feed(v, ChargesEvent("i0", "2025-03-07T00:00:00Z", ChargeBasis::kInvoiced, "INV-1",
                                   "USD", 999999)));
  // An identical re-send (later, same document, same content) changes nothing shown.
  CHECK_FALSE(feed(v, ChargesEvent("i1d", "2025-03-11T00:00:00Z", ChargeBasis::kInvoiced, "INV-1",
                                   "USD", 180000, {Line("FRT", 180000)})));
  // A second invoice document adds up; one without a number is its own document.
  CHECK(feed(v, ChargesEvent("i2", "2025-03-12T00:00:00Z", ChargeBasis::kInvoiced, "INV-2", "USD",
                             5000, {Line("DET", 5000)})));
  CHECK(feed(v, ChargesEvent("n1", "2025-03-12T00:00:00Z", ChargeBasis::kInvoiced, std::nullopt,
                             "USD", 100)));
  CHECK(feed(v, ChargesEvent("n2", "2025-03-12T00:00:00Z", ChargeBasis::kInvoiced, std::nullopt,
                             "USD", 100)));
  CHECK(Has(Fields(v), R"("invoiced":"1852.00")"));
}

TEST_CASE("freight: multi-currency documents") {
  FreightCostView v("SH1");
  Feed feed;
  feed(v, ChargesEvent("q", "2025-03-01T00:00:00Z", ChargeBasis::kQuoted, "Q", "USD", 100000));
  feed(v, ChargesEvent("i-usd", "2025-03-08T00:00:00Z", ChargeBasis::kInvoiced, "INV-US", "USD",
                       110000, {Line("FRT", 110000), Line("THC", 25000, "EUR")}));
  CHECK(Has(Fields(v), R"("currency":"USD","quoted":"1000.00","invoiced":"1100.00",)"
                       R"("posted":null,"current":"1100.00","variance":"100.00")"));
  // Lines in another currency are listed in their own currency, not added to totals.
  CHECK(Has(Fields(v), R"({"basis":"invoiced","code":"THC","description":null,"amount":"250.00",)"
                       R"("currency":"EUR"})"));
  // The latest invoice is in JPY: current is shown in JPY, no JPY quote, so no variance.
  CHECK(feed(v, ChargesEvent("i-jpy", "2025-03-09T00:00:00Z", ChargeBasis::kInvoiced, "INV-JP",
                             "JPY", 15000, {Line("CUS", 15000, "JPY")})));
  CHECK(Has(Fields(v), R"("currency":"JPY","quoted":null,"invoiced":"15000","posted":null,)"
                       R"("current":"15000","variance":null)"));
  CHECK(Has(Fields(v), R"("totals":[{"basis":"quoted","currency":"USD","amount":"1000.00"},)"
                       R"({"basis":"invoiced","currency":"JPY","amount":"15000"},)"
                       R"({"basis":"invoiced","currency":"USD","amount":"1100.00"}])"));
}

TEST_CASE("freight: sums beyond int64 render null with an error, never saturate") {
  FreightCostView v("SH1");
  Feed feed;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  feed(v, ChargesEvent("a", "2025-03-01T00:00:00Z", ChargeBasis::kInvoiced, "A", "USD", kMax,
                       {Line("FRT", kMax)}));
  CHECK(Has(Fields(v), R"("invoiced":"92233720368547758.07")"));
  CHECK(feed(v, ChargesEvent("b", "2025-03-02T00:00:00Z", ChargeBasis::kInvoiced, "B", "USD", 1,
                             {Line("FRT", 1)})));
  const std::string f = Fields(v);
  CHECK(Has(f, R"("invoiced":null)"));
  CHECK(Has(f, R"("code":"FRT","description":null,"amount":null)"));
  CHECK(Has(f, R"("error":"amount out of range: invoiced USD does not fit 64-bit minor units")"));
  // Exact arithmetic underneath: a credit brings it back into range.
  CHECK(feed(v, ChargesEvent("c", "2025-03-03T00:00:00Z", ChargeBasis::kInvoiced, "C", "USD", -2,
                             {Line("FRT", -2)})));
  CHECK(Has(Fields(v), R"("invoiced":"92233720368547758.06")"));
  CHECK(Has(Fields(v), R"("error":null)"));
}

TEST_CASE("freight: the latest description wins for an aggregated line") {
  FreightCostView v("SH1");
  Feed feed;
  feed(v, ChargesEvent("b", "2025-03-02T00:00:00Z", ChargeBasis::kInvoiced, "B", "USD", 100,
                       {Line("FRT", 100, "USD", "Freight (corrected)")}));
  feed(v, ChargesEvent("a", "2025-03-01T00:00:00Z", ChargeBasis::kInvoiced, "A", "USD", 100,
                       {Line("FRT", 100, "USD", "Freight")}));
  CHECK(Has(Fields(v), R"x("description":"Freight (corrected)","amount":"2.00")x"));
}

TEST_CASE("freight: non-charges events and already-folded seqs change nothing") {
  FreightCostView v("SH1");
  Event e = ChargesEvent("i", "2025-03-01T00:00:00Z", ChargeBasis::kInvoiced, "I", "USD", 100);
  e.ledger.seq = 5;
  CHECK(v.Apply(e));
  CHECK(v.TakeStateChanged());
  CHECK_FALSE(v.Apply(e));
  CHECK_FALSE(v.TakeStateChanged());
  Event m;
  m.event_id = "m";
  m.kind = EventKind::kMilestone;
  m.status = ShipmentStatus::kInTransit;
  m.ledger.seq = 6;
  CHECK_FALSE(v.Apply(m));
  CHECK_FALSE(v.TakeStateChanged());  // nothing to write back
  CHECK(v.version() == 1);
  // The last event that moved the state; folding 6 again would change nothing either.
  CHECK(v.header().last_folded_seq() == 5);
}

TEST_CASE("freight: a re-sent identical invoice moves the state, not the rendering") {
  FreightCostView v("SH1");
  Feed feed;
  feed(v, ChargesEvent("i1", "2025-03-01T00:00:00Z", ChargeBasis::kInvoiced, "I", "USD", 100));
  CHECK(v.TakeStateChanged());
  const std::string before = Fields(v);
  // Same document and amounts, later: it replaces the stored version (a later correction
  // must be compared with it), but nothing visible changes.
  CHECK_FALSE(
      feed(v, ChargesEvent("i2", "2025-03-02T00:00:00Z", ChargeBasis::kInvoiced, "I", "USD", 100)));
  CHECK(v.TakeStateChanged());
  CHECK(Fields(v) == before);
  CHECK(v.version() == 1);
}

TEST_CASE("freight: Encode/Decode round-trips; bad bytes are Corruption naming the view") {
  FreightCostView v("SH1");
  Feed feed;
  feed(v, ChargesEvent("q", "2025-03-01T00:00:00Z", ChargeBasis::kQuoted, "Q", "USD", 100,
                       {Line("FRT", 100, "USD", "Linehaul")}));
  feed(v, ChargesEvent("i", "2025-03-02T00:00:00Z", ChargeBasis::kInvoiced, std::nullopt, "EUR",
                       200, {Line("FRT", 200, "EUR")}));
  std::string bytes;
  v.Encode(&bytes);
  auto back = FreightCostView::Decode(bytes);
  REQUIRE(back.ok());
  CHECK(**back == v);
  CHECK(Fields(**back) == Fields(v));
  auto bad = FreightCostView::Decode(bytes.substr(0, bytes.size() / 2));
  CHECK(bad.status().code() == ErrorCode::kCorruption);
  CHECK(Has(bad.status().message(), "freight_cost view"));
}

}  // namespace
}  // namespace waybill::projections
