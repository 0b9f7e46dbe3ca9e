#include "server/client/http_client.h"

#include <openssl/ssl.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

namespace waybill::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ErrorCodeT = boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kMaxBodyBytes = 1ull << 30;  // a whole history or dead-letter page
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

struct ParsedUrl {
  bool tls = false;
  std::string host;         // without brackets
  std::string port;         // digits
  std::string host_header;  // "h", "h:8080", "[::1]:8080"
  std::string prefix;       // "" or "/waybill" (no trailing slash)
  std::string normalized;   // scheme://authority + prefix
};

Result<ParsedUrl> ParseBaseUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Status::Invalid("server URL \"" + std::string(url) + "\": " + why +
                           " (expected http://HOST:PORT or https://HOST:PORT)");
  };
  ParsedUrl p;
  std::string_view rest = url;
  const std::size_t colon = rest.find("://");
  if (colon == std::string_view::npos) return bad("no scheme");
  const std::string_view scheme = rest.substr(0, colon);
  if (EqualsIgnoreCase(scheme, "https")) {
    p.tls = true;
  } else if (!EqualsIgnoreCase(scheme, "http")) {
    return bad("scheme \"" + std::string(scheme) + "\" is not http or https");
  }
  rest.remove_prefix(colon + 3);
  const std::size_t end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, end);
  std::string_view path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (path.find_first_of("?#") != std::string_view::npos) return bad("a query or fragment");
  if (authority.find('@') != std::string_view::npos) return bad("user info is not supported");
  std::string_view host, port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 literal");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after the IPv6 literal");
      port = after.substr(1);
    }
  } else {
    const std::size_t c = authority.find(':');
    host = authority.substr(0, c);
    if (c != std::string_view::npos) port = authority.substr(c + 1);
  }
  if (host.empty()) return bad("no host");
  const bool explicit_port = !port.empty();
  if (explicit_port) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
        std::stoul(std::string(port)) == 0 || std::stoul(std::string(port)) > 65535) {
      return bad("port \"" + std::string(port) + "\" is not 1..65535");
    }
  } else if (authority.find(':') != std::string_view::npos && authority.back() == ':') {
    return bad("empty port");
  }
  p.host = std::string(host);
  p.port = explicit_port ? std::string(port) : (p.tls ? "443" : "80");
  const bool bracket = host.find(':') != std::string_view::npos;
  p.host_header = bracket ? "[" + p.host + "]" : p.host;
  if (p.port != (p.tls ? "443" : "80")) p.host_header += ":" + p.port;
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  p.prefix = std::string(path);
  p.normalized = std::string(p.tls ? "https://" : "http://") + std::string(authority) + p.prefix;
  return p;
}

std::string FormatDuration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

// Errors that mean "the server had closed this connection before it read our request".
bool IsClosedConnection(const ErrorCodeT& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

}  // namespace

std::string HttpReply::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

// Every operation is started asynchronously on a private io_context and run to completion
// (or to the request's deadline, when everything is cancelled): Asio's synchronous calls
// have no timeouts.
struct HttpClient::Impl {
  ClientOptions options;
  ParsedUrl url;
  asio::io_context ioc;
  tcp::resolver resolver{ioc};
  std::optional<ssl::context> tls_ctx;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool connected = false;
  int connections_opened = 0;

  beast::tcp_stream* lowest() {
    if (secure) return &beast::get_lowest_layer(*secure);
    return plain.get();
  }

  // Runs handlers until `done` or `deadline`. At the deadline, cancels and drains whatever
  // is pending, drops the connection and returns false.
  bool RunUntil(const bool& done, Clock::time_point deadline) {
    ioc.restart();
    while (!done) {
      if (Clock::now() >= deadline) {
        Abort();
        return false;
      }
      if (ioc.run_one_until(deadline) == 0 && ioc.stopped() && !done) ioc.restart();
    }
    return true;
  }

  // Cancels every pending operation, runs their handlers, and closes the connection.
  void Abort() {
    resolver.cancel();
    if (beast::tcp_stream* s = lowest()) {
      ErrorCodeT ignored;
      s->socket().cancel(ignored);
      s->socket().close(ignored);
    }
    ioc.restart();
    ioc.run();
    Disconnect();
  }

  void Disconnect() {
    if (beast::tcp_stream* s = lowest()) {
      ErrorCodeT ignored;
      s->socket().shutdown(tcp::socket::shutdown_both, ignored);
      s->socket().close(ignored);
    }
    ioc.restart();
    ioc.run();  // handlers of a closed socket, if any
    secure.reset();
    plain.reset();
    buffer.clear();
    connected = false;
  }

