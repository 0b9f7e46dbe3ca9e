// End-to-end tests of `waybill serve` with a real nats-server (JetStream) and the real
// `waybill` binary: NATS intake -> ledger -> projections -> outbox -> WAYBILL_VIEWS, the event
// feed, a NATS outage with the folder inbox still ingesting, a crash during NATS intake, the
// data-dir lock seen by offline commands, and a clean SIGTERM.
//
// On a failure the serve log tail and the nats-server log tail are attached to the message.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/nats/nats_client.h"
#include "tests/nats_test_server.h"
#include "tests/serve_process.h"
#include "tests/test_util.h"

namespace waybill {
namespace {

namespace fs = std::filesystem;
using nats::InMessage;
using nats::NatsClient;
using testing::CliResult;
using testing::NatsTestServer;
using testing::RunCli;
using testing::ServeProcess;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

std::string SourceFile(const std::string& rel) {
  const char* src = std::getenv("WAYBILL_SOURCE_DIR");
  return std::string(src != nullptr ? src : WAYBILL_SOURCE_DIR_FALLBACK) + "/" + rel;
}

// Both logs, for failure messages.
std::string Diagnostics(const ServeProcess& serve, const NatsTestServer* nats = nullptr) {
  std::string s = "\n--- waybill serve log (" + serve.log_path() + ") tail ---\n" + serve.LogTail();
  if (nats != nullptr) s += "\n--- nats-server log tail ---\n" + nats->LogTail(2000);
  return s;
}

// `waybill stats`, parsed.
struct Stats {
  bool ok = false;
  std::string raw;
  uint64_t events = 0;
  uint64_t dead_letters = 0;
  uint64_t checkpoint = 0;
  uint64_t lag_events = 0;
  uint64_t outbox_backlog = 0;
  uint64_t outbox_cursor = 0;
  uint64_t event_feed_backlog = 0;
  std::string views_state;   // projections.publishing.views.state
  std::string views_error;   // projections.publishing.views.error, when failing
  std::string events_state;  // projections.publishing.events.state
};

Stats ReadStats(const std::string& data_dir) {
  Stats s;
  CliResult r = RunCli({"stats", "--data-dir", data_dir});
  s.raw = r.out + r.err;
  if (r.code != 0) return s;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(r.out).get(doc) != simdjson::SUCCESS) return s;
  simdjson::dom::element p;
  if (doc["events"].get(s.events) != simdjson::SUCCESS ||
      doc["dead_letters"].get(s.dead_letters) != simdjson::SUCCESS ||
      doc["projections"].get(p) != simdjson::SUCCESS ||
      p["checkpoint"].get(s.checkpoint) != simdjson::SUCCESS ||
      p["lag_events"].get(s.lag_events) != simdjson::SUCCESS ||
      p["outbox_backlog"].get(s.outbox_backlog) != simdjson::SUCCESS ||
      p["outbox_cursor"].get(s.outbox_cursor) != simdjson::SUCCESS ||
      p["event_feed_backlog"].get(s.event_feed_backlog) != simdjson::SUCCESS) {
    return s;
  }
  std::string_view v;
  if (p["publishing"]["views"]["state"].get(v) == simdjson::SUCCESS) s.views_state = v;
  if (p["publishing"]["views"]["error"].get(v) == simdjson::SUCCESS) s.views_error = v;
  if (p["publishing"]["events"]["state"].get(v) == simdjson::SUCCESS) s.events_state = v;
  s.ok = true;
  return s;
}

// Polls `pred` every 50 ms until it holds or `timeout` passes.
bool WaitFor(std::chrono::milliseconds timeout, const std::function<bool()>& pred) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Waits until stats satisfy `pred`; returns the last stats seen.
Stats WaitForStats(const std::string& data_dir, std::chrono::milliseconds timeout,
                   const std::function<bool(const Stats&)>& pred, bool* met) {
  Stats last;
  *met = WaitFor(timeout, [&] {
    last = ReadStats(data_dir);
    return last.ok && pred(last);
  });
  return last;
}

std::unique_ptr<NatsClient> MustConnect(const std::string& url) {
  nats::NatsOptions o;
  o.url = url;
  o.name = "serve_nats_test";
  auto c = NatsClient::Connect(o);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  auto client = std::move(c).value();
  REQUIRE_MESSAGE(WaitFor(std::chrono::seconds(10), [&] { return client->connected(); }),
                  "test client could not connect to " << url);
  return client;
}

// Every message of `stream` (matching `filter`), in stream order.
std::vector<InMessage> ReadAll(NatsClient& client, const std::string& stream,
                               const std::string& filter = "") {
  std::vector<InMessage> all;
  uint64_t next = 1;
  while (true) {
    auto chunk = client.ReadStream(stream, filter, next, 1000, 5000);
    REQUIRE_MESSAGE(chunk.ok(), "ReadStream " << stream << ": " << chunk.status().ToString());
    if (chunk->empty()) break;
    next = chunk->back().stream_seq + 1;
    for (auto& m : *chunk) all.push_back(std::move(m));
  }
  return all;
}

// A view update from WAYBILL_VIEWS.
struct ViewMsg {
  std::string subject, msg_id, view, shipment_id;
  bool customer_known = false;
  std::string customer_id;
  uint64_t version = 0;
  uint64_t last_seq = 0;
  uint64_t stream_seq = 0;
  std::string status;  // status view only ("" when null)
  size_t milestones = 0;
  std::string payload;
};

ViewMsg ParseViewMsg(const InMessage& m) {
  ViewMsg v;
  v.subject = m.subject;
  v.stream_seq = m.stream_seq;
  v.payload = m.payload;
  if (auto it = m.headers.find("Nats-Msg-Id"); it != m.headers.end()) v.msg_id = it->second;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE_MESSAGE(parser.parse(m.payload).get(doc) == simdjson::SUCCESS,
                  "view payload is not JSON: " << m.payload);
  std::string_view s;
  REQUIRE_MESSAGE(doc["view"].get(s) == simdjson::SUCCESS, "no view: " << m.payload);
  v.view = s;
  REQUIRE_MESSAGE(doc["shipment_id"].get(s) == simdjson::SUCCESS, "no shipment_id: " << m.payload);
  v.shipment_id = s;
  REQUIRE_MESSAGE(doc["version"].get(v.version) == simdjson::SUCCESS, "no version: " << m.payload);
  REQUIRE_MESSAGE(doc["last_seq"].get(v.last_seq) == simdjson::SUCCESS,
                  "no last_seq: " << m.payload);
  simdjson::dom::element cust;
  REQUIRE_MESSAGE(doc["customer_id"].get(cust) == simdjson::SUCCESS,
                  "no customer_id key: " << m.payload);
  if (cust.get(s) == simdjson::SUCCESS) {
    v.customer_known = true;
    v.customer_id = s;
  }
  if (v.view == "status") {
    if (doc["status"].get(s) == simdjson::SUCCESS) v.status = s;
    simdjson::dom::array ms;
    if (doc["milestones"].get(ms) == simdjson::SUCCESS) v.milestones = ms.size();
  }
  return v;
}

std::vector<ViewMsg> ParseViewMsgs(const std::vector<InMessage>& msgs) {
  std::vector<ViewMsg> out;
  for (const auto& m : msgs) out.push_back(ParseViewMsg(m));
  return out;
}

// `waybill view DATA_DIR SHIPMENT --json`; out empty on failure.
std::string ViewJson(const std::string& data_dir, const std::string& shipment) {
  CliResult r = RunCli({"view", "--data-dir", data_dir, shipment, "--json"});
  return r.code == 0 ? r.out : std::string();
}

// versions.{status,eta,freight_cost} and status from `waybill view --json`.
struct CombinedView {
  bool ok = false;
  std::map<std::string, uint64_t> versions;
  std::string status;
  std::string raw;
};

CombinedView ReadCombined(const std::string& data_dir, const std::string& shipment) {
  CombinedView c;
  c.raw = ViewJson(data_dir, shipment);
  if (c.raw.empty()) return c;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(c.raw).get(doc) != simdjson::SUCCESS) return c;
  simdjson::dom::object versions;
  if (doc["versions"].get(versions) != simdjson::SUCCESS) return c;
  for (auto field : versions) {
    uint64_t n = 0;
    if (field.value.get(n) == simdjson::SUCCESS) c.versions[std::string(field.key)] = n;
  }
  std::string_view s;
  if (doc["status"].get(s) == simdjson::SUCCESS) c.status = s;
  c.ok = true;
  return c;
}

