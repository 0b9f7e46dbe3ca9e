// The x12 adapter on fixtures written from the 004010 standard (tests/fixtures/x12/).
#include <doctest/doctest.h>

#include <set>

#include "ingest/x12/x12_envelope.h"
#include "ingest/x12/x12_test_util.h"
#include "schemas/event_validate.h"
#include "schemas/time.h"

namespace waybill::ingest {
namespace {

using x12_test::AcmeProfiles;
using x12_test::Errors;
using x12_test::Fixture;
using x12_test::HasError;
using x12_test::MapX12;

std::string Utc(UnixNanos t) { return FormatUtc(t); }

bool HasRef(const Event& e, const std::string& type, const std::string& value) {
  for (const Reference& r : e.references) {
    if (r.type == type && r.value == value) return true;
  }
  return false;
}

void CheckCommon(const Event& e) {
  CHECK(ValidateEvent(e).ok());
  CHECK(e.source.format == "x12");
  CHECK(e.event_id.rfind("d:", 0) == 0);
  CHECK(e.event_id == DeriveEventId(e));
  CHECK(e.correlation_id.has_value());
  CHECK(IsZero(e.raw_hash));
  CHECK_FALSE(e.source.principal.has_value());
}

TEST_CASE("214: statuses, locations, equipment and references; a broken set alone is rejected") {
  const std::string doc = Fixture("214_statuses.x12");
  const auto msgs = MapX12(doc);
  REQUIRE(msgs.size() == 3);
  CHECK(msgs[0].position == "ISA 000000101/GS 101/ST 0001");
  CHECK(msgs[1].position == "ISA 000000101/GS 101/ST 0002");
  CHECK(msgs[2].position == "ISA 000000101/GS 101/ST 0003");
  // The unit is the whole interchange, ISA to IEA.
  CHECK(msgs[0].unit.substr(0, 4) == "ISA*");
  CHECK(msgs[0].unit.substr(msgs[0].unit.size() - 16) == "IEA*1*000000101~");
  CHECK(msgs[2].unit == msgs[0].unit);

  REQUIRE_MESSAGE(msgs[0].errors.empty(), Errors(msgs[0]));
  const auto& ev = msgs[0].events;
  REQUIRE(ev.size() == 4);
  for (const Event& e : ev) {
    CheckCommon(e);
    CHECK(e.kind == EventKind::kMilestone);
    CHECK(e.shipment_id == "SHIP-1001");
    CHECK(e.carrier == "ACME");
    CHECK(e.source.system == SourceSystem::kCarrier);
    CHECK(e.source.partner == "ACMEFREIGHT");  // ISA06, trimmed
    CHECK(e.correlation_id == "SHIP-1001");
    CHECK(HasRef(e, "PRO", "PRO123456"));
    CHECK(HasRef(e, "SCAC", "ACME"));
    CHECK(HasRef(e, "BM", "BOL-778899"));
    CHECK(HasRef(e, "PO", "PO-5501"));
    CHECK_FALSE(e.reason_code.has_value());  // NS = normal status
  }
  // X3 at 08:15 CDT (daylight time began 2025-03-09).
  CHECK(ev[0].status == ShipmentStatus::kAtPickup);
  CHECK(ev[0].source_code == "X3");
  CHECK(Utc(ev[0].occurred_at) == "2025-03-10T13:15:00Z");
  CHECK(ev[0].occurred_offset_minutes == -300);
  REQUIRE(ev[0].location.has_value());
  CHECK(ev[0].location->city == "CHICAGO");
  CHECK(ev[0].location->region == "IL");
  CHECK(ev[0].location->country == "US");
  CHECK(HasRef(ev[0], "EQUIPMENT", "ACMETRL0042"));
  // AF has no MS1/MS2 of its own: it takes its LX loop's.
  CHECK(ev[1].status == ShipmentStatus::kInTransit);
  CHECK(Utc(ev[1].occurred_at) == "2025-03-10T14:30:00Z");
  REQUIRE(ev[1].location.has_value());
  CHECK(ev[1].location->city == "CHICAGO");
  CHECK(HasRef(ev[1], "EQUIPMENT", "ACMETRL0042"));
  // D1 in Eastern time; MS103 "USA" becomes "US"; the loop's own L11 is added.
  CHECK(ev[2].status == ShipmentStatus::kDelivered);
  CHECK(Utc(ev[2].occurred_at) == "2025-03-11T18:05:00Z");
  CHECK(ev[2].occurred_offset_minutes == -240);
  CHECK(ev[2].location->city == "NEW YORK");
  CHECK(ev[2].location->country == "US");
  CHECK(HasRef(ev[2], "DO", "DEL-1"));
  CHECK_FALSE(HasRef(ev[2], "EQUIPMENT", "ACMETRL0042"));
  CHECK_FALSE(HasRef(ev[0], "DO", "DEL-1"));
  // Out of order: CP comes last in the file but happened before AF.
  CHECK(ev[3].status == ShipmentStatus::kPickedUp);
  CHECK(Utc(ev[3].occurred_at) == "2025-03-10T13:45:00Z");
  CHECK(ev[3].occurred_at < ev[1].occurred_at);
  std::set<std::string> ids;
  for (const Event& e : ev) ids.insert(e.event_id);
  CHECK(ids.size() == 4);

  REQUIRE_MESSAGE(msgs[1].errors.empty(), Errors(msgs[1]));
  REQUIRE(msgs[1].events.size() == 1);
  CHECK(msgs[1].events[0].shipment_id == "SHIP-1002");
  CHECK(Utc(msgs[1].events[0].occurred_at) == "2025-03-10T12:00:00Z");

  CHECK(msgs[2].rejected());
  CHECK(msgs[2].events.empty());
  CHECK_MESSAGE(HasError(msgs[2],
                         "SE (segment 5) element 01: segment count \"6\" does not match "
                         "the 5 segments from ST to SE"),
                Errors(msgs[2]));
}

struct TimeCase {
  const char* utc;
  int offset;
};

TEST_CASE("214: every time code, daylight saving changes, seconds and LT with a profile") {
  const std::string doc = Fixture("214_time_codes.x12");
  const PartnerProfiles profiles = AcmeProfiles();
  const auto msgs = MapX12(doc, profiles);
  REQUIRE(msgs.size() == 1);
  REQUIRE_MESSAGE(msgs[0].errors.empty(), Errors(msgs[0]));
  const TimeCase expected[] = {
      {"2025-01-15T12:00:00Z", 0},     // UT
      {"2025-01-15T12:01:00Z", 0},     // GM
      {"2025-01-15T17:02:00Z", -300},  // ET, winter
      {"2025-01-15T18:03:00Z", -360},  // CT
      {"2025-01-15T19:04:00Z", -420},  // MT
      {"2025-01-15T20:05:00Z", -480},  // PT
      {"2025-07-15T16:06:00Z", -240},  // ET, summer
      {"2025-07-15T17:07:00Z", -300},  // CT
      {"2025-07-15T18:08:00Z", -360},  // MT
      {"2025-07-15T19:09:00Z", -420},  // PT
      {"2025-01-15T17:10:00Z", -300},  // ES
      {"2025-01-15T16:11:00Z", -240},  // ED: a fixed offset, even in January
      {"2025-01-15T18:12:00Z", -360},  // CS
      {"2025-01-15T17:13:00Z", -300},  // CD
      {"2025-01-15T19:14:00Z", -420},  // MS
      {"2025-01-15T18:15:00Z", -360},  // MD
      {"2025-01-15T20:16:00Z", -480},  // PS
      {"2025-01-15T19:17:00Z", -420},  // PD
      {"2025-01-15T12:18:00Z", 0},     // no time code: the envelope zone (UTC)
      {"2025-03-09T08:30:00Z", -360},  // CT 02:30 in the spring-forward gap: pre-gap offset
      {"2025-03-09T08:00:00Z", -300},  // CT 03:00 right after the gap
      {"2025-11-02T06:30:00Z", -300},  // CT 01:30 ambiguous: the earlier (CDT) instant
      {"2025-11-02T08:30:00Z", -360},  // CT 02:30 after falling back
      {"2025-01-15T12:19:30Z", 0},     // HHMMSS
      {"2025-01-15T18:20:00Z", -360},  // LT: the profile's America/Chicago
  };
  const auto& ev = msgs[0].events;
  REQUIRE(ev.size() == std::size(expected));
  std::set<std::string> ids;
  for (std::size_t i = 0; i < ev.size(); ++i) {
    CAPTURE(i);
    CheckCommon(ev[i]);
    CHECK(ev[i].status == ShipmentStatus::kInTransit);
    CHECK(Utc(ev[i].occurred_at) == expected[i].utc);
    CHECK(ev[i].occurred_offset_minutes == expected[i].offset);
    ids.insert(ev[i].event_id);
  }
  CHECK(ids.size() == ev.size());
}

TEST_CASE("214: LT without a configured zone rejects the set with a clear reason") {
  const std::string doc = Fixture("214_time_codes.x12");
  SUBCASE("no profile at all") {
    const auto msgs = MapX12(doc);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].events.empty());
    REQUIRE(msgs[0].errors.size() == 1);
    CHECK(msgs[0].errors[0] ==
          "AT7 (segment 28) element 07: time code \"LT\" (local time) needs the partner's time "
          "zone, but partner \"ACMEFREIGHT\" has no partner profile; configure its time_zone in "
          "the partner profiles");
  }
  SUBCASE("a profile without time_zone") {
    PartnerProfiles profiles;
    PartnerProfile p;
    p.id = "ACMEFREIGHT";
    profiles.Add(p);
    const auto msgs = MapX12(doc, profiles);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].events.empty());
    CHECK_MESSAGE(HasError(msgs[0],
                           "AT7 (segment 28) element 07: time code \"LT\" (local time) "
                           "needs the partner's time zone, but the profile of partner "
                           "\"ACMEFREIGHT\" has no time_zone configured"),
                  Errors(msgs[0]));
  }
  SUBCASE("a profile found through ctx.partner") {
    PartnerProfiles profiles;
    PartnerProfile p;
    p.id = "TOKYO";
    p.time_zone = "Asia/Tokyo";
    profiles.Add(p);
    const auto msgs = MapX12(doc, profiles, std::string("TOKYO"));
    REQUIRE(msgs.size() == 1);
    REQUIRE_MESSAGE(msgs[0].errors.empty(), Errors(msgs[0]));
    const Event& lt = msgs[0].events.back();
    CHECK(lt.source.partner == "TOKYO");
    CHECK(Utc(lt.occurred_at) == "2025-01-15T03:20:00Z");
    CHECK(lt.occurred_offset_minutes == 540);
  }
}

