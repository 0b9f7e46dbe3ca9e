// The HTTP API end to end: the real `waybill serve` binary on a free loopback port, a real
// HTTP client (server/client), real JWTs (HS256, minted with libjwt). Every route, every
// scope allowed and denied, tenant isolation, cost masking, token failures, limits, ETags and
// pagination while ingest runs.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "server/api/route_table.h"
#include "server/auth/token_mint.h"
#include "server/client/http_client.h"
#include "tests/nats_test_server.h"
#include "tests/serve_process.h"
#include "tests/test_util.h"

namespace waybill {
namespace {

using client::HttpClient;
using client::HttpReply;

constexpr std::string_view kSecret = "test-secret-of-at-least-thirty-two-bytes-0123456789";

std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Token(const std::string& sub, const std::string& scope,
                  std::optional<std::string> customer = std::nullopt,
                  std::int64_t expires_in = 3600, std::string_view secret = kSecret) {
  server::auth::TokenClaims c;
  c.subject = sub;
  c.scope = scope;
  c.customer = std::move(customer);
  c.expires_at = NowSeconds() + expires_in;
  auto t = server::auth::MintHs256(c, secret);
  REQUIRE(t.ok());
  return *t;
}

// One canonical event line.
std::string OrderLine(const std::string& id, const std::string& shipment,
                      const std::string& customer) {
  return R"({"event_id":")" + id +
         R"(","kind":"order","occurred_at":"2025-03-01T09:00:00Z","source":{"system":"erp"},"shipment_id":")" +
         shipment + R"(","order_id":"SO-)" + shipment + R"(","customer_id":")" + customer +
         R"(","status":"ORDER_RELEASED"})";
}
std::string MilestoneLine(const std::string& id, const std::string& shipment,
                          const std::string& status = "IN_TRANSIT") {
  return R"({"event_id":")" + id +
         R"(","kind":"milestone","occurred_at":"2025-03-02T10:00:00Z","source":{"system":"carrier"},"shipment_id":")" +
         shipment + R"(","carrier":"ACME","status":")" + status + R"("})";
}
std::string ChargesLine(const std::string& id, const std::string& shipment) {
  return R"({"event_id":")" + id +
         R"(","kind":"charges","occurred_at":"2025-03-03T00:00:00Z","source":{"system":"tms"},"shipment_id":")" +
         shipment +
         R"(","charges":{"basis":"invoiced","currency":"USD","lines":[{"code":"400","amount":"1500.00"}]}})";
}