  Status Connect(Clock::time_point deadline) {
    Disconnect();
    const std::string what = "cannot connect to " + url.normalized;
    ErrorCodeT ec;
    bool done = false;
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(url.host, url.port,
                           [&](const ErrorCodeT& e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             done = true;
                           });
    if (!RunUntil(done, deadline)) return Status::IoError(what + ": timed out resolving the host");
    if (ec) return Status::IoError(what + ": " + ec.message());

    if (tls_ctx) {
      secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, *tls_ctx);
    } else {
      plain = std::make_unique<beast::tcp_stream>(ioc);
    }
    done = false;
    lowest()->async_connect(endpoints, [&](const ErrorCodeT& e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    if (!RunUntil(done, deadline)) return Status::IoError(what + ": timed out");
    if (ec) {
      Disconnect();
      return Status::IoError(what + ": " + ec.message());
    }
    ErrorCodeT ignored;
    lowest()->socket().set_option(tcp::no_delay(true), ignored);

    if (secure) {
      ErrorCodeT not_ip;
      asio::ip::make_address(url.host, not_ip);
      if (not_ip) SSL_set_tlsext_host_name(secure->native_handle(), url.host.c_str());  // SNI
      if (options.tls_verify) secure->set_verify_callback(ssl::host_name_verification(url.host));
      done = false;
      secure->async_handshake(ssl::stream_base::client, [&](const ErrorCodeT& e) {
        ec = e;
        done = true;
      });
      if (!RunUntil(done, deadline)) {
        return Status::IoError(url.normalized + ": TLS handshake timed out");
      }
      if (ec) {
        Disconnect();
        return Status::IoError(url.normalized + ": TLS handshake failed: " + ec.message());
      }
    }
    connected = true;
    ++connections_opened;
    return Status::Ok();
  }

  // One request and its answer on the open connection. *retryable: the connection turned
  // out to be closed before the server could have read the request.
  template <typename Stream>
  Result<HttpReply> Exchange(Stream& stream, const http::request<http::string_body>& req,
                             Clock::time_point deadline, const std::string& what, bool* retryable) {
    *retryable = false;
    ErrorCodeT ec;
    bool done = false;
    http::async_write(stream, req, [&](const ErrorCodeT& e, std::size_t) {
      ec = e;
      done = true;
    });
    if (!RunUntil(done, deadline)) return TimedOut(what, deadline);
    if (ec) {
      *retryable = true;
      return Status::IoError(url.normalized + ": cannot send " + what + ": " + ec.message());
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBodyBytes);
    parser.header_limit(kMaxHeaderBytes);
    if (req.method() == http::verb::head) parser.skip(true);
    done = false;
    http::async_read(stream, buffer, parser, [&](const ErrorCodeT& e, std::size_t) {
      ec = e;
      done = true;
    });
    if (!RunUntil(done, deadline)) return TimedOut(what, deadline);
    if (ec) {
      *retryable = !parser.got_some() && IsClosedConnection(ec);
      return Status::IoError(url.normalized + ": no complete answer to " + what + ": " +
                             ec.message());
    }
    auto res = parser.release();
    HttpReply reply;
    reply.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    reply.body = std::move(res.body());
    if (!res.keep_alive()) Disconnect();
    return reply;
  }

  Status TimedOut(const std::string& what, Clock::time_point) {
    return Status::IoError(url.normalized + ": no answer to " + what + " within " +
                           FormatDuration(current_timeout));
  }

  std::chrono::milliseconds current_timeout{0};
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpClient::~HttpClient() {
  if (impl_) impl_->Disconnect();
}

Result<std::unique_ptr<HttpClient>> HttpClient::Create(ClientOptions options) {
  auto url = ParseBaseUrl(options.base_url);
  if (!url.ok()) return url.status();
  auto impl = std::make_unique<Impl>();
  if (url->tls) {
    impl->tls_ctx.emplace(ssl::context::tls_client);
    ssl::context& ctx = *impl->tls_ctx;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                    ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ErrorCodeT ec;
    if (!options.ca_file.empty()) {
      ctx.load_verify_file(options.ca_file, ec);
      if (ec) {
        return Status::IoError("cannot load CA file " + options.ca_file + ": " + ec.message());
      }
    } else {
      ctx.set_default_verify_paths(ec);  // an empty store just fails verification later
    }
    ctx.set_verify_mode(options.tls_verify ? ssl::verify_peer : ssl::verify_none);
  }
  impl->url = std::move(url).value();
  impl->options = std::move(options);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

const std::string& HttpClient::base_url() const { return impl_->url.normalized; }

int HttpClient::TEST_connections_opened() const { return impl_->connections_opened; }

Result<HttpReply> HttpClient::Request(std::string_view method, std::string_view target,
                                      std::string_view body, const HeaderList& headers,
                                      std::chrono::milliseconds timeout) {
  Impl& d = *impl_;
  const http::verb verb = http::string_to_verb(beast::string_view(method.data(), method.size()));
  if (verb == http::verb::unknown) {
    return Status::Invalid("unknown HTTP method \"" + std::string(method) + "\"");
  }
  if (target.empty() || target.front() != '/') {
    return Status::Invalid("request target \"" + std::string(target) + "\" must start with /");
  }
  http::request<http::string_body> req{verb, d.url.prefix + std::string(target), 11};
  req.set(http::field::host, d.url.host_header);
  req.set(http::field::user_agent, d.options.user_agent);
  req.set(http::field::accept, "application/json");
  if (!d.options.bearer_token.empty()) {
    req.set(http::field::authorization, "Bearer " + d.options.bearer_token);
  }
  bool has_type = false;
  for (const auto& [name, value] : headers) {
    if (EqualsIgnoreCase(name, "content-type")) has_type = true;
    req.insert(name, value);
  }
  if (!body.empty() && !has_type) req.set(http::field::content_type, "application/json");
  req.body() = std::string(body);
  req.prepare_payload();

  d.current_timeout = timeout.count() > 0 ? timeout : d.options.timeout;
  const Clock::time_point deadline = Clock::now() + d.current_timeout;
  const std::string what = std::string(method) + " " + std::string(target);
  for (int attempt = 0;; ++attempt) {
    const bool reused = d.connected;
    if (!d.connected) WAYBILL_RETURN_IF_ERROR(d.Connect(deadline));
    bool retryable = false;
    Result<HttpReply> reply = d.secure ? d.Exchange(*d.secure, req, deadline, what, &retryable)
                                       : d.Exchange(*d.plain, req, deadline, what, &retryable);
    if (reply.ok()) return reply;
    d.Disconnect();
    if (!reused || !retryable || attempt > 0) return reply;
  }
}

}  // namespace waybill::client
