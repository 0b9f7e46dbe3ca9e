// A full disk is survived: the data dir on a small tmpfs that the test fills.
//
// 1. The ledger alone (real RocksDB on the tmpfs): appends and projection writes are refused
//    with a "no space left" IoError that stores nothing (head, chain and idempotency index
//    unchanged), reads and verify keep working, and the writer recovers by itself once the
//    filler is deleted: the refused batch then gets the next sequence, exactly once.
// 2. `waybill serve` with NATS and the inbox: while full, HTTP ingest answers 503
//    storage_unavailable with Retry-After, NATS messages stay unacked, an inbox file stays in
//    place, /readyz and /metrics say why, and GETs and /v1/ledger/verify answer; after the
//    filler is deleted, without a restart, the HTTP retry succeeds, the NATS messages and
//    the inbox file are ingested, every acknowledged event is there exactly once, and
//    `waybill verify` finds the chain intact.
//
// Needs permission to mount a tmpfs (root or CAP_SYS_ADMIN; CI runs as root). Without it
// each case reports "cannot mount a tmpfs" and stops, having checked nothing.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <simdjson.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ledger/ledger.h"
#include "projections/projection_test_util.h"
#include "projections/projector.h"
#include "server/auth/authenticator.h"
#include "server/client/http_client.h"
#include "server/nats/nats_client.h"
#include "tests/nats_test_server.h"
#include "tests/serve_process.h"
#include "tests/test_util.h"

namespace waybill {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using client::HttpClient;
using client::HttpReply;

// A tmpfs of `mib` MiB mounted on `dir` for the scope; unmounted in every path (lazily if a
// straggler still holds a file in it).
class TmpfsMount {
 public:
  TmpfsMount(std::string dir, int mib) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    const std::string data = "size=" + std::to_string(mib) + "m,mode=0755";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, data.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = "cannot mount a tmpfs on " + dir_ + ": " + std::strerror(errno) +
               " (the test needs root or CAP_SYS_ADMIN)";
    }
  }
  ~TmpfsMount() {
    if (mounted_ && ::umount2(dir_.c_str(), 0) != 0) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

// Writes `path` until the filesystem is full (1 MiB, then 4 KiB pieces). Returns its size.
std::uint64_t FillUp(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE_MESSAGE(fd >= 0, "cannot create " << path << ": " << std::strerror(errno));
  std::uint64_t total = 0;
  for (std::size_t piece : {std::size_t{1} << 20, std::size_t{4096}}) {
    const std::string buf(piece, 'x');
    for (;;) {
      const ssize_t n = ::write(fd, buf.data(), buf.size());
      if (n <= 0) break;
      total += static_cast<std::uint64_t>(n);
    }
  }
  ::close(fd);
  return total;
}

bool WaitFor(std::chrono::milliseconds timeout, const std::function<bool()>& pred) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool Has(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

ledger::AppendBatch BatchOf(const std::vector<Event>& events) {
  ledger::AppendBatch b;
  for (const Event& e : events) b.events.push_back(ledger::PrepareEvent(e));
  return b;
}

TEST_CASE("ledger on a full tmpfs: refuses writes cleanly, reads work, recovers by itself") {
  testing::TempDir tmp;
  TmpfsMount mnt(tmp.Sub("mnt"), 64);
  if (!mnt.mounted()) {
    MESSAGE("skipped: " << mnt.error());
    return;
  }
  const std::string dir = mnt.dir() + "/ledger";
  std::vector<Status> state_changes;
  std::mutex changes_mu;
  ledger::LedgerOptions options;
  options.on_write_state_change = [&](const Status& st) {
    std::lock_guard<std::mutex> lock(changes_mu);
    state_changes.push_back(st);
  };
  auto opened = ledger::Ledger::Open(dir, options);
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  ledger::Ledger& l = **opened;

  std::vector<Event> first;
  for (int i = 0; i < 200; ++i) {
    first.push_back(testing::MakeMilestone("before-" + std::to_string(i),
                                           "SHP-" + std::to_string(i % 10), 1'000'000 + i));
  }
  auto stored = l.Append(BatchOf(first));
  REQUIRE_MESSAGE(stored.ok(), stored.status().ToString());
  const ledger::LedgerHead head = l.Head();
  REQUIRE(head.seq == 200);

  FillUp(mnt.dir() + "/filler");
  std::vector<Event> refused = {testing::MakeMilestone("during-1", "SHP-1", 2'000'000),
                                testing::MakeMilestone("during-2", "SHP-2", 2'000'001)};
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto r = l.Append(BatchOf(refused));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == ErrorCode::kIoError);
    CHECK_MESSAGE(Has(r.status().message(), "no space left"), r.status().message());
  }
  // Nothing of the refused groups is anywhere: head, chain, events.
  CHECK(l.Head().seq == head.seq);
  CHECK(l.Head().hash == head.hash);
  CHECK_FALSE(l.Get(head.seq + 1).ok());
  CHECK_FALSE(l.WriteState().ok());
  CHECK_FALSE(l.writer_figures().writable);
  CHECK(l.writer_figures().write_errors >= 3);
  ledger::AuxBatch aux;
  aux.Put(ledger::AuxSpace::kViews, "disk-full-test", std::string(1000, 'v'));
  CHECK_FALSE(l.WriteAux(aux).ok());
  // Reads keep working.
  auto e = l.Get(1);
  REQUIRE_MESSAGE(e.ok(), e.status().ToString());
  CHECK(e->event_id == "before-0");
  auto shipment = l.ReadShipment("SHP-3");
  REQUIRE(shipment.ok());
  CHECK(shipment->size() == 20);
  auto verified = l.Verify();
  REQUIRE(verified.ok());
  CHECK(verified->intact);
  CHECK(verified->events == 200);

  // Space returns: the writer's probe clears the state with no append to prompt it.
  fs::remove(mnt.dir() + "/filler");
  CHECK_MESSAGE(WaitFor(std::chrono::seconds(10), [&] { return l.WriteState().ok(); }),
                l.WriteState().ToString());
  CHECK(l.writer_figures().writable);
  auto retried = l.Append(BatchOf(refused));
  REQUIRE_MESSAGE(retried.ok(), retried.status().ToString());
  REQUIRE(retried->events.size() == 2);
  CHECK_FALSE(retried->events[0].duplicate);  // the refused attempts stored no id
  CHECK(retried->events[0].seq == 201);
  CHECK(retried->events[1].seq == 202);
  CHECK(l.WriteAux(aux).ok());
  {
    std::lock_guard<std::mutex> lock(changes_mu);
    REQUIRE(state_changes.size() == 2);  // once down, once up: not once per refused write
    CHECK_FALSE(state_changes[0].ok());
    CHECK(state_changes[1].ok());
  }
  opened->reset();

  // After a reopen everything acknowledged is there once and the chain is whole.
  auto reopened = ledger::Ledger::Open(dir);
  REQUIRE_MESSAGE(reopened.ok(), reopened.status().ToString());
  CHECK((*reopened)->Head().seq == 202);
  auto again = (*reopened)->Verify();
  REQUIRE(again.ok());
  CHECK(again->intact);
  CHECK(again->events == 202);
}

