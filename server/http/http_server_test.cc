// The listener against real Beast clients over loopback. Every client operation has a generous
// deadline, so a server bug fails a test instead of hanging it, and no assertion depends on
// tight timing.
#include "server/http/http_server.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace waybill::server::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using beast_http::field;
using beast_http::status;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kClientTimeout = 20s;
// "Promptly", with room for a loaded 2-core machine running sanitizers.
constexpr auto kPrompt = 10s;

// Runs jobs on a thread of its own: the "ledger writer" that answers requests later.
class Worker {
 public:
  Worker() : thread_([this] { Loop(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_all();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return done_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool done_ = false;
  std::thread thread_;
};

// Answers "METHOD TARGET REMOTE[ tls] BODY" as text/plain.
Response Echo(const Request& request, const ConnectionInfo& connection) {
  Response response{status::ok, request.version()};
  response.set(field::content_type, "text/plain");
  response.body() = std::string(request.method_string()) + " " + std::string(request.target()) +
                    " " + connection.remote_address + (connection.tls ? " tls" : "") + " " +
                    request.body();
  return response;
}

class TestHandler : public RequestHandler {
 public:
  using Fn = std::function<void(Request, const ConnectionInfo&, Respond)>;
  TestHandler()
      : fn_([](Request r, const ConnectionInfo& c, Respond respond) { respond(Echo(r, c)); }) {}
  explicit TestHandler(Fn fn) : fn_(std::move(fn)) {}

  void Handle(Request request, const ConnectionInfo& connection, Respond respond) override {
    calls_.fetch_add(1);
    fn_(std::move(request), connection, std::move(respond));
  }
  int calls() const { return calls_.load(); }

 private:
  Fn fn_;
  std::atomic<int> calls_{0};
};

std::unique_ptr<HttpServer> StartServer(HttpServerOptions options, RequestHandler& handler) {
  options.port = 0;
  auto server = HttpServer::Start(options, handler);
  REQUIRE_MESSAGE(server.ok(), server.status().ToString());
  return std::move(server).value();
}

Request Get(std::string target, bool keep_alive = true) {
  Request request{beast_http::verb::get, target, 11};
  request.set(field::host, "localhost");
  request.keep_alive(keep_alive);
  return request;
}

// A Beast client whose every operation runs to completion (or its deadline) on a private
// io_context, so it reads like a synchronous one.
template <class Stream>
class BasicClient {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  BasicClient() : stream_(ioc_) {}
  explicit BasicClient(ssl::context& tls) : stream_(ioc_, tls) {}

  beast::error_code Connect(std::uint16_t port) {
    beast::error_code result;
    Tcp().expires_after(kClientTimeout);
    Tcp().async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                        [&](beast::error_code ec) { result = ec; });
    Run();
    if constexpr (kTls) {
      if (!result) {
        stream_.async_handshake(ssl::stream_base::client,
                                [&](beast::error_code ec) { result = ec; });
        Run();
      }
    }
    return result;
  }

  beast::error_code Send(Request request) {
    request.prepare_payload();
    beast::error_code result;
    Tcp().expires_after(kClientTimeout);
    beast_http::async_write(stream_, request,
                            [&](beast::error_code ec, std::size_t) { result = ec; });
    Run();
    return result;
  }

  beast::error_code SendRaw(std::string_view bytes) {
    beast::error_code result;
    Tcp().expires_after(kClientTimeout);
    net::async_write(stream_, net::buffer(bytes.data(), bytes.size()),
                     [&](beast::error_code ec, std::size_t) { result = ec; });
    Run();
    return result;
  }

  // One response; for a HEAD request pass head=true (no body follows its header).
  Response Read(beast::error_code* error = nullptr, bool head = false) {
    beast_http::response_parser<beast_http::string_body> parser;
    parser.skip(head);
    beast::error_code result;
    Tcp().expires_after(kClientTimeout);
    beast_http::async_read(stream_, buffer_, parser,
                           [&](beast::error_code ec, std::size_t) { result = ec; });
    Run();
    if (error != nullptr) {
      *error = result;
    } else {
      REQUIRE_MESSAGE(!result, result.message());
    }
    return parser.release();
  }

  Response RoundTrip(Request request) {
    const beast::error_code ec = Send(std::move(request));
    REQUIRE_MESSAGE(!ec, ec.message());
    return Read();
  }

  // Reads and discards until the connection ends; returns what ended it (eof when the server
  // closed it, timeout when it did not within kClientTimeout).
  beast::error_code ReadUntilClosed() {
    beast::error_code result;
    Tcp().expires_after(kClientTimeout);
    char scratch[4096];
    std::function<void()> next = [&] {
      stream_.async_read_some(net::buffer(scratch), [&](beast::error_code ec, std::size_t) {
        if (ec) {
          result = ec;
        } else {
          next();
        }
      });
    };
    next();
    Run();
    return result;
  }

  void Close() {
    beast::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().close();
  }

 private:
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }
  void Run() {
    ioc_.restart();
    ioc_.run();
  }

  net::io_context ioc_;
  Stream stream_;
  beast::flat_buffer buffer_;
};

using Client = BasicClient<beast::tcp_stream>;
using TlsClient = BasicClient<beast::ssl_stream<beast::tcp_stream>>;

bool ClosedByServer(beast::error_code ec) {
  return ec == net::error::eof || ec == net::error::connection_reset ||
         ec == ssl::error::stream_truncated;
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

void CheckError(const Response& response, status expected, std::string_view code) {
  CHECK(response.result() == expected);
  CHECK(response[field::content_type] == "application/json");
  CHECK(response.body().rfind("{\"error\":{\"code\":\"" + std::string(code) + "\",", 0) == 0);
  CHECK(Contains(response.body(), "\"details\":{"));
}

// A private directory that goes away with the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "http_test_XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST_CASE("GET round trips keep the connection alive") {
  TestHandler handler;
  HttpServerOptions options;
  options.server_header = "waybill-test";
  auto server = StartServer(options, handler);
  CHECK(server->url() == "http://127.0.0.1:" + std::to_string(server->port()));

  Client client;
  REQUIRE(!client.Connect(server->port()));
  for (const char* target : {"/healthz", "/v1/shipments/SHP-1"}) {
    Response response = client.RoundTrip(Get(target));
    CHECK(response.result() == status::ok);
    CHECK(response.body() == std::string("GET ") + target + " 127.0.0.1 ");
    CHECK(response[field::server] == "waybill-test");
    CHECK(response.keep_alive());
    CHECK(response[field::content_length] == std::to_string(response.body().size()));
  }
  CHECK(handler.calls() == 2);
}

TEST_CASE("pipelined requests are answered in order") {
  TestHandler handler;
  auto server = StartServer({}, handler);
  Client client;
  REQUIRE(!client.Connect(server->port()));
  REQUIRE(
      !client.SendRaw("GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                      "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                      "GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  CHECK(client.Read().body() == "GET /one 127.0.0.1 ");
  CHECK(client.Read().body() == "POST /two 127.0.0.1 abc");
  Response last = client.Read();
  CHECK(last.body() == "GET /three 127.0.0.1 ");
  CHECK(!last.keep_alive());
  CHECK(ClosedByServer(client.ReadUntilClosed()));
}

TEST_CASE("HTTP/1.0 without keep-alive closes; HEAD gets no body") {
  TestHandler handler;
  auto server = StartServer({}, handler);
  {
    Client client;
    REQUIRE(!client.Connect(server->port()));
    REQUIRE(!client.SendRaw("GET /old HTTP/1.0\r\n\r\n"));
    Response response = client.Read();
    CHECK(response.version() == 10);
    CHECK(!response.keep_alive());
    CHECK(ClosedByServer(client.ReadUntilClosed()));
  }
  {
    Client client;
    REQUIRE(!client.Connect(server->port()));
    Request head = Get("/h");
    head.method(beast_http::verb::head);
    REQUIRE(!client.Send(head));
    Response response = client.Read(nullptr, /*head=*/true);
    CHECK(response.result() == status::ok);
    CHECK(response[field::content_length] ==
          std::to_string(std::string("HEAD /h 127.0.0.1 ").size()));
    CHECK(response.body().empty());
    // The connection is still in sync: no stray body bytes precede the next response.
    CHECK(client.RoundTrip(Get("/after")).body() == "GET /after 127.0.0.1 ");
  }
}

TEST_CASE("a handler may answer later from another thread, or at once") {
  Worker worker;
  TestHandler handler([&](Request request, const ConnectionInfo& connection, Respond respond) {
    if (request.target() == "/now") return respond(Echo(request, connection));
    auto shared = std::make_shared<Request>(std::move(request));
    const ConnectionInfo copy = connection;
    worker.Post([shared, copy, respond = std::move(respond)] {
      std::this_thread::sleep_for(20ms);
      respond(Echo(*shared, copy));
    });
  });
  HttpServerOptions options;
  options.threads = 2;
  auto server = StartServer(options, handler);

  Client client;
  REQUIRE(!client.Connect(server->port()));
  CHECK(client.RoundTrip(Get("/later")).body() == "GET /later 127.0.0.1 ");
  CHECK(client.RoundTrip(Get("/now")).body() == "GET /now 127.0.0.1 ");
  CHECK(client.RoundTrip(Get("/later-again")).body() == "GET /later-again 127.0.0.1 ");
}

TEST_CASE("many connections with answers from a worker thread") {
  Worker worker;
  TestHandler handler([&](Request request, const ConnectionInfo& connection, Respond respond) {
    if (request.target().ends_with("0")) return respond(Echo(request, connection));
    auto shared = std::make_shared<Request>(std::move(request));
    worker.Post(
        [shared, connection, respond = std::move(respond)] { respond(Echo(*shared, connection)); });
  });
  HttpServerOptions options;
  options.threads = 2;
  auto server = StartServer(options, handler);

  constexpr int kClients = 4;
  constexpr int kRequests = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Client client;
      if (client.Connect(server->port())) return;
      for (int i = 0; i < kRequests; ++i) {
        const std::string target = "/c" + std::to_string(c) + "/" + std::to_string(i);
        if (client.Send(Get(target))) return;
        beast::error_code ec;
        Response response = client.Read(&ec);
        if (ec || response.body() != "GET " + target + " 127.0.0.1 ") return;
        ok.fetch_add(1);
      }
    });
  }
  for (auto& t : clients) t.join();
  CHECK(ok.load() == kClients * kRequests);
}