TEST_CASE("214: exceptions, delays, estimates, appointments and unknown codes") {
  const std::string doc = Fixture("214_exceptions.x12");
  const auto msgs = MapX12(doc);
  REQUIRE(msgs.size() == 1);
  REQUIRE_MESSAGE(msgs[0].errors.empty(), Errors(msgs[0]));
  const auto& ev = msgs[0].events;
  REQUIRE(ev.size() == 8);
  for (const Event& e : ev) {
    CheckCommon(e);
    REQUIRE(e.location.has_value());  // the loop's MS1
    CHECK(e.location->city == "MEMPHIS");
  }
  // SD: DELAYED, with its AT702 reason.
  CHECK(ev[0].kind == EventKind::kMilestone);
  CHECK(ev[0].status == ShipmentStatus::kDelayed);
  CHECK(ev[0].source_code == "SD");
  CHECK(ev[0].reason_code == "AF");
  CHECK(Utc(ev[0].occurred_at) == "2025-03-12T12:00:00Z");
  // Exceptions keep their code and reason, without a status.
  CHECK(ev[1].kind == EventKind::kMilestone);
  CHECK_FALSE(ev[1].status.has_value());
  CHECK(ev[1].source_code == "A9");
  CHECK(ev[1].reason_code == "BG");
  CHECK_FALSE(ev[2].status.has_value());
  CHECK(ev[2].source_code == "AH");
  CHECK_FALSE(ev[2].reason_code.has_value());
  // AG and X2 are estimates issued at the GS date/time, never statuses.
  for (int i : {3, 4}) {
    CAPTURE(i);
    CHECK(ev[i].kind == EventKind::kEstimate);
    CHECK_FALSE(ev[i].status.has_value());
    REQUIRE(ev[i].estimate.has_value());
    CHECK(ev[i].estimate->of == EstimateOf::kDelivery);
    CHECK(Utc(ev[i].estimate->issued_at) == "2025-03-12T09:00:00Z");
    CHECK(Utc(ev[i].occurred_at) == "2025-03-12T09:00:00Z");
    CHECK(ev[i].occurred_offset_minutes == 0);
  }
  CHECK(ev[3].source_code == "AG");
  CHECK(Utc(ev[3].estimate->estimated_at) == "2025-03-14T21:00:00Z");
  CHECK(ev[4].source_code == "X2");
  CHECK(Utc(ev[4].estimate->estimated_at) == "2025-03-14T22:00:00Z");
  CHECK(ev[3].event_id != ev[4].event_id);
  // An appointment-only AT7 is a document event, not a status.
  CHECK(ev[5].kind == EventKind::kDocument);
  CHECK_FALSE(ev[5].status.has_value());
  REQUIRE(ev[5].document.has_value());
  CHECK(ev[5].document->type == "appointment");
  CHECK(ev[5].document->number == "AB");
  CHECK(ev[5].source_code == "AB");
  CHECK(ev[5].reason_code == "NA");
  CHECK(Utc(ev[5].occurred_at) == "2025-03-13T13:00:00Z");
  // Unknown and informational codes: kept with their source code, no status guessed.
  CHECK(ev[6].kind == EventKind::kMilestone);
  CHECK_FALSE(ev[6].status.has_value());
  CHECK(ev[6].source_code == "ZZ");
  CHECK_FALSE(ev[7].status.has_value());
  CHECK(ev[7].source_code == "AM");
}

