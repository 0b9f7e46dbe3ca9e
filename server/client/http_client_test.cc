// HttpClient against a tiny in-process Beast server (plain and TLS): requests and headers,
// keep-alive, reconnecting after the server closed an idle connection, no retry of a fresh
// connection, refusal, timeouts, URL parsing and encoding.
#include "server/client/http_client.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>

#include "tests/test_util.h"

namespace waybill::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Req = http::request<http::string_body>;
using Res = http::response<http::string_body>;

// What the test server does with one request.
enum class After {
  kKeepAlive,    // answer and keep the connection
  kCloseSilent,  // answer, then close without saying so (like an idle timeout firing)
  kNoAnswer,     // close without answering
  kHang,         // never answer (until the server stops)
};

struct Handled {
  Res res;
  After after = After::kKeepAlive;
};

// One connection at a time, served on its own thread. Counts connections and requests.
class TestServer {
 public:
  using Handler = std::function<Handled(const Req&)>;

  explicit TestServer(Handler handler, ssl::context* tls = nullptr)
      : handler_(std::move(handler)), tls_(tls) {
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Loop(); });
  }

  ~TestServer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    const int fd = conn_fd_.load();
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    try {  // wakes accept()
      asio::io_context ioc;
      tcp::socket s(ioc);
      s.connect({asio::ip::make_address("127.0.0.1"), port_});
    } catch (const std::exception&) {
    }
    thread_.join();
  }

  std::string url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }

 private:
  void Loop() {
    for (;;) {
      tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      if (ec) continue;
      ++connections_;
      conn_fd_ = socket.native_handle();
      if (tls_) {
        ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
        stream.handshake(ssl::stream_base::server, ec);
        if (!ec) Serve(stream);
      } else {
        Serve(socket);
      }
      conn_fd_ = -1;
    }
  }

  template <typename Stream>
  void Serve(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      Req req;
      boost::system::error_code ec;
      http::read(stream, buffer, req, ec);
      if (ec) return;
      ++requests_;
      Handled h = handler_(req);
      if (h.after == After::kNoAnswer) return;
      if (h.after == After::kHang) {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_; });
        return;
      }
      h.res.version(11);
      if (h.res.keep_alive()) h.res.keep_alive(req.keep_alive());
      h.res.prepare_payload();
      http::write(stream, h.res, ec);
      if (ec || h.after == After::kCloseSilent || !h.res.keep_alive()) return;
    }
  }

  Handler handler_;
  ssl::context* tls_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<int> connections_{0}, requests_{0}, conn_fd_{-1};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

Res Json(http::status status, std::string body) {
  Res res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

// Answers with what it received, as "METHOD TARGET|authorization|content-type|body".
Handled Echo(const Req& req) {
  Res res =
      Json(http::status::ok, std::string(req.method_string()) + " " + std::string(req.target()) +
                                 "|" + std::string(req[http::field::authorization]) + "|" +
                                 std::string(req[http::field::content_type]) + "|" +
                                 std::string(req["X-Extra"]) + "|" + req.body());
  res.set("X-Echo", "yes");
  return {std::move(res), After::kKeepAlive};
}

std::unique_ptr<HttpClient> MakeClient(
    const std::string& url, std::string token = {},
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  ClientOptions o;
  o.base_url = url;
  o.bearer_token = std::move(token);
  o.timeout = timeout;
  auto c = HttpClient::Create(o);
  REQUIRE(c.ok());
  return std::move(c).value();
}

// A self-signed certificate for IP 127.0.0.1 and its key, written as PEM files.
void MakeCertificate(const std::string& cert_path, const std::string& key_path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key != nullptr);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
  REQUIRE(san != nullptr);
  X509_add_ext(x, san, -1);
  X509_EXTENSION_free(san);
  REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
  FILE* f = std::fopen(cert_path.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key_path.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
}

}  // namespace

