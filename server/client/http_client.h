// A small synchronous HTTP/1.1 client for the `waybill` command's online mode: it talks to
// `waybill serve --http` (docs/http-api.md). Boost.Beast over Asio, plain TCP or TLS
// (OpenSSL). It keeps one keep-alive connection to one server.
//
//   auto client = HttpClient::Create({.base_url = "http://127.0.0.1:8080",
//                                     .bearer_token = token});
//   Result<HttpReply> r = (*client)->Request("GET", "/v1/shipments/" + UrlEncode(id));
//
// Any HTTP status is a reply, not an error: the caller reads `status` and `body`. A non-ok
// Result means no complete answer arrived:
//   InvalidArgument  the base URL or the method is malformed (Create, Request)
//   IoError          "cannot connect to http://127.0.0.1:8080: Connection refused",
//                    "https://h:8443: TLS handshake failed: certificate verify failed",
//                    "http://127.0.0.1:8080: no answer to POST /v1/admin/rebuild within 30 s",
//                    or the connection broke mid-exchange.
//
// Reconnection: when a reused keep-alive connection turns out to have been closed by the
// server (the request cannot be written, or the connection ends before any byte of the
// answer), the client reconnects and sends the request once more. The server never saw
// the first attempt, so this is safe even for POST. A fresh connection is never retried.
//
// Thread-safety: an HttpClient is used by one thread at a time (it owns one connection and
// one io_context). UrlEncode is pure.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/result.h"

namespace waybill::client {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpReply {
  int status = 0;    // 200, 404, ...
  std::string body;  // as received (no decoding)
  HeaderList headers;
  // The first header named `name` (ASCII case-insensitive); "" when there is none.
  std::string header(std::string_view name) const;
};

struct ClientOptions {
  // "http://host:port" or "https://host:port"; the port defaults to 80/443; a path after
  // the authority ("http://h:8080/waybill") is prefixed to every target. IPv6 literals go in
  // brackets ("http://[::1]:8080").
  std::string base_url;
  std::string bearer_token;  // sent as "Authorization: Bearer TOKEN" when not empty
  // The longest one request may take, connecting, sending and receiving included.
  std::chrono::milliseconds timeout{30000};
  bool tls_verify = true;  // https: verify the certificate chain and the host name
  std::string ca_file;     // https: PEM trust anchors; empty: the system's default paths
  std::string user_agent = "waybill-cli";
};

class HttpClient {
 public:
  // Validates the options; connects lazily, on the first Request. InvalidArgument for a
  // malformed base URL, IoError when ca_file cannot be loaded.
  [[nodiscard]] static Result<std::unique_ptr<HttpClient>> Create(ClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method` `target` (a path with its query, "/v1/admin/dlq?state=all"; encode path
  // segments and query values with UrlEncode) and waits for the whole answer. A non-empty
  // `body` is sent as "Content-Type: application/json" unless `headers` name another type.
  // `headers` are added as given (Authorization, Host and Content-Length are set here).
  // `timeout` overrides ClientOptions::timeout for this request when positive.
  [[nodiscard]] Result<HttpReply> Request(std::string_view method, std::string_view target,
                                          std::string_view body = {},
                                          const HeaderList& headers = {},
                                          std::chrono::milliseconds timeout = {});

  // The base URL as given to Create, without a trailing slash ("http://127.0.0.1:8080").
  const std::string& base_url() const;

  // How many connections were opened so far (tests: keep-alive and reconnects).
  int TEST_connections_opened() const;

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes everything but the RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~),
// so the result is safe as one path segment or one query value ("a b/c" -> "a%20b%2Fc").
std::string UrlEncode(std::string_view s);

}  // namespace waybill::client
