#include "schemas/event_json.h"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/event.h"
#include "schemas/event_codec.h"
#include "schemas/event_json_test_util.h"
#include "schemas/event_validate.h"
#include "schemas/money.h"
#include "schemas/time.h"

namespace waybill {
namespace {

using namespace json_test;

TEST_CASE("round trip of every kind") {
  SUBCASE("milestone") {
    CheckRoundTrip(
        R"({"event_id":"m-1","kind":"milestone","schema_version":1,)"
        R"("occurred_at":"2025-03-01T10:00:00.25+02:00","source":{"system":"carrier",)"
        R"("format":"x12","partner":"ABCD"},"shipment_id":"S1","order_id":"O1",)"
        R"("customer_id":"C1","carrier":"ABCD","references":[{"type":"BM","value":"123"},)"
        R"({"type":"PO","value":"PO-9"}],"status":"DELAYED","source_code":"SD",)"
        R"("reason_code":"AG","location":{"name":"Dock 4","city":"Chicago","region":"IL",)"
        R"("country":"US","unlocode":"USCHI","lat":41.8781,"lon":-87.6298}})");
  }
  SUBCASE("milestone with only a source code") {
    CheckRoundTrip(Ev("milestone", R"(,"source_code":"X6")"));
  }
  SUBCASE("estimate") {
    CheckRoundTrip(Ev("estimate",
                      R"(,"estimate":{"estimated_at":"2025-03-03T17:30:00Z","of":"delivery",)"
                      R"("issued_at":"2025-03-01T07:59:59.123456789Z"})"));
  }
  SUBCASE("charges") {
    CheckRoundTrip(
        ChargesEv(R"({"basis":"invoiced","document":"INV-7","currency":"USD","total":"1250.50",)"
                  R"("lines":[{"code":"FRT","description":"Linehaul","amount":"1000.00"},)"
                  R"({"code":"FSC","amount":250.5,"currency":"USD"},)"
                  R"({"code":"DUTY","amount":"9000","currency":"JPY"}]})"));
  }
  SUBCASE("order") {
    CheckRoundTrip(Ev(
        "order", R"(,"status":"ORDER_RELEASED","order":{"ship_to":{"name":"ACME DC",)"
                 R"("city":"Reno","country":"US"},"promised":{"date":"2025-03-05",)"
                 R"("window_start":"2025-03-05T15:00:00Z","window_end":"2025-03-05T23:00:00Z"}})"));
    CheckRoundTrip(Ev("order", ""));
    CheckRoundTrip(Ev("order", R"(,"order":{})"));
  }
  SUBCASE("document") {
    CheckRoundTrip(Ev("document", R"(,"document":{"type":"proof_of_delivery","number":"POD-1"})"));
  }
}

// One event with every field the writer knows, including the ledger fields and all bodies
// (the writer does not validate, so this pins the full key order in one string).
Event KitchenSink() {
  Event e;
  e.ledger.seq = 42;
  e.ledger.recorded_at = kT0 + 500000000;
  e.ledger.prev_hash.fill(0x01);
  e.ledger.hash.fill(0xab);
  e.event_id = "evt-1";
  e.kind = EventKind::kCharges;
  e.schema_version = 1;
  e.occurred_at = kT0;
  e.occurred_offset_minutes = 120;
  e.source.system = SourceSystem::kCarrier;
  e.source.format = "x12";
  e.source.partner = "ABCD";
  e.source.principal = "svc-ingest";
  e.shipment_id = "S1";
  e.order_id = "O1";
  e.customer_id = "C1";
  e.carrier = "ABCD";
  e.references = {{"BM", "123"}, {"PO", "PO-9"}};
  e.correlation_id = "O1/S1";
  e.status = ShipmentStatus::kInTransit;
  e.source_code = "X6";
  e.reason_code = "NS";
  e.location = Location{"Dock 4", "Chicago", "IL", "US", "USCHI", 41.5, -87.25};
  e.estimate = Estimate{kT0 + 2 * kHour, EstimateOf::kArrival, kT0};
  Charges ch;
  ch.basis = ChargeBasis::kInvoiced;
  ch.document = "INV-7";
  ch.currency = "USD";
  ch.total = 202575;
  ch.lines = {{"FRT", "Linehaul", 202575, "USD"}, {"DUTY", std::nullopt, 1500, "JPY"}};
  e.charges = ch;
  OrderBody order;
  order.ship_to =
      Location{"ACME DC", "Reno", std::nullopt, "US", std::nullopt, std::nullopt, std::nullopt};
  order.promised = Promise{"2025-03-05", kT0 + 96 * kHour, kT0 + 104 * kHour};
  e.order = order;
  e.document = DocumentBody{"bill_of_lading", "BOL-1"};
  e.raw_hash.fill(0xcd);
  return e;
}

TEST_CASE("exact output of a fully populated event") {
  const std::string expected =
      R"({"seq":42,"event_id":"evt-1","kind":"charges","schema_version":1,)"
      R"("occurred_at":"2025-03-01T08:00:00Z","occurred_offset":"+02:00",)"
      R"("recorded_at":"2025-03-01T08:00:00.5Z",)"
      R"("source":{"system":"carrier","format":"x12","partner":"ABCD","principal":"svc-ingest"},)"
      R"("shipment_id":"S1","order_id":"O1","customer_id":"C1","carrier":"ABCD",)"
      R"("references":[{"type":"BM","value":"123"},{"type":"PO","value":"PO-9"}],)"
      R"("correlation_id":"O1/S1","status":"IN_TRANSIT","source_code":"X6","reason_code":"NS",)"
      R"("location":{"name":"Dock 4","city":"Chicago","region":"IL","country":"US",)"
      R"("unlocode":"USCHI","lat":41.5,"lon":-87.25},)"
      R"("estimate":{"estimated_at":"2025-03-01T10:00:00Z","of":"arrival",)"
      R"("issued_at":"2025-03-01T08:00:00Z"},)"
      R"("charges":{"basis":"invoiced","document":"INV-7","currency":"USD","total":"2025.75",)"
      R"("lines":[{"code":"FRT","description":"Linehaul","amount":"2025.75","currency":"USD"},)"
      R"({"code":"DUTY","amount":"1500","currency":"JPY"}]},)"
      R"("order":{"ship_to":{"name":"ACME DC","city":"Reno","country":"US"},)"
      R"("promised":{"date":"2025-03-05","window_start":"2025-03-05T08:00:00Z",)"
      R"("window_end":"2025-03-05T16:00:00Z"}},)"
      R"("document":{"type":"bill_of_lading","number":"BOL-1"},)"
      R"("raw_hash":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",)"
      R"("prev_hash":"0101010101010101010101010101010101010101010101010101010101010101",)"
      R"("hash":"abababababababababababababababababababababababababababababababab"})";
  CHECK(EventToJson(KitchenSink()) == expected);

