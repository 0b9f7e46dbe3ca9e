// Bad input at the front door: a corpus of hostile HTTP requests and NATS messages sent
// against the real `waybill serve` (real nats-server, real JWTs). Every request must be
// answered with the expected status class or closed by the server, the server must stay up
// and keep serving, its memory must stay bounded, and nothing may be stored but dead letters.
//
// The corpus: tests/fixtures/hostile/bodies/FORMAT--NAME (static hostile message bodies,
// each sent over HTTP and over NATS to its format) plus generated cases (16 MiB+1 bodies,
// 10^6-element X12 segments, 100k-deep JSON, seeded random bytes: tests/hostile_corpus.h;
// malformed and truncated raw HTTP, chunked abuse, slow-loris and half-open connections:
// here, sent with tests/raw_http.h).
//
// The server runs with 2 s request and idle timeouts, so the cases that wait for a timeout
// take about 2 s each; they run concurrently.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/auth/token_mint.h"
#include "server/client/http_client.h"
#include "server/nats/nats_client.h"
#include "tests/hostile_corpus.h"
#include "tests/nats_test_server.h"
#include "tests/raw_http.h"
#include "tests/serve_process.h"
#include "tests/test_util.h"

namespace waybill {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using client::HeaderList;
using client::HttpClient;
using client::HttpReply;
using testing::BodyCase;
using testing::Connect;
using testing::DeepArrays;
using testing::DeepObjects;
using testing::RandomBytes;
using testing::RawCase;
using testing::RawOutcome;
using testing::Request;

// Under AddressSanitizer the server's RSS measures ASan (shadow memory, a 256 MiB quarantine
// of freed blocks), not Waybill: the memory bounds are checked in normal builds only, and
// the figures are printed in both.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCheckMemory = false;
#else
constexpr bool kCheckMemory = true;
#endif

constexpr std::string_view kSecret = "hostile-test-secret-of-at-least-32-bytes-0123456789";
constexpr std::uint64_t kBodyLimit = 16 * 1024 * 1024;  // the server's default
constexpr int kTimeoutSeconds = 2;                      // --http-request/idle-timeout
// Long enough for any case to be answered or closed (timeouts plus sweep plus linger).
constexpr auto kHangAfter = std::chrono::seconds(30);

// Polls `pred` every 50 ms until it holds or `timeout` passes.
bool WaitFor(std::chrono::milliseconds timeout, const std::function<bool()>& pred) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

std::string SourceFile(const std::string& rel) {
  const char* src = std::getenv("WAYBILL_SOURCE_DIR");
  return std::string(src != nullptr ? src : WAYBILL_SOURCE_DIR_FALLBACK) + "/" + rel;
}

std::int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Token(const std::string& sub, const std::string& scope, std::int64_t expires_in = 3600,
                  std::string_view secret = kSecret) {
  server::auth::TokenClaims c;
  c.subject = sub;
  c.scope = scope;
  c.expires_at = NowSeconds() + expires_in;
  auto t = server::auth::MintHs256(c, secret);
  REQUIRE(t.ok());
  return *t;
}

std::string ValidEvent(const std::string& id) {
  return R"({"event_id":")" + id +
         R"(","kind":"milestone","occurred_at":"2025-03-02T10:00:00Z","source":{"system":"carrier"},"shipment_id":"SHP-PROBE","carrier":"ACME","status":"IN_TRANSIT"})";
}

// --- The server ------------------------------------------------------------------------------

struct Counts {
  std::uint64_t events = 0, dead_letters = 0, head_seq = 0;
};

struct Memory {
  std::uint64_t rss_kib = 0, hwm_kib = 0;
};

Memory ReadMemory(pid_t pid) {
  Memory m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kib = std::strtoull(line.c_str() + 6, nullptr, 10);
    if (line.rfind("VmHWM:", 0) == 0) m.hwm_kib = std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return m;
}