TEST_CASE("214: missing and malformed fields reject their set, naming segment and element") {
  const std::string doc = Fixture("214_invalid.x12");
  const auto msgs = MapX12(doc);
  REQUIRE(msgs.size() == 10);
  const char* expected[] = {
      "B10: required segment (beginning segment for shipment status) is missing",
      "B10 (segment 2) element 02: required (shipment identification number) but missing",
      "AT7 (segment 4) element 03: only one of AT701 (status) and AT703 (appointment) may be "
      "present",
      "AT7 (segment 4) element 05: \"20251301\" is not a date CCYYMMDD",
      "AT7 (segment 4) element 02: required when AT701 is present (status reason; NS = normal "
      "status)",
      nullptr,  // set 0006 is valid
      "B10 (segment 2) element 03: \"ACMEXX\" (SCAC) is 6 characters long, 2-4 expected",
      "AT7 (segment 4) element 07: time code \"QQ\" is not a known X12 time code",
      "AT7: required segment (a 214 reports its statuses in AT7 segments) is missing",
      "ST (segment 1) element 01: transaction set \"997\" is not supported (204, 210, 214 and "
      "990 are)",
  };
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    CAPTURE(i);
    CAPTURE(Errors(msgs[i]));
    if (expected[i] == nullptr) {
      CHECK(msgs[i].errors.empty());
      REQUIRE(msgs[i].events.size() == 1);
      CHECK(msgs[i].events[0].shipment_id == "SHIP-4006");
    } else {
      CHECK(msgs[i].rejected());
      CHECK(msgs[i].events.empty());
      CHECK(HasError(msgs[i], expected[i]));
    }
  }
}