TEST_CASE("requests carry the token, body, content type and extra headers") {
  TestServer server(Echo);
  auto client = MakeClient(server.url(), "tok-1");
  auto r = client->Request("POST", "/v1/ingest/canonical", "{\"a\":1}", {{"X-Extra", "x"}});
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body == "POST /v1/ingest/canonical|Bearer tok-1|application/json|x|{\"a\":1}");
  CHECK(r->header("x-echo") == "yes");
  CHECK(r->header("CONTENT-TYPE") == "application/json");
  CHECK(r->header("absent").empty());

  auto typed = client->Request("POST", "/t", "a,b", {{"Content-Type", "text/csv"}});
  REQUIRE(typed.ok());
  CHECK(typed->body == "POST /t|Bearer tok-1|text/csv||a,b");
  client.reset();  // the test server serves one connection at a time

  auto no_token = MakeClient(server.url());
  auto g = no_token->Request("GET", "/healthz");
  REQUIRE(g.ok());
  CHECK(g->body == "GET /healthz||||");
}

TEST_CASE("any status is a reply; a base path is prefixed to every target") {
  TestServer server([](const Req& req) {
    if (req.target() == "/api/missing") {
      return Handled{Json(http::status::not_found, R"({"error":{"code":"not_found"}})")};
    }
    return Echo(req);
  });
  auto client = MakeClient(server.url() + "/api/");
  CHECK(client->base_url() == server.url() + "/api");
  auto r = client->Request("GET", "/missing");
  REQUIRE(r.ok());
  CHECK(r->status == 404);
  auto ok = client->Request("DELETE", "/x?reason=a%20b");
  REQUIRE(ok.ok());
  CHECK(ok->body == "DELETE /api/x?reason=a%20b||||");
}

TEST_CASE("one keep-alive connection serves many requests") {
  TestServer server(Echo);
  auto client = MakeClient(server.url());
  for (int i = 0; i < 5; ++i) {
    auto r = client->Request("GET", "/n/" + std::to_string(i));
    REQUIRE(r.ok());
    CHECK(r->status == 200);
  }
  CHECK(client->TEST_connections_opened() == 1);
  CHECK(server.connections() == 1);
  CHECK(server.requests() == 5);
}