TEST_CASE("projection worker on a full tmpfs: a refused commit refolds from the stored views") {
  testing::TempDir tmp;
  TmpfsMount mnt(tmp.Sub("mnt"), 64);
  if (!mnt.mounted()) {
    MESSAGE("skipped: " << mnt.error());
    return;
  }
  const std::string dir = mnt.dir() + "/ledger";
  auto opened = ledger::Ledger::Open(dir);
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  ledger::Ledger& l = **opened;
  projections::testing::EventGenerator gen(11, 8);
  ledger::AppendBatch batch;
  for (int i = 0; i < 400; ++i) batch.events.push_back(ledger::PrepareEvent(gen.Next()));
  REQUIRE(l.Append(std::move(batch)).ok());

  projections::ProjectorOptions options;
  options.batch_events = 64;
  options.views_write_interval = std::chrono::hours(1);  // the views stay in the cache
  auto projector = projections::Projector::Open(l, options);
  REQUIRE(projector.ok());
  for (int i = 0; i < 3; ++i) REQUIRE((*projector)->Step().ok());
  REQUIRE((*projector)->checkpoint().last_seq == 192);
  REQUIRE((*projector)->checkpoint().views_through == 0);

  // The next commit is refused: the worker drops its cache, whose views were never stored.
  FillUp(mnt.dir() + "/filler");
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto refused = (*projector)->Step();
    REQUIRE_FALSE(refused.ok());
    CHECK_MESSAGE(Has(refused.status().message(), "no space left"), refused.status().message());
  }
  CHECK((*projector)->checkpoint().last_seq == 192);

  // Space returns: the worker refolds 1..192 from the log without queuing their versions
  // again, then goes on.
  fs::remove(mnt.dir() + "/filler");
  REQUIRE(WaitFor(std::chrono::seconds(10), [&] { return l.WriteState().ok(); }));
  auto caught_up = (*projector)->CatchUp();
  REQUIRE_MESSAGE(caught_up.ok(), caught_up.status().ToString());
  CHECK(*caught_up == 400);
  CHECK((*projector)->checkpoint().views_through == 400);
  auto outbox = projections::testing::ReadOutboxEntries(l);
  REQUIRE(outbox.has_value());
  CHECK(outbox->size() == (*projector)->checkpoint().next_outbox_seq - 1);
  CHECK_MESSAGE(projections::testing::ViewVersionGaps(*outbox).empty(),
                projections::testing::ViewVersionGaps(*outbox));
  const auto incremental = projections::testing::SnapshotViews(l);
  CHECK(incremental.size() == 3 * 8);
  REQUIRE((*projector)->Rebuild(projections::kAllViews).ok());
  CHECK(projections::testing::SnapshotViews(l) == incremental);
}