// Writes `content` to DIR/NAME.tmp and renames it into place, as the inbox requires.
void DropFile(const std::string& dir, const std::string& name, const std::string& content) {
  fs::create_directories(dir);
  const std::string tmp = dir + "/" + name + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    REQUIRE(out.good());
  }
  fs::rename(tmp, dir + "/" + name);
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::string JoinLines(const std::vector<std::string>& lines, size_t from, size_t to) {
  std::string s;
  for (size_t i = from; i < to && i < lines.size(); ++i) s += lines[i] + "\n";
  return s;
}

// One canonical in-transit milestone, as one NDJSON line (no newline).
std::string Milestone(const std::string& event_id, const std::string& shipment,
                      const std::string& customer, int minute_of_day_offset, int index) {
  char when[64];
  const int total = minute_of_day_offset + index;  // minutes since 2025-06-01T00:00Z
  std::snprintf(when, sizeof when, "2025-06-%02dT%02d:%02d:00Z", 1 + total / 1440,
                (total / 60) % 24, total % 60);
  std::string s = "{\"event_id\":\"" + event_id + "\",\"kind\":\"milestone\",\"occurred_at\":\"" +
                  when +
                  "\",\"source\":{\"system\":\"carrier\",\"partner\":\"ACME\"},\"shipment_id\":\"" +
                  shipment + "\"";
  if (!customer.empty()) s += ",\"customer_id\":\"" + customer + "\"";
  s += ",\"carrier\":\"ACME\",\"status\":\"IN_TRANSIT\",\"source_code\":\"X6\","
       "\"location\":{\"city\":\"City" +
       std::to_string(index) + "\",\"country\":\"US\"}}";
  return s;
}

