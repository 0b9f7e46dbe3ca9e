// The folder inbox over a real ledger in a temp dir: where files go, what the notes say,
// what is left alone, and how a crash between append and move plays out.
#include "server/inbox/inbox_watcher.h"

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/test_util.h"

namespace waybill::inbox {
namespace {

namespace fs = std::filesystem;

const std::string kLineA =
    R"({"event_id":"a","kind":"milestone","occurred_at":"2025-01-01T00:00:00Z",)"
    R"("source":{"system":"carrier"},"shipment_id":"S1","status":"PICKED_UP"})";
const std::string kLineB =
    R"({"event_id":"b","kind":"milestone","occurred_at":"2025-01-02T00:00:00Z",)"
    R"("source":{"system":"carrier"},"shipment_id":"S1","status":"DELIVERED"})";
const std::string kTwoEvents = kLineA + "\n" + kLineB + "\n";

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const fs::path& path, const std::string& contents) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  REQUIRE(out.good());
}

// As a gateway does it: write under a temporary name, then rename into place.
void Drop(const fs::path& dir, const std::string& name, const std::string& contents) {
  WriteAll(dir / ("." + name + ".part"), contents);
  fs::rename(dir / ("." + name + ".part"), dir / name);
}

// The ids in a note's "dead_letter_id" fields, in order.
std::vector<std::uint64_t> DeadLetterIds(const std::string& note) {
  constexpr std::string_view kKey = R"("dead_letter_id":)";
  std::vector<std::uint64_t> ids;
  for (std::size_t at = note.find(kKey); at != std::string::npos; at = note.find(kKey, at)) {
    at += kKey.size();
    ids.push_back(std::stoull(note.substr(at)));
  }
  return ids;
}

struct Inbox {
  testing::TempDir tmp;
  std::unique_ptr<ledger::Ledger> ledger = std::move(ledger::Ledger::Open(tmp.Sub("data"))).value();
  ingest::IntakeConfig config;
  fs::path dir = tmp.Sub("inbox");
  std::vector<InboxFileResult> results;

  InboxOptions Options() {
    InboxOptions o;
    o.dir = dir.string();
    o.on_file = [this](const InboxFileResult& r) { results.push_back(r); };
    return o;
  }
};

}  // namespace

TEST_CASE("a canonical file is ingested and moved to done/canonical/") {
  Inbox inbox;
  InboxWatcher watcher(*inbox.ledger, inbox.config, inbox.Options());
  // The first scan lays out the folders.
  REQUIRE(watcher.ScanOnce().ok());
  CHECK(fs::is_directory(inbox.dir / "done"));
  CHECK(fs::is_directory(inbox.dir / "failed"));

  Drop(inbox.dir / "canonical", "events.ndjson", kTwoEvents);
  auto n = watcher.ScanOnce();
  REQUIRE_MESSAGE(n.ok(), n.status().ToString());
  CHECK(*n == 1);
  CHECK_FALSE(fs::exists(inbox.dir / "canonical/events.ndjson"));
  CHECK(ReadAll(inbox.dir / "done/canonical/events.ndjson") == kTwoEvents);
  CHECK_FALSE(fs::exists(inbox.dir / "done/canonical/events.ndjson.dead-letters.json"));
  CHECK(inbox.ledger->Head().seq == 2);

  auto e = inbox.ledger->Get(1);
  REQUIRE(e.ok());
  CHECK(e->source.principal == std::optional<std::string>("inbox"));
  auto raw = inbox.ledger->GetRaw(e->raw_hash);
  REQUIRE(raw.ok());
  CHECK(raw->origin.value_or("").rfind("inbox/canonical/events.ndjson", 0) == 0);

  REQUIRE(inbox.results.size() == 1);
  CHECK(inbox.results[0].origin == "inbox/canonical/events.ndjson");
  CHECK_FALSE(inbox.results[0].failed);
  CHECK(inbox.results[0].summary.accepted == 2);

  // Nothing left: the next scan does nothing.
  CHECK(*watcher.ScanOnce() == 0);
}