// Without the free-space guard RocksDB itself meets ENOSPC (in this small fresh database,
// in its write-ahead log: the preallocation of a new log fails on a full tmpfs). The process
// must not abort (Debian's RocksDB asserts if it resumes onto the broken log writer, or logs
// to a LOG file that hit ENOSPC), reads keep working, and what was acknowledged survives a
// reopen, after which appends work again.
TEST_CASE("ledger without the reserve: a RocksDB ENOSPC is survived until a restart") {
  testing::TempDir tmp;
  TmpfsMount mnt(tmp.Sub("mnt"), 32);
  if (!mnt.mounted()) {
    MESSAGE("skipped: " << mnt.error());
    return;
  }
  const std::string dir = mnt.dir() + "/ledger";
  ledger::LedgerOptions options;
  options.min_free_bytes = 0;
  auto opened = ledger::Ledger::Open(dir, options);
  REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
  std::vector<Event> first;
  for (int i = 0; i < 100; ++i) {
    first.push_back(testing::MakeMilestone("acked-" + std::to_string(i), "SHP-1", 1000 + i));
  }
  REQUIRE((*opened)->Append(BatchOf(first)).ok());

  FillUp(mnt.dir() + "/filler");
  Status failed;
  int appended = 0;
  for (int i = 0; i < 2000 && failed.ok(); ++i) {
    auto r = (*opened)->Append(
        BatchOf({testing::MakeMilestone("more-" + std::to_string(i), "SHP-2", 5000 + i)}));
    if (r.ok()) {
      ++appended;
    } else {
      failed = r.status();
    }
  }
  REQUIRE_MESSAGE(!failed.ok(), "the disk never filled");
  CHECK(failed.code() == ErrorCode::kIoError);
  const std::uint64_t acked = (*opened)->Head().seq;
  CHECK(acked == 100 + static_cast<std::uint64_t>(appended));
  CHECK((*opened)->Get(1).ok());
  auto verified = (*opened)->Verify();
  REQUIRE(verified.ok());
  CHECK(verified->intact);

  fs::remove(mnt.dir() + "/filler");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let probes run
  auto after = (*opened)->Append(BatchOf({testing::MakeMilestone("after", "SHP-3", 9000)}));
  const Status state = (*opened)->WriteState();
  MESSAGE("first failure: " << failed.ToString() << "; after space returned: "
                            << (after.ok() ? std::string("appended") : after.status().ToString()));
  if (!after.ok()) {
    // The write-ahead log failed: permanent until a restart, and the message says so.
    CHECK_MESSAGE(Has(after.status().message(), "restart waybill"), after.status().message());
    CHECK_FALSE(state.ok());
  }
  CHECK((*opened)->Get(acked).ok());
  opened->reset();

  auto reopened = ledger::Ledger::Open(dir, options);
  REQUIRE_MESSAGE(reopened.ok(), reopened.status().ToString());
  const std::uint64_t expect = acked + (after.ok() ? 1 : 0);
  CHECK((*reopened)->Head().seq == expect);
  auto again = (*reopened)->Verify();
  REQUIRE(again.ok());
  CHECK(again->intact);
  CHECK(again->events == expect);
  auto later = (*reopened)->Append(BatchOf({testing::MakeMilestone("later", "SHP-3", 9001)}));
  REQUIRE_MESSAGE(later.ok(), later.status().ToString());
  CHECK(later->events[0].seq == expect + 1);
}

// --- End to end: `waybill serve` with NATS and the inbox. ---