  std::string appended = "[";
  AppendEventJson(KitchenSink(), &appended);
  CHECK(appended == "[" + expected);
}

TEST_CASE("minimal output omits absent optionals and ledger fields") {
  Event e = ParseOk(Milestone());
  CHECK(EventToJson(e) ==
        R"({"event_id":")" + e.event_id +
            R"(","kind":"milestone","schema_version":1,"occurred_at":"2025-03-01T08:00:00Z",)"
            R"("occurred_offset":"+00:00","source":{"system":"carrier","format":"canonical"},)"
            R"("shipment_id":"S1","correlation_id":"S1","status":"IN_TRANSIT"})");
}

TEST_CASE("ledger fields, raw_hash and principal in the input are ignored") {
  Event e = ParseOk(Milestone(
      R"(,"seq":7,"recorded_at":"2025-01-01T00:00:00Z","prev_hash":"00","hash":{"x":1},)"
      R"("raw_hash":"abababababababababababababababababababababababababababababababab")"));
  CHECK(e.ledger == LedgerFields{});
  CHECK(IsZero(e.raw_hash));
  Event p =
      ParseOk(R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T08:00:00Z",)"
              R"("source":{"system":"ops","principal":"root"},"shipment_id":"S1"})");
  CHECK_FALSE(p.source.principal.has_value());
  CHECK(p.source.system == SourceSystem::kOps);
}