TEST_CASE("a body over body_limit is answered 413 and the connection closed") {
  TestHandler handler;
  HttpServerOptions options;
  options.body_limit = 1024;
  auto server = StartServer(options, handler);

  SUBCASE("declared by Content-Length") {
    Client client;
    REQUIRE(!client.Connect(server->port()));
    Request request{beast_http::verb::post, "/v1/ingest/x12", 11};
    request.set(field::host, "localhost");
    request.body() = std::string(256 * 1024, 'x');
    // The whole body goes out even though the server answers after the header: it reads and
    // discards it, so the client sees the 413 instead of a reset.
    REQUIRE(!client.Send(request));
    Response response = client.Read();
    CheckError(response, status::payload_too_large, "payload_too_large");
    CHECK(Contains(response.body(), "\"details\":{\"limit\":1024}"));
    CHECK(!response.keep_alive());
    CHECK(ClosedByServer(client.ReadUntilClosed()));
  }
  SUBCASE("found while reading a chunked body") {
    Client client;
    REQUIRE(!client.Connect(server->port()));
    REQUIRE(!client.SendRaw(
        "POST /v1/ingest/x12 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "800\r\n" +
        std::string(0x800, 'y') + "\r\n0\r\n\r\n"));
    CheckError(client.Read(), status::payload_too_large, "payload_too_large");
    CHECK(ClosedByServer(client.ReadUntilClosed()));
  }
  SUBCASE("a body at the limit is fine") {
    Client client;
    REQUIRE(!client.Connect(server->port()));
    Request request{beast_http::verb::post, "/ok", 11};
    request.body() = std::string(1024, 'z');
    CHECK(client.RoundTrip(request).result() == status::ok);
  }
  CHECK(handler.calls() <= 1);
}