TEST_CASE("214: the same status re-sent in a new interchange has the same event id") {
  const std::string doc = Fixture("214_resent.x12");
  const auto msgs = MapX12(doc);
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[0].position == "ISA 000000201/GS 201/ST 0001");
  CHECK(msgs[1].position == "ISA 000000202/GS 202/ST 0001");
  CHECK(msgs[0].unit != msgs[1].unit);
  REQUIRE(msgs[0].events.size() == 1);
  REQUIRE(msgs[1].events.size() == 1);
  CHECK(msgs[0].events[0].status == ShipmentStatus::kAtDelivery);
  CHECK(msgs[0].events[0].event_id == msgs[1].events[0].event_id);
  CHECK(msgs[0].events[0] == msgs[1].events[0]);
  // Mapping the same bytes twice gives the same ids (import twice adds nothing).
  const auto again = MapX12(doc);
  CHECK(again[0].events[0].event_id == msgs[0].events[0].event_id);
}

TEST_CASE("broken envelopes reject every set in them, each as its own message") {
  const std::string doc = Fixture("envelope_broken.x12");
  const auto msgs = MapX12(doc);
  REQUIRE(msgs.size() == 7);
  // Interchange 301: IEA02 does not match ISA13; both sets rejected.
  for (int i : {0, 1}) {
    CAPTURE(i);
    CHECK(msgs[i].events.empty());
    CHECK_MESSAGE(HasError(msgs[i],
                           "IEA (interchange segment 14) element 02: control number "
                           "\"000000399\" does not match ISA13 \"000000301\""),
                  Errors(msgs[i]));
  }
  CHECK(msgs[0].position == "ISA 000000301/GS 301/ST 0001");
  CHECK(msgs[1].position == "ISA 000000301/GS 301/ST 0002");
  // Interchange 302 is fine.
  CHECK(msgs[2].position == "ISA 000000302/GS 302/ST 0001");
  REQUIRE_MESSAGE(msgs[2].errors.empty(), Errors(msgs[2]));
  REQUIRE(msgs[2].events.size() == 1);
  CHECK(msgs[2].events[0].shipment_id == "SHIP-6003");
  // GS06 != GE02.
  CHECK(msgs[3].events.empty());
  CHECK_MESSAGE(HasError(msgs[3],
                         "GE (interchange segment 8) element 02: control number \"6\" "
                         "does not match GS06 \"5\""),
                Errors(msgs[3]));
  // IEA01 is not the number of groups.
  CHECK(msgs[4].events.empty());
  CHECK_MESSAGE(HasError(msgs[4],
                         "IEA (interchange segment 9) element 01: number of functional "
                         "groups \"2\" does not match the 1 groups"),
                Errors(msgs[4]));
  // GE01 is not the number of sets: both sets of the group rejected.
  for (int i : {5, 6}) {
    CAPTURE(i);
    CHECK(msgs[i].events.empty());
    CHECK_MESSAGE(HasError(msgs[i],
                           "GE (interchange segment 13) element 01: number of "
                           "transaction sets \"3\" does not match the 2 sets"),
                  Errors(msgs[i]));
  }
}