// Checks, for every (view, shipment), that the versions arrive in stream order as exactly
// 1, 2, 3, ... (no gap, no duplicate, no reordering), that the Nats-Msg-Id matches the
// payload, and returns the last version per (view, shipment).
std::map<std::pair<std::string, std::string>, uint64_t> CheckGapless(
    const std::vector<ViewMsg>& msgs, const std::string& context) {
  std::map<std::pair<std::string, std::string>, uint64_t> last;
  std::map<std::pair<std::string, std::string>, std::vector<uint64_t>> seen;
  for (const auto& m : msgs) seen[{m.view, m.shipment_id}].push_back(m.version);
  for (const auto& [key, versions] : seen) {
    std::vector<uint64_t> expected(versions.size());
    for (size_t i = 0; i < expected.size(); ++i) expected[i] = i + 1;
    std::string got;
    for (uint64_t v : versions) got += std::to_string(v) + " ";
    CHECK_MESSAGE(versions == expected, context << ": view " << key.first << " of " << key.second
                                                << " arrived as versions [" << got
                                                << "], expected 1.." << versions.size());
    last[key] = versions.back();
  }
  for (const auto& m : msgs) {
    CHECK_MESSAGE(m.msg_id == m.view + ":" + m.shipment_id + ":" + std::to_string(m.version),
                  context << ": Nats-Msg-Id \"" << m.msg_id << "\" for " << m.subject << " version "
                          << m.version);
  }
  return last;
}

}  // namespace

