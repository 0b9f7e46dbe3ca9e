// The whole-server crash sweep (issue 6, "Fault sweeps"): the real `waybill serve`, fed at once
// through the NATS intake (JetStream publishes), HTTP NDJSON posts and inbox files, and queried
// over HTTP, is SIGKILLed at a random moment, restarted, and killed again, WAYBILL_SWEEP_ITERATIONS
// times (30 in the short form). One data dir and one nats-server (JetStream store in the temp
// dir) live through the whole sweep, and so does a core NATS subscriber on waybill.views.>,
// started before any ingest.
//
// After every restart (every WAYBILL_SWEEP_CHECK_EVERY-th, default every one, and always the
// last), once intake and publishing have caught up:
//   - every acknowledged event (HTTP 200, JetStream PubAck, inbox file renamed into place) is in
//     the ledger exactly once, and no event id is stored twice at all;
//   - the chain verifies (Ledger::Verify through a RocksDB secondary);
//   - for every (view, shipment) the versions the subscriber received are exactly
//     {1, ..., stored version} (repeats allowed, see GaplessViolations).
// After every kill whose restart is checked, a copy of the crash image is opened as a restarted
// server would open it: the projection worker catches up, and its views must equal a full
// rebuild byte for byte. The same comparison runs on the data dir after the final clean stop.
//
// The seed is printed; WAYBILL_SWEEP_SEED=N replays a sweep's choices (timings still vary).
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "tests/fault_load.h"
#include "tests/nats_test_server.h"
#include "tests/serve_process.h"
#include "tests/test_util.h"

