// NATS chaos (issue 6, "Fault sweeps"): `waybill serve` keeps ingesting through the NATS intake
// and HTTP, and publishing view updates, while its nats-server is stopped (SIGTERM) and restarted
// on the same port and JetStream store, or frozen (SIGSTOP) and thawed (SIGCONT), at random, for
// WAYBILL_CHAOS_SECONDS (30 in the short form).
//
// Checked:
//   - the server never wedges: a client polling /healthz (5 s timeout) always gets an answer,
//     HTTP ingest keeps answering 200, and serve stops cleanly (SIGTERM, exit 0) at the end;
//   - the server reports the NATS state: after nats-server stops, /metrics shows
//     waybill_nats_connected 0 and /readyz "nats":"disconnected"; a freeze longer than the
//     client's stale-connection detection (the long freeze of every run) shows the same; after
//     every recovery both show connected again;
//   - nothing acknowledged is lost: every event acknowledged (HTTP 200, JetStream PubAck) is in
//     the ledger exactly once, no id twice, and the chain verifies;
//   - nothing published out of order: in the WAYBILL_VIEWS stream (kept whole with
//     --views-per-subject), every (view, shipment) holds exactly the versions 1, 2, ..., stored
//     version, in that order. A core subscriber, which misses what is published while it is
//     disconnected (gaps allowed), must never see a version for the first time after a higher
//     one (re-sends of versions it already has are allowed: they are JetStream's to drop from the
//     stream, and core subscribers see them again), unless it joined between the two: see
//     FirstSeenDisorder.
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

// What /readyz and /metrics last said about NATS: -1 unknown, 0 disconnected, 1 connected.
struct NatsStateSeen {
  std::atomic<int> readyz{-1};
  std::atomic<int> metric{-1};
  bool Is(int v) const { return readyz.load() == v && metric.load() == v; }
};

int ReadyzNats(const std::string& body) {
  if (body.find("\"nats\":\"connected\"") != std::string::npos) return 1;
  if (body.find("\"nats\":\"disconnected\"") != std::string::npos) return 0;
  return -1;
}

int MetricNats(const std::string& body) {
  if (body.find("\nwaybill_nats_connected 1\n") != std::string::npos) return 1;
  if (body.find("\nwaybill_nats_connected 0\n") != std::string::npos) return 0;
  return -1;
}

// Every message of WAYBILL_VIEWS, parsed, in stream order.
std::vector<ViewUpdate> ReadViewsStream(nats::NatsClient& client) {
  std::vector<ViewUpdate> all;
  std::uint64_t next = 1;
  while (true) {
    auto chunk = client.ReadStream("WAYBILL_VIEWS", "", next, 1000, 10000);
    REQUIRE_MESSAGE(chunk.ok(), "read WAYBILL_VIEWS: " << chunk.status().ToString());
    if (chunk->empty()) break;
    next = chunk->back().stream_seq + 1;
    for (const auto& m : *chunk) {
      ViewUpdate u;
      REQUIRE_MESSAGE(ParseViewUpdate(m.payload, &u), "view payload: " << m.payload);
      all.push_back(std::move(u));
    }
  }
  return all;
}

std::string Diagnostics(const ServeProcess& serve, const NatsTestServer& nats) {
  return "\n--- waybill serve log tail ---\n" + serve.LogTail(5000) +
         "\n--- nats-server log tail ---\n" + nats.LogTail(1500);
}

}  // namespace

TEST_CASE("FirstSeenDisorder: a late first receipt is excused only across a join") {
  using R = ViewRecorder::Receipt;
  const ViewRecorder::Key key{"status", "SW-1"};
  // One connection throughout: 3 after 4 is a publishing disorder.
  CHECK_FALSE(FirstSeenDisorder({{key, {R{1, 0}, R{2, 0}, R{4, 0}, R{3, 0}}}}).empty());
  // Re-sends of received versions are fine.
  CHECK(FirstSeenDisorder({{key, {R{1, 0}, R{2, 0}, R{1, 0}, R{2, 0}, R{3, 0}}}}).empty());
  // Joined (generation 1) in the middle of a batch: got 4 and missed 2 and 3, which the
  // publisher resent after the next outage (generation 2).
  CHECK(FirstSeenDisorder({{key, {R{1, 0}, R{4, 1}, R{2, 2}, R{3, 2}, R{4, 2}}}}).empty());
  // But a version already due before the join's first delivery is not excused once the
  // generation had delivered lower ones.
  CHECK_FALSE(FirstSeenDisorder({{key, {R{1, 0}, R{2, 1}, R{5, 1}, R{3, 2}}}}).empty());
}