bool Has(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// Parses `json` and returns the document (keeps the parser alive with it).
struct Json {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  explicit Json(const std::string& text) {
    auto err = parser.parse(text).get(doc);
    INFO("body: " << text);
    REQUIRE(err == simdjson::SUCCESS);
  }
};

// A running server with a JWT secret, plus clients.
class Server {
 public:
  explicit Server(std::vector<std::string> extra = {}) {
    secret_file_ = dir_.Sub("jwt.secret");
    std::ofstream(secret_file_) << kSecret << "\n";
    std::vector<std::string> args = {"--jwt-secret-file", secret_file_, "--http-body-limit",
                                     "1048576"};
    if (std::find(extra.begin(), extra.end(), "--rate-limit") == extra.end()) {
      args.insert(args.end(), {"--rate-limit", "0"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    serve_ = std::make_unique<testing::ServeProcess>(dir_.Sub("data"), args, dir_.Sub("log"));
    serve_->Start(std::chrono::seconds(60));
    url_ = serve_->http_url();
    REQUIRE_MESSAGE(!url_.empty(), serve_->LogTail());
  }

  std::unique_ptr<HttpClient> Client(const std::string& token) const {
    client::ClientOptions o;
    o.base_url = url_;
    o.bearer_token = token;
    o.timeout = std::chrono::seconds(60);
    auto c = HttpClient::Create(o);
    REQUIRE(c.ok());
    return std::move(c).value();
  }

  HttpReply Call(const std::string& token, std::string_view method, std::string_view target,
                 std::string_view body = {}, const client::HeaderList& headers = {}) const {
    auto r = Client(token)->Request(method, target, body, headers);
    INFO(method << " " << target);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    return std::move(r).value();
  }

  const std::string& url() const { return url_; }
  testing::ServeProcess& process() { return *serve_; }

 private:
  testing::TempDir dir_;
  std::string secret_file_, url_;
  std::unique_ptr<testing::ServeProcess> serve_;
};

// The ingest service's token (made on first use: REQUIRE needs a running test).
const std::string& Ingestor() {
  static const std::string token = Token("svc:erp", "ingest");
  return token;
}

// Posts canonical NDJSON and waits until the views include the last event.
HttpReply Ingest(const Server& s, const std::string& ndjson, const client::HeaderList& h = {}) {
  return s.Call(Ingestor(), "POST", "/v1/ingest/canonical", ndjson, h);
}

void WaitForViews(const Server& s, std::uint64_t seq) {
  const std::string admin = Token("ops", "admin");
  for (int i = 0; i < 600; ++i) {
    auto r = s.Call(admin, "GET", "/readyz");
    Json j(r.body);
    // Folded into the views, and reflected by the list index (which follows on its own thread).
    std::uint64_t cp = 0, listed = 0;
    REQUIRE(j.doc["projection_checkpoint"].get(cp) == simdjson::SUCCESS);
    REQUIRE(j.doc["list_index_seq"].get(listed) == simdjson::SUCCESS);
    if (cp >= seq && listed >= seq) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("views did not catch up to " << seq);
}

std::uint64_t LastSeq(const HttpReply& r) {
  Json j(r.body);
  std::uint64_t last = 0;
  for (auto e : j.doc["events"].get_array())
    last = std::max<std::uint64_t>(last, e["seq"].get_uint64());
  return last;
}

// Two customers' shipments: SHP-A1/A2 (ACME), SHP-G1 (GLOBEX), each with a milestone,
// SHP-A1 with charges.
std::uint64_t Seed(const Server& s) {
  const std::string body =
      OrderLine("o-a1", "SHP-A1", "ACME") + "\n" + OrderLine("o-a2", "SHP-A2", "ACME") + "\n" +
      OrderLine("o-g1", "SHP-G1", "GLOBEX") + "\n" + MilestoneLine("m-a1", "SHP-A1") + "\n" +
      MilestoneLine("m-g1", "SHP-G1") + "\n" + ChargesLine("c-a1", "SHP-A1") + "\n";
  auto r = Ingest(s, body);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  const std::uint64_t last = LastSeq(r);
  WaitForViews(s, last);
  return last;
}

TEST_CASE("ingest answers per event, recognises duplicates and dead-letters rejects") {
  Server s;
  const std::string body = OrderLine("e-1", "SHP-1", "ACME") + "\n" + MilestoneLine("e-2", "SHP-1");
  auto r = Ingest(s, body);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  {
    Json j(r.body);
    CHECK(j.doc["accepted"].get_uint64().value() == 2);
    CHECK(j.doc["duplicates"].get_uint64().value() == 0);
    auto events = j.doc["events"].get_array().value();
    REQUIRE(events.size() == 2);
    CHECK(std::string_view(events.at(0)["event_id"].get_string().value()) == "e-1");
    CHECK(events.at(0)["seq"].get_uint64().value() == 1);
    CHECK(events.at(1)["seq"].get_uint64().value() == 2);
    CHECK(events.at(1)["duplicate"].get_bool().value() == false);
  }
  // The same events again are duplicates pointing at the originals.
  r = Ingest(s, body);
  REQUIRE(r.status == 200);
  {
    Json j(r.body);
    CHECK(j.doc["accepted"].get_uint64().value() == 0);
    CHECK(j.doc["duplicates"].get_uint64().value() == 2);
    CHECK(j.doc["events"].at(1)["seq"].get_uint64().value() == 2);
    CHECK(j.doc["events"].at(1)["duplicate"].get_bool().value() == true);
  }
  // A bad line is stored as a dead letter and the answer is 422 naming it.
  r = Ingest(s,
             MilestoneLine("e-3", "SHP-1") + "\n{\"event_id\":\"e-4\",\"kind\":\"milestone\"}\n");
  CHECK(r.status == 422);
  {
    Json j(r.body);
    CHECK(j.doc["accepted"].get_uint64().value() == 1);
    CHECK(j.doc["rejected"].get_uint64().value() == 1);
    auto dl = j.doc["dead_letters"].at(0);
    CHECK(dl["id"].get_uint64().value() >= 1);
    CHECK(dl["line"].get_uint64().value() == 2);
    INFO("reason: " << std::string(dl["reason"].get_string().value()));
    CHECK(Has(std::string(dl["reason"].get_string().value()), "occurred_at"));
  }
  // The principal is recorded on the event.
  const std::string auditor = Token("auditor", "audit:read");
  auto feed = s.Call(auditor, "GET", "/v1/events?after_seq=0&limit=10");
  REQUIRE(feed.status == 200);
  CHECK(Has(feed.body, "\"principal\":\"svc:erp\""));
  // An unknown format is kept as a dead letter, not dropped.
  r = s.Call(Ingestor(), "POST", "/v1/ingest/no-such-format", "whatever");
  CHECK(r.status == 422);
  CHECK(Has(r.body, "unknown format"));
  // An empty body is a 400.
  r = s.Call(Ingestor(), "POST", "/v1/ingest/canonical", "");
  CHECK(r.status == 400);
}

TEST_CASE("Idempotency-Key replays the first answer and refuses a different body") {
  Server s;
  const std::string body = OrderLine("k-1", "SHP-K", "ACME");
  auto first = Ingest(s, body, {{"Idempotency-Key", "batch-0001"}});
  REQUIRE(first.status == 200);
  auto again = Ingest(s, body, {{"Idempotency-Key", "batch-0001"}});
  CHECK(again.status == 200);
  CHECK(again.body == first.body);  // not "duplicates": the very same answer
  CHECK(again.header("Idempotency-Replayed") == "true");
  auto other = Ingest(s, OrderLine("k-2", "SHP-K", "ACME"), {{"Idempotency-Key", "batch-0001"}});
  CHECK(other.status == 422);
  CHECK(Has(other.body, "\"code\":\"unprocessable\""));
  // Another principal's key space is its own.
  auto theirs = s.Call(Token("svc:other", "ingest"), "POST", "/v1/ingest/canonical", body,
                       {{"Idempotency-Key", "batch-0001"}});
  CHECK(theirs.status == 200);
  CHECK(theirs.header("Idempotency-Replayed").empty());
  auto bad_key = Ingest(s, body, {{"Idempotency-Key", std::string(300, 'k')}});
  CHECK(bad_key.status == 400);
  // Answers survive a restart.
  CHECK(s.process().Stop() == 0);
  s.process().Start(std::chrono::seconds(60));
  client::ClientOptions o;
  o.base_url = s.process().http_url();
  o.bearer_token = Ingestor();
  auto c = HttpClient::Create(o);
  REQUIRE(c.ok());
  auto after =
      (*c)->Request("POST", "/v1/ingest/canonical", body, {{"Idempotency-Key", "batch-0001"}});
  REQUIRE(after.ok());
  CHECK(after->body == first.body);
  CHECK(after->header("Idempotency-Replayed") == "true");
}

TEST_CASE("tokens: missing, expired, not yet valid, wrongly signed, wrong scope") {
  Server s;
  auto r = s.Call("", "GET", "/v1/shipments/SHP-1");
  CHECK(r.status == 401);
  CHECK(Has(r.body, "\"code\":\"unauthenticated\""));
  CHECK(Has(r.header("WWW-Authenticate"), "Bearer"));
  r = s.Call(Token("u", "shipments:read", std::nullopt, -600), "GET", "/v1/shipments/SHP-1");
  CHECK(r.status == 401);
  CHECK(Has(r.body, "expired"));
  {
    server::auth::TokenClaims c;
    c.subject = "u";
    c.scope = "shipments:read";
    c.expires_at = NowSeconds() + 7200;
    c.not_before = NowSeconds() + 3600;
    auto early = server::auth::MintHs256(c, kSecret);
    REQUIRE(early.ok());
    r = s.Call(*early, "GET", "/v1/shipments/SHP-1");
    CHECK(r.status == 401);
  }
  r = s.Call(Token("u", "shipments:read", std::nullopt, 3600,
                   "another-secret-of-at-least-thirty-two-bytes-xx"),
             "GET", "/v1/shipments/SHP-1");
  CHECK(r.status == 401);
  CHECK(Has(r.body, "signature"));
  r = s.Call("not.a.jwt", "GET", "/v1/shipments/SHP-1");
  CHECK(r.status == 401);
  // Valid token, wrong scope: 403 naming the scope.
  r = s.Call(Token("u", "shipments:read"), "GET", "/v1/admin/stats");
  CHECK(r.status == 403);
  CHECK(Has(r.body, "\"required_scope\":\"admin\""));
  r = s.Call(Token("u", "ingest:x12"), "POST", "/v1/ingest/canonical", OrderLine("x", "S", "C"));
  CHECK(r.status == 403);
  r = s.Call(Token("u", "shipments:read"), "POST", "/v1/ingest/canonical",
             OrderLine("x", "S", "C"));
  CHECK(r.status == 403);
  // Per-format ingest scope allows that format.
  r = s.Call(Token("u", "ingest:canonical"), "POST", "/v1/ingest/canonical",
             OrderLine("x", "S", "C"));
  CHECK(r.status == 200);
  // Open routes need no token.
  CHECK(s.Call("", "GET", "/healthz").status == 200);
  CHECK(s.Call("", "GET", "/metrics").status == 200);
}

TEST_CASE("shipment views: scopes, cost masking, ETag and 304, as_of, tenant isolation") {
  Server s;
  Seed(s);
  const std::string reader = Token("portal-ops", "shipments:read");
  const std::string cost_reader = Token("finance", "shipments:read costs:read");
  auto r = s.Call(reader, "GET", "/v1/shipments/SHP-A1");
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(Has(r.body, "\"shipment_id\":\"SHP-A1\""));
  CHECK(Has(r.body, "\"customer_id\":\"ACME\""));
  CHECK(Has(r.body, "\"status\":\"IN_TRANSIT\""));
  CHECK_FALSE(Has(r.body, "freight_cost"));
  CHECK_FALSE(Has(r.body, "\"1500.00\""));
  const std::string etag = r.header("ETag");
  CHECK(etag.size() > 2);
  CHECK(Has(etag, "-"));  // masked cost part

  auto full = s.Call(cost_reader, "GET", "/v1/shipments/SHP-A1");
  REQUIRE(full.status == 200);
  CHECK(Has(full.body, "\"freight_cost\""));
  CHECK(Has(full.body, "\"1500.00\""));
  CHECK(full.header("ETag") != etag);

  auto not_modified = s.Call(reader, "GET", "/v1/shipments/SHP-A1", {}, {{"If-None-Match", etag}});
  CHECK(not_modified.status == 304);
  CHECK(not_modified.body.empty());
  // A change moves the ETag.
  auto more = Ingest(s, MilestoneLine("m-a1-d", "SHP-A1", "DELIVERED"));
  REQUIRE(more.status == 200);
  WaitForViews(s, LastSeq(more));
  auto changed = s.Call(reader, "GET", "/v1/shipments/SHP-A1", {}, {{"If-None-Match", etag}});
  CHECK(changed.status == 200);
  CHECK(Has(changed.body, "DELIVERED"));

  // as_of a time before anything was recorded: nothing to show.
  auto before = s.Call(reader, "GET", "/v1/shipments/SHP-A1?as_of=2000-01-01T00:00:00Z");
  CHECK(before.status == 404);
  auto now = s.Call(reader, "GET", "/v1/shipments/SHP-A1?as_of=2100-01-01T00:00:00Z");
  CHECK(now.status == 200);
  CHECK(Has(now.body, "DELIVERED"));
  CHECK(s.Call(reader, "GET", "/v1/shipments/SHP-A1?as_of=yesterday").status == 400);
  CHECK(s.Call(reader, "GET", "/v1/shipments/SHP-A1?colour=red").status == 400);

  // Tenant isolation: another customer's shipment is exactly like a missing one.
  const std::string acme = Token("portal-acme", "shipments:read costs:read", "ACME");
  CHECK(s.Call(acme, "GET", "/v1/shipments/SHP-A1").status == 200);
  auto foreign = s.Call(acme, "GET", "/v1/shipments/SHP-G1");
  auto missing = s.Call(acme, "GET", "/v1/shipments/SHP-NOPE");
  CHECK(foreign.status == 404);
  CHECK(missing.status == 404);
  Json fj(foreign.body), mj(missing.body);
  CHECK(std::string_view(fj.doc["error"]["code"].get_string().value()) ==
        std::string_view(mj.doc["error"]["code"].get_string().value()));
  CHECK(foreign.header("ETag").empty());
  CHECK(s.Call(acme, "GET", "/v1/shipments/SHP-A1/events").status == 403);  // needs audit:read
  CHECK(s.Call(Token("a", "audit:read", "ACME"), "GET", "/v1/shipments/SHP-G1/events").status ==
        404);
  // Ledger-wide routes are closed to confined tokens.
  CHECK(s.Call(Token("a", "audit:read", "ACME"), "GET", "/v1/events").status == 403);
  CHECK(s.Call(Token("a", "admin", "ACME"), "GET", "/v1/admin/stats").status == 403);
}

TEST_CASE("lists: filters, tenant confinement, stable pagination while ingest runs") {
  Server s;
  Seed(s);
  const std::string reader = Token("ops", "shipments:read");
  auto all = s.Call(reader, "GET", "/v1/shipments");
  REQUIRE(all.status == 200);
  {
    Json j(all.body);
    auto list = j.doc["shipments"].get_array().value();
    CHECK(list.size() == 3);
    // Newest first: SHP-A1 got the last non-cost event... the milestone of SHP-G1 came after
    // SHP-A1's milestone, so G1 is first.
    CHECK(std::string_view(list.at(0)["shipment_id"].get_string().value()) == "SHP-G1");
    CHECK(j.doc["next_cursor"].is_null());
  }
  auto acme_only = s.Call(reader, "GET", "/v1/shipments?customer=ACME");
  CHECK(Has(acme_only.body, "SHP-A1"));
  CHECK_FALSE(Has(acme_only.body, "SHP-G1"));
  auto by_status = s.Call(reader, "GET", "/v1/shipments?status=ORDER_RELEASED");
  CHECK(Has(by_status.body, "SHP-A2"));
  CHECK_FALSE(Has(by_status.body, "SHP-A1"));
  auto by_carrier = s.Call(reader, "GET", "/v1/shipments?carrier=ACME");
  CHECK(Has(by_carrier.body, "SHP-A1"));
  // Values no shipment has match nothing (and a filter on one value ignores the others).
  for (const char* q : {"customer=NOBODY", "status=NO_SUCH_STATUS", "carrier=NOPE",
                        "customer=ACME&status=NO_SUCH_STATUS"}) {
    auto none = s.Call(reader, "GET", std::string("/v1/shipments?") + q);
    CHECK_MESSAGE(none.status == 200, q);
    CHECK_MESSAGE(Has(none.body, "\"shipments\":[]"), q << ": " << none.body);
  }
  CHECK(s.Call(reader, "GET", "/v1/shipments?limit=0").status == 400);
  CHECK(s.Call(reader, "GET", "/v1/shipments?limit=501").status == 400);
  CHECK(s.Call(reader, "GET", "/v1/shipments?cursor=garbage").status == 400);

  // A confined token: never sees, lists or counts GLOBEX, whatever it asks for.
  const std::string acme = Token("portal-acme", "shipments:read", "ACME");
  auto mine = s.Call(acme, "GET", "/v1/shipments");
  CHECK(Has(mine.body, "SHP-A1"));
  CHECK(Has(mine.body, "SHP-A2"));
  CHECK_FALSE(Has(mine.body, "GLOBEX"));
  CHECK_FALSE(Has(mine.body, "SHP-G1"));
  auto theirs = s.Call(acme, "GET", "/v1/shipments?customer=GLOBEX");
  CHECK(theirs.status == 200);
  CHECK(Has(theirs.body, "\"shipments\":[]"));

  // 40 more shipments, then page through 5 at a time while other shipments keep changing.
  std::string body;
  for (int i = 0; i < 40; ++i) {
    body += OrderLine("p-" + std::to_string(i), "SHP-P" + std::to_string(i), "ACME") + "\n";
  }
  auto seeded = Ingest(s, body);
  REQUIRE(seeded.status == 200);
  WaitForViews(s, LastSeq(seeded));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int round = 0; !stop.load() && round < 200; ++round) {
      // Only shipments SHP-P0..P9 change during the walk.
      auto c = s.Client(Ingestor());
      auto r = c->Request(
          "POST", "/v1/ingest/canonical",
          MilestoneLine("w-" + std::to_string(round), "SHP-P" + std::to_string(round % 10)));
      if (!r.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::multiset<std::string> seen;
  std::string cursor;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = s.Call(
        reader, "GET",
        "/v1/shipments?limit=5" + (cursor.empty() ? "" : "&cursor=" + client::UrlEncode(cursor)));
    REQUIRE(page.status == 200);
    Json j(page.body);
    for (auto v : j.doc["shipments"].get_array()) {
      seen.insert(std::string(v["shipment_id"].get_string().value()));
    }
    if (j.doc["next_cursor"].is_null()) break;
    cursor = std::string(j.doc["next_cursor"].get_string().value());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  writer.join();
  for (const auto& id : seen) CHECK_MESSAGE(seen.count(id) == 1, id << " listed twice");
  // Everything that did not change during the walk was listed.
  for (int i = 10; i < 40; ++i) CHECK(seen.count("SHP-P" + std::to_string(i)) == 1);
  CHECK(seen.count("SHP-A2") == 1);
  CHECK(seen.count("SHP-G1") == 1);
}

TEST_CASE("audit routes: shipment events, feed, head, verify; masking of charges") {
  Server s;
  const std::uint64_t last = Seed(s);
  const std::string auditor = Token("auditor", "audit:read");
  const std::string full_auditor = Token("auditor2", "audit:read costs:read");
  auto events = s.Call(auditor, "GET", "/v1/shipments/SHP-A1/events");
  REQUIRE(events.status == 200);
  CHECK(Has(events.body, "\"event_id\":\"o-a1\""));
  CHECK(Has(events.body, "\"event_id\":\"c-a1\""));
  // The amount as rendered: a bare "1500" also turns up in hashes and timestamps now and then.
  CHECK_FALSE(Has(events.body, "\"1500.00\""));
  CHECK(Has(s.Call(full_auditor, "GET", "/v1/shipments/SHP-A1/events").body, "\"1500.00\""));
  CHECK(s.Call(auditor, "GET", "/v1/shipments/NOPE/events").status == 404);
  CHECK(s.Call(Token("p", "shipments:read"), "GET", "/v1/shipments/SHP-A1/events").status == 403);

  auto feed = s.Call(auditor, "GET", "/v1/events?after_seq=2&limit=3");
  REQUIRE(feed.status == 200);
  {
    Json j(feed.body);
    auto list = j.doc["events"].get_array().value();
    CHECK(list.size() == 3);
    CHECK(j.doc["next_after_seq"].get_uint64().value() == 5);
    CHECK(j.doc["head_seq"].get_uint64().value() == last);
  }
  CHECK(s.Call(auditor, "GET", "/v1/events?limit=100000").status == 400);

  auto head = s.Call(auditor, "GET", "/v1/ledger/head");
  REQUIRE(head.status == 200);
  Json hj(head.body);
  CHECK(hj.doc["seq"].get_uint64().value() == last);
  CHECK(std::string_view(hj.doc["hash"].get_string().value()).size() == 64);

  auto verify = s.Call(auditor, "GET", "/v1/ledger/verify?from=1&to=" + std::to_string(last));
  REQUIRE(verify.status == 200);
  Json vj(verify.body);
  CHECK(vj.doc["intact"].get_bool().value() == true);
  CHECK(vj.doc["events"].get_uint64().value() == last);
  // The head digest the verification ends at is the one /head gave.
  CHECK(std::string_view(vj.doc["head"]["hash"].get_string().value()) ==
        std::string_view(hj.doc["hash"].get_string().value()));
  CHECK(s.Call(auditor, "GET", "/v1/ledger/verify?from=5&to=2").status == 400);
}

TEST_CASE("admin routes: dead letters, rebuild, republish, stats") {
  Server s;
  Seed(s);
  const std::string admin = Token("operator-1", "admin");
  auto rejected = Ingest(s, "{\"event_id\":\"bad-1\",\"kind\":\"milestone\"}\n");
  REQUIRE(rejected.status == 422);
  Json rj(rejected.body);
  const std::uint64_t id = rj.doc["dead_letters"].at(0)["id"].get_uint64().value();

  auto list = s.Call(admin, "GET", "/v1/admin/dlq");
  REQUIRE(list.status == 200);
  CHECK(Has(list.body, "\"id\":" + std::to_string(id)));
  auto show = s.Call(admin, "GET", "/v1/admin/dlq/" + std::to_string(id));
  REQUIRE(show.status == 200);
  CHECK(Has(show.body, "\"raw\":"));
  CHECK(s.Call(admin, "GET", "/v1/admin/dlq/999999").status == 404);
  CHECK(s.Call(admin, "GET", "/v1/admin/dlq/abc").status == 400);

  auto retry = s.Call(admin, "POST", "/v1/admin/dlq/" + std::to_string(id) + "/retry");
  REQUIRE(retry.status == 200);
  CHECK(Has(retry.body, "\"resolved\":false"));  // still invalid
  auto drop = s.Call(admin, "DELETE", "/v1/admin/dlq/" + std::to_string(id) + "?reason=test+data");
  REQUIRE(drop.status == 200);
  auto dropped = s.Call(admin, "GET", "/v1/admin/dlq/" + std::to_string(id));
  CHECK(Has(dropped.body, "\"state\":\"dropped\""));
  CHECK(Has(dropped.body, "operator-1"));
  CHECK(Has(dropped.body, "test data"));
  CHECK_FALSE(
      Has(s.Call(admin, "GET", "/v1/admin/dlq").body, "\"id\":" + std::to_string(id) + ","));
  CHECK(Has(s.Call(admin, "GET", "/v1/admin/dlq?state=all").body, "\"id\":" + std::to_string(id)));
  // Dropping twice is refused: it is no longer pending.
  CHECK(s.Call(admin, "DELETE", "/v1/admin/dlq/" + std::to_string(id)).status == 409);

  auto rebuild = s.Call(admin, "POST", "/v1/admin/rebuild", R"({"views":["status"]})");
  REQUIRE_MESSAGE(rebuild.status == 200, rebuild.body);
  CHECK(Has(rebuild.body, "\"ok\":true"));
  CHECK(s.Call(admin, "POST", "/v1/admin/rebuild", R"({"views":["nope"]})").status == 400);
  CHECK(s.Call(admin, "POST", "/v1/admin/rebuild", "{not json").status == 400);
  auto one = s.Call(admin, "POST", "/v1/admin/rebuild", R"({"shipment":"SHP-A1"})");
  CHECK(one.status == 200);
  // Views are the same after rebuilding.
  auto view = s.Call(Token("r", "shipments:read"), "GET", "/v1/shipments/SHP-A1");
  CHECK(Has(view.body, "IN_TRANSIT"));

  auto republish = s.Call(admin, "POST", "/v1/admin/republish", R"({"from":1})");
  REQUIRE_MESSAGE(republish.status == 200, republish.body);
  CHECK(Has(republish.body, "\"events\":"));
  CHECK(s.Call(admin, "POST", "/v1/admin/republish", "{}").status == 400);

  auto stats = s.Call(admin, "GET", "/v1/admin/stats");
  REQUIRE(stats.status == 200);
  Json sj(stats.body);
  CHECK(sj.doc["events"].get_uint64().value() == 6);
  CHECK(sj.doc["dead_letters"].get_uint64().value() == 1);
  CHECK(Has(stats.body, "\"projections\":"));
}

TEST_CASE("operations: health, readiness, metrics, errors for bad requests") {
  Server s;
  Seed(s);
  CHECK(s.Call("", "GET", "/healthz").body == "{\"status\":\"ok\"}");
  auto ready = s.Call("", "GET", "/readyz");
  CHECK(ready.status == 200);
  CHECK(Has(ready.body, "\"ready\":true"));
  auto metrics = s.Call("", "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(Has(metrics.header("Content-Type"), "text/plain"));
  CHECK(Has(metrics.body, "waybill_http_requests_total{route=\"/v1/ingest/{format}\""));
  CHECK(Has(metrics.body,
            "waybill_http_request_duration_seconds_count{route=\"/v1/ingest/{format}\","
            "status=\"200\"}"));
  CHECK(Has(metrics.body, "waybill_ingest_events_total{result=\"accepted\"} 6"));
  CHECK(Has(metrics.body, "waybill_projection_lag_events"));
  CHECK(Has(metrics.body, "waybill_ledger_commit_seconds"));

  CHECK(s.Call("", "GET", "/v1/nothing").status == 404);
  auto wrong_method = s.Call(Token("a", "admin"), "PUT", "/v1/admin/stats");
  CHECK(wrong_method.status == 405);
  CHECK(wrong_method.header("Allow") == "GET");
  // Oversize body (limit 1 MiB here): 413, and the server keeps serving.
  auto big = s.Call(Ingestor(), "POST", "/v1/ingest/canonical", std::string(1100 * 1024, 'x'));
  CHECK(big.status == 413);
  CHECK(Has(big.body, "payload_too_large"));
  // JSON nested too deep: 400 before any parser sees it.
  auto deep = s.Call(Ingestor(), "POST", "/v1/ingest/canonical",
                     std::string(100, '[') + std::string(100, ']'));
  CHECK(deep.status == 400);
  CHECK(Has(deep.body, "nested"));
  // Garbage on the wire: a 400 answer, then the server still works.
  {
    const std::string url = s.url();
    const int port = std::stoi(url.substr(url.rfind(':') + 1));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const std::string junk = "THIS IS NOT HTTP\r\n\r\n";
    REQUIRE(write(fd, junk.data(), junk.size()) == static_cast<ssize_t>(junk.size()));
    char buf[512] = {};
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    CHECK(n > 0);
    CHECK(Has(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), "400"));
  }
  CHECK(s.Call("", "GET", "/healthz").status == 200);
}

TEST_CASE("rate limit per principal answers 429 with Retry-After") {
  Server s({"--rate-limit", "1", "--rate-burst", "5"});
  const std::string reader = Token("greedy", "shipments:read");
  int limited = 0;
  std::string retry_after;
  auto c = s.Client(reader);
  for (int i = 0; i < 15; ++i) {
    auto r = c->Request("GET", "/v1/shipments");
    REQUIRE(r.ok());
    if (r->status == 429) {
      ++limited;
      retry_after = r->header("Retry-After");
      CHECK(Has(r->body, "rate_limited"));
    }
  }
  CHECK(limited >= 5);
  CHECK(std::stoi(retry_after) >= 1);
  // Another principal has its own budget.
  CHECK(s.Call(Token("modest", "shipments:read"), "GET", "/v1/shipments").status == 200);
}

TEST_CASE("without a key the server makes a local admin token, mode 0600, and only it works") {
  testing::TempDir dir;
  testing::ServeProcess serve(dir.Sub("data"), {}, dir.Sub("log"));
  serve.Start(std::chrono::seconds(60));
  const std::string path = dir.Sub("data") + "/admin.token";
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::string token = testing::ReadWholeFile(path);
  while (!token.empty() && token.back() == '\n') token.pop_back();
  CHECK(token.size() >= 32);
  client::ClientOptions o;
  o.base_url = serve.http_url();
  o.bearer_token = token;
  auto c = HttpClient::Create(o);
  REQUIRE(c.ok());
  auto r = (*c)->Request("GET", "/v1/admin/stats");
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  o.bearer_token = Token("someone", "admin");  // JWTs mean nothing without a key
  auto other = HttpClient::Create(o);
  REQUIRE(other.ok());
  auto denied = (*other)->Request("GET", "/v1/admin/stats");
  REQUIRE(denied.ok());
  CHECK(denied->status == 401);
  // The default listener is loopback only.
  CHECK(serve.http_url().rfind("http://127.0.0.1:", 0) == 0);
}

TEST_CASE("TLS when a certificate is configured") {
  testing::TempDir dir;
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + dir.Sub("k.pem") +
                          " -out " + dir.Sub("c.pem") +
                          " -days 1 -subj /CN=localhost >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  testing::ServeProcess serve(dir.Sub("data"),
                              {"--tls-cert", dir.Sub("c.pem"), "--tls-key", dir.Sub("k.pem")},
                              dir.Sub("log"));
  serve.Start(std::chrono::seconds(60));
  const std::string url = serve.http_url();
  REQUIRE(url.rfind("https://", 0) == 0);
  client::ClientOptions o;
  o.base_url = url;
  o.ca_file = dir.Sub("c.pem");
  o.tls_verify = false;  // the certificate names localhost, the URL 127.0.0.1
  auto c = HttpClient::Create(o);
  REQUIRE(c.ok());
  auto r = (*c)->Request("GET", "/healthz");
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->status == 200);
}

TEST_CASE("every route: its scope lets the call through, every other scope is refused") {
  Server s;
  Seed(s);
  auto rejected = Ingest(s, "{\"event_id\":\"bad\",\"kind\":\"milestone\"}\n");
  REQUIRE(rejected.status == 422);
  const std::vector<std::string> all_scopes = {"ingest", "shipments:read", "costs:read",
                                               "audit:read", "admin"};
  for (const auto& route : server::api::kRoutes) {
    std::string path(route.path);
    auto replace = [&](std::string_view param, std::string_view value) {
      if (auto at = path.find(param); at != std::string::npos) {
        path.replace(at, param.size(), value);
      }
    };
    replace("{format}", "canonical");
    replace("{id}", route.path.find("dlq") != std::string_view::npos ? "1" : "SHP-A1");
    std::string body;
    if (route.id == server::api::RouteId::kIngest) body = MilestoneLine("scope-test", "SHP-A1");
    if (route.id == server::api::RouteId::kAdminRepublish) body = R"({"from":1})";
    if (route.id == server::api::RouteId::kAdminRebuild) body = R"({"shipment":"SHP-A1"})";
    INFO(route.method << " " << path);
    if (route.scope.empty()) {
      CHECK(s.Call("", route.method, path, body).status == 200);
      continue;
    }
    auto allowed = s.Call(Token("scoped", std::string(route.scope)), route.method, path, body);
    CHECK_MESSAGE(allowed.status != 401, allowed.body);
    CHECK_MESSAGE(allowed.status != 403, allowed.body);
    CHECK_MESSAGE(allowed.status < 500, allowed.body);
    std::string others;
    for (const auto& scope : all_scopes) {
      if (scope != route.scope) others += (others.empty() ? "" : " ") + scope;
    }
    auto denied = s.Call(Token("other-scopes", others), route.method, path, body);
    CHECK(denied.status == 403);
    CHECK(Has(denied.body, "required_scope"));
    CHECK(s.Call("", route.method, path, body).status == 401);
  }
}

// Sends a waybill.query.shipment request with `token` and returns (Waybill-Status, body).
std::pair<std::string, std::string> NatsQuery(natsConnection* nc, const std::string& token,
                                              const std::string& payload) {
  natsMsg* req = nullptr;
  REQUIRE(natsMsg_Create(&req, "waybill.query.shipment", nullptr, payload.data(),
                         static_cast<int>(payload.size())) == NATS_OK);
  if (!token.empty()) {
    REQUIRE(natsMsgHeader_Set(req, "Authorization", ("Bearer " + token).c_str()) == NATS_OK);
  }
  natsMsg* reply = nullptr;
  natsStatus st = NATS_TIMEOUT;
  for (int attempt = 0; attempt < 20 && st != NATS_OK; ++attempt) {
    st = natsConnection_RequestMsg(&reply, nc, req, 5000);
    if (st != NATS_OK) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  natsMsg_Destroy(req);
  REQUIRE_MESSAGE(st == NATS_OK, natsStatus_GetText(st));
  const char* status = nullptr;
  std::string code = natsMsgHeader_Get(reply, "Waybill-Status", &status) == NATS_OK ? status : "";
  std::string body(natsMsg_GetData(reply), static_cast<std::size_t>(natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);
  return {code, body};
}

TEST_CASE("NATS request/reply on waybill.query.shipment follows the HTTP rules") {
  testing::NatsTestServer nats;
  Server s({"--nats", nats.url()});
  Seed(s);
  natsConnection* nc = nullptr;
  REQUIRE(natsConnection_ConnectTo(&nc, nats.url().c_str()) == NATS_OK);
  const std::string acme = Token("portal-acme", "shipments:read", "ACME");
  auto [code, body] = NatsQuery(nc, acme, R"({"shipment_id":"SHP-A1"})");
  CHECK(code == "200");
  auto http = s.Call(acme, "GET", "/v1/shipments/SHP-A1");
  CHECK(body == http.body);  // the same JSON as the HTTP GET
  CHECK_FALSE(Has(body, "freight_cost"));
  // Another customer's shipment: 404, like an unknown one.
  auto [foreign_code, foreign_body] = NatsQuery(nc, acme, R"({"shipment_id":"SHP-G1"})");
  CHECK(foreign_code == "404");
  CHECK(Has(foreign_body, "not_found"));
  auto [no_token_code, no_token_body] = NatsQuery(nc, "", R"({"shipment_id":"SHP-A1"})");
  CHECK(no_token_code == "401");
  auto [scope_code, scope_body] =
      NatsQuery(nc, Token("svc", "ingest"), R"({"shipment_id":"SHP-A1"})");
  CHECK(scope_code == "403");
  auto [bad_code, bad_body] = NatsQuery(nc, acme, "not json");
  CHECK(bad_code == "400");
  natsConnection_Destroy(nc);
}

}  // namespace
}  // namespace waybill
