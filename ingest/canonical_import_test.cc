#include "ingest/canonical_import.h"

#include <doctest/doctest.h>

#include <sstream>

#include "tests/test_util.h"

namespace waybill::ingest {
namespace {

constexpr std::string_view kGood =
    R"({"event_id":"g1","kind":"milestone","occurred_at":"2025-01-01T00:00:00Z",)"
    R"("source":{"system":"carrier","principal":"spoofed"},"shipment_id":"S1","status":"IN_TRANSIT"})";

ImportContext Ctx(std::size_t batch = 1000) {
  ImportContext ctx;
  ctx.origin = "test.ndjson";
  ctx.principal = "local:tester";
  ctx.batch_events = batch;
  return ctx;
}

}  // namespace

TEST_CASE("good lines become events referencing the raw file piece; bad lines dead letters") {
  testing::TempDir dir;
  auto ledger = std::move(ledger::Ledger::Open(dir.path())).value();
  const std::string data = std::string(kGood) + "\n{broken\n\n" + std::string(kGood) + "\r\n";
  AppendPipeline pipeline(*ledger);
  REQUIRE(ImportCanonicalBuffer(data, Ctx(), pipeline).ok());
  auto summary = pipeline.Finish();
  REQUIRE(summary.ok());
  CHECK(summary->accepted == 1);
  CHECK(summary->duplicates == 1);
  CHECK(summary->rejected == 1);
  REQUIRE(summary->rejects.size() == 1);
  CHECK(summary->rejects[0].line == 2);
  CHECK(summary->rejects[0].dead_letter_id == 1);

  auto event = ledger->Get(1);
  REQUIRE(event.ok());
  CHECK(event->source.principal == std::optional<std::string>("local:tester"));  // not spoofed
  auto raw = ledger->GetRaw(event->raw_hash);
  REQUIRE(raw.ok());
  // The raw message is the batch's lines exactly as read, bad and blank lines included.
  CHECK(raw->bytes == data);
  CHECK(raw->origin == std::optional<std::string>("test.ndjson:1-4"));
  CHECK(ledger->Get(2).status().code() == ErrorCode::kNotFound);

  auto dl = ledger->GetDeadLetter(1);
  REQUIRE(dl.ok());
  CHECK(dl->raw == "{broken");
  CHECK(dl->origin == std::optional<std::string>("test.ndjson:2"));
  REQUIRE(dl->reasons.size() == 1);
  CHECK(dl->reasons[0].rfind("line 2: ", 0) == 0);
}

TEST_CASE(
    "streaming import splits lines across read blocks and keeps a last line without newline") {
  testing::TempDir dir;
  auto ledger = std::move(ledger::Ledger::Open(dir.path())).value();
  std::string data;
  constexpr int kLines = 30000;  // > one 4 MiB read block
  for (int i = 0; i < kLines; ++i) {
    std::string line(kGood);
    line.replace(line.find("g1"), 2, "id" + std::to_string(i));
    data += line;
    if (i + 1 < kLines) data += "\n";
  }
  REQUIRE(data.size() > (4u << 20));
  std::istringstream in(data);
  AppendPipeline pipeline(*ledger);
  REQUIRE(ImportCanonicalStream(in, Ctx(700), pipeline).ok());
  auto summary = pipeline.Finish();
  REQUIRE(summary.ok());
  CHECK(summary->accepted == kLines);
  CHECK(summary->rejected == 0);
  CHECK(ledger->Head().seq == kLines);
  // Every byte of the input is kept: the raw pieces, in order, are the input.
  std::string rebuilt;
  Sha256 last{};
  REQUIRE(ledger
              ->ReadRange(1, UINT64_MAX,
                          [&](const Event& e) {
                            if (e.raw_hash != last) {
                              last = e.raw_hash;
                              rebuilt += ledger->GetRaw(last)->bytes;
                            }
                            return true;
                          })
              .ok());
  CHECK(rebuilt == data);
}

TEST_CASE("a pretty-printed single event in a buffer is one event, kept byte for byte") {
  testing::TempDir dir;
  auto ledger = std::move(ledger::Ledger::Open(dir.path())).value();
  const std::string pretty =
      "{\n  \"event_id\": \"p1\",\n  \"kind\": \"milestone\",\n"
      "  \"occurred_at\": \"2025-01-01T00:00:00Z\",\n  \"source\": {\"system\": \"carrier\"},\n"
      "  \"shipment_id\": \"S1\",\n  \"status\": \"IN_TRANSIT\"\n}\n";
  AppendPipeline pipeline(*ledger);
  REQUIRE(ImportCanonicalBuffer(pretty, Ctx(), pipeline).ok());
  auto summary = pipeline.Finish();
  REQUIRE(summary.ok());
  CHECK(summary->accepted == 1);
  CHECK(summary->rejected == 0);
  auto event = ledger->Get(1);
  REQUIRE(event.ok());
  CHECK(event->event_id == "p1");
  auto raw = ledger->GetRaw(event->raw_hash);
  REQUIRE(raw.ok());
  CHECK(raw->bytes == pretty);

  // Two objects over several lines are NDJSON, not one document: one event per line.
  AppendPipeline lines(*ledger);
  const std::string two = std::string(kGood) + "\n" + std::string(kGood) + "\n";
  REQUIRE(ImportCanonicalBuffer(two, Ctx(), lines).ok());
  auto s2 = lines.Finish();
  REQUIRE(s2.ok());
  CHECK(s2->accepted == 1);
  CHECK(s2->duplicates == 1);

  // A pretty-printed event that fails validation is one dead letter with the real reason.
  AppendPipeline bad(*ledger);
  std::string invalid = pretty;
  invalid.replace(invalid.find("IN_TRANSIT"), 10, "NOT_A_STATUS");
  REQUIRE(ImportCanonicalBuffer(invalid, Ctx(), bad).ok());
  auto s3 = bad.Finish();
  REQUIRE(s3.ok());
  CHECK(s3->rejected == 1);
  REQUIRE(s3->rejects.size() == 1);
  CHECK(s3->rejects[0].reason.find("status") != std::string::npos);
}

TEST_CASE("summary JSON has exactly the contract's keys") {
  ImportSummary s;
  s.accepted = 2;
  s.duplicates = 1;
  CHECK(s.ToJson() == R"({"accepted":2,"duplicates":1,"rejected":0})");
  s.rejected = 1;
  s.rejects.push_back(Reject{"f \"x\"", 3, "bad", 9, ""});
  CHECK(
      s.ToJson() ==
      R"({"accepted":2,"duplicates":1,"rejected":1,"rejects":[{"file":"f \"x\"","line":3,"reason":"bad","dead_letter_id":9}]})");
}

}  // namespace waybill::ingest