class Harness {
 public:
  Harness() {
    secret_file_ = dir_.Sub("jwt.secret");
    std::ofstream(secret_file_) << kSecret << "\n";
    serve_ = std::make_unique<testing::ServeProcess>(
        dir_.Sub("data"),
        std::vector<std::string>{"--jwt-secret-file", secret_file_, "--rate-limit", "0", "--nats",
                                 nats_.url(), "--http-request-timeout",
                                 std::to_string(kTimeoutSeconds), "--http-idle-timeout",
                                 std::to_string(kTimeoutSeconds)},
        dir_.Sub("serve.log"));
    serve_->Start(std::chrono::seconds(60));
    url_ = serve_->http_url();
    REQUIRE_MESSAGE(!url_.empty(), serve_->LogTail());
    port_ = std::atoi(url_.substr(url_.rfind(':') + 1).c_str());
    REQUIRE(port_ > 0);
    admin_ = Token("ops", "admin audit:read shipments:read");
    ingestor_ = Token("svc:hostile", "ingest");
  }

  HttpReply Call(const std::string& token, std::string_view method, std::string_view target,
                 std::string_view body = {}, const HeaderList& headers = {}) const {
    client::ClientOptions o;
    o.base_url = url_;
    o.bearer_token = token;
    o.timeout = std::chrono::seconds(120);
    auto c = HttpClient::Create(o);
    REQUIRE(c.ok());
    auto r = (*c)->Request(method, target, body, headers);
    INFO(method << " " << target << Diagnostics());
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    return std::move(r).value();
  }

  Counts ReadCounts() const {
    auto r = Call(admin_, "GET", "/v1/admin/stats");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(r.body).get(doc) == simdjson::SUCCESS);
    Counts c;
    REQUIRE(doc["events"].get(c.events) == simdjson::SUCCESS);
    REQUIRE(doc["dead_letters"].get(c.dead_letters) == simdjson::SUCCESS);
    REQUIRE(doc["head_seq"].get(c.head_seq) == simdjson::SUCCESS);
    return c;
  }

  std::string Diagnostics() const { return "\n--- serve log tail ---\n" + serve_->LogTail(3000); }

  int port() const { return port_; }
  pid_t pid() const { return serve_->pid(); }
  const std::string& admin() const { return admin_; }
  const std::string& ingestor() const { return ingestor_; }
  testing::NatsTestServer& nats() { return nats_; }
  testing::ServeProcess& serve() { return *serve_; }

 private:
  testing::NatsTestServer nats_;
  testing::TempDir dir_;
  std::string secret_file_, url_, admin_, ingestor_;
  int port_ = 0;
  std::unique_ptr<testing::ServeProcess> serve_;
};

// The counts of an ingest answer. The answer must be valid JSON (simdjson also checks that
// it is valid UTF-8); when it is not, that is reported and the counts are read as text so
// the later tallies still add up.
struct IngestAnswer {
  std::uint64_t accepted = 0, rejected = 0;
};

IngestAnswer ParseIngestAnswer(const std::string& body) {
  IngestAnswer a;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const auto err = parser.parse(body).get(doc);
  CHECK_MESSAGE(err == simdjson::SUCCESS,
                "ingest answer is not valid JSON (" << simdjson::error_message(err) << ")");
  if (err == simdjson::SUCCESS) {
    CHECK(doc["accepted"].get(a.accepted) == simdjson::SUCCESS);
    CHECK(doc["rejected"].get(a.rejected) == simdjson::SUCCESS);
    return a;
  }
  auto number_after = [&](std::string_view key) -> std::uint64_t {
    const std::size_t at = body.find(key);
    return at == std::string::npos ? 0 : std::strtoull(body.c_str() + at + key.size(), nullptr, 10);
  };
  a.accepted = number_after("\"accepted\":");
  a.rejected = number_after("\"rejected\":");
  return a;
}

}  // namespace