TEST_CASE("many rejected sets of a large interchange are one rejected message, not N copies") {
  // One good 214 and 300 sets without B10, padded to 256 KiB: 300 copies would be 75 MiB.
  auto build = [](int broken, std::size_t pad) {
    std::string d =
        "ISA*00*          *00*          *ZZ*ACMEFREIGHT    *ZZ*WAYBILL        *250310*1500*U*"
        "00401*000000909*0*P*>~GS*QM*ACMEFREIGHT*WAYBILL*20250310*1500*909*X*004010~"
        "ST*214*0001~B10*PRO1*SHIP-9001*ACME~LX*1~AT7*X6*NS***20250310*1100*UT~SE*5*0001~";
    for (int i = 0; i < broken; ++i) {
      const std::string n = std::to_string(1000 + i);
      d += "ST*214*" + n + "~LX*1~" + (i == 0 ? "NTE*" + std::string(pad, 'Z') + "~" : "") + "SE*" +
           (i == 0 ? "4" : "3") + "*" + n + "~";
    }
    return d + "GE*" + std::to_string(broken + 1) + "*909~IEA*1*000000909~";
  };
  const std::string doc = build(300, 256 << 10);
  const auto msgs = MapX12(doc);
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[0].position == "ISA 000000909/GS 909/ST 0001");
  CHECK_MESSAGE(msgs[0].errors.empty(), Errors(msgs[0]));
  CHECK(msgs[0].events.size() == 1);
  CHECK(msgs[1].position == "ISA 000000909");
  CHECK(msgs[1].unit.size() == doc.size());
  CHECK(msgs[1].events.empty());
  REQUIRE(msgs[1].errors.size() == x12::kMaxErrorsPerMessage + 1);
  CHECK(msgs[1].errors[0].find("300 messages rejected") != std::string::npos);
  CHECK(msgs[1].errors[1].rfind("ISA 000000909/GS 909/ST 1000: ", 0) == 0);
  CHECK(msgs[1].errors.back() == "further errors omitted");
  // Below the budget every rejected set is its own message, as before.
  CHECK(MapX12(build(300, 1000)).size() == 301);
}