TEST_CASE("a file with a bad line goes to failed/ beside a note naming its dead letter") {
  Inbox inbox;
  InboxWatcher watcher(*inbox.ledger, inbox.config, inbox.Options());
  Drop(inbox.dir / "canonical", "mixed.ndjson", kLineA + "\nthis is not json\n" + kLineB + "\n");
  auto n = watcher.ScanOnce();
  REQUIRE_MESSAGE(n.ok(), n.status().ToString());
  CHECK(*n == 1);
  CHECK_FALSE(fs::exists(inbox.dir / "canonical/mixed.ndjson"));
  CHECK(fs::exists(inbox.dir / "failed/canonical/mixed.ndjson"));
  const std::string note = ReadAll(inbox.dir / "failed/canonical/mixed.ndjson.dead-letters.json");
  INFO(note);
  CHECK(note.rfind(R"({"file":"mixed.ndjson","accepted":2,"duplicates":0,"rejected":1,)", 0) == 0);
  CHECK(note.find(R"("line":2)") != std::string::npos);
  CHECK(note.find(R"("reason":")") != std::string::npos);
  CHECK(note.find(R"("position":"")") != std::string::npos);
  const auto ids = DeadLetterIds(note);
  REQUIRE(ids.size() == 1);
  auto dl = inbox.ledger->GetDeadLetter(ids[0]);
  REQUIRE(dl.ok());
  CHECK(dl->raw == "this is not json");
  CHECK(dl->origin == std::optional<std::string>("inbox/canonical/mixed.ndjson:2"));
  // Its good lines stay accepted.
  CHECK(inbox.ledger->Head().seq == 2);
}

TEST_CASE("dotfiles and *.tmp files are left alone") {
  Inbox inbox;
  InboxWatcher watcher(*inbox.ledger, inbox.config, inbox.Options());
  WriteAll(inbox.dir / "canonical/.hidden.ndjson", kTwoEvents);
  WriteAll(inbox.dir / "canonical/upload.ndjson.tmp", kTwoEvents);
  WriteAll(inbox.dir / ".staging/events.ndjson", kTwoEvents);  // not a format
  auto n = watcher.ScanOnce();
  REQUIRE(n.ok());
  CHECK(*n == 0);
  CHECK(fs::exists(inbox.dir / "canonical/.hidden.ndjson"));
  CHECK(fs::exists(inbox.dir / "canonical/upload.ndjson.tmp"));
  CHECK(fs::exists(inbox.dir / ".staging/events.ndjson"));
  CHECK(inbox.ledger->Head().seq == 0);
  CHECK(inbox.ledger->ListDeadLetters(0, 10)->empty());
}

TEST_CASE("a file in an unknown format's folder is dead-lettered whole and goes to failed/") {
  Inbox inbox;
  InboxWatcher watcher(*inbox.ledger, inbox.config, inbox.Options());
  Drop(inbox.dir / "edifact", "status.edi", "UNB+UNOC:3+ACME+WAYBILL'\n");
  auto n = watcher.ScanOnce();
  REQUIRE_MESSAGE(n.ok(), n.status().ToString());
  CHECK(*n == 1);
  CHECK(fs::exists(inbox.dir / "failed/edifact/status.edi"));
  const std::string note = ReadAll(inbox.dir / "failed/edifact/status.edi.dead-letters.json");
  INFO(note);
  CHECK(note.find(R"(unknown format \"edifact\"; known formats: )") != std::string::npos);
  const auto ids = DeadLetterIds(note);
  REQUIRE(ids.size() == 1);
  auto listed = inbox.ledger->ListDeadLetters(0, 10);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  const ledger::DeadLetter& listed_one = listed->front().letter;
  CHECK(listed_one.id == ids[0]);
  CHECK(inbox.ledger->GetDeadLetter(ids[0])->raw == "UNB+UNOC:3+ACME+WAYBILL'\n");
  CHECK(listed_one.format == "edifact");
  CHECK(listed_one.origin == std::optional<std::string>("inbox/edifact/status.edi"));
}

TEST_CASE("an x12 file goes through the x12 adapter") {
  Inbox inbox;
  InboxWatcher watcher(*inbox.ledger, inbox.config, inbox.Options());
  const char* src = std::getenv("WAYBILL_SOURCE_DIR");
  REQUIRE_MESSAGE(src != nullptr, "WAYBILL_SOURCE_DIR is not set (run through ctest)");
  const std::string doc = ReadAll(fs::path(src) / "tests/fixtures/x12/214_resent.x12");
  REQUIRE_FALSE(doc.empty());
  Drop(inbox.dir / "x12", "214.edi", doc);
  REQUIRE(*watcher.ScanOnce() == 1);
  CHECK(fs::exists(inbox.dir / "done/x12/214.edi"));
  REQUIRE(inbox.results.size() == 1);
  CHECK(inbox.results[0].summary.accepted == 1);
  CHECK(inbox.results[0].summary.duplicates == 1);
}

TEST_CASE("a file re-ingested after a crash before its move is all duplicates, then done.1") {
  Inbox inbox;
  InboxWatcher watcher(*inbox.ledger, inbox.config, inbox.Options());
  Drop(inbox.dir / "canonical", "events.ndjson", kTwoEvents);
  REQUIRE(*watcher.ScanOnce() == 1);
  // The crash: the append was durable but the file is back where it was (as if the move
  // had not happened).
  fs::copy_file(inbox.dir / "done/canonical/events.ndjson", inbox.dir / "canonical/events.ndjson");
  auto n = watcher.ScanOnce();
  REQUIRE_MESSAGE(n.ok(), n.status().ToString());
  CHECK(*n == 1);
  REQUIRE(inbox.results.size() == 2);
  CHECK(inbox.results[1].summary.accepted == 0);
  CHECK(inbox.results[1].summary.duplicates == 2);
  CHECK_FALSE(inbox.results[1].failed);
  CHECK(inbox.results[1].moved_to == (inbox.dir / "done/canonical/events.ndjson.1").string());
  // Neither copy was overwritten.
  CHECK(ReadAll(inbox.dir / "done/canonical/events.ndjson") == kTwoEvents);
  CHECK(ReadAll(inbox.dir / "done/canonical/events.ndjson.1") == kTwoEvents);
  CHECK(inbox.ledger->Head().seq == 2);

  // In failed/ the suffix is shared by the file and its note.
  for (int i = 0; i < 2; ++i) {
    Drop(inbox.dir / "canonical", "bad.ndjson", "nope\n");
    REQUIRE(*watcher.ScanOnce() == 1);
  }
  CHECK(fs::exists(inbox.dir / "failed/canonical/bad.ndjson"));
  CHECK(fs::exists(inbox.dir / "failed/canonical/bad.ndjson.dead-letters.json"));
  CHECK(fs::exists(inbox.dir / "failed/canonical/bad.ndjson.1"));
  const std::string note = ReadAll(inbox.dir / "failed/canonical/bad.ndjson.1.dead-letters.json");
  CHECK(note.rfind(R"({"file":"bad.ndjson.1",)", 0) == 0);
}

TEST_CASE("files are taken oldest first, across formats") {
  Inbox inbox;
  InboxWatcher watcher(*inbox.ledger, inbox.config, inbox.Options());
  Drop(inbox.dir / "canonical", "newer.ndjson", kLineB + "\n");
  Drop(inbox.dir / "zzz-unknown", "older.txt", "x");
  const auto now = fs::file_time_type::clock::now();
  fs::last_write_time(inbox.dir / "canonical/newer.ndjson", now);
  fs::last_write_time(inbox.dir / "zzz-unknown/older.txt", now - std::chrono::hours(1));
  REQUIRE(*watcher.ScanOnce() == 2);
  REQUIRE(inbox.results.size() == 2);
  CHECK(inbox.results[0].origin == "inbox/zzz-unknown/older.txt");
  CHECK(inbox.results[1].origin == "inbox/canonical/newer.ndjson");
}

TEST_CASE("a file over the size limit goes to failed/ unread, with a note saying why") {
  Inbox inbox;
  InboxOptions options = inbox.Options();
  options.max_file_bytes = 10;
  InboxWatcher watcher(*inbox.ledger, inbox.config, options);
  Drop(inbox.dir / "canonical", "big.ndjson", kTwoEvents);
  REQUIRE(*watcher.ScanOnce() == 1);
  CHECK(fs::exists(inbox.dir / "failed/canonical/big.ndjson"));
  const std::string note = ReadAll(inbox.dir / "failed/canonical/big.ndjson.dead-letters.json");
  CHECK(note.find("more than the inbox limit of 10 bytes") != std::string::npos);
  CHECK(inbox.ledger->Head().seq == 0);
}

TEST_CASE("a ledger write failure leaves the file in place for the next scan") {
  testing::TempDir tmp;
  std::atomic<bool> disk_full{true};
  ledger::LedgerOptions lo;
  lo.TEST_fail_write = [&]() -> std::optional<std::string> {
    if (disk_full) return std::string("No space left on device");
    return std::nullopt;
  };
  auto ledger = std::move(ledger::Ledger::Open(tmp.Sub("data"), lo)).value();
  ingest::IntakeConfig config;
  InboxOptions options;
  options.dir = tmp.Sub("inbox");
  InboxWatcher watcher(*ledger, config, options);
  Drop(fs::path(options.dir) / "canonical", "events.ndjson", kTwoEvents);
  auto failed = watcher.ScanOnce();
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().message().find("events.ndjson") != std::string::npos);
  CHECK(failed.status().message().find("No space left on device") != std::string::npos);
  CHECK(fs::exists(fs::path(options.dir) / "canonical/events.ndjson"));

  disk_full = false;
  auto n = watcher.ScanOnce();
  REQUIRE_MESSAGE(n.ok(), n.status().ToString());
  CHECK(*n == 1);
  CHECK(fs::exists(fs::path(options.dir) / "done/canonical/events.ndjson"));
  CHECK(ledger->Head().seq == 2);
}

TEST_CASE("Run picks up a file dropped after it started, and stops promptly") {
  Inbox inbox;
  InboxOptions options = inbox.Options();
  options.poll_interval = std::chrono::milliseconds(20);
  std::atomic<int> seen{0};
  options.on_file = [&](const InboxFileResult&) { ++seen; };
  InboxWatcher watcher(*inbox.ledger, inbox.config, options);
  std::jthread runner([&](std::stop_token stop) { watcher.Run(stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  Drop(inbox.dir / "canonical", "late.ndjson", kTwoEvents);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seen == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(seen == 1);
  CHECK(fs::exists(inbox.dir / "done/canonical/late.ndjson"));
  runner.request_stop();
  runner.join();

  // A stop request cuts a long wait short.
  options.poll_interval = std::chrono::hours(1);
  InboxWatcher sleepy(*inbox.ledger, inbox.config, options);
  std::jthread slow([&](std::stop_token stop) { sleepy.Run(stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto asked = std::chrono::steady_clock::now();
  slow.request_stop();
  slow.join();
  CHECK(std::chrono::steady_clock::now() - asked < std::chrono::seconds(1));
}

}  // namespace waybill::inbox
