#include "ledger/record_format.h"

#include <doctest/doctest.h>

#include "ledger/dead_letter.h"
#include "ledger/key_layout.h"
#include "schemas/event_codec.h"
#include "schemas/sha256.h"
#include "tests/test_util.h"

namespace waybill::ledger {

TEST_CASE("record round-trips header and content") {
  Event e = testing::MakeMilestone("id-1", "SHP-1", 1'700'000'000'000'000'000);
  RecordHeader h;
  h.seq = 42;
  h.recorded_at = 1'700'000'000'123'456'789;
  h.prev_hash = Sha256Of("prev");
  const std::string content = EncodeEventContent(e);
  h.hash = ChainHash(h.seq, h.recorded_at, h.prev_hash, Sha256Of(content));
  std::string record;
  EncodeRecord(h, content, &record);
  CHECK(record.size() == kRecordHeaderSize + content.size());

  Event decoded;
  REQUIRE(DecodeRecord(record, &decoded).ok());
  CHECK(decoded.ledger.seq == 42);
  CHECK(decoded.ledger.recorded_at == h.recorded_at);
  CHECK(decoded.ledger.prev_hash == h.prev_hash);
  CHECK(decoded.ledger.hash == h.hash);
  decoded.ledger = {};
  CHECK(decoded == e);
}

TEST_CASE("chain hash depends on every header field and the content") {
  const Sha256 prev = Sha256Of("p"), digest = Sha256Of("c");
  const Sha256 base = ChainHash(1, 10, prev, digest);
  CHECK(ChainHash(2, 10, prev, digest) != base);
  CHECK(ChainHash(1, 11, prev, digest) != base);
  CHECK(ChainHash(1, 10, Sha256Of("q"), digest) != base);
  CHECK(ChainHash(1, 10, prev, Sha256Of("d")) != base);
  CHECK(ChainHash(1, 10, prev, digest) == base);
}

TEST_CASE("truncated and unknown-version records are corruption") {
  RecordHeader h;
  std::string record;
  EncodeRecord(h, "", &record);
  RecordHeader out;
  std::string_view content;
  CHECK(DecodeRecordHeader(record.substr(0, 10), &out, &content).code() == ErrorCode::kCorruption);
  record[0] = 9;
  CHECK(DecodeRecordHeader(record, &out, &content).code() == ErrorCode::kCorruption);
}

TEST_CASE("key encodings sort as the layout promises") {
  CHECK(SeqKey(1) < SeqKey(2));
  CHECK(SeqKey(255) < SeqKey(256));
  CHECK(GetU64BE(SeqKey(0x0102030405060708ULL).data()) == 0x0102030405060708ULL);
  // A shipment's entries share its prefix, in sequence order; a longer id never does.
  CHECK(ShipmentKey("A", 1) < ShipmentKey("A", 2));
  CHECK(ShipmentKey("A", UINT64_MAX).rfind(ShipmentPrefix("A"), 0) == 0);
  CHECK(ShipmentKey("AB", 0).rfind(ShipmentPrefix("A"), 0) != 0);
  CHECK(ShipmentPrefix("A").substr(0, 8) == std::string_view(SeqKey(Fnv1a64("A"))));
  CHECK(IdempotencyKey("x").size() == 9);
  CHECK(Fnv1a64("") == 0xcbf29ce484222325ULL);  // pinned: persisted in keys
  CHECK(Fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
}

TEST_CASE("a dead letter's summary decodes every field but the raw message, and its size") {
  DeadLetter dl;
  dl.id = 42;
  dl.received_at = 1'700'000'000'000'000'000;
  dl.format = "x12";
  dl.partner = "ACME";
  dl.principal = "svc:edi";
  dl.raw = std::string(300'000, 'Z');  // a size whose varint takes three bytes
  dl.reasons = {"ST02: does not match SE02", "SE01: 7 segments counted, 9 declared"};
  dl.origin = "http";
  dl.position = "ST 0001";
  dl.state = DeadLetterState::kDropped;
  dl.attempts = 3;
  dl.updated_at = dl.received_at + 5;
  dl.updated_by = "ops";
  dl.resolution = "dropped: duplicate of a corrected resend";
  const std::string record = EncodeDeadLetter(dl);

  DeadLetterSummary summary;
  REQUIRE(DecodeDeadLetterSummary(record, &summary).ok());
  CHECK(summary.raw_bytes == dl.raw.size());
  CHECK(summary.letter.raw.empty());
  DeadLetter without_raw = dl;
  without_raw.raw.clear();
  CHECK(summary.letter == without_raw);

  DeadLetterSummary truncated;
  const Status s = DecodeDeadLetterSummary(record.substr(0, 100), &truncated);
  CHECK(s.code() == ErrorCode::kCorruption);
  CHECK(s.message().find("dead-letter record does not decode") != std::string::npos);
}

}  // namespace waybill::ledger