TEST_CASE(
    "X12 214 published to waybill.ingest.x12 comes out on waybill.views.status.> and the "
    "event feed") {
  NatsTestServer nats;
  TempDir tmp;
  const std::string dd = tmp.Sub("data");
  ServeProcess serve(dd, {"--nats", nats.url()}, tmp.Sub("serve.log"));
  serve.Start();
  auto client = MustConnect(nats.url());

  // The X12 file through `waybill send` (JetStream publish with the partner header).
  CliResult sent = RunCli({"send", "--nats", nats.url(), "--format", "x12", "--partner", "ACME",
                           SourceFile("tests/fixtures/x12/214_statuses.x12")});
  REQUIRE_MESSAGE(sent.code == 0, "waybill send failed: " << sent.out << sent.err);
  CHECK(sent.out.find("{\"sent\":1}") != std::string::npos);

  // A canonical NDJSON message (two events) whose ids need escaping in subjects.
  const std::string odd_shipment = "SHP.9 >x";
  const std::string odd_customer = "CUST 7.a*";
  {
    const std::string ndjson =
        "{\"event_id\":\"odd-order-1\",\"kind\":\"order\",\"occurred_at\":\"2025-03-01T08:00:00Z\","
        "\"source\":{\"system\":\"erp\",\"partner\":\"SAP\"},\"shipment_id\":\"SHP.9 >x\","
        "\"order_id\":\"SO-9\",\"customer_id\":\"CUST 7.a*\",\"status\":\"ORDER_RELEASED\","
        "\"order\":{\"promised\":{\"date\":\"2025-03-07\"}}}\n"
        "{\"event_id\":\"odd-pickup-1\",\"kind\":\"milestone\",\"occurred_at\":"
        "\"2025-03-02T08:00:00Z\",\"source\":{\"system\":\"carrier\",\"partner\":\"ACME\"},"
        "\"shipment_id\":\"SHP.9 >x\",\"carrier\":\"ACME\",\"status\":\"PICKED_UP\","
        "\"source_code\":\"CP\"}\n";
    auto acked = client->PublishOrdered({{"waybill.ingest.canonical", ndjson, "", {}}}, 5000);
    REQUIRE_MESSAGE(acked.ok(), acked.status().ToString());
    REQUIRE(*acked == 1);
  }

  // The status views appear on WAYBILL_VIEWS.
  std::vector<ViewMsg> status_msgs;
  auto has_final = [&](const std::string& shipment, uint64_t version) {
    return std::any_of(status_msgs.begin(), status_msgs.end(), [&](const ViewMsg& m) {
      return m.shipment_id == shipment && m.version == version;
    });
  };
  const bool arrived = WaitFor(std::chrono::seconds(20), [&] {
    auto got = client->ReadStream("WAYBILL_VIEWS", "waybill.views.status.>", 1, 1000, 2000);
    if (!got.ok()) return false;
    status_msgs = ParseViewMsgs(*got);
    return has_final("SHIP-1001", 4) && has_final("SHIP-1002", 1) && has_final(odd_shipment, 2);
  });
  REQUIRE_MESSAGE(arrived, "status views did not arrive on WAYBILL_VIEWS within 20 s; got "
                               << status_msgs.size() << " messages" << Diagnostics(serve, &nats));

  CheckGapless(status_msgs, "status views");
  for (const auto& m : status_msgs) {
    CHECK(m.view == "status");
    if (m.shipment_id == "SHIP-1001" || m.shipment_id == "SHIP-1002") {
      // No event names a customer: the placeholder token "_".
      CHECK_MESSAGE(m.subject == "waybill.views.status._." + m.shipment_id, m.subject);
      CHECK_FALSE(m.customer_known);
    } else {
      CHECK(m.shipment_id == odd_shipment);
      // '.', ' ', '*', '>' are escaped as %XX; the customer token confines the subject.
      CHECK_MESSAGE(m.subject == "waybill.views.status.CUST%207%2Ea%2A.SHP%2E9%20%3Ex", m.subject);
      CHECK(m.customer_known);
      CHECK(m.customer_id == odd_customer);
    }
  }
  std::map<std::string, ViewMsg> final_status;
  for (const auto& m : status_msgs) {
    if (!final_status.count(m.shipment_id) || final_status[m.shipment_id].version < m.version) {
      final_status[m.shipment_id] = m;
    }
  }
  // 214_statuses.x12: SHIP-1001 has X3, AF, CP and D1 (the latest by event time): DELIVERED.
  CHECK(final_status["SHIP-1001"].status == "DELIVERED");
  CHECK(final_status["SHIP-1001"].milestones == 4);
  CHECK(final_status["SHIP-1001"].last_seq > 0);
  CHECK(final_status["SHIP-1002"].status == "IN_TRANSIT");  // P1
  // ST 0003 (SHIP-1003) has a wrong SE segment count: rejected alone, so no view for it.
  CHECK(final_status.count("SHIP-1003") == 0);
  CHECK(final_status[odd_shipment].status == "PICKED_UP");

  // `waybill view --json` (read-only secondary while serve runs) shows the same.
  for (const auto& [shipment, m] : final_status) {
    CombinedView c = ReadCombined(dd, shipment);
    REQUIRE_MESSAGE(c.ok, "waybill view " << shipment << " failed: " << c.raw);
    CHECK_MESSAGE(c.status == m.status, shipment);
    CHECK_MESSAGE(c.versions["status"] == m.version, shipment);
  }

  // The event feed: every ledger event once on waybill.events.<kind>.<shipment>.
  bool met = false;
  Stats stats = WaitForStats(
      dd, std::chrono::seconds(15),
      [](const Stats& s) {
        return s.events > 0 && s.lag_events == 0 && s.event_feed_backlog == 0 &&
               s.outbox_backlog == 0;
      },
      &met);
  REQUIRE_MESSAGE(met, "not drained: " << stats.raw << Diagnostics(serve, &nats));
  CHECK(stats.events == 7);        // 5 status events from the X12 file + 2 canonical
  CHECK(stats.dead_letters == 1);  // the broken ST 0003
  std::vector<InMessage> feed = ReadAll(*client, "WAYBILL_EVENTS");
  CHECK(feed.size() == stats.events);
  std::set<std::string> ids;
  int ship_1001 = 0;
  for (const auto& m : feed) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(m.payload).get(doc) == simdjson::SUCCESS);
    std::string_view id, kind, shipment;
    REQUIRE(doc["event_id"].get(id) == simdjson::SUCCESS);
    REQUIRE(doc["kind"].get(kind) == simdjson::SUCCESS);
    REQUIRE(doc["shipment_id"].get(shipment) == simdjson::SUCCESS);
    auto hdr = m.headers.find("Nats-Msg-Id");
    REQUIRE(hdr != m.headers.end());
    CHECK(hdr->second == id);
    ids.insert(std::string(id));
    if (shipment == "SHIP-1001") {
      ++ship_1001;
      CHECK(m.subject == "waybill.events.milestone.SHIP-1001");
    }
    if (shipment == odd_shipment) {
      CHECK(m.subject == "waybill.events." + std::string(kind) + ".SHP%2E9%20%3Ex");
    }
  }
  CHECK(ids.size() == feed.size());
  CHECK(ship_1001 == 4);
  CHECK(ids.count("odd-order-1") == 1);
  CHECK(ids.count("odd-pickup-1") == 1);

  CHECK_MESSAGE(serve.Stop() == 0, Diagnostics(serve, &nats));
}