TEST_CASE("a connection the server closed while idle is replaced once, transparently") {
  TestServer server([](const Req& req) {
    Handled h = Echo(req);
    h.after = After::kCloseSilent;
    return h;
  });
  auto client = MakeClient(server.url());
  for (int i = 0; i < 3; ++i) {
    auto r = client->Request("POST", "/v1/admin/rebuild", "{\"i\":" + std::to_string(i) + "}");
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    CHECK(r->body.find("{\"i\":" + std::to_string(i) + "}") != std::string::npos);
    // Let the server's FIN arrive, as it would after an idle timeout.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(client->TEST_connections_opened() == 3);
  CHECK(server.requests() == 3);  // each request reached the server exactly once
}

TEST_CASE("Connection: close from the server makes the next request reconnect") {
  TestServer server([](const Req& req) {
    Handled h = Echo(req);
    h.res.keep_alive(false);
    h.res.set(http::field::connection, "close");
    return h;
  });
  auto client = MakeClient(server.url());
  REQUIRE(client->Request("GET", "/a").ok());
  REQUIRE(client->Request("GET", "/b").ok());
  CHECK(client->TEST_connections_opened() == 2);
}

TEST_CASE("a fresh connection that closes without an answer is an error, not a retry") {
  TestServer server([](const Req&) { return Handled{Res{}, After::kNoAnswer}; });
  auto client = MakeClient(server.url());
  auto r = client->Request("POST", "/v1/ingest/canonical", "{}");
  REQUIRE(!r.ok());
  CHECK(r.status().code() == ErrorCode::kIoError);
  CHECK(r.status().message().find("no complete answer to POST /v1/ingest/canonical") !=
        std::string::npos);
  CHECK(server.requests() == 1);
}

TEST_CASE("connection refused names the URL") {
  std::uint16_t port = 0;
  {
    asio::io_context ioc;
    tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }  // closed: nothing listens there now
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto client = MakeClient(url);
  auto r = client->Request("GET", "/healthz");
  REQUIRE(!r.ok());
  CHECK(r.status().code() == ErrorCode::kIoError);
  CHECK(r.status().message() == "cannot connect to " + url + ": Connection refused");
}

TEST_CASE("a server that does not answer in time is a timeout error") {
  TestServer server([](const Req&) { return Handled{Res{}, After::kHang}; });
  auto client = MakeClient(server.url(), "", std::chrono::milliseconds(300));
  const auto started = std::chrono::steady_clock::now();
  auto r = client->Request("GET", "/v1/ledger/verify");
  REQUIRE(!r.ok());
  CHECK(r.status().message() ==
        server.url() + ": no answer to GET /v1/ledger/verify within 300 ms");
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  // A per-request timeout overrides the client's.
  auto r2 = client->Request("GET", "/x", {}, {}, std::chrono::milliseconds(2000));
  REQUIRE(!r2.ok());
  CHECK(r2.status().message().find("within 2 s") != std::string::npos);
}

TEST_CASE("base URLs and methods are validated") {
  for (const char* bad : {"127.0.0.1:8080", "ftp://h:1", "http://", "http://h:0", "http://h:99999",
                          "http://h:80x", "http://u@h:1", "http://h:1/?q", "http://[::1"}) {
    ClientOptions o;
    o.base_url = bad;
    auto c = HttpClient::Create(o);
    CHECK_MESSAGE(!c.ok(), bad);
    if (!c.ok()) CHECK(c.status().code() == ErrorCode::kInvalidArgument);
  }
  for (const char* good : {"http://h", "HTTPS://h:8443", "http://[::1]:8080", "http://h:1/p/"}) {
    ClientOptions o;
    o.base_url = good;
    CHECK_MESSAGE(HttpClient::Create(o).ok(), good);
  }
  TestServer server(Echo);
  auto client = MakeClient(server.url());
  CHECK(client->Request("FROB", "/").status().code() == ErrorCode::kInvalidArgument);
  CHECK(client->Request("GET", "no-slash").status().code() == ErrorCode::kInvalidArgument);
  ClientOptions o;
  o.base_url = "https://127.0.0.1:1";
  o.ca_file = "/no/such/ca.pem";
  CHECK(HttpClient::Create(o).status().code() == ErrorCode::kIoError);
}

TEST_CASE("UrlEncode keeps only unreserved characters") {
  CHECK(UrlEncode("SHP-1001_a.b~c") == "SHP-1001_a.b~c");
  CHECK(UrlEncode("a b/c?d&e=f") == "a%20b%2Fc%3Fd%26e%3Df");
  CHECK(UrlEncode("2025-03-02T00:00:00+01:00") == "2025-03-02T00%3A00%3A00%2B01%3A00");
  CHECK(UrlEncode("\xc3\xa9") == "%C3%A9");
  CHECK(UrlEncode("") == "");
}

TEST_CASE("https: verified against a given CA, refused without it, or unverified on request") {
  testing::TempDir dir;
  const std::string cert = dir.Sub("cert.pem"), key = dir.Sub("key.pem");
  MakeCertificate(cert, key);
  ssl::context server_tls(ssl::context::tls_server);
  server_tls.use_certificate_chain_file(cert);
  server_tls.use_private_key_file(key, ssl::context::pem);
  TestServer server(Echo, &server_tls);

  ClientOptions o;
  o.base_url = server.url();
  o.bearer_token = "t";
  o.ca_file = cert;
  auto verified = HttpClient::Create(o);
  REQUIRE(verified.ok());
  for (int i = 0; i < 2; ++i) {
    auto r = (*verified)->Request("GET", "/v1/admin/stats");
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    CHECK(r->body == "GET /v1/admin/stats|Bearer t|||");
  }
  CHECK((*verified)->TEST_connections_opened() == 1);
  verified->reset();

  o.ca_file.clear();  // the system's trust store does not know this certificate
  auto untrusted = HttpClient::Create(o);
  REQUIRE(untrusted.ok());
  auto refused = (*untrusted)->Request("GET", "/v1/admin/stats");
  REQUIRE(!refused.ok());
  CHECK(refused.status().message().find("TLS handshake failed") != std::string::npos);
  untrusted->reset();

  o.tls_verify = false;
  auto unverified = HttpClient::Create(o);
  REQUIRE(unverified.ok());
  auto r = (*unverified)->Request("GET", "/x");
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->status == 200);
}

}  // namespace waybill::client
