#include "schemas/event_codec.h"

#include <doctest/doctest.h>

#include <random>

namespace waybill {
namespace {

Event GoldenEvent() {
  Event e;
  e.event_id = "golden-1";
  e.kind = EventKind::kCharges;
  e.occurred_at = 1735732800000000000;
  e.occurred_offset_minutes = -300;
  e.source.system = SourceSystem::kCarrier;
  e.source.format = "x12";
  e.source.partner = "ACME";
  e.source.principal = "svc";
  e.shipment_id = "SHP-1";
  e.order_id = "SO-9";
  e.customer_id = "C1";
  e.carrier = "ACME";
  e.references = {{"BM", "BOL1"}};
  e.correlation_id = "SO-9/SHP-1";
  for (int i = 0; i < 32; ++i) e.raw_hash[i] = static_cast<std::uint8_t>(i);
  Location l;
  l.city = "Chicago";
  l.country = "US";
  l.lat = 41.5;
  l.lon = -87.25;
  e.location = l;
  Charges c;
  c.basis = ChargeBasis::kInvoiced;
  c.document = "INV-1";
  c.currency = "USD";
  c.total = 202575;
  c.lines = {{"400", std::string("Line haul"), 200000, "USD"}, {"FUE", std::nullopt, 2575, "USD"}};
  e.charges = c;
  return e;
}

std::string FromHex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Bytes written by content version 1 (kEventContentVersion). They are in ledgers
// already; every later Waybill must decode them to the same event. Never regenerate.
constexpr std::string_view kGoldenV1 =
    "0108676f6c64656e2d3103010000000080fe08c98f1618d4feffff0303783132000441434d45000373766305534850"
    "2d310004534f2d3900024331000441434d450102424d04424f4c31000a534f2d392f5348502d310001020304050607"
    "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f010101000100074368696361676f010002555301000000"
    "000000c04440000000000000d055c00100020005494e562d31035553444f17030000000000020334303000094c696e"
    "65206861756c400d0300000000000355534403465545010f0a000000000000035553440101";

}  // namespace

TEST_CASE("version-1 golden bytes still decode") {
  Event decoded;
  REQUIRE(DecodeEventContent(FromHex(kGoldenV1), &decoded).ok());
  CHECK(decoded == GoldenEvent());
}

TEST_CASE("encoding is deterministic and round-trips every body") {
  Event e = GoldenEvent();
  CHECK(EncodeEventContent(e) == EncodeEventContent(e));
  Event back;
  REQUIRE(DecodeEventContent(EncodeEventContent(e), &back).ok());
  CHECK(back == e);

  Event est;
  est.event_id = "e";
  est.kind = EventKind::kEstimate;
  est.shipment_id = "S";
  est.estimate = Estimate{5, EstimateOf::kArrival, 3};
  est.order = OrderBody{Location{}, Promise{std::string("2025-01-02"), 1, std::nullopt}};
  est.document = DocumentBody{"proof_of_delivery", std::string("POD1")};
  est.status = ShipmentStatus::kDelivered;
  Event back2;
  REQUIRE(DecodeEventContent(EncodeEventContent(est), &back2).ok());
  CHECK(back2 == est);
}

TEST_CASE("decoding keeps the ledger fields the caller set") {
  Event e = GoldenEvent();
  Event target;
  target.ledger.seq = 7;
  REQUIRE(DecodeEventContent(EncodeEventContent(e), &target).ok());
  CHECK(target.ledger.seq == 7);
}

TEST_CASE("truncated content is reported as corruption, never a crash") {
  const std::string bytes = EncodeEventContent(GoldenEvent());
  std::mt19937 rng(7);
  for (std::size_t cut = 0; cut < bytes.size(); cut += 1 + rng() % 5) {
    Event e;
    Status s = DecodeEventContent(std::string_view(bytes).substr(0, cut), &e);
    CHECK(s.code() == ErrorCode::kCorruption);
  }
}

}  // namespace waybill

namespace waybill {

TEST_CASE("a record from a newer content version is refused, not misread") {
  std::string bytes = EncodeEventContent(GoldenEvent());
  bytes[0] = static_cast<char>(kEventContentVersion + 1);
  Event e;
  Status s = DecodeEventContent(bytes, &e);
  CHECK(s.code() == ErrorCode::kCorruption);
  CHECK(s.message().find("not supported") != std::string::npos);
}

TEST_CASE("trailing bytes after the content are corruption") {
  Event e;
  CHECK(DecodeEventContent(EncodeEventContent(GoldenEvent()) + "x", &e).code() ==
        ErrorCode::kCorruption);
}

}  // namespace waybill