TEST_CASE("NATS outage: the inbox keeps ingesting, the outbox grows, then drains gaplessly") {
  NatsTestServer nats;
  TempDir tmp;
  const std::string dd = tmp.Sub("data");
  const std::string inbox = tmp.Sub("inbox");
  const std::string drop = inbox + "/canonical";
  fs::create_directories(drop);
  ServeProcess serve(dd, {"--nats", nats.url(), "--inbox", inbox, "--views-per-subject", "1000"},
                     tmp.Sub("serve.log"));
  serve.Start();
  const std::vector<std::string> sample = ReadLines(SourceFile("deploy/sample/shipments.ndjson"));
  REQUIRE(sample.size() == 18);

  // Before the outage: SHP-1001's first six events are published.
  DropFile(drop, "a.ndjson", JoinLines(sample, 0, 6));
  bool met = false;
  Stats s = WaitForStats(
      dd, std::chrono::seconds(15),
      [](const Stats& st) {
        return st.events == 6 && st.lag_events == 0 && st.outbox_backlog == 0 &&
               st.event_feed_backlog == 0 && st.outbox_cursor > 0;
      },
      &met);
  REQUIRE_MESSAGE(met,
                  "first file not ingested and published: " << s.raw << Diagnostics(serve, &nats));
  CHECK(s.views_state == "ok");

  nats.Stop();

  // During the outage: the rest of the sample, then 4 more shipments of 10 events each.
  DropFile(drop, "b.ndjson", JoinLines(sample, 6, 18));
  s = WaitForStats(
      dd, std::chrono::seconds(15),
      [](const Stats& st) {
        return st.events == 18 && st.lag_events == 0 && st.outbox_backlog > 0 &&
               st.views_state == "failing";
      },
      &met);
  REQUIRE_MESSAGE(met,
                  "during the outage the inbox should ingest, the outbox grow and "
                  "publishing report failing: "
                      << s.raw << Diagnostics(serve, &nats));
  const uint64_t backlog_1 = s.outbox_backlog;
  CHECK(s.event_feed_backlog > 0);
  CHECK_MESSAGE(!s.views_error.empty(), s.raw);
  CHECK(WaitFor(std::chrono::seconds(5), [&] { return ReadStats(dd).events_state == "failing"; }));
  CHECK(fs::exists(inbox + "/done/canonical/b.ndjson"));

  std::string more;
  for (int k = 0; k < 40; ++k) {
    more += Milestone("out-" + std::to_string(k), "OUT-" + std::to_string(k % 4),
                      "CUST-" + std::to_string(k % 2), 0, k) +
            "\n";
  }
  DropFile(drop, "c.ndjson", more);
  s = WaitForStats(
      dd, std::chrono::seconds(15),
      [](const Stats& st) { return st.events == 58 && st.lag_events == 0; }, &met);
  REQUIRE_MESSAGE(
      met, "third file not ingested during the outage: " << s.raw << Diagnostics(serve, &nats));
  CHECK_MESSAGE(s.outbox_backlog >= backlog_1 + 40,
                "backlog did not grow: " << backlog_1 << " -> " << s.raw);
  CHECK(s.views_state == "failing");
  // Queries keep answering during the outage.
  CombinedView during = ReadCombined(dd, "OUT-1");
  CHECK(during.ok);
  CHECK(during.versions["status"] == 10);

  nats.Restart();
  s = WaitForStats(
      dd, std::chrono::seconds(30),
      [](const Stats& st) {
        return st.events == 58 && st.lag_events == 0 && st.outbox_backlog == 0 &&
               st.event_feed_backlog == 0;
      },
      &met);
  REQUIRE_MESSAGE(
      met, "outbox did not drain after NATS came back: " << s.raw << Diagnostics(serve, &nats));
  CHECK_MESSAGE(s.views_state == "ok", s.raw);
  CHECK_MESSAGE(s.events_state == "ok", s.raw);

  auto client = MustConnect(nats.url());
  auto info = client->GetStreamInfo("WAYBILL_VIEWS");
  REQUIRE_MESSAGE(info.ok(), info.status().ToString());
  CHECK(info->spec.max_msgs_per_subject == 1000);

  const std::vector<ViewMsg> views = ParseViewMsgs(ReadAll(*client, "WAYBILL_VIEWS"));
  // One message per outbox entry: nothing lost, nothing doubled.
  CHECK_MESSAGE(views.size() == s.outbox_cursor,
                "WAYBILL_VIEWS has " << views.size() << " messages; stats: " << s.raw);
  const auto last = CheckGapless(views, "after the outage");
  std::set<std::string> shipments;
  for (const auto& [key, v] : last) shipments.insert(key.second);
  CHECK(shipments == std::set<std::string>{"OUT-0", "OUT-1", "OUT-2", "OUT-3", "SHP-1001",
                                           "SHP-2002", "SHP-3003"});
  for (const auto& shipment : shipments) {
    CombinedView c = ReadCombined(dd, shipment);
    REQUIRE_MESSAGE(c.ok, "waybill view " << shipment << ": " << c.raw);
    for (const char* view : {"status", "eta", "freight_cost"}) {
      auto it = last.find({view, shipment});
      const uint64_t published = it == last.end() ? 0 : it->second;
      CHECK_MESSAGE(published == c.versions[view],
                    view << " of " << shipment << ": last published version " << published
                         << ", waybill view says " << c.versions[view]);
    }
  }
  // The customer token follows what is known: SHP-2002's first event (a carrier milestone)
  // came before the ERP order naming CUST-0077.
  for (const auto& m : views) {
    const std::string expected_customer = m.customer_known ? m.customer_id : "_";
    const size_t dot = m.subject.find('.', std::string("waybill.views.").size());
    REQUIRE(dot != std::string::npos);
    const size_t dot2 = m.subject.find('.', dot + 1);
    CHECK_MESSAGE(m.subject.substr(dot + 1, dot2 - dot - 1) == expected_customer, m.subject);
  }

  // The event feed: all 58 events once.
  const std::vector<InMessage> feed = ReadAll(*client, "WAYBILL_EVENTS");
  std::set<std::string> ids;
  for (const auto& m : feed) {
    auto hdr = m.headers.find("Nats-Msg-Id");
    if (hdr != m.headers.end()) ids.insert(hdr->second);
  }
  CHECK(feed.size() == 58);
  CHECK(ids.size() == 58);

  CHECK_MESSAGE(serve.Stop() == 0, Diagnostics(serve, &nats));
}