TEST_CASE("204: tender with ship-to, delivery window and quoted charges; cancellation") {
  const std::string doc = Fixture("204_tenders.x12");  // '|' elements, newline terminators
  const auto msgs = MapX12(doc);
  REQUIRE(msgs.size() == 4);
  REQUIRE_MESSAGE(msgs[0].errors.empty(), Errors(msgs[0]));
  REQUIRE(msgs[0].events.size() == 2);
  const Event& order = msgs[0].events[0];
  CheckCommon(order);
  CHECK(order.kind == EventKind::kOrder);
  CHECK(order.status == ShipmentStatus::kTendered);
  CHECK(order.source.system == SourceSystem::kTms);
  CHECK(order.source.partner == "SHIPPERTMS");
  CHECK(order.shipment_id == "LOAD-5001");
  CHECK(order.carrier == "ACME");
  CHECK(Utc(order.occurred_at) == "2025-03-18T14:30:00Z");  // GS date/time, UTC
  CHECK(order.occurred_offset_minutes == 0);
  CHECK(HasRef(order, "PO", "PO-9001"));
  CHECK(HasRef(order, "BM", "BOL-9001"));
  CHECK(HasRef(order, "DO", "DLV-1"));
  REQUIRE(order.order.has_value());
  REQUIRE(order.order->ship_to.has_value());
  CHECK(order.order->ship_to->name == "WIDGETS INC DC");
  CHECK(order.order->ship_to->city == "NEWARK");
  CHECK(order.order->ship_to->region == "NJ");
  CHECK(order.order->ship_to->country == "US");
  REQUIRE(order.order->promised.has_value());
  REQUIRE(order.order->promised->window_start.has_value());
  REQUIRE(order.order->promised->window_end.has_value());
  CHECK(Utc(*order.order->promised->window_start) == "2025-03-22T13:00:00Z");  // 09:00 EDT
  CHECK(Utc(*order.order->promised->window_end) == "2025-03-22T21:00:00Z");    // 17:00 EDT
  CHECK_FALSE(order.order->promised->date.has_value());

  const Event& quoted = msgs[0].events[1];
  CheckCommon(quoted);
  CHECK(quoted.kind == EventKind::kCharges);
  REQUIRE(quoted.charges.has_value());
  CHECK(quoted.charges->basis == ChargeBasis::kQuoted);
  CHECK(quoted.charges->currency == "USD");
  CHECK(quoted.charges->total == 185050);  // L305 "185050" = 1850.50
  CHECK(quoted.charges->lines.empty());
  CHECK(quoted.event_id != order.event_id);

  REQUIRE_MESSAGE(msgs[1].errors.empty(), Errors(msgs[1]));
  REQUIRE(msgs[1].events.size() == 1);
  CHECK(msgs[1].events[0].kind == EventKind::kMilestone);
  CHECK(msgs[1].events[0].status == ShipmentStatus::kCancelled);

  REQUIRE_MESSAGE(msgs[2].errors.empty(), Errors(msgs[2]));
  REQUIRE(msgs[2].events.size() == 2);
  const Event& order3 = msgs[2].events[0];
  REQUIRE(order3.order.has_value());
  CHECK(order3.order->ship_to->name == "RETAIL STORE 12");
  CHECK(order3.order->ship_to->country == "US");
  REQUIRE(order3.order->promised.has_value());
  CHECK(order3.order->promised->date == "2025-03-25");  // a date-only requested delivery
  CHECK_FALSE(order3.order->promised->window_start.has_value());
  const Charges& ch = *msgs[2].events[1].charges;
  CHECK(ch.total == 185050);
  REQUIRE(ch.lines.size() == 2);
  CHECK(ch.lines[0].code == "400");  // no L108: Freight
  CHECK(ch.lines[0].amount == 150000);
  CHECK(ch.lines[1].code == "405");
  CHECK(ch.lines[1].amount == 35050);
  CHECK(ch.lines[1].description == "FUEL SURCHARGE");

  CHECK(msgs[3].events.empty());
  CHECK_MESSAGE(HasError(msgs[3],
                         "L3 (segment 6) element 05: total charge 1900.00 USD does not "
                         "equal the sum of the L1 charges 1850.50 USD"),
                Errors(msgs[3]));
}