TEST_CASE("Expect: 100-continue gets an interim answer before the body is sent") {
  TestHandler handler;
  auto server = StartServer({}, handler);
  Client client;
  REQUIRE(!client.Connect(server->port()));
  REQUIRE(!client.SendRaw(
      "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  CHECK(client.Read().result() == status::continue_);
  REQUIRE(!client.SendRaw("hello"));
  CHECK(client.Read().body() == "POST /up 127.0.0.1 hello");
}

TEST_CASE("a header block over header_limit is answered 431") {
  TestHandler handler;
  HttpServerOptions options;
  options.header_limit = 1024;
  auto server = StartServer(options, handler);
  Client client;
  REQUIRE(!client.Connect(server->port()));
  Request request = Get("/big");
  request.set("X-Big", std::string(4096, 'a'));
  REQUIRE(!client.Send(request));
  CheckError(client.Read(), status::request_header_fields_too_large, "header_too_large");
  CHECK(ClosedByServer(client.ReadUntilClosed()));
  CHECK(handler.calls() == 0);
}

TEST_CASE("a chunk-size line or trailer section over header_limit is answered 431") {
  // Beast waits without limit for the end of either; the session must not buffer it all.
  TestHandler handler;
  HttpServerOptions options;
  options.header_limit = 1024;
  auto server = StartServer(options, handler);
  const std::string head = "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string& body : {"2;" + std::string(64 * 1024, 'e'),
                                  "2\r\nab\r\n0\r\nX-T: " + std::string(64 * 1024, 't')}) {
    CAPTURE(body.substr(0, 12));
    Client client;
    REQUIRE(!client.Connect(server->port()));
    REQUIRE(!client.SendRaw(head + body));
    CheckError(client.Read(), status::request_header_fields_too_large, "header_too_large");
    CHECK(ClosedByServer(client.ReadUntilClosed()));
  }
  // Within the limit both are fine.
  Client client;
  REQUIRE(!client.Connect(server->port()));
  REQUIRE(
      !client.SendRaw(head + "2;ext=" + std::string(100, 'e') + "\r\nab\r\n0\r\nX-T: t\r\n\r\n"));
  CHECK(client.Read().result() == status::ok);
  CHECK(handler.calls() == 1);
}