TEST_CASE(
    "SIGKILL during NATS intake: nothing lost, nothing twice, views gapless, online "
    "rebuild identical") {
  NatsTestServer nats;
  TempDir tmp;
  const std::string dd = tmp.Sub("data");
  constexpr int kEvents = 300;
  constexpr int kShipments = 20;
  auto client = MustConnect(nats.url());
  // The same stream serve's intake creates.
  Status made = Status::Ok();
  REQUIRE(WaitFor(std::chrono::seconds(5), [&] {
    made = client->EnsureStream({"WAYBILL_INGEST", {"waybill.ingest.>"}, -1, 0, 120});
    return made.ok();
  }));
  std::vector<NatsClient::OutMessage> msgs;
  std::set<std::string> sent_ids;
  auto shipment_of = [](int i) {
    char id[16];
    std::snprintf(id, sizeof id, "CR-%02d", i % kShipments);
    return std::string(id);
  };
  for (int i = 0; i < kEvents; ++i) {
    const std::string id = "crash-" + std::to_string(i);
    sent_ids.insert(id);
    msgs.push_back({"waybill.ingest.canonical",
                    Milestone(id, shipment_of(i), "CUST-" + std::to_string(i % 3), 0, i) + "\n",
                    "",
                    {{"Waybill-Partner", "ACME"}}});
  }
  auto publish = [&](size_t from, size_t to) {
    std::vector<NatsClient::OutMessage> part(msgs.begin() + from, msgs.begin() + to);
    auto acked = client->PublishOrdered(part, 10000);
    REQUIRE_MESSAGE(acked.ok(), acked.status().ToString());
    REQUIRE(*acked == part.size());
  };

  ServeProcess serve(dd,
                     {"--nats", nats.url(), "--views-per-subject", "1000", "--ingest-batch", "16",
                      "--ingest-ack-wait", "2"},
                     tmp.Sub("serve.log"));
  serve.Start();
  publish(0, 100);
  bool met = false;
  Stats s = WaitForStats(
      dd, std::chrono::seconds(15), [](const Stats& st) { return st.events > 0; }, &met);
  REQUIRE_MESSAGE(met, "nothing ingested from NATS: " << s.raw << Diagnostics(serve, &nats));
  publish(100, 200);
  serve.Kill();  // while the second hundred is being taken in

  s = ReadStats(dd);
  REQUIRE_MESSAGE(s.ok, s.raw);
  MESSAGE("events in the ledger at SIGKILL: " << s.events << ", checkpoint " << s.checkpoint
                                              << ", outbox backlog " << s.outbox_backlog);
  CHECK(s.events > 0);
  CHECK(s.events <= 200);
  publish(200, kEvents);  // the rest arrives while serve is down

  serve.Start();
  s = WaitForStats(
      dd, std::chrono::seconds(40),
      [&](const Stats& st) {
        return st.events == kEvents && st.lag_events == 0 && st.outbox_backlog == 0 &&
               st.event_feed_backlog == 0;
      },
      &met);
  REQUIRE_MESSAGE(met, "not all events in and published after the restart: "
                           << s.raw << Diagnostics(serve, &nats));
  // Redeliveries of messages that were durable but unacked at the kill are absorbed.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // > ack wait
  s = ReadStats(dd);
  CHECK_MESSAGE(s.events == kEvents, "events stored twice? " << s.raw);

  CliResult verify = RunCli({"verify", "--data-dir", dd});
  CHECK_MESSAGE(verify.code == 0, "verify: " << verify.out << verify.err);

  // Every message of WAYBILL_INGEST was acked: a fetch through the durable consumer after
  // serve stops returns nothing (checked below, after Stop).

  const std::vector<ViewMsg> views = ParseViewMsgs(ReadAll(*client, "WAYBILL_VIEWS"));
  CHECK_MESSAGE(views.size() == s.outbox_cursor,
                "WAYBILL_VIEWS has " << views.size() << " messages; stats: " << s.raw);
  const auto last = CheckGapless(views, "after the crash");
  std::vector<std::string> shipments;
  for (int k = 0; k < kShipments; ++k) shipments.push_back(shipment_of(k));
  for (const auto& shipment : shipments) {
    auto it = last.find({"status", shipment});
    REQUIRE_MESSAGE(it != last.end(), "no status view published for " << shipment);
    CHECK_MESSAGE(it->second == kEvents / kShipments, shipment);  // each milestone is new
    CombinedView c = ReadCombined(dd, shipment);
    REQUIRE_MESSAGE(c.ok, c.raw);
    CHECK(c.versions["status"] == it->second);
  }
  const std::vector<InMessage> feed = ReadAll(*client, "WAYBILL_EVENTS");
  std::set<std::string> feed_ids;
  for (const auto& m : feed) {
    auto hdr = m.headers.find("Nats-Msg-Id");
    if (hdr != m.headers.end()) feed_ids.insert(hdr->second);
  }
  CHECK(feed.size() == static_cast<size_t>(kEvents));
  CHECK(feed_ids == sent_ids);

  // Online rebuild through the control socket: same answers before and after.
  std::map<std::string, std::string> before;
  for (const auto& shipment : shipments) before[shipment] = ViewJson(dd, shipment);
  CliResult rebuilt = RunCli({"rebuild", "--data-dir", dd});
  CHECK_MESSAGE(rebuilt.code == 0,
                "rebuild: " << rebuilt.out << rebuilt.err << Diagnostics(serve, &nats));
  CHECK_MESSAGE(rebuilt.out.rfind("{\"ok\":true", 0) == 0, rebuilt.out);
  CHECK(serve.running());
  for (const auto& shipment : shipments) {
    const std::string after = ViewJson(dd, shipment);
    CHECK_MESSAGE(!after.empty(), shipment);
    CHECK_MESSAGE(after == before[shipment], shipment << " changed by the rebuild:\nbefore: "
                                                      << before[shipment] << "\nafter:  " << after);
  }
  Stats after_rebuild = ReadStats(dd);
  CHECK_MESSAGE(after_rebuild.outbox_cursor == s.outbox_cursor,
                "rebuild must publish nothing: " << after_rebuild.raw);
  CHECK(after_rebuild.events == kEvents);

  CHECK_MESSAGE(serve.Stop() == 0, Diagnostics(serve, &nats));

  // Nothing left unacked on the intake consumer.
  auto consumer = client->MakePullConsumer("WAYBILL_INGEST", "waybill", "waybill.ingest.>", 2);
  REQUIRE_MESSAGE(consumer.ok(), consumer.status().ToString());
  auto pending = (*consumer)->Fetch(10, 3000);  // > ack wait: redeliveries would show up
  REQUIRE_MESSAGE(pending.ok(), pending.status().ToString());
  CHECK_MESSAGE(pending->empty(), pending->size() << " intake messages were never acked");
}

