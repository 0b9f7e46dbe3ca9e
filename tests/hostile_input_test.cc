// Bad input at the front door: a corpus of hostile HTTP requests and NATS messages sent
// against the real `waybill serve` (real nats-server, real JWTs). Every request must be
// answered with the expected status class or closed by the server, the server must stay up
// and keep serving, its memory must stay bounded, and nothing may be stored but dead letters.
//
// The corpus: tests/fixtures/hostile/bodies/FORMAT--NAME (static hostile message bodies,
// each sent over HTTP and over NATS to its format) plus cases generated here (16 MiB+1
// bodies, 10^6-element X12 segments, 100k-deep JSON, seeded random bytes, malformed and
// truncated raw HTTP, chunked abuse, slow-loris and half-open connections).
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
#include "tests/nats_test_server.h"
#include "tests/serve_process.h"
#include "tests/test_util.h"

namespace waybill {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using client::HeaderList;
using client::HttpClient;
using client::HttpReply;

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

// --- Generators ------------------------------------------------------------------------------

std::string RandomBytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string DeepArrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::string DeepObjects(std::size_t depth) {
  std::string s;
  s.reserve(depth * 6 + 1);
  for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s += '1';
  s.append(depth, '}');
  return s;
}

std::string IsaGs() {
  return "ISA*00*          *00*          *ZZ*HOSTILE        *ZZ*WAYBILL        *250310*1500*U*"
         "00401*000000777*0*P*>~GS*QM*HOSTILE*WAYBILL*20250310*1500*777*X*004010~";
}

// One 214 whose N9 segment has `elements` elements.
std::string X12HugeSegment(std::size_t elements) {
  std::string s = IsaGs() + "ST*214*0001~B10*PRO1*SHIP-H1*ACME~N9";
  s.reserve(s.size() + elements * 2 + 64);
  for (std::size_t i = 0; i < elements; ++i) s += "*A";
  s += "~SE*3*0001~GE*1*777~IEA*1*000000777~";
  return s;
}

// One 214 with `segments` LX segments.
std::string X12ManySegments(std::size_t segments) {
  std::string s = IsaGs() + "ST*214*0001~B10*PRO1*SHIP-H2*ACME~";
  s.reserve(s.size() + segments * 5 + 64);
  for (std::size_t i = 0; i < segments; ++i) s += "LX*1~";
  s += "SE*" + std::to_string(segments + 3) + "*0001~GE*1*777~IEA*1*000000777~";
  return s;
}

// One interchange of `sets` transaction sets that are all rejected (no B10), padded to about
// `bytes` by an ignorable note in the first set: each rejected set keeps a copy of its unit.
std::string X12ManyRejectedSets(std::size_t sets, std::size_t bytes) {
  std::string s = IsaGs();
  char st[64];
  for (std::size_t i = 1; i <= sets; ++i) {
    std::snprintf(st, sizeof st, "ST*214*%06zu~LX*1~SE*3*%06zu~", i, i);
    s += st;
  }
  s += "GE*" + std::to_string(sets) + "*777~IEA*1*000000777~";
  if (s.size() < bytes) s.insert(IsaGs().size(), "NTE*" + std::string(bytes - s.size(), 'Z') + "~");
  return s;
}

// --- Raw HTTP over a socket ------------------------------------------------------------------

struct RawCase {
  std::string name;
  std::string bytes;
  std::set<int> expect;                        // statuses that are a right answer
  bool close_ok = false;                       // closing without an answer is also right
  bool half_close = false;                     // shutdown(SHUT_WR) once everything is sent
  std::chrono::milliseconds byte_interval{0};  // > 0: slow-loris, one byte per interval
  int expect_responses = 1;                    // pipelining: answers expected before the close
};

struct RawOutcome {
  std::vector<int> statuses;  // of every complete response, in order
  bool closed = false;        // EOF or reset seen
  bool hung = false;          // neither answered nor closed within kHangAfter
  std::string received;
};

// Parses complete responses off the front of `buf` (status line, headers, Content-Length
// body); returns their statuses and leaves the rest.
std::vector<int> TakeResponses(std::string* buf) {
  std::vector<int> out;
  for (;;) {
    const std::size_t end = buf->find("\r\n\r\n");
    if (end == std::string::npos) break;
    const std::string head = buf->substr(0, end);
    std::size_t length = 0;
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (auto p = lower.find("\r\ncontent-length:"); p != std::string::npos) {
      length = std::strtoull(lower.c_str() + p + 17, nullptr, 10);
    }
    if (buf->size() < end + 4 + length) break;
    int status = 0;
    if (head.rfind("HTTP/1.", 0) == 0 && head.size() >= 12) status = std::atoi(head.c_str() + 9);
    if (status != 100) out.push_back(status);
    buf->erase(0, end + 4 + length);
  }
  return out;
}

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE_MESSAGE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0,
                  "connect: " << std::strerror(errno));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Sends the case's bytes while reading, and reads until the server closes, the expected