TEST_CASE("NATS chaos: nats-server stopped, restarted and frozen during ingest and publishing") {
  const int seconds = EnvInt("WAYBILL_CHAOS_SECONDS", 30);
  const std::uint32_t seed = SweepSeed();
  MESSAGE("NATS chaos: " << seconds << " s, seed " << seed << " (WAYBILL_SWEEP_SEED to replay)");
  std::mt19937 rng(seed);

  NatsTestServer nats;
  TempDir tmp;
  const std::string dd = tmp.Sub("data");
  const std::string secret = tmp.Sub("jwt.secret");
  std::ofstream(secret) << kSecret << "\n";
  ViewRecorder recorder(nats.url());

  ServeProcess serve(dd,
                     {"--nats", nats.url(), "--jwt-secret-file", secret, "--rate-limit", "0",
                      "--ingest-ack-wait", "2", "--views-per-subject", "1000000"},
                     tmp.Sub("serve.log"));
  serve.Start(std::chrono::seconds(60));
  const std::string url = serve.http_url();
  REQUIRE(!url.empty());
  const std::string ingest_token = Token("ingest");

  AckBook book;
  Problems problems;
  NatsStateSeen seen;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> health_polls{0}, max_health_ms{0}, nats_acked{0}, nats_failed{0},
      http_acked{0};
  std::vector<std::thread> threads;

  // JetStream publishes to the intake, from a client of its own that rides out the outages.
  threads.emplace_back([&] {
    nats::NatsOptions o;
    o.url = nats.url();
    o.name = "chaos intake publisher";
    auto c = nats::NatsClient::Connect(o);
    if (!c.ok()) {
      problems.Add("intake publisher: " + c.status().ToString());
      return;
    }
    auto client = std::move(c).value();
    EventSource src("n", seed + 1, book);
    std::mt19937 r(seed + 11);
    bool stream_ready = false;
    while (!stop.load()) {
      if (!stream_ready) {
        stream_ready =
            client->EnsureStream({"WAYBILL_INGEST", {"waybill.ingest.>"}, -1, 0, 120}).ok();
        if (!stream_ready) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
      }
      auto events = src.Next(1 + static_cast<int>(r() % 4));
      auto acked = client->PublishOrdered(
          {{"waybill.ingest.canonical", EventSource::Ndjson(events), "", {}}}, 2000);
      if (acked.ok() && *acked == 1) {
        book.Acked(events, "nats");
        nats_acked++;
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
      } else {
        nats_failed++;  // not acknowledged: may or may not have landed
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  });
  // HTTP ingest: must keep answering 200 whatever NATS does.
  threads.emplace_back([&] {
    auto http = MakeClient(url, ingest_token);
    EventSource src("h", seed + 2, book);
    std::mt19937 r(seed + 12);
    while (!stop.load()) {
      auto events = src.Next(1 + static_cast<int>(r() % 6));
      auto reply = http->Request("POST", "/v1/ingest/canonical", EventSource::Ndjson(events));
      if (!reply.ok()) {
        problems.Add("POST /v1/ingest/canonical: no answer: " + reply.status().ToString());
      } else if (reply->status != 200) {
        problems.Add("POST /v1/ingest/canonical answered " + std::to_string(reply->status) + ": " +
                     reply->body.substr(0, 300));
      } else {
        book.Acked(events, "http");
        http_acked++;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  // /healthz, /readyz and /metrics, every 100 ms, each with a generous 5 s client timeout.
  threads.emplace_back([&] {
    auto http = MakeClient(url, "", std::chrono::seconds(5));
    while (!stop.load()) {
      const auto t0 = Clock::now();
      auto h = http->Request("GET", "/healthz");
      const auto ms = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count());
      health_polls++;
      if (ms > max_health_ms.load()) max_health_ms.store(ms);
      if (!h.ok() || h->status != 200) {
        problems.Add("GET /healthz: " +
                     (h.ok() ? "answered " + std::to_string(h->status) : h.status().ToString()));
      }
      auto r = http->Request("GET", "/readyz");
      if (r.ok()) {
        seen.readyz.store(ReadyzNats(r->body));
      } else {
        problems.Add("GET /readyz: " + r.status().ToString());
      }
      auto m = http->Request("GET", "/metrics");
      if (m.ok()) {
        seen.metric.store(MetricNats("\n" + m->body));
      } else {
        problems.Add("GET /metrics: " + m.status().ToString());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  REQUIRE_MESSAGE(WaitFor(std::chrono::seconds(15), [&] { return seen.Is(1); }),
                  "/readyz and /metrics never reported NATS connected (readyz "
                      << seen.readyz.load() << ", metric " << seen.metric.load() << ")"
                      << Diagnostics(serve, nats));

  // The chaos. One freeze per run is long enough for the client to declare the connection
  // stale (it pings every 2 s and gives up after 2 unanswered pings).
  const auto deadline = Clock::now() + std::chrono::seconds(seconds);
  int stops = 0, freezes = 0, long_freezes = 0;
  std::string failure;
  auto state_is = [&](int want, std::chrono::seconds within, const std::string& what) {
    if (!failure.empty() || WaitFor(within, [&] { return seen.Is(want); })) return;
    failure = what + ": after " + std::to_string(within.count()) + " s /readyz says nats " +
              std::to_string(seen.readyz.load()) + " and waybill_nats_connected " +
              std::to_string(seen.metric.load()) + " (1 connected, 0 disconnected)";
  };
  auto stop_and_restart = [&] {
    nats.Stop();
    ++stops;
    state_is(0, std::chrono::seconds(5), "nats-server stopped");
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1700));
    nats.Start();
  };
  auto freeze = [&](bool until_reported) {
    nats.Freeze();
    ++freezes;
    if (until_reported) {
      ++long_freezes;
      state_is(0, std::chrono::seconds(10), "nats-server frozen");
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1000 + rng() % 2000));
    }
    nats.Thaw();
  };
  while (Clock::now() < deadline && failure.empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(800 + rng() % 2200));
    const int action = static_cast<int>(rng() % 5);
    if (action <= 1) {
      stop_and_restart();
    } else if (action == 2) {
      // A stop while the publishers drain what queued during a freeze: batches straddle
      // the disconnect.
      freeze(false);
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
      stop_and_restart();
    } else {
      // The second freeze of a run (or the first one late in the run) is the long one.
      freeze(long_freezes == 0 &&
             (freezes >= 1 || Clock::now() + std::chrono::seconds(12) > deadline));
    }
    state_is(1, std::chrono::seconds(20), "nats-server back");
  }
  if (long_freezes == 0 && failure.empty()) {  // every round happened to be a stop
    freeze(true);
    state_is(1, std::chrono::seconds(20), "nats-server back");
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  REQUIRE_MESSAGE(failure.empty(), failure << "\n" << problems.Text() << Diagnostics(serve, nats));
  CHECK_MESSAGE(problems.Text().empty(), problems.Text() << Diagnostics(serve, nats));
  CHECK(long_freezes == 1);
  MESSAGE("NATS chaos: " << stops << " stops, " << freezes << " freezes (" << long_freezes
                         << " long); acked " << nats_acked.load() << " NATS messages ("
                         << nats_failed.load() << " publishes failed during outages), "
                         << http_acked.load() << " HTTP posts; " << health_polls.load()
                         << " /healthz polls, slowest answer " << max_health_ms.load() << " ms");

  // Everything acknowledged is in, folded and published.
  const auto acked = book.Snapshot();
  Census c;
  std::string missing;
  const bool caught_up = WaitFor(std::chrono::seconds(60), [&] {
    c = TakeCensus(dd, false, false);
    if (!c.published()) return false;
    c = TakeCensus(dd, true, false);
    missing = ExactlyOnceViolations(c, acked);
    return c.published() && missing.empty();
  });
  REQUIRE_MESSAGE(caught_up, "not caught up 60 s after the chaos (head "
                                 << c.head << ", checkpoint " << c.checkpoint << ", outbox "
                                 << c.outbox_cursor << "/" << c.outbox_written << ", feed "
                                 << c.feed_cursor << ")\n"
                                 << missing << Diagnostics(serve, nats));
  c = TakeCensus(dd, true, true);
  REQUIRE_MESSAGE(c.ok, c.error);
  const std::string once = ExactlyOnceViolations(c, acked);
  CHECK_MESSAGE(once.empty(), once);
  CHECK_MESSAGE(c.verified, c.verify_error);

  // The stream: per (view, shipment) exactly 1..stored, in order.
  nats::NatsOptions o;
  o.url = nats.url();
  auto reader = nats::NatsClient::Connect(o);
  REQUIRE(reader.ok());
  REQUIRE(WaitFor(std::chrono::seconds(10), [&] { return (*reader)->connected(); }));
  const std::vector<ViewUpdate> stream = ReadViewsStream(**reader);
  std::map<ViewRecorder::Key, std::vector<std::uint64_t>> in_stream;
  for (const auto& u : stream) in_stream[{u.view, u.shipment}].push_back(u.version);
  std::string disorder;
  int shown = 0;
  for (const auto& [key, stored] : c.versions) {
    std::vector<std::uint64_t> want(stored);
    for (std::uint64_t v = 1; v <= stored; ++v) want[v - 1] = v;
    const auto& got = in_stream[key];
    if (got != want && shown++ < 10) {
      std::string list;
      for (std::uint64_t v : got) list += std::to_string(v) + " ";
      disorder += "  " + key.first + " of " + key.second + ": stored version " +
                  std::to_string(stored) + ", WAYBILL_VIEWS holds [" + list + "]\n";
    }
  }
  CHECK_MESSAGE(stream.size() == c.outbox_written,
                "WAYBILL_VIEWS holds " << stream.size() << " messages, the outbox wrote "
                                       << c.outbox_written);
  CHECK_MESSAGE(disorder.empty(), "view versions in WAYBILL_VIEWS:\n" << disorder);

  // The core subscriber: never a new version after a higher one, but across a join.
  const std::string sub_disorder = FirstSeenDisorder(recorder.Receipts());
  CHECK_MESSAGE(sub_disorder.empty(), "core subscriber:\n" << sub_disorder);
  MESSAGE("NATS chaos: " << c.head << " events in the ledger, " << stream.size()
                         << " view updates in WAYBILL_VIEWS, " << recorder.received()
                         << " received by the core subscriber");

  std::chrono::milliseconds took{0};
  CHECK_MESSAGE(serve.Stop(std::chrono::seconds(20), &took) == 0,
                "serve did not stop cleanly" << Diagnostics(serve, nats));
}

}  // namespace waybill