TEST_CASE("Transfer-Encoding not ending in chunked is 400, other codings 501: no smuggling") {
  TestHandler handler;
  auto server = StartServer({}, handler);
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  struct Case {
    std::string te;
    status expected;
    std::string_view code;
  };
  for (const Case& c : {Case{"gzip", status::bad_request, "bad_request"},
                        Case{"chunked, gzip", status::bad_request, "bad_request"},
                        Case{"gzip, chunked", status::not_implemented, "not_implemented"}}) {
    CAPTURE(c.te);
    Client client;
    REQUIRE(!client.Connect(server->port()));
    // Were the body not part of the request, it would be read as a second one.
    char size[16];
    std::snprintf(size, sizeof size, "%zx", smuggled.size());
    const std::string body = c.te == "gzip, chunked"
                                 ? std::string(size) + "\r\n" + smuggled + "\r\n0\r\n\r\n"
                                 : smuggled;
    REQUIRE(!client.SendRaw("POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + c.te +
                            "\r\n\r\n" + body));
    CheckError(client.Read(), c.expected, c.code);
    CHECK(ClosedByServer(client.ReadUntilClosed()));
  }
  CHECK(handler.calls() == 0);
}

TEST_CASE("garbage is answered 400 bad_request") {
  TestHandler handler;
  auto server = StartServer({}, handler);
  for (std::string_view garbage :
       {std::string_view("NOT A REQUEST\r\n\r\n"),
        std::string_view("GET / HTTP/1.1\r\nNo colon here\r\n\r\n"),
        std::string_view("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n")}) {
    CAPTURE(garbage);
    Client client;
    REQUIRE(!client.Connect(server->port()));
    REQUIRE(!client.SendRaw(garbage));
    Response response = client.Read();
    CheckError(response, status::bad_request, "bad_request");
    CHECK(Contains(response.body(), "malformed request: "));
    CHECK(ClosedByServer(client.ReadUntilClosed()));
  }
  CHECK(handler.calls() == 0);
}

