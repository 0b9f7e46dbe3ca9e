// The two-stage group commit (sequencer + committer) against real RocksDB: a group held in
// its write by the test hook is "in flight" while the next one is prepared on top of it.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "ledger/ledger.h"
#include "ledger/ledger_test_util.h"
#include "tests/test_util.h"

namespace waybill::ledger {
namespace {

// Holds the committer in the write hook of the first group until released, and can fail
// that group. Later groups pass straight through.
class WriteGate {
 public:
  LedgerOptions Options() {
    LedgerOptions options;
    options.prepare_ahead_events = 0;  // prepare the next group while the first is held
    options.TEST_fail_write = [this]() -> std::optional<std::string> {
      std::unique_lock<std::mutex> lock(mu_);
      if (held_++ > 0) return std::nullopt;
      entered_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
      if (fail_first_) return "simulated: No space left on device";
      return std::nullopt;
    };
    return options;
  }
  void WaitUntilHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void Release(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_first_ = fail;
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int held_ = 0;
  bool entered_ = false, released_ = false, fail_first_ = false;
};

std::future<Result<AppendResult>> AppendLater(Ledger& ledger, AppendBatch batch) {
  auto promise = std::make_shared<std::promise<Result<AppendResult>>>();
  auto future = promise->get_future();
  ledger.AppendAsync(std::move(batch),
                     [promise](Result<AppendResult> r) { promise->set_value(std::move(r)); });
  return future;
}

}  // namespace

TEST_CASE("an event re-sent while its first copy is being written is a duplicate of it") {
  testing::TempDir dir;
  WriteGate gate;
  auto ledger = OpenOrDie(dir.path(), gate.Options());
  auto first = AppendLater(*ledger, BatchOf({testing::MakeMilestone("a", "S1", kT0)}));
  gate.WaitUntilHeld();  // "a" is prepared as seq 1 but not in RocksDB yet
  auto second = AppendLater(*ledger, BatchOf({testing::MakeMilestone("b", "S1", kT0),
                                              testing::MakeMilestone("a", "S1", kT0)}));
  auto only_dup = AppendLater(*ledger, BatchOf({testing::MakeMilestone("a", "S1", kT0)}));
  // Neither may be acknowledged before the original is durable.
  CHECK(second.wait_for(std::chrono::milliseconds(100)) == std::future_status::timeout);
  CHECK(only_dup.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
  CHECK(ledger->Head().seq == 0);
  gate.Release(/*fail=*/false);

  auto r1 = first.get();
  REQUIRE(r1.ok());
  CHECK(r1->events[0].seq == 1);
  auto r2 = second.get();
  REQUIRE(r2.ok());
  CHECK(r2->events[0].seq == 2);
  CHECK_FALSE(r2->events[0].duplicate);
  CHECK(r2->events[1].seq == 1);
  CHECK(r2->events[1].duplicate);
  auto r3 = only_dup.get();
  REQUIRE(r3.ok());
  CHECK(r3->events[0].seq == 1);
  CHECK(r3->events[0].duplicate);
  CHECK(ledger->Head().seq == 2);
  auto report = ledger->Verify(1, 2);
  REQUIRE(report.ok());
  CHECK(report->intact);
  CHECK(report->head.hash == ledger->Head().hash);
  const WriterFigures f = ledger->writer_figures();
  CHECK(f.events == 2);
  CHECK(f.duplicates == 2);
}

TEST_CASE("a failed write fails the groups prepared on top of it and the ledger is unchanged") {
  testing::TempDir dir;
  WriteGate gate;
  auto ledger = OpenOrDie(dir.path(), gate.Options());
  auto first = AppendLater(*ledger, BatchOf({testing::MakeMilestone("a", "S1", kT0)}));
  gate.WaitUntilHeld();
  // Prepared on the tentative head: chained on "a" and naming it as a duplicate's original.
  auto second = AppendLater(*ledger, BatchOf({testing::MakeMilestone("b", "S1", kT0),
                                              testing::MakeMilestone("a", "S1", kT0)}));
  AppendBatch dead_letter;
  DeadLetter dl;
  dl.reasons = {"field \"x\": not a number"};
  dl.format = "canonical";
  dl.raw = "{\"x\": \"y\"}";
  dead_letter.dead_letters.push_back(dl);
  auto third = AppendLater(*ledger, std::move(dead_letter));
  CHECK(second.wait_for(std::chrono::milliseconds(100)) == std::future_status::timeout);
  gate.Release(/*fail=*/true);

  auto r1 = first.get();
  CHECK(r1.status().code() == ErrorCode::kIoError);
  CHECK(r1.status().message().find("No space left") != std::string::npos);
  // The second may have been prepared on top of the first (then it fails with the same
  // error) or after the reset (then it succeeds); either way nothing it names is missing.
  auto r2 = second.get();
  auto r3 = third.get();
  if (!r2.ok()) {
    CHECK(r2.status().code() == ErrorCode::kIoError);
    CHECK(r2.status().message().find("No space left") != std::string::npos);
  }

  // Whatever failed left no trace; retrying everything stores each event exactly once.
  auto retry = ledger->Append(
      BatchOf({testing::MakeMilestone("a", "S1", kT0), testing::MakeMilestone("b", "S1", kT0)}));
  REQUIRE(retry.ok());
  CHECK(ledger->Head().seq == 2);
  const std::uint64_t seq_a = retry->events[0].seq, seq_b = retry->events[1].seq;
  CHECK(seq_a != seq_b);
  CHECK(((seq_a == 1 || seq_a == 2) && (seq_b == 1 || seq_b == 2)));
  if (r2.ok()) {
    // Stored after the reset: "b" first, then "a" as new.
    CHECK(r2->events[0].seq == seq_b);
    CHECK(r2->events[1].seq == seq_a);
    CHECK_FALSE(r2->events[1].duplicate);
  }
  auto report = ledger->Verify(1, ledger->Head().seq);
  REQUIRE(report.ok());
  CHECK(report->intact);
  auto events = ledger->ReadShipment("S1");
  REQUIRE(events.ok());
  CHECK(events->size() == 2);
  // Dead-letter ids are not reused or skipped either: the first stored one is 1.
  auto listed = ledger->ListDeadLetters(0, 10);
  REQUIRE(listed.ok());
  if (r3.ok()) {
    REQUIRE(listed->size() == 1);
    CHECK(listed->front().letter.id == 1);
    CHECK(r3->dead_letter_ids == std::vector<std::uint64_t>{1});
  } else {
    CHECK(listed->empty());
  }
  // Re-opened, the durable state is the same.
  const LedgerHead head = ledger->Head();
  ledger.reset();
  auto reopened = OpenOrDie(dir.path(), LedgerOptions{});
  CHECK(reopened->Head().seq == head.seq);
  CHECK(reopened->Head().hash == head.hash);
}

TEST_CASE("small appends queued during a write wait for it and share the next group") {
  testing::TempDir dir;
  WriteGate gate;
  LedgerOptions options = gate.Options();
  options.prepare_ahead_events = 256;  // the default
  auto ledger = OpenOrDie(dir.path(), options);
  auto first = AppendLater(*ledger, BatchOf({testing::MakeMilestone("a", "S1", kT0)}));
  gate.WaitUntilHeld();
  std::vector<std::future<Result<AppendResult>>> later;
  later.push_back(AppendLater(*ledger, BatchOf({testing::MakeMilestone("b", "S1", kT0)})));
  // Time for the sequencer to take "b" alone, which below the threshold it must not do.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  for (const char* id : {"c", "d"}) {
    later.push_back(AppendLater(*ledger, BatchOf({testing::MakeMilestone(id, "S1", kT0)})));
  }
  gate.Release(/*fail=*/false);
  REQUIRE(first.get().ok());
  for (auto& f : later) REQUIRE(f.get().ok());
  CHECK(ledger->Head().seq == 4);
  // One group for "a", one for "b", "c" and "d" (with prepare_ahead_events 0 it is three).
  CHECK(ledger->writer_figures().commits == 2);
}

}  // namespace waybill::ledger