TEST_CASE("money is exact") {
  SUBCASE("three decimals are rejected for USD, with the path") {
    CheckRejected(ChargesEv(R"({"basis":"quoted","currency":"USD",)"
                            R"("lines":[{"code":"FRT","amount":"1.234"}]})"),
                  "charges.lines[0].amount: ");
    std::string m = ParseError(ChargesEv(R"({"basis":"quoted","currency":"USD",)"
                                         R"("lines":[{"code":"FRT","amount":"1.234"}]})"));
    CHECK(m.find("1.234") != std::string::npos);
    CheckRejected(ChargesEv(R"({"basis":"quoted","currency":"USD","total":"1.234"})"),
                  "charges.total: ");
    CheckRejected(ChargesEv(R"({"basis":"quoted","currency":"USD",)"
                            R"("lines":[{"code":"FRT","amount":1.234}]})"),
                  "charges.lines[0].amount: ");
  }
  SUBCASE("JPY has no minor digits") {
    Event e = ParseOk(ChargesEv(R"({"basis":"quoted","currency":"JPY",)"
                                R"("lines":[{"code":"FRT","amount":"1500"}]})"));
    CHECK(e.charges->lines[0].amount == 1500);
    CHECK(e.charges->total == 1500);
    CHECK(e.charges->lines[0].currency == "JPY");
    CheckRejected(ChargesEv(R"({"basis":"quoted","currency":"JPY",)"
                            R"("lines":[{"code":"FRT","amount":"1500.5"}]})"),
                  "charges.lines[0].amount: ");
  }
  SUBCASE("number tokens are parsed exactly, never through a double") {
    Event e = ParseOk(ChargesEv(R"({"basis":"quoted","currency":"USD","total":2025.75,)"
                                R"("lines":[{"code":"FRT","amount":2025.75}]})"));
    CHECK(e.charges->lines[0].amount == 202575);
    CHECK(e.charges->total == 202575);
    // 0.1 + 0.2 style values and amounts beyond 2^53 survive exactly.
    Event big = ParseOk(ChargesEv(R"({"basis":"quoted","currency":"USD",)"
                                  R"("lines":[{"code":"A","amount":90071992547409.93},)"
                                  R"({"code":"B","amount":0.10},{"code":"C","amount":0.2}]})"));
    CHECK(big.charges->lines[0].amount == 9007199254740993LL);
    CHECK(big.charges->lines[1].amount == 10);
    CHECK(big.charges->total == 9007199254740993LL + 30);
    Event exp = ParseOk(ChargesEv(R"({"basis":"quoted","currency":"USD",)"
                                  R"("lines":[{"code":"A","amount":2.02575e3},)"
                                  R"({"code":"B","amount":-5E-1},{"code":"C","amount":1e2}]})"));
    CHECK(exp.charges->lines[0].amount == 202575);
    CHECK(exp.charges->lines[1].amount == -50);
    CHECK(exp.charges->lines[2].amount == 10000);
    CheckRejected(ChargesEv(R"({"basis":"quoted","currency":"USD",)"
                            R"("lines":[{"code":"A","amount":1e-3}]})"),
                  "charges.lines[0].amount: ");
  }
  SUBCASE("line currency defaults to the charges currency, in any key order") {
    Event e = ParseOk(ChargesEv(
        R"({"lines":[{"amount":"12.5","code":"FRT"}],"currency":"EUR","basis":"posted"})"));
    CHECK(e.charges->lines[0].currency == "EUR");
    CHECK(e.charges->lines[0].amount == 1250);
    CHECK(e.charges->total == 1250);
  }
  SUBCASE("wrong money types") {
    CheckRejected(ChargesEv(R"({"basis":"quoted","currency":"USD",)"
                            R"("lines":[{"code":"A","amount":true}]})"),
                  "charges.lines[0].amount: expected a decimal string or a number, got boolean");
    CheckRejected(ChargesEv(R"({"basis":"quoted","currency":"USD",)"
                            R"("lines":[{"code":"A","amount":"1,000.00"}]})"),
                  "charges.lines[0].amount: ");
  }
}

TEST_CASE("charges totals and foreign-currency lines") {
  SUBCASE("total must equal the sum of the same-currency lines") {
    CheckRejected(ChargesEv(R"({"basis":"invoiced","currency":"USD","total":"1000.00",)"
                            R"("lines":[{"code":"A","amount":"500.00"},)"
                            R"({"code":"B","amount":"499.00"}]})"),
                  "charges.total: 1000.00 does not equal the sum of lines 999.00 USD");
  }
  SUBCASE("foreign-currency lines are not summed") {
    Event e = ParseOk(ChargesEv(R"({"basis":"invoiced","currency":"USD",)"
                                R"("lines":[{"code":"A","amount":"10.00"},)"
                                R"({"code":"B","amount":"5.00","currency":"EUR"}]})"));
    CHECK(e.charges->total == 1000);
    ParseOk(ChargesEv(R"({"basis":"invoiced","currency":"USD","total":"10.00",)"
                      R"("lines":[{"code":"A","amount":"10.00"},)"
                      R"({"code":"B","amount":"5.00","currency":"EUR"}]})"));
  }
  SUBCASE("without same-currency lines the total is the source's own and must be given") {
    CheckRejected(ChargesEv(R"({"basis":"invoiced","currency":"USD",)"
                            R"("lines":[{"code":"B","amount":"5.00","currency":"EUR"}]})"),
                  "charges.total: required");
    CheckRejected(ChargesEv(R"({"basis":"invoiced","currency":"USD"})"), "charges.total: required");
    Event e = ParseOk(ChargesEv(R"({"basis":"invoiced","currency":"USD","total":"5.40",)"
                                R"("lines":[{"code":"B","amount":"5.00","currency":"EUR"}]})"));
    CHECK(e.charges->total == 540);
    ParseOk(ChargesEv(R"({"basis":"quoted","currency":"USD","total":"99.00"})"));
  }
  SUBCASE("unknown currencies name their path") {
    CheckRejected(ChargesEv(R"({"basis":"invoiced","currency":"USD",)"
                            R"("lines":[{"code":"A","amount":"1.00"},{"code":"B","amount":"1.00"},)"
                            R"({"code":"C","amount":"1.00","currency":"XXY"}]})"),
                  R"(charges.lines[2].currency: unknown ISO 4217 currency "XXY")");
    CheckRejected(ChargesEv(R"({"basis":"invoiced","currency":"usd","total":"1"})"),
                  R"(charges.currency: unknown ISO 4217 currency "usd")");
  }
  SUBCASE("overflowing sums are rejected") {
    CheckRejected(ChargesEv(R"({"basis":"invoiced","currency":"JPY",)"
                            R"("lines":[{"code":"A","amount":"9223372036854775807"},)"
                            R"({"code":"B","amount":"1"}]})"),
                  "charges.lines[1].amount: ");
  }
  SUBCASE("required charges fields") {
    CheckRejected(ChargesEv(R"({"currency":"USD","total":"1.00"})"), "charges.basis: required");
    CheckRejected(ChargesEv(R"({"basis":"quoted","total":"1.00"})"), "charges.currency: required");
    CheckRejected(ChargesEv(R"({"basis":"estimated","currency":"USD","total":"1.00"})"),
                  R"(charges.basis: unknown value "estimated")");
    CheckRejected(ChargesEv(R"({"basis":"quoted","currency":"USD","lines":[{"amount":"1.00"}]})"),
                  "charges.lines[0].code: required");
    CheckRejected(ChargesEv(R"({"basis":"quoted","currency":"USD","lines":[{"code":"A"}]})"),
                  "charges.lines[0].amount: required");
    CheckRejected(
        ChargesEv(R"({"basis":"quoted","currency":"USD","lines":[{"code":"","amount":"1"}]})"),
        "charges.lines[0].code: must not be empty");
    CheckRejected(ChargesEv(R"({"basis":"quoted","currency":"USD","lines":[null]})"),
                  "charges.lines[0]: expected an object, got null");
  }
}