TEST_CASE("connections over max_connections are closed at once") {
  TestHandler handler;
  HttpServerOptions options;
  options.max_connections = 2;
  auto server = StartServer(options, handler);

  Client first, second;
  REQUIRE(!first.Connect(server->port()));
  REQUIRE(!second.Connect(server->port()));
  // A round trip proves each was accepted and holds its slot.
  CHECK(first.RoundTrip(Get("/1")).result() == status::ok);
  CHECK(second.RoundTrip(Get("/2")).result() == status::ok);

  Client third;
  REQUIRE(!third.Connect(server->port()));  // the kernel completes the handshake
  CHECK(ClosedByServer(third.ReadUntilClosed()));

  // Once a slot frees up, new connections are served again.
  first.Close();
  bool served = false;
  for (const auto deadline = Clock::now() + kPrompt; !served && Clock::now() < deadline;) {
    Client next;
    if (!next.Connect(server->port()) && !next.Send(Get("/again"))) {
      beast::error_code ec;
      served = next.Read(&ec).result() == status::ok && !ec;
    }
    if (!served) std::this_thread::sleep_for(20ms);
  }
  CHECK(served);
}

TEST_CASE("timeouts close idle and slow connections") {
  TestHandler handler;
  HttpServerOptions options;
  options.idle_timeout = 200ms;
  options.request_timeout = 300ms;
  auto server = StartServer(options, handler);

  SUBCASE("idle keep-alive connection") {
    Client client;
    REQUIRE(!client.Connect(server->port()));
    CHECK(client.RoundTrip(Get("/x")).result() == status::ok);
    const auto start = Clock::now();
    CHECK(ClosedByServer(client.ReadUntilClosed()));
    CHECK(Clock::now() - start < kPrompt);
  }
  SUBCASE("connection that never sends") {
    Client client;
    REQUIRE(!client.Connect(server->port()));
    CHECK(ClosedByServer(client.ReadUntilClosed()));
  }
  SUBCASE("a request that never completes gets 408") {
    Client client;
    REQUIRE(!client.Connect(server->port()));
    REQUIRE(!client.SendRaw("GET /slow HTTP/1.1\r\nHost: x\r\n"));
    // A slow client holds no thread: others are served meanwhile.
    Client other;
    REQUIRE(!other.Connect(server->port()));
    CHECK(other.RoundTrip(Get("/meanwhile")).result() == status::ok);
    CheckError(client.Read(), status::request_timeout, "request_timeout");
    CHECK(ClosedByServer(client.ReadUntilClosed()));
  }
  CHECK(handler.calls() <= 2);
}

// Reads from a blocking socket, `pause` after every `step` bytes, until the peer closes or
// `limit` bytes came; returns the number of bytes read.
std::size_t ReadSlowly(tcp::socket& socket, std::size_t step, std::chrono::milliseconds pause,
                       std::size_t limit) {
  std::vector<char> chunk(step);
  std::size_t total = 0;
  while (total < limit) {
    beast::error_code ec;
    std::size_t got = 0;
    while (got < step && !ec)
      got += socket.read_some(net::buffer(chunk.data() + got, step - got), ec);
    total += got;
    if (ec) break;
    std::this_thread::sleep_for(pause);
  }
  return total;
}

