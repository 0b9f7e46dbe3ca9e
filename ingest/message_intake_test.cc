// MessageIntake over a real ledger: each format reaches its importer, re-sends come back as
// duplicates, and a message in an unknown format is kept as a dead letter, not dropped.
#include "ingest/message_intake.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/test_util.h"

namespace waybill::ingest {
namespace {

constexpr std::string_view kTwoEvents =
    R"({"event_id":"a","kind":"milestone","occurred_at":"2025-01-01T00:00:00Z",)"
    R"("source":{"system":"carrier"},"shipment_id":"S1","status":"PICKED_UP"})"
    "\n"
    R"({"event_id":"b","kind":"milestone","occurred_at":"2025-01-02T00:00:00Z",)"
    R"("source":{"system":"carrier"},"shipment_id":"S1","status":"DELIVERED"})"
    "\n";

std::string Fixture(const std::string& name) {
  const char* dir = std::getenv("WAYBILL_SOURCE_DIR");
  REQUIRE_MESSAGE(dir != nullptr, "WAYBILL_SOURCE_DIR is not set (run through ctest)");
  const std::string path = std::string(dir) + "/tests/fixtures/" + name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

MessageOrigin Origin(std::string origin = "nats") {
  return MessageOrigin{std::move(origin), std::string("ACME"), "svc:nats"};
}

struct Fixture_ {
  testing::TempDir dir;
  std::unique_ptr<ledger::Ledger> ledger = std::move(ledger::Ledger::Open(dir.path())).value();
  IntakeConfig config;
  MessageIntake intake{config};
};

}  // namespace

TEST_CASE("a canonical message is accepted; the same message again is all duplicates") {
  Fixture_ f;
  auto first = IngestOne(f.intake, *f.ledger, "canonical", kTwoEvents, Origin());
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  CHECK(first->accepted == 2);
  CHECK(first->duplicates == 0);
  CHECK(first->rejected == 0);
  CHECK(f.ledger->Head().seq == 2);
  auto e = f.ledger->Get(1);
  REQUIRE(e.ok());
  CHECK(e->source.principal == std::optional<std::string>("svc:nats"));

  auto again = IngestOne(f.intake, *f.ledger, "canonical", kTwoEvents, Origin());
  REQUIRE(again.ok());
  CHECK(again->accepted == 0);
  CHECK(again->duplicates == 2);
  CHECK(again->rejected == 0);
  CHECK(f.ledger->Head().seq == 2);
}

TEST_CASE("an x12 message goes through the x12 adapter, which is built once and reused") {
  Fixture_ f;
  const std::string doc = Fixture("x12/214_statuses.x12");
  auto first = IngestOne(f.intake, *f.ledger, "x12", doc, Origin("inbox/x12/214.edi"));
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  CHECK(first->accepted > 0);
  const std::uint64_t accepted = first->accepted;
  const std::uint64_t rejected = first->rejected;
  auto e = f.ledger->Get(1);
  REQUIRE(e.ok());
  CHECK(e->source.format == "x12");
  CHECK(f.ledger->GetRaw(e->raw_hash)->bytes == doc);
  CHECK(f.ledger->GetRaw(e->raw_hash)->origin == std::optional<std::string>("inbox/x12/214.edi"));

  // Same adapter instance, same outcome: every event a duplicate, rejects rejected again.
  auto again = IngestOne(f.intake, *f.ledger, "x12", doc, Origin());
  REQUIRE(again.ok());
  CHECK(again->accepted == 0);
  CHECK(again->duplicates == accepted);
  CHECK(again->rejected == rejected);

  auto clean = IngestOne(f.intake, *f.ledger, "x12", Fixture("x12/214_resent.x12"), Origin());
  REQUIRE(clean.ok());
  CHECK(clean->accepted == 1);
  CHECK(clean->duplicates == 1);  // the second interchange re-sends the same status
  CHECK(clean->rejected == 0);
}

TEST_CASE("a message in an unknown format becomes one dead letter with its bytes") {
  Fixture_ f;
  const std::string body = "UNB+UNOC:3+SENDER+RECEIVER'\nsomething nobody maps\n";
  auto summary = IngestOne(f.intake, *f.ledger, "edifact-iftsta", body, Origin());
  REQUIRE_MESSAGE(summary.ok(), summary.status().ToString());
  CHECK(summary->accepted == 0);
  CHECK(summary->rejected == 1);
  REQUIRE(summary->rejects.size() == 1);
  const Reject& r = summary->rejects[0];
  CHECK(r.origin == "nats");
  CHECK(r.reason.rfind("unknown format \"edifact-iftsta\"; known formats: ", 0) == 0);
  CHECK(r.reason.find("canonical, ") != std::string::npos);
  CHECK(r.reason.find("x12") != std::string::npos);
  CHECK(r.dead_letter_id != 0);

  auto listed = f.ledger->ListDeadLetters(0, 10);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().letter.id == r.dead_letter_id);
  auto stored = f.ledger->GetDeadLetter(r.dead_letter_id);
  REQUIRE(stored.ok());
  const ledger::DeadLetter& dl = *stored;
  CHECK(dl.raw == body);
  CHECK(dl.format == "edifact-iftsta");
  CHECK(dl.partner == std::optional<std::string>("ACME"));
  CHECK(dl.principal == std::optional<std::string>("svc:nats"));
  CHECK(dl.origin == std::optional<std::string>("nats"));
  REQUIRE(dl.reasons.size() == 1);
  CHECK(dl.reasons[0] == r.reason);
  CHECK(dl.state == ledger::DeadLetterState::kPending);
  CHECK(f.ledger->Head().seq == 0);
}

TEST_CASE("messages of several formats share one pipeline; the summary adds them up") {
  Fixture_ f;
  AppendPipeline pipeline(*f.ledger);
  f.intake.Submit("canonical", kTwoEvents, Origin(), pipeline);
  f.intake.Submit("nope", "x", Origin(), pipeline);
  f.intake.Submit("canonical", "{broken\n", Origin(), pipeline);
  auto summary = pipeline.Finish();
  REQUIRE(summary.ok());
  CHECK(summary->accepted == 2);
  CHECK(summary->rejected == 2);
  CHECK(f.ledger->ListDeadLetters(0, 10)->size() == 2);
}

TEST_CASE("LoadIntakeConfig picks up the data dir's mappings/ and reports a bad partners file") {
  testing::TempDir dir;
  auto none = LoadIntakeConfig(dir.path(), "", {});
  REQUIRE(none.ok());
  CHECK(none->adapters.mapping_dirs.empty());

  std::filesystem::create_directory(dir.Sub("mappings"));
  auto with = LoadIntakeConfig(dir.path(), "", {});
  REQUIRE(with.ok());
  CHECK(with->adapters.mapping_dirs == std::vector<std::string>{dir.Sub("mappings")});
  auto explicit_dirs = LoadIntakeConfig(dir.path(), "", {"/elsewhere"});
  REQUIRE(explicit_dirs.ok());
  CHECK(explicit_dirs->adapters.mapping_dirs == std::vector<std::string>{"/elsewhere"});

  auto missing = LoadIntakeConfig(dir.path(), dir.Sub("no-such-partners.json"), {});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find("no-such-partners.json") != std::string::npos);
}

}  // namespace waybill::ingest