TEST_CASE("count limits") {
  std::string refs = R"(,"references":[)";
  for (std::size_t i = 0; i <= kMaxReferences; ++i) {
    if (i) refs += ',';
    refs += R"({"type":"BM","value":"v)" + std::to_string(i) + "\"}";
  }
  refs += ']';
  CheckRejected(Milestone(refs), "references: more than 64");

  std::string lines = R"({"basis":"quoted","currency":"USD","lines":[)";
  for (std::size_t i = 0; i <= kMaxChargeLines; ++i) {
    if (i) lines += ',';
    lines += R"({"code":"L","amount":"1.00"})";
  }
  lines += "]}";
  CheckRejected(ChargesEv(lines), "charges.lines: more than 256");

  // Exactly at the limits is fine, and an id of exactly kMaxIdLength bytes too.
  std::string ok_refs = R"(,"references":[)";
  for (std::size_t i = 0; i < kMaxReferences; ++i) {
    if (i) ok_refs += ',';
    ok_refs += R"({"type":"BM","value":"v)" + std::to_string(i) + "\"}";
  }
  ok_refs += ']';
  CHECK(ParseOk(Milestone(ok_refs)).references.size() == kMaxReferences);
  CHECK(ParseOk(Milestone(R"(,"order_id":")" + std::string(kMaxIdLength, 'o') + "\""))
            .order_id->size() == kMaxIdLength);
}

TEST_CASE("null is absent and unknown keys are ignored") {
  Event e = ParseOk(
      Milestone(R"(,"order_id":null,"location":null,"references":null,"schema_version":null,)"
                R"("future_field":{"a":[1,2.5e10,-3,true,false,null,"x\n"]},"another":[])"));
  CHECK_FALSE(e.order_id.has_value());
  CHECK_FALSE(e.location.has_value());
  CHECK(e.references.empty());
  CHECK(e.schema_version == kSchemaVersion);
  CHECK(e.source.format == "canonical");
  CHECK(e.correlation_id == "S1");
}

TEST_CASE("malformed JSON") {
  CheckRejected("", "malformed JSON");
  CheckRejected("   ", "malformed JSON");
  CheckRejected(R"({"kind":"milestone")", "malformed JSON");
  CheckRejected(R"({"kind":"milestone" "status":"DELIVERED"})", "malformed JSON at byte");
  CheckRejected(R"({"kind":"milestone",})", "malformed JSON");
  CheckRejected(Milestone() + "}", "malformed JSON at byte");
  CheckRejected(Milestone() + Milestone(), "malformed JSON at byte");
  CheckRejected(Milestone(R"(,"order_id":"a\qb")"), "order_id: malformed JSON at byte");
  CheckRejected(Milestone(R"(,"x":nul)"), "x: malformed JSON");
  CheckRejected(Milestone(R"(,"x":01)"), "x: malformed JSON");
  CheckRejected(Milestone(R"(,"x":12abc)"), "x: malformed JSON");
  CheckRejected(ChargesEv(R"({"basis":"quoted","currency":"USD","total":1.})"),
                "charges.total: malformed JSON");
  CheckRejected("[1,2]", "expected a JSON object, got array");
  CheckRejected("\"event\"", "expected a JSON object, got string");
  CheckRejected(Milestone(std::string(",\"order_id\":\"") + "\xff\""), "malformed JSON");
  // The message carries simdjson's own explanation.
  std::string m = ParseError(R"({"kind":"milestone" "status":"DELIVERED"})");
  CHECK(m.find(simdjson::error_message(simdjson::TAPE_ERROR)) != std::string::npos);
}