std::string Line(const std::string& id, const std::string& shipment, int minute) {
  char when[64];
  std::snprintf(when, sizeof when, "2025-06-01T%02d:%02d:00Z", minute / 60 % 24, minute % 60);
  return "{\"event_id\":\"" + id + "\",\"kind\":\"milestone\",\"occurred_at\":\"" + when +
         "\",\"source\":{\"system\":\"carrier\",\"partner\":\"ACME\"},\"shipment_id\":\"" +
         shipment + "\",\"carrier\":\"ACME\",\"status\":\"IN_TRANSIT\",\"source_code\":\"X6\"}";
}

std::string Lines(const std::string& prefix, const std::string& shipment, int n,
                  std::set<std::string>* ids) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    const std::string id = prefix + "-" + std::to_string(i);
    ids->insert(id);
    out += Line(id, shipment, i) + "\n";
  }
  return out;
}

TEST_CASE("waybill serve on a full disk: 503, unacked, left in place; resumes by itself") {
  testing::TempDir tmp;
  TmpfsMount mnt(tmp.Sub("mnt"), 96);
  if (!mnt.mounted()) {
    MESSAGE("skipped: " << mnt.error());
    return;
  }
  // The data dir on the small filesystem; NATS' store, the inbox and the log outside it.
  const std::string data = mnt.dir() + "/data";
  const std::string inbox = tmp.Sub("inbox");
  fs::create_directories(inbox + "/canonical");
  testing::NatsTestServer nats;
  testing::ServeProcess serve(data, {"--nats", nats.url(), "--inbox", inbox}, tmp.Sub("serve.log"));
  serve.Start(std::chrono::seconds(30));
  auto diag = [&] { return "\n--- serve log tail ---\n" + serve.LogTail(); };
  client::ClientOptions co;
  co.base_url = serve.http_url();
  co.bearer_token = testing::ReadWholeFile(server::auth::AdminTokenPath(data));
  while (!co.bearer_token.empty() && co.bearer_token.back() == '\n') co.bearer_token.pop_back();
  co.timeout = std::chrono::seconds(20);
  auto made = HttpClient::Create(co);
  REQUIRE(made.ok());
  HttpClient& http = **made;
  auto call = [&](std::string_view method, std::string_view target,
                  std::string_view body = {}) -> HttpReply {
    auto r = http.Request(method, target, body, {{"Content-Type", "application/x-ndjson"}});
    REQUIRE_MESSAGE(r.ok(), method << " " << target << ": " << r.status().ToString() << diag());
    return std::move(r).value();
  };

  // Acknowledged before the disk fills.
  std::set<std::string> ids;
  HttpReply first = call("POST", "/v1/ingest/canonical", Lines("before", "SHP-A", 20, &ids));
  REQUIRE_MESSAGE(first.status == 200, first.body << diag());
  REQUIRE_MESSAGE(WaitFor(std::chrono::seconds(15),
                          [&] { return call("GET", "/v1/shipments/SHP-A").status == 200; }),
                  diag());

  FillUp(mnt.dir() + "/filler");

  // HTTP: 503 storage_unavailable with Retry-After, never 200, never a hang.
  const std::string http_body = Lines("http", "SHP-B", 5, &ids);
  HttpReply refused = call("POST", "/v1/ingest/canonical", http_body);
  CHECK_MESSAGE(refused.status == 503, refused.body << diag());
  CHECK_MESSAGE(Has(refused.body, "\"storage_unavailable\""), refused.body);
  CHECK_MESSAGE(Has(refused.body, "no space left"), refused.body);
  CHECK(!refused.header("Retry-After").empty());

  // NATS: published (JetStream acked the publish) but not ingested, so not acked by waybill.
  auto nc = [&] {
    nats::NatsOptions o;
    o.url = nats.url();
    o.name = "disk_full_test";
    auto c = nats::NatsClient::Connect(o);
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    return std::move(c).value();
  }();
  REQUIRE(WaitFor(std::chrono::seconds(10), [&] { return nc->connected(); }));
  auto published = nc->PublishOrdered(
      {{"waybill.ingest.canonical", Lines("nats", "SHP-C", 5, &ids), "", {}}}, 5000);
  REQUIRE_MESSAGE(published.ok(), published.status().ToString());

  // Inbox: the file stays where it was dropped.
  const std::string dropped = inbox + "/canonical/full.ndjson";
  {
    const std::string content = Lines("inbox", "SHP-D", 5, &ids);
    std::ofstream(dropped + ".tmp", std::ios::binary) << content;
    fs::rename(dropped + ".tmp", dropped);
  }

  // /readyz and /metrics say why.
  HttpReply ready;
  CHECK_MESSAGE(WaitFor(std::chrono::seconds(10),
                        [&] {
                          ready = call("GET", "/readyz");
                          return ready.status == 503 && Has(ready.body, "not_writable");
                        }),
                ready.body << diag());
  CHECK_MESSAGE(Has(ready.body, "no space left"), ready.body);
  const std::string metrics = call("GET", "/metrics").body;
  CHECK(Has(metrics, "waybill_ledger_writable 0"));
  CHECK(Has(metrics, "waybill_ledger_write_errors_total"));

  // Give the NATS intake and the inbox a few refused attempts, then look again.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(fs::exists(dropped));
  CHECK(call("POST", "/v1/ingest/canonical", http_body).status == 503);
  // Reads keep working.
  HttpReply view = call("GET", "/v1/shipments/SHP-A");
  CHECK_MESSAGE(view.status == 200, view.body);
  HttpReply verify = call("GET", "/v1/ledger/verify");
  CHECK_MESSAGE(verify.status == 200, verify.body);
  CHECK_MESSAGE(Has(verify.body, "\"intact\":true"), verify.body);
  CHECK_MESSAGE(Has(verify.body, "\"events\":20"), verify.body);  // nothing landed meanwhile
  CHECK(Has(testing::ReadWholeFile(serve.log_path()), "stay unacked"));

  // Space returns; nothing is restarted.
  fs::remove(mnt.dir() + "/filler");
  HttpReply retry;
  int other_answers = 0;
  CHECK_MESSAGE(WaitFor(std::chrono::seconds(15),
                        [&] {
                          retry = call("POST", "/v1/ingest/canonical", http_body);
                          if (retry.status != 200 && retry.status != 503) ++other_answers;
                          return retry.status == 200;
                        }),
                retry.body << diag());
  CHECK(other_answers == 0);
  CHECK_MESSAGE(Has(retry.body, "\"accepted\":5"), retry.body);  // none had landed before
  // The NATS redelivery and the inbox's next scan bring the rest: 35 events, each once.
  const std::size_t expected = ids.size();
  REQUIRE(expected == 35);
  HttpReply final_verify;
  CHECK_MESSAGE(WaitFor(std::chrono::seconds(20),
                        [&] {
                          final_verify = call("GET", "/v1/ledger/verify");
                          return Has(final_verify.body,
                                     "\"events\":" + std::to_string(expected) + ",");
                        }),
                final_verify.body << diag());
  CHECK(WaitFor(std::chrono::seconds(10), [&] { return !fs::exists(dropped); }));
  CHECK(fs::exists(inbox + "/done/canonical/full.ndjson"));
  CHECK_MESSAGE(WaitFor(std::chrono::seconds(10),
                        [&] {
                          ready = call("GET", "/readyz");
                          return ready.status == 200;
                        }),
                ready.body);
  for (const char* shipment : {"SHP-B", "SHP-C", "SHP-D"}) {
    CHECK_MESSAGE(
        WaitFor(
            std::chrono::seconds(10),
            [&] { return call("GET", std::string("/v1/shipments/") + shipment).status == 200; }),
        shipment << diag());
  }
  // The list index, written beside the views, caught up too: every shipment listed.
  HttpReply list;
  CHECK_MESSAGE(WaitFor(std::chrono::seconds(10),
                        [&] {
                          list = call("GET", "/v1/shipments");
                          return Has(list.body, "\"SHP-A\"") && Has(list.body, "\"SHP-B\"") &&
                                 Has(list.body, "\"SHP-C\"") && Has(list.body, "\"SHP-D\"");
                        }),
                list.body << diag());
  REQUIRE(serve.Stop() == 0);

  // Offline: intact, and every acknowledged event id exactly once.
  testing::CliResult v = testing::RunCli({"verify", "--data-dir", data});
  CHECK_MESSAGE(v.code == 0, v.out << v.err);
  std::multiset<std::string> seen;
  for (const char* shipment : {"SHP-A", "SHP-B", "SHP-C", "SHP-D"}) {
    testing::CliResult h = testing::RunCli({"history", "--data-dir", data, shipment, "--json"});
    REQUIRE_MESSAGE(h.code == 0, h.err);
    simdjson::dom::parser parser;
    simdjson::dom::array events;
    REQUIRE_MESSAGE(parser.parse(h.out).get(events) == simdjson::SUCCESS, h.out);
    for (simdjson::dom::element ev : events) {
      std::string_view id;
      REQUIRE(ev["event_id"].get(id) == simdjson::SUCCESS);
      seen.insert(std::string(id));
    }
  }
  CHECK(seen.size() == expected);
  for (const std::string& id : ids) CHECK_MESSAGE(seen.count(id) == 1, id);
}

}  // namespace
}  // namespace waybill