// answers are complete, or kHangAfter passes.
RawOutcome Exchange(int port, const RawCase& c) {
  RawOutcome o;
  const int fd = Connect(port);
  const auto deadline = Clock::now() + kHangAfter;
  std::size_t sent = 0;
  bool write_open = true;
  auto next_byte_at = Clock::now();
  std::string pending;
  char buf[65536];
  while (!o.closed) {
    const auto now = Clock::now();
    if (now >= deadline) {
      o.hung = true;
      break;
    }
    const bool more = write_open && sent < c.bytes.size();
    const bool can_send_now = more && (c.byte_interval.count() == 0 || now >= next_byte_at);
    pollfd p{fd, static_cast<short>(POLLIN | (can_send_now ? POLLOUT : 0)), 0};
    int wait_ms = 200;
    if (more && !can_send_now) {
      wait_ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(next_byte_at - now).count() + 1);
    }
    if (poll(&p, 1, wait_ms) < 0 && errno != EINTR) break;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        o.received.append(buf, static_cast<std::size_t>(n));
        pending.append(buf, static_cast<std::size_t>(n));
        for (int s : TakeResponses(&pending)) o.statuses.push_back(s);
        // An answer that keeps the connection open is complete once read.
        if (static_cast<int>(o.statuses.size()) >= c.expect_responses &&
            o.received.find("Connection: close") == std::string::npos &&
            o.received.find("connection: close") == std::string::npos) {
          break;
        }
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        o.closed = true;
      }
    }
    if (can_send_now && (p.revents & POLLOUT)) {
      const std::size_t chunk = c.byte_interval.count() > 0 ? 1 : c.bytes.size() - sent;
      const ssize_t n = send(fd, c.bytes.data() + sent, chunk, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        next_byte_at = Clock::now() + c.byte_interval;
        if (sent == c.bytes.size() && c.half_close) shutdown(fd, SHUT_WR);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        write_open = false;  // the server stopped reading (it answered and closed)
      }
    }
  }
  close(fd);
  return o;
}