TEST_CASE("nesting deeper than 16 levels is rejected") {
  auto nested = [](int levels) {
    std::string s;
    for (int i = 0; i < levels; ++i) s += (i % 2 == 0) ? "[" : "{\"k\":";
    for (int i = levels - 1; i >= 0; --i) s += (i % 2 == 0) ? "]" : "}";
    return s;
  };
  // The root object is level 1, so a value of 15 nested containers reaches level 16.
  ParseOk(Milestone(R"(,"x":)" + nested(15)));
  CheckRejected(Milestone(R"(,"x":)" + nested(16)), "x: nesting deeper than 16 levels");
  CheckRejected(Milestone(R"(,"x":)" + nested(5000)), "x: nesting deeper than 16 levels");
  CheckRejected(Milestone(R"(,"location":{"extra":)" + nested(15) + "}"),
                "location.extra: nesting deeper than 16 levels");
}

TEST_CASE("derived event ids") {
  const std::string base =
      R"({"kind":"milestone","occurred_at":"2025-03-01T10:00:00+02:00",)"
      R"("source":{"system":"carrier","format":"x12","partner":"ABCD"},"shipment_id":"S1",)"
      R"("status":"IN_TRANSIT","location":{"unlocode":"USCHI","city":"Chicago"}})";
  Event a = ParseOk(base);
  Event b = ParseOk(base);
  CHECK(a.event_id == b.event_id);
  // The recipe is persisted forever: pin it (computed independently from the documented
  // recipe in event_validate.cc).
  CHECK(a.event_id == "d:70124e415c56208b3b86270bd8810c14bbc538882d109943842c7e2e05d85be4");
  CHECK(DeriveEventId(a) == a.event_id);

  auto id_of = [](std::string json) { return ParseOk(json).event_id; };
  auto replace = [&](std::string_view from, std::string_view to) {
    std::string s = base;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  // Same instant written with another offset: same id.
  CHECK(id_of(replace("2025-03-01T10:00:00+02:00", "2025-03-01T08:00:00Z")) == a.event_id);
  // Key order and unrelated fields do not matter.
  CHECK(id_of(replace(R"("shipment_id":"S1",)", R"("reason_code":"NS","shipment_id":"S1",)")) ==
        a.event_id);
  // Status, time, shipment, partner and location do.
  std::set<std::string> ids = {
      a.event_id,
      id_of(replace("IN_TRANSIT", "DELIVERED")),
      id_of(replace("10:00:00+02:00", "10:00:01+02:00")),
      id_of(replace("10:00:00+02:00", "10:00:00.000000001+02:00")),
      id_of(replace(R"("S1")", R"("S2")")),
      id_of(replace("ABCD", "WXYZ")),
      id_of(replace("USCHI", "USNYC")),
      id_of(replace(R"("format":"x12",)", "")),
  };
  CHECK(ids.size() == 8);

  // Different kinds at the same time do not collide; estimates differ by estimated_at.
  const std::string est =
      R"({"kind":"estimate","occurred_at":"2025-03-01T08:00:00Z","source":{"system":"carrier"},)"
      R"("shipment_id":"S1","estimate":{"estimated_at":"2025-03-03T00:00:00Z","of":"delivery"}})";
  std::string est2 = est;
  est2.replace(est2.find("03T00"), 5, "04T00");
  std::string doc1 = Ev("document", R"(,"document":{"type":"bill_of_lading"})");
  std::string doc2 = Ev("document", R"(,"document":{"type":"proof_of_delivery"})");
  std::string ch1 = ChargesEv(R"({"basis":"quoted","currency":"USD","total":"1.00"})");
  std::string ch2 = ChargesEv(R"({"basis":"invoiced","currency":"USD","total":"1.00"})");
  std::string ch3 = ChargesEv(R"({"basis":"quoted","currency":"USD","total":"2.00"})");
  std::set<std::string> kinds = {id_of(est),
                                 id_of(est2),
                                 id_of(doc1),
                                 id_of(doc2),
                                 id_of(ch1),
                                 id_of(ch2),
                                 id_of(ch3),
                                 id_of(Ev("order", "")),
                                 id_of(Ev("milestone", R"(,"source_code":"X6")"))};
  CHECK(kinds.size() == 9);

  // A given event_id is kept as is.
  CHECK(ParseOk(Milestone(R"(,"event_id":"MSG-1")")).event_id == "MSG-1");
}

TEST_CASE("offsets") {
  Event e = ParseOk(
      R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T10:00:00+02:00",)"
      R"("source":{"system":"tms"},"shipment_id":"S1"})");
  CHECK(e.occurred_at == kT0);
  CHECK(e.occurred_offset_minutes == 120);
  std::string out = EventToJson(e);
  CHECK(out.find(R"("occurred_at":"2025-03-01T08:00:00Z","occurred_offset":"+02:00")") !=
        std::string::npos);
  // Our own export form (UTC plus the original offset) reads back to the same event.
  CHECK(ParseOk(out) == e);

  Event neg = ParseOk(
      R"({"kind":"milestone","status":"DELIVERED","occurred_at":"2025-03-01T03:00:00-05:00",)"
      R"("occurred_offset":"-05:00","source":{"system":"tms"},"shipment_id":"S1"})");
  CHECK(neg.occurred_at == kT0);
  CHECK(neg.occurred_offset_minutes == -300);
  CHECK(EventToJson(neg).find(R"("occurred_offset":"-05:00")") != std::string::npos);

  Event utc = ParseOk(Milestone());
  CHECK(utc.occurred_offset_minutes == 0);

  // issued_at defaults to occurred_at.
  Event est = ParseOk(Ev("estimate", R"(,"estimate":{"estimated_at":"2025-03-03T00:00:00+01:00",)"
                                     R"("of":"arrival"})"));
  CHECK(est.estimate->issued_at == kT0);
  CHECK(est.estimate->estimated_at == kT0 + 39 * kHour);
}

TEST_CASE("string escaping: bytes that are not UTF-8 become U+FFFD, so the JSON stays valid") {
  auto json = [](std::string_view s) {
    std::string out = "x";  // appended after what is there
    AppendJsonString(s, &out);
    return out.substr(1);
  };
  // Stray continuation byte, lone lead byte, overlong '/', a UTF-16 surrogate, past U+10FFFF,
  // a sequence cut short at the end; valid sequences around them are kept.
  CHECK(json("a\x80"
             "b") == "\"a\\ufffdb\"");
  CHECK(json("\xc3") == "\"\\ufffd\"");
  CHECK(json("\xc0\xaf") == "\"\\ufffd\\ufffd\"");
  CHECK(json("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");
  CHECK(json("\xf4\x90\x80\x80") == "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
  CHECK(json("\xc3\xbc\xff\"\n\xe4\xb8") == "\"\xc3\xbc\\ufffd\\\"\\u000a\\ufffd\\ufffd\"");
  CHECK(json("\xf0\x9f\x98\x80\xfe") == "\"\xf0\x9f\x98\x80\\ufffd\"");
  // Random bytes always give JSON a strict parser accepts.
  std::mt19937 rng(5);
  for (int round = 0; round < 200; ++round) {
    std::string bytes(static_cast<std::size_t>(rng() % 64), '\0');
    for (auto& c : bytes) c = static_cast<char>(rng() & 0xff);
    const std::string text = "[" + json(bytes) + "]";
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    CHECK(parser.parse(text).get(doc) == simdjson::SUCCESS);
  }
}

TEST_CASE("string escaping") {
  std::string out;
  AppendJsonString("a\"b\\c\n\t\x01\x1f/\x7f Z\xc3\xbcrich \xe4\xb8\xad", &out);
  CHECK(out == "\"a\\\"b\\\\c\\u000a\\u0009\\u0001\\u001f/\x7f Z\xc3\xbcrich \xe4\xb8\xad\"");

  Event e = ParseOk(Milestone(R"(,"order_id":"O \"quoted\" \\ back\/slash \u00fc \ud83d\ude00",)"
                              R"("location":{"name":"Line1\nLine2\tTabbed"},"reason_code":"é")"));
  CHECK(*e.order_id == "O \"quoted\" \\ back/slash \xc3\xbc \xf0\x9f\x98\x80");
  CHECK(*e.location->name == "Line1\nLine2\tTabbed");
  std::string json = EventToJson(e);
  CHECK(json.find(R"("order_id":"O \"quoted\" \\ back/slash )") != std::string::npos);
  CHECK(json.find(R"("name":"Line1\u000aLine2\u0009Tabbed")") != std::string::npos);
  CHECK(ParseOk(json) == e);
}

class Gen {
 public:
  explicit Gen(std::uint64_t seed) : rng_(seed) {}

  std::int64_t Int(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  }
  bool Coin(int percent = 50) { return Int(0, 99) < percent; }
  double Real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }

  std::string Id(bool text = false) {
    static const std::vector<std::string> kPieces = {"A",
                                                     "z",
                                                     "0",
                                                     "9",
                                                     "-",
                                                     "_",
                                                     "/",
                                                     ":",
                                                     " ",
                                                     "\"",
                                                     "\\",
                                                     "'",
                                                     "{",
                                                     "}",
                                                     "\xc3\xbc",
                                                     "\xe4\xb8\xad",
                                                     "\xf0\x9f\x98\x80"};
    std::string s;
    const int n = static_cast<int>(Int(1, 24));
    for (int i = 0; i < n; ++i) {
      std::string piece =
          kPieces[static_cast<std::size_t>(Int(0, static_cast<std::int64_t>(kPieces.size()) - 1))];
      if (text && Coin(10)) piece = Coin() ? "\n" : "\t";
      s += piece;
    }
    return s;
  }
  std::optional<std::string> MaybeId(bool text = false) {
    if (Coin()) return std::nullopt;
    return Id(text);
  }
  std::string Upper(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>('A' + Int(0, 25));
    return s;
  }
  // Years ~1900-2200, with random nanoseconds.
  UnixNanos Time() { return Int(-2208988800LL, 7258118400LL) * 1000000000LL + Int(0, 999999999); }
  std::string Currency() {
    static const char* kCodes[] = {"USD", "EUR", "JPY", "KWD", "GBP", "CLF"};
    return kCodes[Int(0, 5)];
  }

  Location Loc() {
    Location l;
    do {
      if (Coin()) l.name = Id(true);
      if (Coin()) l.city = Id(true);
      if (Coin()) l.region = Id(true);
      if (Coin()) l.country = Upper(2);
      if (Coin()) l.unlocode = Upper(2) + Upper(1) + std::to_string(Int(10, 99));
      if (Coin()) l.lat = Real(-90, 90);
      if (Coin()) l.lon = Real(-180, 180);
      if (Coin(5)) l.lat = Coin() ? 90.0 : -0.0;
    } while (l == Location{});
    return l;
  }

  Event RandomEvent() {
    Event e;
    e.event_id = Id();
    e.kind = static_cast<EventKind>(Int(1, 5));
    e.occurred_at = Time();
    e.occurred_offset_minutes = static_cast<std::int32_t>(Int(-(23 * 60 + 59), 23 * 60 + 59));
    e.source.system = static_cast<SourceSystem>(Int(1, 4));
    e.source.format = Id();
    e.source.partner = MaybeId();
    e.shipment_id = Id();
    e.order_id = MaybeId();
    e.customer_id = MaybeId();
    e.carrier = MaybeId();
    const int refs = static_cast<int>(Int(0, 3));
    for (int i = 0; i < refs; ++i) e.references.push_back({Id(), Id()});
    if (Coin(70)) e.status = static_cast<ShipmentStatus>(Int(1, 11));
    e.source_code = MaybeId();
    if (e.kind == EventKind::kMilestone && !e.status && !e.source_code) e.source_code = Id();
    e.reason_code = MaybeId();
    if (Coin()) e.location = Loc();
    switch (e.kind) {
      case EventKind::kEstimate:
        e.estimate = Estimate{Time(), static_cast<EstimateOf>(Int(1, 4)), Time()};
        break;
      case EventKind::kCharges: {
        Charges ch;
        ch.basis = static_cast<ChargeBasis>(Int(1, 3));
        if (Coin()) ch.document = Id();
        ch.currency = Currency();
        bool any = false;
        const int lines = static_cast<int>(Int(0, 5));
        for (int i = 0; i < lines; ++i) {
          ChargeLine l;
          l.code = Id();
          if (Coin()) l.description = Id(true);
          l.currency = Coin(70) ? ch.currency : Currency();
          l.amount = Int(-1000000000000LL, 1000000000000LL);
          if (l.currency == ch.currency) {
            ch.total += l.amount;
            any = true;
          }
          ch.lines.push_back(l);
        }
        if (!any) ch.total = Int(-1000000000LL, 1000000000LL);
        e.charges = ch;
        break;
      }
      case EventKind::kOrder:
        if (Coin(80)) {
          OrderBody o;
          if (Coin()) o.ship_to = Loc();
          if (Coin()) {
            Promise p;
            do {
              if (Coin()) {
                char buf[16];
                std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", static_cast<int>(Int(1, 9999)),
                              static_cast<int>(Int(1, 12)), static_cast<int>(Int(1, 28)));
                p.date = buf;
              }
              if (Coin()) p.window_start = Time();
              if (Coin()) p.window_end = Time();
              if (p.window_start && p.window_end && *p.window_end < *p.window_start) {
                std::swap(*p.window_start, *p.window_end);
              }
            } while (p == Promise{});
            o.promised = p;
          }
          e.order = o;
        }
        break;
      case EventKind::kDocument:
        e.document = DocumentBody{Id(), MaybeId()};
        break;
      case EventKind::kMilestone:
        break;
    }
    if (Coin()) e.correlation_id = Id();
    FillCorrelationId(&e);
    return e;
  }

 private:
  std::mt19937_64 rng_;
};

