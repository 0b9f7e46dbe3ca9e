// The projection worker killed at random points (SIGKILL, mid-batch, mid-commit): on
// restart nothing is applied twice or skipped. Each view's versions in the outbox run
// 1, 2, 3, ... without gaps or repeats, and the views equal a rebuild from the log byte for
// byte.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "projections/outbox.h"
#include "projections/projection_test_util.h"
#include "projections/projector.h"
#include "tests/test_util.h"

namespace waybill {
namespace {

using projections::testing::EventGenerator;
using projections::testing::SnapshotViews;

// Child: appends and folds forever, in small batches, until killed.
[[noreturn]] void AppendAndFold(const std::string& dir, std::uint32_t seed) {
  auto ledger = ledger::Ledger::Open(dir);
  if (!ledger.ok()) _exit(2);
  projections::ProjectorOptions options;
  options.batch_events = 1 + seed % 40;
  options.cache_shipments = 8;
  auto projector = projections::Projector::Open(**ledger, options);
  if (!projector.ok()) _exit(3);
  EventGenerator gen(seed, 25);
  while (true) {
    ledger::AppendBatch batch;
    for (int i = 0; i < 20; ++i) batch.events.push_back(ledger::PrepareEvent(gen.Next()));
    if (!(*ledger)->Append(std::move(batch)).ok()) _exit(4);
    for (int i = 0; i < 3; ++i) {
      if (!(*projector)->Step().ok()) _exit(5);
    }
  }
}

}  // namespace

TEST_CASE("projection worker: SIGKILL at any point, no event applied twice or skipped") {
  testing::TempDir dir;
  std::mt19937 rng(42);
  for (int round = 0; round < 12; ++round) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) AppendAndFold(dir.path(), 1000 + static_cast<std::uint32_t>(round));
    std::this_thread::sleep_for(std::chrono::milliseconds(80 + rng() % 250));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "the child exited by itself with status " << status);
  }
  auto ledger = ledger::Ledger::Open(dir.path());
  REQUIRE(ledger.ok());
  auto projector = projections::Projector::Open(**ledger);
  REQUIRE(projector.ok());
  REQUIRE((*projector)->CatchUp().ok());
  CHECK((*ledger)->Head().seq > 100);

  auto outbox = projections::testing::ReadOutboxEntries(**ledger);
  REQUIRE(outbox.has_value());
  const std::string gaps = projections::testing::ViewVersionGaps(*outbox);
  CHECK_MESSAGE(gaps.empty(), gaps);
  const std::uint64_t messages = outbox->size();
  CHECK(messages == (*projector)->checkpoint().next_outbox_seq - 1);

  const auto incremental = SnapshotViews(**ledger);
  REQUIRE((*projector)->Rebuild(projections::kAllViews).ok());
  CHECK(SnapshotViews(**ledger) == incremental);
}

}  // namespace waybill