TEST_CASE(
    "hostile HTTP requests and NATS messages: answered or closed, nothing stored but "
    "dead letters, the server stays up with bounded memory") {
  Harness h;
  const Counts before = h.ReadCounts();
  const Memory mem_before = ReadMemory(h.pid());
  MESSAGE("before: events " << before.events << ", dead letters " << before.dead_letters
                            << ", VmRSS " << mem_before.rss_kib << " KiB, VmHWM "
                            << mem_before.hwm_kib << " KiB");
  std::uint64_t expected_dead_letters = 0;

  // --- Raw HTTP: malformed, truncated, oversized, slow -----------------------------------------
  const std::string bearer = "Authorization: Bearer " + h.ingestor() + "\r\n";
  std::vector<RawCase> raw;
  const std::set<int> k400 = {400};
  auto add = [&](std::string name, std::string bytes, std::set<int> expect, bool half = false,
                 bool close_ok = false) {
    RawCase c;
    c.name = std::move(name);
    c.bytes = std::move(bytes);
    c.expect = std::move(expect);
    c.half_close = half;
    c.close_ok = close_ok;
    raw.push_back(std::move(c));
  };
  add("garbage request line", "GARBAGE\r\n\r\n", k400);
  add("request line without target", "GET\r\n\r\n", k400);
  add("HTTP/9.9", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", {200, 400, 505});
  add("extra token in request line", "GET /healthz HTTP/1.1 extra\r\nHost: x\r\n\r\n", k400);
  add("control bytes as method", std::string("\x00\x01\x02 /healthz HTTP/1.1\r\n\r\n", 23), k400);
  add("10 KiB method", std::string(10 << 10, 'G') + " /healthz HTTP/1.1\r\n\r\n", {400, 405, 431});
  add("20 KiB target", "GET /" + std::string(20 << 10, 'a') + " HTTP/1.1\r\n\r\n", {431});
  add("8 KiB target", "GET /" + std::string(8 << 10, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", {404});
  add("target without leading slash", Request("GET", "healthz"), k400);
  add("absolute-form target", Request("GET", "http://evil.example/healthz"), k400);
  add("asterisk target", Request("OPTIONS", "*"), k400);
  add("truncated request line, half-closed", "GET /healthz HT", k400, true);
  add("truncated mid-header, half-closed", "GET /healthz HTTP/1.1\r\nHost: 127.0", k400, true);
  add("truncated mid-header, left open", "GET /healthz HTTP/1.1\r\nHost: 127.0", {408}, false,
      true);
  add("Content-Length larger than sent, half-closed",
      Request("POST", "/v1/ingest/canonical", bearer + "Content-Length: 1000\r\n", "{\"a\":1}"),
      k400, true);
  add("Content-Length larger than sent, left open",
      Request("POST", "/v1/ingest/canonical", bearer + "Content-Length: 1000\r\n", "{\"a\":1}"),
      {408}, false, true);
  add("17 KiB header", Request("GET", "/healthz", "X-Big: " + std::string(17 << 10, 'h') + "\r\n"),
      {431});
  {
    std::string many;
    for (int i = 0; i < 4000; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    add("4000 headers", Request("GET", "/healthz", many), {431});
  }
  add("header without colon", Request("GET", "/healthz", "NoColonHere\r\n"), k400);
  add("NUL in header value", Request("GET", "/healthz", std::string("X-A: a\0b\r\n", 10)), k400);
  add("obsolete line folding", Request("GET", "/healthz", "X-A: a\r\n b\r\n"), {200, 400});
  add("bare LF line ends", "GET /healthz HTTP/1.1\nHost: x\n\n", {200, 400});
  add("negative Content-Length", Request("POST", "/v1/ingest/x12", "Content-Length: -1\r\n"), k400);
  add("non-numeric Content-Length", Request("POST", "/v1/ingest/x12", "Content-Length: abc\r\n"),
      k400);
  add("two Content-Lengths",
      Request("POST", "/v1/ingest/x12", "Content-Length: 1\r\nContent-Length: 2\r\n", "ab"), k400);
  add("overflowing Content-Length",
      Request("POST", "/v1/ingest/x12", "Content-Length: 18446744073709551616\r\n"), {400, 413});
  add("Content-Length over the limit, no body",
      Request("POST", "/v1/ingest/x12",
              bearer + "Content-Length: " + std::to_string(kBodyLimit + 1) + "\r\n"),
      {413});
  add("16 MiB + 1 body",
      Request("POST", "/v1/ingest/x12",
              bearer + "Content-Length: " + std::to_string(kBodyLimit + 1) + "\r\n",
              std::string(kBodyLimit + 1, 'X')),
      {413});
  add("Expect: 100-continue over the limit",
      Request("POST", "/v1/ingest/x12",
              bearer + "Expect: 100-continue\r\nContent-Length: " + std::to_string(kBodyLimit + 1) +
                  "\r\n"),
      {413});
  const std::string chunked = bearer + "Transfer-Encoding: chunked\r\n";
  add("chunk size not hex", Request("POST", "/v1/ingest/x12", chunked, "zz\r\nab\r\n0\r\n\r\n"),
      k400);
  add("overflowing chunk size",
      Request("POST", "/v1/ingest/x12", chunked, "FFFFFFFFFFFFFFFFFFFF\r\nab\r\n0\r\n\r\n"),
      {400, 413});
  add("chunk larger than the limit",
      Request("POST", "/v1/ingest/x12", chunked, "1000001\r\nab\r\n"), {413});
  {
    std::string body;
    const std::string chunk(1 << 20, 'C');
    for (int i = 0; i < 17; ++i) body += "100000\r\n" + chunk + "\r\n";
    body += "0\r\n\r\n";
    add("chunks adding up past the limit", Request("POST", "/v1/ingest/x12", chunked, body), {413});
  }
  add("32 KiB chunk extension",
      Request("POST", "/v1/ingest/x12", chunked,
              "2;" + std::string(32 << 10, 'e') + "\r\nab\r\n0\r\n\r\n"),
      {400, 413, 431});
  // Beast bounds the header block but not a chunk-size line or the trailer section: these
  // never end, and must not be buffered without limit.
  add("endless chunk extension",
      Request("POST", "/v1/ingest/x12", chunked, "2;" + std::string(8 << 20, 'e')), {431}, true);
  add("endless trailer section",
      Request("POST", "/v1/ingest/x12", chunked,
              "2\r\nab\r\n0\r\nX-Trailer: " + std::string(8 << 20, 't')),
      {431}, true);
  add("chunked without the last chunk, half-closed",
      Request("POST", "/v1/ingest/x12", chunked, "2\r\nab\r\n"), k400, true);
  add("chunked without the last chunk, left open",
      Request("POST", "/v1/ingest/x12", chunked, "2\r\nab\r\n"), {408}, false, true);
  add("chunked and Content-Length",
      Request("POST", "/v1/ingest/x12", chunked + "Content-Length: 5\r\n", "2\r\nab\r\n0\r\n\r\n"),
      k400);
  // Beast alone would take these as body-less and read the body as the next request.
  add("Transfer-Encoding not ending in chunked",
      Request("POST", "/v1/ingest/x12", bearer + "Transfer-Encoding: gzip\r\n",
              Request("GET", "/healthz")),
      k400, true);
  add("gzip before chunked",
      Request("POST", "/v1/ingest/x12", bearer + "Transfer-Encoding: gzip, chunked\r\n",
              "3\r\nabc\r\n0\r\n\r\n"),
      {501}, true);
  add("binary garbage", RandomBytes(64 << 10, 1), {400, 431}, true);
  add("binary garbage after a request line", "GET /healthz HTTP/1.1\r\n" + RandomBytes(4096, 2),
      {400, 431}, true);
  add("TLS ClientHello on the plain port",
      std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11) + RandomBytes(160, 3), k400,
      true);
  add("connection closed at once", "", {}, true, true);
  add("nothing sent (idle timeout)", "", {}, false, true);
  {
    RawCase c;
    c.name = "1000 pipelined requests";
    for (int i = 0; i < 999; ++i) c.bytes += Request("GET", "/healthz");
    c.bytes += Request("GET", "/healthz", "Connection: close\r\n");
    c.expect = {200};
    c.expect_responses = 1000;
    raw.push_back(std::move(c));
  }
  for (int i = 0; i < 4; ++i) {
    RawCase c;
    c.name = "slow-loris " + std::to_string(i) + " (one header byte per second)";
    c.bytes = Request("GET", "/healthz", "X-Slow: " + std::string(64, 's') + "\r\n");
    c.expect = {408};
    c.close_ok = true;
    c.byte_interval = std::chrono::milliseconds(1000);
    raw.push_back(std::move(c));
  }
  {
    RawCase c;
    c.name = "slow-loris body (one byte per 500 ms)";
    c.bytes = Request("POST", "/v1/ingest/canonical", bearer + "Content-Length: 100\r\n",
                      std::string(100, 'b'));
    c.expect = {408};
    c.close_ok = true;
    c.byte_interval = std::chrono::milliseconds(500);
    raw.push_back(std::move(c));
  }

  // Many half-open connections held at once while the corpus runs: each sent part of a
  // request and stops. The server must close every one of them (408 or a plain close).
  std::vector<int> half_open;
  for (int i = 0; i < 200; ++i) {
    const int fd = Connect(h.port());
    const std::string part = i % 2 ? "POST /v1/ingest/x12 HTTP/1.1\r\nHost: x\r\n" : "";
    if (!part.empty()) REQUIRE(send(fd, part.data(), part.size(), MSG_NOSIGNAL) > 0);
    half_open.push_back(fd);
  }

  {
    std::vector<RawOutcome> outcomes(raw.size());
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < 8; ++w) {
      workers.emplace_back([&] {
        for (std::size_t i = next++; i < raw.size(); i = next++) {
          outcomes[i] = testing::Exchange(h.port(), raw[i], kHangAfter);
        }
      });
    }
    for (auto& t : workers) t.join();
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const RawCase& c = raw[i];
      const RawOutcome& o = outcomes[i];
      INFO("raw case: " << c.name << "; received: " << o.received.substr(0, 300));
      CHECK_FALSE(o.hung);
      if (o.statuses.empty()) {
        CHECK_MESSAGE(c.close_ok, "closed without an answer");
        CHECK(o.closed);
        continue;
      }
      CHECK(static_cast<int>(o.statuses.size()) == c.expect_responses);
      for (int s : o.statuses) CHECK_MESSAGE(c.expect.count(s) == 1, "status " << s);
      // Every error answer has the API's JSON error shape.
      if (o.statuses[0] >= 400)
        CHECK(o.received.find("{\"error\":{\"code\":") != std::string::npos);
    }
  }

  // --- Well-formed but hostile HTTP (real client) ---------------------------------------------
  struct ClientCase {
    std::string name, token, method, target, body;
    HeaderList headers;
    std::set<int> expect;
  };
  const std::string canonical_reject = R"({"event_id":"h-ct","kind":"milestone"})";
  std::vector<ClientCase> calls = {
      {"no token", "", "POST", "/v1/ingest/canonical", canonical_reject, {}, {401}},
      {"malformed token", "x.y.z", "POST", "/v1/ingest/canonical", canonical_reject, {}, {401}},
      {"token signed with another secret",
       Token("svc", "ingest", 3600, "another-secret-of-at-least-thirty-two-bytes!"),
       "POST",
       "/v1/ingest/canonical",
       canonical_reject,
       {},
       {401}},
      {"expired token",
       Token("svc", "ingest", -3600),
       "POST",
       "/v1/ingest/canonical",
       canonical_reject,
       {},
       {401}},
      {"12 KiB token",
       std::string(12 << 10, 'T'),
       "POST",
       "/v1/ingest/canonical",
       canonical_reject,
       {},
       {401}},
      {"binary token", "\x7f\x80\xff", "GET", "/v1/ledger/head", "", {}, {400, 401}},
      {"token without the scope",
       Token("svc", "shipments:read"),
       "POST",
       "/v1/ingest/canonical",
       canonical_reject,
       {},
       {403}},
      {"Basic auth", "", "GET", "/v1/ledger/head", "", {{"Authorization", "Basic YTpi"}}, {401}},
      {"dot-dot path", h.admin(), "GET", "/v1/../v1/ledger/head", "", {}, {404}},
      {"dot-dot into admin", h.ingestor(), "POST", "/v1/ingest/../admin/rebuild", "", {}, {404}},
      {"encoded dot-dot shipment",
       h.admin(),
       "GET",
       "/v1/shipments/%2e%2e%2f%2e%2e",
       "",
       {},
       {404}},
      {"NUL shipment id", h.admin(), "GET", "/v1/shipments/%00", "", {}, {404}},
      {"bad percent escape", h.admin(), "GET", "/v1/shipments/%zz", "", {}, {400, 404}},
      {"bad percent escape in query", h.admin(), "GET", "/v1/shipments?limit=%zz", "", {}, {400}},
      {"unknown query parameter on ingest",
       h.ingestor(),
       "POST",
       "/v1/ingest/canonical?x=1",
       canonical_reject,
       {},
       {400}},
      {"very long path", h.admin(), "GET", "/v1/" + std::string(12 << 10, 'p'), "", {}, {404}},
      // Not format names at all: refused rather than kept as dead letters of a "format".
      {"NUL format", h.ingestor(), "POST", "/v1/ingest/%00", "abc", {}, {400}},
      {"dot-dot format",
       h.ingestor(),
       "POST",
       "/v1/ingest/..%2f..%2fetc%2fpasswd",
       "abc",
       {},
       {400}},
      {"8 KiB format",
       h.ingestor(),
       "POST",
       "/v1/ingest/" + std::string(8 << 10, 'f'),
       "abc",
       {},
       {400}},
      {"upper-case format", h.ingestor(), "POST", "/v1/ingest/X12", "abc", {}, {400}},
      {"empty body", h.ingestor(), "POST", "/v1/ingest/x12", "", {}, {400}},
      {"Idempotency-Key too long",
       h.ingestor(),
       "POST",
       "/v1/ingest/canonical",
       canonical_reject,
       {{"Idempotency-Key", std::string(300, 'k')}},
       {400}},
      {"Idempotency-Key with control bytes",
       h.ingestor(),
       "POST",
       "/v1/ingest/canonical",
       canonical_reject,
       {{"Idempotency-Key", "a\x01b"}},
       {400}},
      {"method not allowed",
       h.ingestor(),
       "PUT",
       "/v1/ingest/canonical",
       canonical_reject,
       {},
       {405}},
      // Control bytes in a header value are malformed HTTP.
      {"Content-Type with control bytes",
       h.ingestor(),
       "POST",
       "/v1/ingest/canonical",
       canonical_reject,
       {{"Content-Type", "\x01\x7f"}},
       {400}},
  };
  // Wrong or odd content types: the format comes from the path, the type is not consulted,
  // so each is answered like the same body sent as JSON (a dead letter here).
  for (const std::string& type :
       std::vector<std::string>{"application/x-www-form-urlencoded",
                                "multipart/form-data; boundary=xyz", "text/plain; charset=utf-16",
                                "application/octet-stream", "image/png", std::string(4000, 't')}) {
    calls.push_back({"Content-Type " + type.substr(0, 40),
                     h.ingestor(),
                     "POST",
                     "/v1/ingest/canonical",
                     canonical_reject,
                     {{"Content-Type", type}},
                     {422}});
  }
  for (const auto& c : calls) {
    INFO("client case: " << c.name);
    HttpReply r = h.Call(c.token, c.method, c.target, c.body, c.headers);
    CHECK_MESSAGE(c.expect.count(r.status) == 1, "status " << r.status << ": " << r.body);
    const bool error_shape = r.body.rfind("{\"error\":{\"code\":", 0) == 0;
    CHECK((error_shape || r.status == 422));
    if (r.status == 422) {
      const IngestAnswer a = ParseIngestAnswer(r.body);
      CHECK(a.accepted == 0);
      expected_dead_letters += a.rejected;
    }
  }

  // --- Hostile message bodies over HTTP, then the same over NATS --------------------------------
  const std::string source_dir = SourceFile("");
  std::vector<BodyCase> bodies = testing::StaticBodies(source_dir);
  for (auto& b : testing::TruncatedSeeds(source_dir)) bodies.push_back(std::move(b));
  for (auto& b : testing::GeneratedBodies(kBodyLimit)) bodies.push_back(std::move(b));
  std::vector<std::pair<const BodyCase*, std::uint64_t>> for_nats;  // with their dead letters
  // Posts every body; returns each one's dead letters (1 for a refused one, as NATS keeps it).
  auto post_bodies = [&] {
    std::vector<std::uint64_t> dead(bodies.size(), 0);
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      const BodyCase& b = bodies[i];
      INFO("body case: " << b.name << " (" << b.body.size() << " bytes to " << b.format << ")");
      HttpReply r = h.Call(h.ingestor(), "POST", "/v1/ingest/" + b.format, b.body);
      CHECK_MESSAGE(b.expect.count(r.status) == 1,
                    "status " << r.status << ": " << r.body.substr(0, 500));
      dead[i] = 1;
      if (r.status == 422) {
        const IngestAnswer a = ParseIngestAnswer(r.body);
        CHECK_MESSAGE(a.accepted == 0, r.body.substr(0, 500));
        CHECK(a.rejected >= 1);
        dead[i] = a.rejected;
        expected_dead_letters += a.rejected;
      } else {
        CHECK(r.body.rfind("{\"error\":{\"code\":", 0) == 0);
      }
    }
    return dead;
  };
  const std::vector<std::uint64_t> body_dead_letters = post_bodies();
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    if (bodies[i].nats) for_nats.emplace_back(&bodies[i], body_dead_letters[i]);
  }
  // The same bodies once more: memory after a second round must not have grown with the
  // first by more than a write buffer's worth (RocksDB's memtables fill with the dead
  // letters just written and malloc keeps freed 16 MiB bodies; a per-request leak would
  // grow by the whole round).
  const Memory mem_round1 = ReadMemory(h.pid());
  post_bodies();
  const Memory mem_round2 = ReadMemory(h.pid());
  MESSAGE("VmRSS after one round of bodies " << mem_round1.rss_kib << " KiB, after two "
                                             << mem_round2.rss_kib << " KiB");
  if (kCheckMemory) CHECK(mem_round2.rss_kib < mem_round1.rss_kib + 96 * 1024);

  // The half-open connections were closed by the server meanwhile (their request timeout).
  for (int fd : half_open) {
    pollfd p{fd, POLLIN, 0};
    std::string got;
    bool closed = false;
    const auto deadline = Clock::now() + kHangAfter;
    while (!closed && Clock::now() < deadline) {
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[4096];
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        got.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        closed = true;
      }
    }
    CHECK_MESSAGE(closed, "a half-open connection was not closed; got: " << got);
    if (!got.empty()) CHECK(got.rfind("HTTP/1.1 408", 0) == 0);
    close(fd);
  }

  // NATS: the same bodies, with missing, odd and oversized headers, plus payloads up to
  // max_payload and subjects naming odd formats.
  nats::NatsOptions nopts;
  nopts.url = h.nats().url();
  nopts.name = "hostile_input_test";
  auto nc = nats::NatsClient::Connect(nopts);
  REQUIRE_MESSAGE(nc.ok(), nc.status().ToString());
  auto& client = **nc;
  std::vector<nats::NatsClient::OutMessage> msgs;
  std::uint64_t nats_dead_letters = 0;
  int n = 0;
  for (const auto& [b, rejected] : for_nats) {
    nats::Headers headers;
    switch (n++ % 4) {
      case 0:
        break;
      case 1:
        headers = {{"Waybill-Partner", "ACME"}};
        break;
      case 2:
        headers = {{"Waybill-Partner", ""}, {"Content-Type", "image/png"}};
        break;
      case 3:
        headers = {{"Waybill-Partner", std::string(2000, 'P')}, {"X-Junk", "\x7f\x80"}};
        break;
    }
    msgs.push_back({"waybill.ingest." + b->format, b->body, "", headers});
    nats_dead_letters += rejected;
  }
  const std::size_t max_payload = 1024 * 1024 - 4096;  // nats-server default, less headers
  msgs.push_back({"waybill.ingest.x12", RandomBytes(max_payload, 12), "", {}});
  msgs.push_back({"waybill.ingest.canonical", DeepArrays(max_payload / 2), "", {}});
  msgs.push_back({"waybill.ingest.dcsa-tnt", DeepObjects(max_payload / 6), "", {}});
  msgs.push_back({"waybill.ingest.epcis", "\xEF\xBB\xBF" + DeepArrays(max_payload / 2), "", {}});
  msgs.push_back({"waybill.ingest.sap-s4-delivery", DeepObjects(max_payload / 6), "", {}});
  msgs.push_back({"waybill.ingest.no-such-format", "abc", "", {}});
  msgs.push_back({"waybill.ingest.a.b.c", "abc", "", {}});
  msgs.push_back({"waybill.ingest.x12", "", "", {}});  // empty payload
  nats_dead_letters += 8;
  REQUIRE(WaitFor(std::chrono::seconds(20), [&] {
    return client.EnsureStream({"WAYBILL_INGEST", {"waybill.ingest.>"}, -1, 0, 120}).ok();
  }));
  for (std::size_t from = 0; from < msgs.size(); from += 16) {
    std::vector<nats::NatsClient::OutMessage> part(
        msgs.begin() + static_cast<std::ptrdiff_t>(from),
        msgs.begin() + static_cast<std::ptrdiff_t>(std::min(from + 16, msgs.size())));
    auto acked = client.PublishOrdered(part, 30000);
    REQUIRE_MESSAGE(acked.ok(), acked.status().ToString());
    REQUIRE(*acked == part.size());
  }

  // --- Afterwards: up, serving, bounded, and only dead letters stored --------------------------
  CHECK(h.serve().running());
  CHECK(h.Call("", "GET", "/healthz").status == 200);
  // A valid probe over each channel: the only events stored.
  HttpReply probe =
      h.Call(h.ingestor(), "POST", "/v1/ingest/canonical", ValidEvent("hostile-probe-http"));
  CHECK_MESSAGE(probe.status == 200, probe.body);
  {
    auto acked = client.PublishOrdered(
        {{"waybill.ingest.canonical", ValidEvent("hostile-probe-nats"), "", {}}}, 10000);
    REQUIRE(acked.ok());
  }
  // NATS intake handles messages in stream order: once the NATS probe is stored, every
  // hostile message before it has been handled.
  const bool caught_up = WaitFor(std::chrono::seconds(120), [&] {
    HttpReply feed =
        h.Call(h.admin(), "GET", "/v1/events?after_seq=" + std::to_string(before.head_seq));
    return feed.status == 200 && feed.body.find("hostile-probe-nats") != std::string::npos;
  });
  REQUIRE_MESSAGE(caught_up, "the NATS probe was not stored" << h.Diagnostics());
  const Counts after = h.ReadCounts();
  CHECK(after.events == before.events + 2);
  CHECK(after.head_seq == before.head_seq + 2);
  CHECK_MESSAGE(
      after.dead_letters == before.dead_letters + expected_dead_letters + nats_dead_letters,
      "HTTP dead letters " << expected_dead_letters << ", NATS " << nats_dead_letters);

  // Every dead letter can be listed and shown as valid JSON, binary garbage included.
  {
    std::uint64_t listed = 0, shown = 0;
    std::string after_id = "0";
    for (;;) {
      HttpReply page =
          h.Call(h.admin(), "GET", "/v1/admin/dlq?state=all&limit=1000&after=" + after_id);
      REQUIRE(page.status == 200);
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      REQUIRE_MESSAGE(parser.parse(page.body).get(doc) == simdjson::SUCCESS,
                      "dead-letter page after " << after_id << " is not valid JSON");
      simdjson::dom::array items;
      REQUIRE(doc["dead_letters"].get(items) == simdjson::SUCCESS);
      for (simdjson::dom::element item : items) {
        std::uint64_t id = 0;
        REQUIRE(item["id"].get(id) == simdjson::SUCCESS);
        std::string_view format;
        REQUIRE(item["format"].get(format) == simdjson::SUCCESS);
        ++listed;
        // Show the non-canonical ones (binary, X12, JSON documents) and a sample of the rest.
        if (format != "canonical" || id % 97 == 0) {
          HttpReply one = h.Call(h.admin(), "GET", "/v1/admin/dlq/" + std::to_string(id));
          REQUIRE(one.status == 200);
          simdjson::dom::parser p2;
          simdjson::dom::element d2;
          CHECK_MESSAGE(p2.parse(one.body).get(d2) == simdjson::SUCCESS,
                        "dead letter " << id << " is not shown as valid JSON");
          ++shown;
        }
        after_id = std::to_string(id);
      }
      if (items.size() == 0) break;
    }
    CHECK(listed == after.dead_letters);
    MESSAGE("dead letters listed " << listed << ", shown one by one " << shown);
  }

  // Settled: the last dead letters shown were megabytes of escaped binary each, and the
  // server hands memory that stayed free above its allocator's reserve back within about
  // two seconds (server/memory_trimmer.h). Within 384 MiB of the start: RocksDB's write buffers
  // (32-64 MiB per column family) hold the dead letters just written.
  const std::uint64_t settled_bound_kib = mem_before.rss_kib + 384 * 1024;
  Memory mem_after;
  (void)WaitFor(std::chrono::seconds(5), [&] {
    mem_after = ReadMemory(h.pid());
    return mem_after.rss_kib < settled_bound_kib;
  });
  MESSAGE("after: events " << after.events << ", dead letters " << after.dead_letters << " (HTTP "
                           << expected_dead_letters << ", NATS " << nats_dead_letters << "), VmRSS "
                           << mem_after.rss_kib << " KiB, VmHWM " << mem_after.hwm_kib << " KiB");
  if (kCheckMemory) CHECK(mem_after.hwm_kib < 1024 * 1024);  // peak under 1 GiB
  if (kCheckMemory) CHECK(mem_after.rss_kib < settled_bound_kib);
  CHECK(h.Call("", "GET", "/healthz").status == 200);
  CHECK(h.serve().Stop() == 0);
}

}  // namespace waybill