TEST_CASE("randomized events survive JSON and back") {
  Gen gen(20250301);
  EventJsonParser parser;  // one parser reused, as in production
  for (int i = 0; i < 3000; ++i) {
    Event e = gen.RandomEvent();
    Status valid = ValidateEvent(e);
    INFO("event ", i, ": ", valid.message());
    REQUIRE(valid.ok());
    std::string json = EventToJson(e);
    Result<Event> back = parser.Parse(json);
    INFO("json: ", json);
    INFO("error: ", back.status().message());
    REQUIRE(back.ok());
    CHECK(*back == e);
    CHECK(EventToJson(*back) == json);
  }
}

TEST_CASE("an exported event parses back to the same content bytes and ledger fields") {
  Gen gen(20251128);
  std::mt19937_64 rng(7);
  EventJsonParser parser;
  for (int i = 0; i < 2000; ++i) {
    Event e = gen.RandomEvent();
    if (i % 3 == 0) e.correlation_id.reset();  // stored without one: nothing may fill it in
    if (i % 2 == 0) e.source.principal = "local:user" + std::to_string(i);
    if (i % 4 != 0) {
      for (auto& b : e.raw_hash) b = static_cast<std::uint8_t>(rng());
    }
    e.ledger.seq = 1 + rng() % 1000000;
    e.ledger.recorded_at = kT0 + static_cast<UnixNanos>(rng() % 1000000000000);
    for (auto& b : e.ledger.prev_hash) b = static_cast<std::uint8_t>(rng());
    for (auto& b : e.ledger.hash) b = static_cast<std::uint8_t>(rng());
    REQUIRE(ValidateEvent(e).ok());
    const std::string json = EventToJson(e);
    Result<Event> back = parser.ParseExported(json);
    INFO("json: ", json);
    INFO("error: ", back.status().message());
    REQUIRE(back.ok());
    CHECK(*back == e);
    CHECK(EncodeEventContent(*back) == EncodeEventContent(e));
  }
}