namespace waybill {
namespace {

using namespace testing::fault;  // NOLINT: test-local helpers
using testing::NatsTestServer;
using testing::ServeProcess;
using testing::TempDir;

// Counts of what the load threads did in one sweep, for the figures printed at the end.
struct Figures {
  std::atomic<std::uint64_t> http_posts{0}, http_failed{0}, nats_messages{0}, inbox_files{0},
      queries{0};
};

// The four kinds of load, each on its own thread, until `stop`.
class MixedLoad {
 public:
  // Tokens are minted by the caller: REQUIRE cannot be used on the load threads.
  MixedLoad(const std::string& http_url, const std::string& ingest_token,
            const std::string& read_token, nats::NatsClient& intake, const std::string& inbox,
            int iteration, std::uint32_t seed, AckBook& book, Problems& problems, Figures& figures)
      : stop_(false) {
    const std::string it = std::to_string(iteration);
    threads_.emplace_back([&, http_url, ingest_token, it, seed] {
      EventSource src("h" + it, seed + 1, book);
      std::mt19937 rng(seed + 11);
      auto http = MakeClient(http_url, ingest_token);
      while (!stop_.load()) {
        auto events = src.Next(1 + static_cast<int>(rng() % 6));
        auto r = http->Request("POST", "/v1/ingest/canonical", EventSource::Ndjson(events));
        figures.http_posts++;
        if (!r.ok()) {
          figures.http_failed++;  // killed mid-request or down: not acknowledged
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        if (r->status == 200) {
          book.Acked(events, "http");
        } else {
          problems.Add("POST /v1/ingest/canonical answered " + std::to_string(r->status) + ": " +
                       r->body.substr(0, 300));
        }
      }
    });
    threads_.emplace_back([&, it, seed] {
      EventSource src("n" + it, seed + 2, book);
      std::mt19937 rng(seed + 12);
      while (!stop_.load()) {
        auto events = src.Next(1 + static_cast<int>(rng() % 4));
        auto acked = intake.PublishOrdered({{"waybill.ingest.canonical",
                                             EventSource::Ndjson(events),
                                             "",
                                             {{"Waybill-Partner", "ACME"}}}},
                                           5000);
        figures.nats_messages++;
        if (acked.ok() && *acked == 1) {
          book.Acked(events, "nats");
        } else {
          problems.Add("JetStream publish to the intake: " +
                       (acked.ok() ? std::string("not acked") : acked.status().ToString()));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
    threads_.emplace_back([&, inbox, it, seed] {
      EventSource src("f" + it, seed + 3, book);
      std::mt19937 rng(seed + 13);
      for (int n = 0; !stop_.load(); ++n) {
        auto events = src.Next(1 + static_cast<int>(rng() % 15));
        const std::string name = "f" + it + "-" + std::to_string(n) + ".ndjson";
        const std::string tmp = inbox + "/canonical/" + name + ".tmp";
        {
          std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
          out << EventSource::Ndjson(events);
          if (!out.flush()) problems.Add("cannot write " + tmp);
        }
        std::error_code ec;
        fs::rename(tmp, inbox + "/canonical/" + name, ec);
        if (ec) {
          problems.Add("rename " + tmp + ": " + ec.message());
        } else {
          book.Acked(events, "inbox");
          figures.inbox_files++;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 60));
      }
    });
    threads_.emplace_back([&, http_url, read_token, seed] {
      std::mt19937 rng(seed + 14);
      auto http = MakeClient(http_url, read_token);
      while (!stop_.load()) {
        const bool ready = rng() % 5 == 0;
        const std::string target =
            ready ? "/readyz" : "/v1/shipments/" + ShipmentId(static_cast<int>(rng() % kShipments));
        auto r = http->Request("GET", target);
        figures.queries++;
        if (!r.ok()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        const bool fine =
            ready ? (r->status == 200 || r->status == 503) : (r->status == 200 || r->status == 404);
        if (!fine) {
          problems.Add("GET " + target + " answered " + std::to_string(r->status) + ": " +
                       r->body.substr(0, 300));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }

  ~MixedLoad() { Stop(); }

  void Stop() {
    stop_.store(true);
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  std::atomic<bool> stop_;
  std::vector<std::thread> threads_;
};

// Files still waiting in the inbox's canonical folder (ignoring temp files).
std::size_t InboxPending(const std::string& inbox) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(inbox + "/canonical", ec)) {
    if (e.is_regular_file() && e.path().extension() != ".tmp") ++n;
  }
  return n;
}

std::int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::string Diagnostics(const ServeProcess& serve, const NatsTestServer& nats) {
  return "\n--- waybill serve log tail ---\n" + serve.LogTail(4000) +
         "\n--- nats-server log tail ---\n" + nats.LogTail(1500);
}

// Waits until everything acknowledged so far is ingested, folded and published, and the
// subscriber has the stored versions; then runs the checks. REQUIREs: a sweep stops at its
// first failure, with the logs.
void CatchUpAndCheck(const std::string& when, const std::string& dd, const std::string& inbox,
                     const AckBook& book, const ViewRecorder& recorder, const ServeProcess& serve,
                     const NatsTestServer& nats) {
  const auto acked = book.Snapshot();
  Census c;
  std::string missing;
  const bool caught_up = WaitFor(std::chrono::seconds(60), [&] {
    c = TakeCensus(dd, /*with_ids=*/false, /*with_verify=*/false);
    if (!c.published() || InboxPending(inbox) != 0) return false;
    c = TakeCensus(dd, /*with_ids=*/true, /*with_verify=*/false);
    if (!c.published()) return false;
    missing = ExactlyOnceViolations(c, acked);
    return missing.empty();
  });
  REQUIRE_MESSAGE(caught_up, when << ": not caught up within 60 s (census ok " << c.ok << " "
                                  << c.error << ", head " << c.head << ", checkpoint "
                                  << c.checkpoint << ", outbox " << c.outbox_cursor << "/"
                                  << c.outbox_written << ", feed " << c.feed_cursor
                                  << ", inbox pending " << InboxPending(inbox) << ")\n"
                                  << missing << Diagnostics(serve, nats));
  const bool delivered = WaitFor(std::chrono::seconds(15),
                                 [&] { return SubscriberHasStored(c, recorder.Received()); });
  c = TakeCensus(dd, /*with_ids=*/true, /*with_verify=*/true);
  REQUIRE_MESSAGE(c.ok, when << ": census: " << c.error);
  const std::string once = ExactlyOnceViolations(c, acked);
  CHECK_MESSAGE(once.empty(), when << ": " << once << Diagnostics(serve, nats));
  CHECK_MESSAGE(c.verified, when << ": verify: " << c.verify_error);
  const std::string gaps = GaplessViolations(c, recorder.Received());
  CHECK_MESSAGE((delivered && gaps.empty()),
                when << ": view versions received by the subscriber (delivered " << delivered
                     << ", recorder disconnects " << recorder.disconnects()
                     << ", dropped by NATS.c " << recorder.dropped() << "):\n"
                     << gaps << Diagnostics(serve, nats));
  CHECK(recorder.unparsable() == 0);
  const bool all_good = once.empty() && c.verified && delivered && gaps.empty();
  REQUIRE_MESSAGE(all_good, when << ": stopping the sweep at the first failure");
}

}  // namespace

TEST_CASE("crash sweep: SIGKILL under mixed load, nothing acknowledged lost or doubled") {
  const int iterations = EnvInt("WAYBILL_SWEEP_ITERATIONS", 30);
  // Under ASan the checks (ledger scans, copies and rebuilds, several times slower there)
  // dominate: every 5th restart is checked by default, the kills stay at 30.
#if defined(__SANITIZE_ADDRESS__)
  constexpr int kDefaultCheckEvery = 5;
#else
  constexpr int kDefaultCheckEvery = 1;
#endif
  const int check_every = std::max(1, EnvInt("WAYBILL_SWEEP_CHECK_EVERY", kDefaultCheckEvery));
  const std::uint32_t seed = SweepSeed();
  MESSAGE("crash sweep: " << iterations << " kills, checks after every " << check_every
                          << " restart(s) and the last, seed " << seed
                          << " (WAYBILL_SWEEP_SEED to replay)");
  std::mt19937 rng(seed);

  NatsTestServer nats;
  TempDir tmp;
  const std::string dd = tmp.Sub("data");
  const std::string inbox = tmp.Sub("inbox");
  fs::create_directories(inbox + "/canonical");
  const std::string secret = tmp.Sub("jwt.secret");
  std::ofstream(secret) << kSecret << "\n";

  // Subscribed before anything is ingested, so it can receive every version from 1.
  ViewRecorder recorder(nats.url());

  nats::NatsOptions no;
  no.url = nats.url();
  no.name = "crash sweep intake publisher";
  auto connected = nats::NatsClient::Connect(no);
  REQUIRE(connected.ok());
  auto intake = std::move(connected).value();
  REQUIRE(WaitFor(std::chrono::seconds(10), [&] { return intake->connected(); }));
  // The stream serve's intake would create, so publishes are acked from the start.
  REQUIRE(WaitFor(std::chrono::seconds(10), [&] {
    return intake->EnsureStream({"WAYBILL_INGEST", {"waybill.ingest.>"}, -1, 0, 120}).ok();
  }));

  // --ingest-ack-wait 1: messages fetched but unacknowledged at a kill come back after a
  // second instead of a minute, which keeps each catch-up short.
  ServeProcess serve(dd,
                     {"--nats", nats.url(), "--inbox", inbox, "--jwt-secret-file", secret,
                      "--rate-limit", "0", "--ingest-ack-wait", "1", "--views-per-subject", "1000"},
                     tmp.Sub("serve.log"));
  const std::string ingest_token = Token("ingest");
  const std::string read_token = Token("shipments:read costs:read");
  AckBook book;
  Problems problems;
  Figures figures;
  const auto started = Clock::now();
  int checks = 0, rebuild_checks = 0;
  std::size_t views_compared = 0;
  std::int64_t start_ms = 0, check_ms = 0, rebuild_ms = 0;  // where the time goes

  for (int i = 0; i < iterations; ++i) {
    auto t0 = Clock::now();
    serve.Start(std::chrono::seconds(60));
    start_ms += MsSince(t0);
    const bool check = i > 0 && (i % check_every == 0);
    if (check) {
      t0 = Clock::now();
      CatchUpAndCheck("after restart " + std::to_string(i), dd, inbox, book, recorder, serve, nats);
      check_ms += MsSince(t0);
      ++checks;
    }
    const std::string url = serve.http_url();
    REQUIRE_MESSAGE(!url.empty(), serve.LogTail());
    {
      MixedLoad load(url, ingest_token, read_token, *intake, inbox, i,
                     seed + static_cast<std::uint32_t>(i) * 100, book, problems, figures);
      std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 1300));
      serve.Kill();
    }
    REQUIRE_MESSAGE(problems.Text().empty(), "iteration " << i << ":\n"
                                                          << problems.Text()
                                                          << Diagnostics(serve, nats));
    const bool next_checked = (i + 1) % check_every == 0 || i + 1 == iterations;
    if (next_checked) {
      std::size_t compared = 0;
      const auto r0 = Clock::now();
      const std::string diff = RebuildViolations(dd, tmp.Sub("copy"), &compared);
      rebuild_ms += MsSince(r0);
      REQUIRE_MESSAGE(diff.empty(), "crash image after kill " << i + 1
                                                              << ": incremental views vs rebuild:\n"
                                                              << diff);
      ++rebuild_checks;
      views_compared = compared;
    }
  }

  serve.Start(std::chrono::seconds(60));
  CatchUpAndCheck("after the final restart", dd, inbox, book, recorder, serve, nats);
  ++checks;
  CHECK_MESSAGE(serve.Stop() == 0, Diagnostics(serve, nats));
  const std::string diff = RebuildViolations(dd, tmp.Sub("copy"));
  CHECK_MESSAGE(diff.empty(), "after the final clean stop: incremental views vs rebuild:\n"
                                  << diff);
  const Census final_census = TakeCensus(dd, true, false);
  const auto secs =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count() /
      1000.0;
  MESSAGE("crash sweep: " << iterations << " SIGKILLs in " << secs << " s; " << book.size()
                          << " events acknowledged, " << final_census.head
                          << " in the ledger; HTTP posts " << figures.http_posts.load() << " ("
                          << figures.http_failed.load() << " unanswered), NATS messages "
                          << figures.nats_messages.load() << ", inbox files "
                          << figures.inbox_files.load() << ", queries " << figures.queries.load()
                          << "; " << checks << " full checks, " << rebuild_checks
                          << " crash-image rebuild comparisons (" << views_compared
                          << " views in the last); subscriber received " << recorder.received()
                          << " view updates; time in serve starts " << start_ms
                          << " ms, catch-up and checks " << check_ms << " ms, crash-image rebuilds "
                          << rebuild_ms << " ms");
  CHECK(iterations >= 1);
  CHECK(final_census.head > 0);
}

}  // namespace waybill