TEST_CASE("990: accepted and declined tenders; other actions are rejected") {
  const std::string doc = Fixture("990_responses.x12");
  const auto msgs = MapX12(doc);
  REQUIRE(msgs.size() == 4);
  REQUIRE_MESSAGE(msgs[0].errors.empty(), Errors(msgs[0]));
  const Event& a = msgs[0].events.at(0);
  CheckCommon(a);
  CHECK(a.status == ShipmentStatus::kTenderAccepted);
  CHECK(a.source_code == "A");
  CHECK(a.shipment_id == "LOAD-5001");
  CHECK(a.carrier == "ACME");
  CHECK(Utc(a.occurred_at) == "2025-03-19T10:15:00Z");
  const Event& d = msgs[1].events.at(0);
  CHECK(d.status == ShipmentStatus::kTenderDeclined);
  CHECK(Utc(d.occurred_at) == "2025-03-18T10:15:00Z");  // B103 date, GS time of day
  CHECK(msgs[2].events.empty());
  CHECK_MESSAGE(HasError(msgs[2],
                         "B1 (segment 2) element 04: \"X\" is not a tender response "
                         "(A = accepted, D = declined)"),
                Errors(msgs[2]));
  REQUIRE_MESSAGE(msgs[3].errors.empty(), Errors(msgs[3]));
  const Event& nodate = msgs[3].events.at(0);
  CHECK(Utc(nodate.occurred_at) == "2025-03-19T10:15:00Z");  // GS date/time
  CHECK(HasRef(nodate, "CN", "CARRREF1"));
}