TEST_CASE(
    "writing an answer: a reader that keeps reading gets all of it, a stalled one is dropped") {
  constexpr std::size_t kBody = 48u << 20;
  TestHandler handler([&](Request, const ConnectionInfo&, Respond respond) {
    Response r{status::ok, 11};
    r.body().assign(kBody, 'x');
    respond(std::move(r));
  });
  HttpServerOptions options;
  options.request_timeout = 300ms;
  options.idle_timeout = 300ms;
  auto server = StartServer(options, handler);
  const std::string request = "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

  SUBCASE("slow but steady: 1 MiB every 40 ms, far longer than request_timeout in all") {
    net::io_context ioc;
    tcp::socket socket(ioc);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()));
    net::write(socket, net::buffer(request));
    const auto start = Clock::now();
    const std::size_t got = ReadSlowly(socket, 1u << 20, 40ms, kBody + 4096);
    CHECK(Clock::now() - start > 2 * options.request_timeout);
    CHECK(got > kBody);  // the whole body and its header
  }
  SUBCASE("a reader that stops for 1.5 s is dropped before the answer is through") {
    net::io_context ioc;
    tcp::socket socket(ioc);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server->port()));
    net::write(socket, net::buffer(request));
    std::this_thread::sleep_for(1500ms);
    const std::size_t got = ReadSlowly(socket, 1u << 20, 0ms, kBody + 4096);
    CHECK(got < kBody);
  }
}

TEST_CASE("a throwing handler gets 500 and the server keeps serving") {
  TestHandler handler([](Request request, const ConnectionInfo& connection, Respond respond) {
    if (request.target() == "/throw") throw std::runtime_error("boom");
    if (request.target() == "/drop") return;  // never answers: the server does
    respond(Echo(request, connection));
  });
  auto server = StartServer({}, handler);
  Client client;
  REQUIRE(!client.Connect(server->port()));
  Response thrown = client.RoundTrip(Get("/throw"));
  CheckError(thrown, status::internal_server_error, "internal");
  CHECK(!Contains(thrown.body(), "boom"));  // internals stay inside
  CheckError(client.RoundTrip(Get("/drop")), status::internal_server_error, "internal");
  CHECK(client.RoundTrip(Get("/fine")).body() == "GET /fine 127.0.0.1 ");
}

TEST_CASE("a handler's Connection: close and invalid responses are honoured safely") {
  TestHandler handler([](Request request, const ConnectionInfo&, Respond respond) {
    Response response{request.target() == "/bad" ? status::no_content : status::ok, 11};
    response.body() = "body";
    if (request.target() == "/close") response.set(field::connection, "close");
    respond(std::move(response));
  });
  auto server = StartServer({}, handler);
  {
    Client client;
    REQUIRE(!client.Connect(server->port()));
    CHECK(!client.RoundTrip(Get("/close")).keep_alive());
    CHECK(ClosedByServer(client.ReadUntilClosed()));
  }
  {
    Client client;
    REQUIRE(!client.Connect(server->port()));
    CheckError(client.RoundTrip(Get("/bad")), status::internal_server_error, "internal");
  }
}

TEST_CASE("TLS round trip with a self-signed certificate") {
  TempDir dir;
  const std::string cert = (dir.path() / "c.pem").string();
  const std::string key = (dir.path() / "k.pem").string();
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -keyout '" + key +
                              "' -out '" + cert + "' -days 1 -subj /CN=localhost >/dev/null 2>&1";
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "the openssl CLI is needed: " << command);

  TestHandler handler;
  HttpServerOptions options;
  options.tls_cert_file = cert;
  options.tls_key_file = key;
  auto server = StartServer(options, handler);
  CHECK(server->url() == "https://127.0.0.1:" + std::to_string(server->port()));

  ssl::context tls(ssl::context::tls_client);
  tls.set_verify_mode(ssl::verify_none);
  TlsClient client(tls);
  REQUIRE(!client.Connect(server->port()));
  CHECK(client.RoundTrip(Get("/secure")).body() == "GET /secure 127.0.0.1 tls ");
  CHECK(client.RoundTrip(Get("/again", /*keep_alive=*/false)).body() ==
        "GET /again 127.0.0.1 tls ");
  CHECK(ClosedByServer(client.ReadUntilClosed()));

  SUBCASE("a plain client on the TLS port is dropped") {
    Client plain;
    REQUIRE(!plain.Connect(server->port()));
    REQUIRE(!plain.Send(Get("/")));
    CHECK(ClosedByServer(plain.ReadUntilClosed()));
  }
  SUBCASE("a client limited to TLS 1.1 is refused") {
    ssl::context old(ssl::context::tls_client);
    old.set_verify_mode(ssl::verify_none);
    SSL_CTX_set_security_level(old.native_handle(), 0);  // let the client offer 1.1 at all
    SSL_CTX_set_max_proto_version(old.native_handle(), TLS1_1_VERSION);
    TlsClient legacy(old);
    CHECK(legacy.Connect(server->port()));
  }
}

