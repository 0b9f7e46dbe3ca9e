// Document import and dead-letter operations, with the canonical adapter and a fake adapter
// whose behaviour a test can change (standing in for a mapping fix).
#include "ingest/document_import.h"

#include <doctest/doctest.h>

#include "ingest/adapter_registry.h"
#include "ingest/canonical_adapter.h"
#include "ingest/dead_letter_ops.h"
#include "schemas/sha256.h"
#include "tests/test_util.h"

namespace waybill::ingest {
namespace {

constexpr std::string_view kLine1 =
    R"({"event_id":"a","kind":"milestone","occurred_at":"2025-01-01T00:00:00Z",)"
    R"("source":{"system":"carrier"},"shipment_id":"S1","status":"PICKED_UP"})";
constexpr std::string_view kLine2 =
    R"({"event_id":"b","kind":"milestone","occurred_at":"2025-01-02T00:00:00Z",)"
    R"("source":{"system":"carrier"},"shipment_id":"S1","status":"DELIVERED"})";

DocumentContext Ctx() {
  DocumentContext ctx;
  ctx.origin = "body";
  ctx.partner = "ACME";
  ctx.principal = "svc:erp";
  return ctx;
}

}  // namespace

TEST_CASE("a document's messages become events and dead letters with positions") {
  testing::TempDir dir;
  auto ledger = std::move(ledger::Ledger::Open(dir.path())).value();
  auto adapter = MakeCanonicalAdapter();
  const std::string doc = std::string(kLine1) + "\n{oops}\n\n" + std::string(kLine2) + "\n";
  AppendPipeline pipeline(*ledger);
  ImportDocument(*adapter, doc, Ctx(), pipeline);
  auto summary = pipeline.Finish();
  REQUIRE(summary.ok());
  CHECK(summary->accepted == 2);
  CHECK(summary->rejected == 1);
  REQUIRE(summary->rejects.size() == 1);
  CHECK(summary->rejects[0].position == "line 2");
  CHECK(summary->ToJson().find(R"("position":"line 2")") != std::string::npos);

  auto e = ledger->Get(1);
  REQUIRE(e.ok());
  CHECK(e->source.principal == std::optional<std::string>("svc:erp"));
  // A small document is kept whole, once, as the raw message of all its events.
  CHECK(e->raw_hash == Sha256Of(doc));
  CHECK(ledger->GetRaw(e->raw_hash)->bytes == doc);
  CHECK(ledger->Get(2)->raw_hash == e->raw_hash);

  auto dl = ledger->GetDeadLetter(summary->rejects[0].dead_letter_id);
  REQUIRE(dl.ok());
  CHECK(dl->raw == "{oops}");
  CHECK(dl->position == std::optional<std::string>("line 2"));
  CHECK(dl->partner == std::optional<std::string>("ACME"));
  CHECK(dl->format == "canonical");
  CHECK(dl->state == ledger::DeadLetterState::kPending);
}

TEST_CASE("retry that still fails records the attempt; drop closes it; neither appends") {
  testing::TempDir dir;
  auto ledger = std::move(ledger::Ledger::Open(dir.path())).value();
  auto adapter = MakeCanonicalAdapter();
  {
    AppendPipeline pipeline(*ledger);
    ImportDocument(*adapter, "{\"kind\":\"milestone\"}\n", Ctx(), pipeline);
    REQUIRE(pipeline.Finish().ok());
  }
  PartnerProfiles none;
  auto outcome = RetryDeadLetter(*ledger, 1, {}, none, "local:ops");
  REQUIRE(outcome.ok());
  CHECK_FALSE(outcome->resolved);
  REQUIRE_FALSE(outcome->reasons.empty());
  auto dl = ledger->GetDeadLetter(1);
  CHECK(dl->attempts == 1);
  CHECK(dl->state == ledger::DeadLetterState::kPending);
  CHECK(dl->updated_by == std::optional<std::string>("local:ops"));

  REQUIRE(DropDeadLetter(*ledger, 1, "local:ops", "test data").ok());
  dl = ledger->GetDeadLetter(1);
  CHECK(dl->state == ledger::DeadLetterState::kDropped);
  CHECK(dl->resolution->find("test data") != std::string::npos);
  CHECK(ledger->Head().seq == 0);
  // A closed dead letter cannot be retried or dropped again.
  CHECK(RetryDeadLetter(*ledger, 1, {}, none, "x").status().code() == ErrorCode::kInvalidArgument);
  CHECK(DropDeadLetter(*ledger, 1, "x", "").code() == ErrorCode::kInvalidArgument);
  CHECK(DropDeadLetter(*ledger, 42, "x", "").code() == ErrorCode::kNotFound);
}

}  // namespace waybill::ingest