std::string Request(const std::string& method, const std::string& target,
                    const std::string& headers = "", const std::string& body = "") {
  return method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n" + body;
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

// --- The corpus ------------------------------------------------------------------------------

// A message body for an ingest format, sent over HTTP (real client) and NATS.
struct BodyCase {
  std::string name;
  std::string format;
  std::string body;
  std::set<int> expect;  // HTTP statuses that are right
  bool nats = true;      // also publish it to waybill.ingest.FORMAT (fits max_payload)
};

std::vector<BodyCase> StaticBodies() {
  std::vector<BodyCase> out;
  const fs::path dir = SourceFile("tests/fixtures/hostile/bodies");
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    const std::size_t sep = file.find("--");
    REQUIRE_MESSAGE(sep != std::string::npos, "fixture " << file << " is not FORMAT--NAME");
    out.push_back({"fixture " + file,
                   file.substr(0, sep),
                   testing::ReadWholeFile(entry.path().string()),
                   {400, 422}});
  }
  REQUIRE(out.size() >= 20);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

// Fuzz seeds cut short: JSON documents in half, X12 just before the first IEA (a complete
// interchange before the cut would rightly be accepted).
std::vector<BodyCase> TruncatedSeeds() {
  std::vector<BodyCase> out;
  const std::map<std::string, std::string> formats = {
      {"x12", "x12"}, {"dcsa", "dcsa-tnt"}, {"epcis", "epcis"}};
  for (const auto& [dir, format] : formats) {
    for (const auto& entry : fs::directory_iterator(SourceFile("tests/fuzz/corpus/" + dir))) {
      std::string text = testing::ReadWholeFile(entry.path().string());
      const std::size_t iea = text.find("IEA");
      text.resize(format == "x12" && iea != std::string::npos ? iea : text.size() / 2);
      if (text.empty()) continue;
      out.push_back({"truncated seed " + dir + "/" + entry.path().filename().string(),
                     format,
                     std::move(text),
                     {400, 422}});
    }
  }
  return out;
}

std::vector<BodyCase> GeneratedBodies() {
  std::vector<BodyCase> out;
  const std::vector<std::string> json_formats = {"canonical", "dcsa-tnt", "epcis",
                                                 "sap-s4-delivery"};
  for (const auto& f : json_formats) {
    // Refused before any parser sees them (the JSON depth limit).
    out.push_back({"100k-deep arrays to " + f, f, DeepArrays(100'000), {400}, false});
    out.push_back({"100k-deep objects to " + f, f, DeepObjects(100'000), {400}, false});
    out.push_back(
        {"deep second NDJSON line to " + f, f, "{}\n" + DeepArrays(100'000), {400}, false});
    // Not JSON-looking at the first byte, so past the cheap check: the parsers' own limits.
    out.push_back(
        {"BOM then 100k-deep arrays to " + f, f, "\xEF\xBB\xBF" + DeepArrays(100'000), {400, 422}});
    out.push_back(
        {"form feed then 100k-deep objects to " + f, f, "\f" + DeepObjects(100'000), {400, 422}});
    out.push_back({"1 MiB random bytes to " + f, f, RandomBytes(1 << 20, 7), {400, 422}, false});
    out.push_back({"900 KiB random bytes to " + f, f, RandomBytes(900 << 10, 8), {400, 422}});
  }
  out.push_back({"900 KiB random bytes to x12", "x12", RandomBytes(900 << 10, 9), {422}});
  out.push_back({"900 KiB random bytes to an unknown format",
                 "no-such-format",
                 RandomBytes(900 << 10, 10),
                 {422}});
  out.push_back({"16 MiB (the limit) of random bytes to x12",
                 "x12",
                 RandomBytes(kBodyLimit, 11),
                 {422},
                 false});
  out.push_back({"X12 segment with 10^6 elements", "x12", X12HugeSegment(1'000'000), {422}, false});
  out.push_back({"X12 set with 200k segments", "x12", X12ManySegments(200'000), {422}, false});
  out.push_back(
      {"X12 set with 100k-element segment (NATS size)", "x12", X12HugeSegment(100'000), {422}});
  out.push_back({"X12 interchange of 4 MiB with 20k rejected sets",
                 "x12",
                 X12ManyRejectedSets(20'000, 4 << 20),
                 {422},
                 false});
  // Huge strings and numbers in canonical events.
  out.push_back(
      {"canonical event with a 900 KiB shipment_id",
       "canonical",
       R"({"event_id":"h-big","kind":"milestone","occurred_at":"2025-03-02T10:00:00Z","source":{"system":"carrier"},"shipment_id":")" +
           std::string(900 << 10, 'S') + R"(","carrier":"ACME","status":"IN_TRANSIT"})",
       {422}});
  out.push_back({"canonical line over the 1 MiB line limit",
                 "canonical",
                 "{\"event_id\":\"" + std::string((1 << 20) + 10, 'L') + "\"}",
                 {422},
                 false});
  {
    std::string many = R"({"event_id":"h-fields","kind":"milestone")";
    for (int i = 0; i < 50'000; ++i) many += ",\"x" + std::to_string(i) + "\":1";
    many += "}";
    out.push_back(
        {"canonical event with 50k unknown fields and no shipment", "canonical", many, {422}});
  }
  out.push_back({"canonical number with 500k digits",
                 "canonical",
                 R"({"event_id":"h-digits","quantity":)" + std::string(500'000, '9') + "}",
                 {422}});
  // Many rejected lines in one body: every line is a dead letter of its own.
  {
    std::string lines;
    for (int i = 0; i < 20'000; ++i) lines += "x\n";
    out.push_back({"20k garbage NDJSON lines", "canonical", lines, {422}});
  }
  return out;
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
          outcomes[i] = Exchange(h.port(), raw[i]);
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
  std::vector<BodyCase> bodies = StaticBodies();
  for (auto& b : TruncatedSeeds()) bodies.push_back(std::move(b));
  for (auto& b : GeneratedBodies()) bodies.push_back(std::move(b));
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