TEST_CASE("Start reports bad configuration") {
  TestHandler handler;
  SUBCASE("missing certificate file") {
    HttpServerOptions options;
    options.tls_cert_file = "/nonexistent/cert.pem";
    options.tls_key_file = "/nonexistent/key.pem";
    auto server = HttpServer::Start(options, handler);
    REQUIRE(!server.ok());
    CHECK(server.status().code() == ErrorCode::kInvalidArgument);
    CHECK(Contains(server.status().message(), "/nonexistent/cert.pem"));
  }
  SUBCASE("only one of certificate and key") {
    HttpServerOptions options;
    options.tls_cert_file = "/some/cert.pem";
    CHECK(HttpServer::Start(options, handler).status().code() == ErrorCode::kInvalidArgument);
  }
  SUBCASE("bad address") {
    HttpServerOptions options;
    options.address = "not-an-address";
    auto server = HttpServer::Start(options, handler);
    CHECK(server.status().code() == ErrorCode::kInvalidArgument);
    CHECK(Contains(server.status().message(), "not-an-address"));
  }
  SUBCASE("port in use") {
    auto first = StartServer({}, handler);
    HttpServerOptions options;
    options.port = first->port();
    auto second = HttpServer::Start(options, handler);
    REQUIRE(!second.ok());
    CHECK(second.status().code() == ErrorCode::kIoError);
    CHECK(Contains(second.status().message(), "127.0.0.1:" + std::to_string(first->port())));
  }
}

TEST_CASE("Stop closes open connections promptly; late answers are harmless") {
  std::mutex mu;
  std::vector<Respond> held;
  TestHandler handler([&](Request request, const ConnectionInfo& connection, Respond respond) {
    if (request.target() == "/hold") {
      std::lock_guard<std::mutex> lock(mu);
      held.push_back(std::move(respond));
      return;
    }
    respond(Echo(request, connection));
  });
  auto server = StartServer({}, handler);

  Client idle, waiting;
  REQUIRE(!idle.Connect(server->port()));
  CHECK(idle.RoundTrip(Get("/x")).result() == status::ok);
  REQUIRE(!waiting.Connect(server->port()));
  REQUIRE(!waiting.Send(Get("/hold")));
  for (const auto deadline = Clock::now() + kPrompt; Clock::now() < deadline;) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!held.empty()) break;
    }
    std::this_thread::sleep_for(5ms);
  }

  const auto start = Clock::now();
  server->Stop();
  CHECK(Clock::now() - start < kPrompt);
  server->Stop();  // idempotent
  CHECK(ClosedByServer(idle.ReadUntilClosed()));
  CHECK(ClosedByServer(waiting.ReadUntilClosed()));

  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(held.size() == 1);
  held[0](Echo(Get("/late"), {}));  // after Stop
  server.reset();
  Respond copy = held[0];
  copy(Echo(Get("/later"), {}));  // after destruction, and a second call: both ignored
}

TEST_CASE("MakeErrorResponse escapes the message and keeps the shape") {
  Response response = MakeErrorResponse(status::not_found, "not_found", "no shipment \"SHP-9\"\n",
                                        "{\"id\":\"SHP-9\"}", 10, false);
  CHECK(response.result() == status::not_found);
  CHECK(response.version() == 10);
  CHECK(!response.keep_alive());
  CHECK(response[field::content_type] == "application/json");
  CHECK(response.body() ==
        "{\"error\":{\"code\":\"not_found\",\"message\":\"no shipment \\\"SHP-9\\\"\\u000a\","
        "\"details\":{\"id\":\"SHP-9\"}}}");
  CHECK(response[field::content_length] == std::to_string(response.body().size()));
}

}  // namespace
}  // namespace waybill::server::http