TEST_CASE("210: invoices in N2 amounts, currencies and totals that must add up") {
  const std::string doc = Fixture("210_invoices.x12");
  const auto msgs = MapX12(doc);
  REQUIRE(msgs.size() == 6);
  REQUIRE_MESSAGE(msgs[0].errors.empty(), Errors(msgs[0]));
  const Event& usd = msgs[0].events.at(0);
  CheckCommon(usd);
  CHECK(usd.kind == EventKind::kCharges);
  CHECK(usd.shipment_id == "SHIP-1001");
  CHECK(usd.carrier == "ACME");
  CHECK(Utc(usd.occurred_at) == "2025-03-24T00:00:00Z");  // B306, envelope zone
  CHECK(HasRef(usd, "BM", "BOL-778899"));
  REQUIRE(usd.charges.has_value());
  CHECK(usd.charges->basis == ChargeBasis::kInvoiced);
  CHECK(usd.charges->document == "INV-7001");
  CHECK(usd.charges->currency == "USD");
  CHECK(usd.charges->total == 202575);  // "202575" = 2025.75
  REQUIRE(usd.charges->lines.size() == 2);
  CHECK(usd.charges->lines[0].code == "400");
  CHECK(usd.charges->lines[0].amount == 150000);
  CHECK(usd.charges->lines[1].code == "405");
  CHECK(usd.charges->lines[1].amount == 52575);
  CHECK(usd.charges->lines[1].description == "FUEL SURCHARGE");

  REQUIRE_MESSAGE(msgs[1].errors.empty(), Errors(msgs[1]));
  const Charges& jpy = *msgs[1].events.at(0).charges;
  CHECK(jpy.currency == "JPY");
  CHECK(jpy.total == 150000);  // "15000000" N2 = 150000.00 JPY = 150000 yen
  CHECK(jpy.lines.at(0).amount == 120000);
  CHECK(jpy.lines.at(1).amount == 30000);

  CHECK(msgs[2].events.empty());
  CHECK_MESSAGE(HasError(msgs[2],
                         "B3 (segment 2) element 07: net amount due 2100.00 USD does "
                         "not equal the sum of the L1 charges 2025.75 USD (L305 total "
                         "charge: 1999.00 USD)"),
                Errors(msgs[2]));
  CHECK_MESSAGE(HasError(msgs[2],
                         "L3 (segment 7) element 05: total charge 1999.00 USD does not "
                         "equal the sum of the L1 charges 2025.75 USD (B307 net amount "
                         "due: 2100.00 USD)"),
                Errors(msgs[2]));

  CHECK(msgs[3].events.empty());
  CHECK_MESSAGE(HasError(msgs[3],
                         "L1 (segment 4) element 04: \"12A50\" (charge) is not an N2 "
                         "amount"),
                Errors(msgs[3]));
  CHECK(msgs[4].events.empty());
  CHECK_MESSAGE(HasError(msgs[4],
                         "L1 (segment 5) element 04: N2 amount 150000.50 has a fraction "
                         "that JPY (0 decimals) cannot hold"),
                Errors(msgs[4]));
  CHECK(msgs[5].events.empty());
  CHECK(HasError(msgs[5],
                 "B3 (segment 2) element 03: required (shipment identification number) "
                 "but missing"));
  CHECK(HasError(msgs[5], "C3 (segment 3) element 01: \"XYZ\" is not an ISO 4217 currency code"));
}

TEST_CASE("separators per interchange, garbage between interchanges, a missing IEA") {
  const std::string doc = Fixture("mixed_separators.x12");
  const auto msgs = MapX12(doc);
  REQUIRE(msgs.size() == 4);
  CHECK(msgs[0].position == "ISA 000000701/GS 1/ST 0001");
  REQUIRE_MESSAGE(msgs[0].errors.empty(), Errors(msgs[0]));
  CHECK(msgs[0].events.at(0).shipment_id == "SHIP-8001");

  CHECK(msgs[1].rejected());
  CHECK(msgs[1].unit == "THIS IS NOT X12\n");
  CHECK(msgs[1].position.rfind("byte ", 0) == 0);

  CHECK(msgs[2].position == "ISA 000000702/GS 2/ST 0001");
  REQUIRE_MESSAGE(msgs[2].errors.empty(), Errors(msgs[2]));
  CHECK(msgs[2].events.at(0).shipment_id == "SHIP-8002");
  CHECK(Utc(msgs[2].events.at(0).occurred_at) == "2025-03-10T11:01:00Z");

  CHECK(msgs[3].events.empty());
  CHECK_MESSAGE(HasError(msgs[3],
                         "ISA (interchange segment 1): interchange \"000000703\" has no "
                         "IEA trailer"),
                Errors(msgs[3]));
}

}  // namespace
}  // namespace waybill::ingest
