// The HTTP/1.1 listener of `waybill serve`: Boost.Beast over Asio, plain or TLS (OpenSSL),
// with the limits a public endpoint needs. It knows nothing about routes or auth: every
// well-formed request goes to one RequestHandler; everything malformed, oversize or too
// slow is answered (or closed) here, with the JSON error shape of the API
// ({"error":{"code","message","details"}}).
//
//   request body larger than body_limit      -> 413 payload_too_large, connection closed
//   header block larger than header_limit    -> 431 header_too_large, connection closed
//   chunk-size line or trailer section larger than header_limit
//                                            -> 431 header_too_large, connection closed
//   unparsable request line / headers        -> 400 bad_request, connection closed
//   Transfer-Encoding not ending in chunked  -> 400 bad_request, connection closed
//   a transfer coding other than chunked     -> 501 not_implemented, connection closed
//   no complete request within request_timeout, or idle keep-alive past idle_timeout
//                                            -> connection closed (408 if a request began)
//   more than max_connections open           -> new connections are accepted and closed
//
// Keep-alive and pipelining follow HTTP/1.1: responses go out in request order, one
// request per connection in flight at a time. `Expect: 100-continue` is answered before the
// body is read (or with the 413 instead). The server sets Server (unless the handler did),
// Content-Length and keep-alive (the request's, unless the handler said Connection: close),
// and sends no body for HEAD.
//
// Timeouts are checked by a periodic sweep, so they take effect up to
// min(idle_timeout, request_timeout) / 8 (at most 500 ms) late. request_timeout also bounds
// the TLS handshake and each stall while writing a response (a peer that takes no bytes for
// that long is dropped; one that keeps reading gets the whole answer, however large); a
// request the handler holds has no deadline.
//
// Thread-safety: Start/Stop from one thread, never from the handler or an I/O thread. The
// handler is called on the server's I/O threads, concurrently for different connections.
#pragma once

#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "schemas/result.h"

namespace waybill::server::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;

// Sends the response for one request. Call it exactly once, from any thread (the server
// hands the response back to the connection's strand); further calls are ignored, and if every
// copy is destroyed uncalled the client gets a 500. Calling it after the server stopped, or
// was destroyed, is harmless.
using Respond = std::function<void(Response)>;

struct ConnectionInfo {
  std::string remote_address;  // "127.0.0.1"
  bool tls = false;
};

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Answers `request` by calling `respond` once, now or later (a handler that waits on a
  // group commit answers from the ledger's writer thread). Must not block the calling I/O
  // thread for long: slow work (rebuilds) belongs on a thread of the handler's own.
  // `connection` is valid only during the call. An exception is answered 500 "internal".
  virtual void Handle(Request request, const ConnectionInfo& connection, Respond respond) = 0;
};

struct HttpServerOptions {
  std::string address = "127.0.0.1";  // safe default: loopback only
  std::uint16_t port = 8080;          // 0: pick a free port (see HttpServer::port())
  int threads = 2;                    // I/O threads
  std::uint64_t body_limit = 16 * 1024 * 1024;
  std::uint32_t header_limit = 16 * 1024;
  std::chrono::milliseconds request_timeout{30'000};  // to read one whole request
  std::chrono::milliseconds idle_timeout{60'000};     // keep-alive wait for the next one
  std::size_t max_connections = 4096;
  // TLS when both are set (PEM files; only one set is InvalidArgument). TLS 1.2 or newer only.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string server_header = "waybill";
};

class HttpServer {
 public:
  // Binds and starts serving. Errors: InvalidArgument for a bad address (an IP literal or
  // "localhost"), threads < 1, or unreadable or mismatched TLS files (the message names the
  // file), IoError when the port cannot be bound (the message names ADDR:PORT).
  // `handler` must outlive the server.
  [[nodiscard]] static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                                 RequestHandler& handler);
  virtual ~HttpServer() = default;  // stops

  // The bound port (useful with port 0).
  virtual std::uint16_t port() const = 0;
  // "http://127.0.0.1:8080" or "https://..." (a wildcard bind is given as loopback).
  virtual std::string url() const = 0;
  // Stops accepting, closes connections, joins the I/O threads. Idempotent.
  virtual void Stop() = 0;
};

// {"error":{"code":CODE,"message":MESSAGE,"details":DETAILS_JSON}} with `status`, JSON
// content type and the given keep-alive. `details_json` must be a JSON object ("{}" when none).
Response MakeErrorResponse(beast_http::status status, std::string_view code,
                           std::string_view message, std::string_view details_json = "{}",
                           unsigned version = 11, bool keep_alive = true);

}  // namespace waybill::server::http