namespace waybill::ingest {

TEST_CASE("a dead letter from the middle of a document is retried from its own unit") {
  testing::TempDir dir;
  auto ledger = std::move(ledger::Ledger::Open(dir.path())).value();
  auto adapter = MakeCanonicalAdapter();
  // Line 2 fails; its dead letter keeps just that line, at position "line 2".
  const std::string doc =
      std::string(kLine1) + "\n" +
      R"({"event_id":"c","kind":"milestone","occurred_at":"2025-01-03T00:00:00Z",)"
      R"("source":{"system":"carrier"},"shipment_id":"S1","status":"NOPE"})" +
      "\n";
  {
    AppendPipeline pipeline(*ledger);
    ImportDocument(*adapter, doc, Ctx(), pipeline);
    REQUIRE(pipeline.Finish()->rejected == 1);
  }
  auto dl = ledger->GetDeadLetter(1);
  REQUIRE(dl.ok());
  CHECK(dl->position == std::optional<std::string>("line 2"));
  // Re-mapping the unit alone yields one message at "line 1": it is that message, and the
  // retry reports its current failure instead of "not found".
  PartnerProfiles none;
  auto outcome = RetryDeadLetter(*ledger, 1, {}, none, "local:ops");
  REQUIRE(outcome.ok());
  CHECK_FALSE(outcome->resolved);
  REQUIRE(outcome->reasons.size() == 1);
  CHECK(outcome->reasons[0].find("status") != std::string::npos);
}

TEST_CASE("an X12 interchange's many rejected sets are one dead letter, retried as a whole") {
  testing::TempDir dir;
  auto ledger = std::move(ledger::Ledger::Open(dir.path())).value();
  auto adapter = std::move(MakeAdapter("x12", {})).value();
  // One good set and 300 without B10 in a 256 KiB interchange: over the adapter's budget for
  // copies of the interchange, so the rejects are one message at the interchange.
  std::string doc =
      "ISA*00*          *00*          *ZZ*ACMEFREIGHT    *ZZ*WAYBILL        *250310*1500*U*"
      "00401*000000909*0*P*>~GS*QM*ACMEFREIGHT*WAYBILL*20250310*1500*909*X*004010~"
      "ST*214*0001~B10*PRO1*SHIP-9001*ACME~LX*1~AT7*X6*NS***20250310*1100*UT~SE*5*0001~"
      "ST*214*1000~NTE*" +
      std::string(256 << 10, 'Z') + "~SE*3*1000~";
  for (int i = 1; i < 300; ++i) {
    const std::string n = std::to_string(1000 + i);
    doc += "ST*214*" + n + "~LX*1~SE*3*" + n + "~";
  }
  doc += "GE*301*909~IEA*1*000000909~";
  {
    AppendPipeline pipeline(*ledger);
    ImportDocument(*adapter, doc, Ctx(), pipeline);
    auto summary = pipeline.Finish();
    REQUIRE(summary.ok());
    CHECK(summary->accepted == 1);
    CHECK(summary->rejected == 1);
  }
  auto dl = ledger->GetDeadLetter(1);
  REQUIRE(dl.ok());
  CHECK(dl->position == std::optional<std::string>("ISA 000000909"));
  CHECK(dl->raw == doc);
  // The retry maps every set of the interchange again: the dead letter is found (not "no
  // longer found") and still fails for the 300 sets.
  PartnerProfiles none;
  auto outcome = RetryDeadLetter(*ledger, 1, {}, none, "local:ops");
  REQUIRE(outcome.ok());
  CHECK_FALSE(outcome->resolved);
  REQUIRE_FALSE(outcome->reasons.empty());
  CHECK(outcome->reasons[0].find("300 messages rejected") != std::string::npos);
  for (const auto& r : outcome->reasons) CHECK(r.find("no longer found") == std::string::npos);
}

}  // namespace waybill::ingest