TEST_CASE("offline import on a data dir held by waybill serve fails and names the holder") {
  TempDir tmp;
  const std::string dd = tmp.Sub("data");
  ServeProcess serve(dd, {}, tmp.Sub("serve.log"));
  serve.Start();
  CliResult r = RunCli({"import", "--data-dir", dd, "--format", "canonical",
                        SourceFile("deploy/sample/shipments.ndjson")});
  CHECK(r.code == 1);
  CHECK_MESSAGE(r.err.find("waybill serve") != std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find("pid " + std::to_string(serve.pid())) != std::string::npos,
                "pid " << serve.pid() << " not named in: " << r.err);
  CHECK_MESSAGE(r.err.find(dd) != std::string::npos, r.err);
  Stats s = ReadStats(dd);
  CHECK_MESSAGE(s.ok, s.raw);
  CHECK(s.events == 0);
  CHECK_MESSAGE(serve.Stop() == 0, Diagnostics(serve));
}

TEST_CASE("SIGTERM drains: exit 0 within seconds, views folded and published") {
  NatsTestServer nats;
  TempDir tmp;
  const std::string dd = tmp.Sub("data");
  const std::string inbox = tmp.Sub("inbox");
  fs::create_directories(inbox + "/canonical");
  ServeProcess serve(dd, {"--nats", nats.url(), "--inbox", inbox, "--views-per-subject", "1000"},
                     tmp.Sub("serve.log"));
  serve.Start();
  constexpr int kEvents = 3000;
  std::string big;
  for (int i = 0; i < kEvents; ++i) {
    big += Milestone("term-" + std::to_string(i), "TERM-" + std::to_string(i % 50),
                     "CUST-" + std::to_string(i % 5), 0, i) +
           "\n";
  }
  DropFile(inbox + "/canonical", "big.ndjson", big);
  // Once the file is done its events are durable; stop at once, with folding and publishing
  // likely still in progress.
  REQUIRE_MESSAGE(WaitFor(std::chrono::seconds(30),
                          [&] { return fs::exists(inbox + "/done/canonical/big.ndjson"); }),
                  "inbox file not ingested" << Diagnostics(serve, &nats));
  std::chrono::milliseconds took{0};
  const int code = serve.Stop(std::chrono::seconds(15), &took);
  CHECK_MESSAGE(code == 0, "serve exit code " << code << Diagnostics(serve, &nats));
  CHECK_MESSAGE(took < std::chrono::seconds(5),
                "serve took " << took.count() << " ms to stop" << Diagnostics(serve, &nats));
  MESSAGE("serve stopped in " << took.count() << " ms");

  Stats s = ReadStats(dd);
  REQUIRE_MESSAGE(s.ok, s.raw);
  CHECK(s.events == kEvents);
  CHECK_MESSAGE(s.lag_events == 0, s.raw);
  CHECK_MESSAGE(s.outbox_backlog == 0, s.raw);
  CHECK_MESSAGE(s.event_feed_backlog == 0, s.raw);
  CHECK(s.checkpoint == kEvents);

  auto client = MustConnect(nats.url());
  const std::vector<ViewMsg> views = ParseViewMsgs(ReadAll(*client, "WAYBILL_VIEWS"));
  CHECK(views.size() == s.outbox_cursor);
  const auto last = CheckGapless(views, "after SIGTERM");
  for (int k = 0; k < 50; k += 7) {
    auto it = last.find({"status", "TERM-" + std::to_string(k)});
    REQUIRE(it != last.end());
    CHECK(it->second == kEvents / 50);
  }
  CHECK(ReadAll(*client, "WAYBILL_EVENTS").size() == static_cast<size_t>(kEvents));
}

}  // namespace waybill