TEST_CASE("an export line carries all four ledger fields or none; Parse still ignores them") {
  EventJsonParser parser;
  Event e = KitchenSink();
  e.references.clear();
  e.kind = EventKind::kMilestone;
  e.estimate.reset();
  e.charges.reset();
  e.order.reset();
  e.document.reset();
  REQUIRE(ValidateEvent(e).ok());
  const std::string json = EventToJson(e);
  auto exported = parser.ParseExported(json);
  REQUIRE(exported.ok());
  CHECK(exported->ledger == e.ledger);
  CHECK(exported->source.principal == e.source.principal);
  auto plain = parser.Parse(json);
  REQUIRE(plain.ok());
  CHECK(plain->ledger == LedgerFields{});
  CHECK_FALSE(plain->source.principal.has_value());

  std::string no_hash = json;
  no_hash.erase(no_hash.find(R"(,"hash":)"));
  no_hash += "}";
  auto partial = parser.ParseExported(no_hash);
  REQUIRE_FALSE(partial.ok());
  CHECK(partial.status().message().find("go together") != std::string::npos);

  Event none = ParseOk(Milestone());
  auto without = parser.ParseExported(EventToJson(none));
  REQUIRE(without.ok());
  CHECK(without->ledger.seq == 0);

  std::string bad_seq = json;
  bad_seq.replace(0, bad_seq.find(','), R"({"seq":0)");
  auto zero = parser.ParseExported(bad_seq);
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.status().message().find("seq: 0 is not a sequence") != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The writer and event.schema.json agree on every key.

simdjson::dom::element Resolve(simdjson::dom::element root, simdjson::dom::element schema) {
  std::string_view ref;
  if (schema["$ref"].get(ref) == simdjson::SUCCESS) {
    REQUIRE(ref.substr(0, 2) == "#/");
    simdjson::dom::element target;
    REQUIRE(root.at_pointer(ref.substr(1)).get(target) == simdjson::SUCCESS);
    return Resolve(root, target);
  }
  return schema;
}

void CheckKeysInSchema(simdjson::dom::element root, simdjson::dom::element schema,
                       simdjson::dom::element value, const std::string& path, int* checked) {
  schema = Resolve(root, schema);
  simdjson::dom::object obj;
  simdjson::dom::array arr;
  if (value.get(obj) == simdjson::SUCCESS) {
    simdjson::dom::object props;
    INFO("path: ", path);
    REQUIRE(schema["properties"].get(props) == simdjson::SUCCESS);
    for (auto [key, child] : obj) {
      simdjson::dom::element sub;
      INFO("key: ", path, key);
      CHECK(props[key].get(sub) == simdjson::SUCCESS);
      ++*checked;
      if (props[key].get(sub) == simdjson::SUCCESS) {
        CheckKeysInSchema(root, sub, child, path + std::string(key) + ".", checked);
      }
    }
  } else if (value.get(arr) == simdjson::SUCCESS) {
    simdjson::dom::element items;
    REQUIRE(schema["items"].get(items) == simdjson::SUCCESS);
    for (simdjson::dom::element child : arr) {
      CheckKeysInSchema(root, items, child, path + "[].", checked);
    }
  }
}

TEST_CASE("every key the writer emits is a property in event.schema.json") {
  const char* dir = std::getenv("WAYBILL_SOURCE_DIR");
  REQUIRE_MESSAGE(dir != nullptr, "WAYBILL_SOURCE_DIR is not set (CTest sets it)");
  simdjson::padded_string schema_text;
  REQUIRE(simdjson::padded_string::load(std::string(dir) + "/schemas/event.schema.json")
              .get(schema_text) == simdjson::SUCCESS);
  simdjson::dom::parser schema_parser;
  simdjson::dom::element schema;
  REQUIRE(schema_parser.parse(schema_text).get(schema) == simdjson::SUCCESS);

  simdjson::dom::array required;
  REQUIRE(schema["required"].get(required) == simdjson::SUCCESS);
  std::set<std::string> required_keys;
  for (simdjson::dom::element r : required)
    required_keys.insert(std::string(r.get_string().value()));
  CHECK(required_keys == std::set<std::string>{"event_id", "kind", "schema_version", "occurred_at",
                                               "source", "shipment_id"});

  simdjson::dom::parser event_parser;
  int checked = 0;
  for (const std::string& json : {EventToJson(KitchenSink()), EventToJson(ParseOk(Milestone()))}) {
    simdjson::dom::element value;
    REQUIRE(event_parser.parse(json).get(value) == simdjson::SUCCESS);
    CheckKeysInSchema(schema, schema, value, "", &checked);
  }
  CHECK(checked > 60);
}

}  // namespace
}  // namespace waybill
