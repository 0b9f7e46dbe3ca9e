// The listener: binds, accepts, enforces max_connections and hands each socket to a session
// (http_session.cc). Also the TLS context and the API's error shape.
#include "server/http/http_server.h"

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "schemas/event_json.h"
#include "server/http/http_session.h"

namespace waybill::server::http {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using internal::ServerCore;
using internal::SessionBase;

// Out of file descriptors: accepting again at once would spin, so wait a little.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

std::string HostPort(const net::ip::address& address, std::uint16_t port) {
  const std::string host = address.to_string();
  return (address.is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<net::ip::address> ParseAddress(const std::string& text) {
  if (text == "localhost") return net::ip::address(net::ip::address_v4::loopback());
  boost::system::error_code ec;
  net::ip::address address = net::ip::make_address(text, ec);
  if (ec) {
    return Status::Invalid("http listen address '" + text + "' is not an IP address (" +
                           ec.message() + ")");
  }
  return address;
}

Status ConfigureTls(const HttpServerOptions& options, std::optional<ssl::context>& tls) {
  tls.emplace(ssl::context::tls_server);
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  // The option bits only exclude versions OpenSSL knows of; the floor also covers new ones.
  if (SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION) != 1) {
    return Status::Internal("cannot restrict TLS to version 1.2 or newer");
  }
  boost::system::error_code ec;
  tls->use_certificate_chain_file(options.tls_cert_file, ec);
  if (ec) {
    return Status::Invalid("TLS certificate file '" + options.tls_cert_file + "': " + ec.message());
  }
  tls->use_private_key_file(options.tls_key_file, ssl::context::pem, ec);
  if (ec) {
    return Status::Invalid("TLS private key file '" + options.tls_key_file + "': " + ec.message());
  }
  if (SSL_CTX_check_private_key(tls->native_handle()) != 1) {
    return Status::Invalid("TLS private key file '" + options.tls_key_file +
                           "' does not match the certificate in '" + options.tls_cert_file + "'");
  }
  return Status::Ok();
}

// Runs the io_context until Stop. A completion handler that throws loses its own connection
// (its session is released), never the thread.
void RunIoLoop(net::io_context& ioc) {
  for (;;) {
    try {
      ioc.run();
      return;
    } catch (...) {
    }
  }
}

class HttpServerImpl final : public HttpServer {
 public:
  explicit HttpServerImpl(std::shared_ptr<ServerCore> core)
      : core_(std::move(core)),
        acceptor_(core_->ioc),
        accept_retry_(core_->ioc),
        sweep_(core_->ioc),
        sweep_interval_(internal::SweepInterval(core_->options)),
        work_(net::make_work_guard(core_->ioc)) {}

  ~HttpServerImpl() override { Stop(); }

  Status Listen(const tcp::endpoint& endpoint) {
    const std::string where = HostPort(endpoint.address(), endpoint.port());
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return Status::IoError("cannot listen on " + where + ": " + ec.message());
    bound_ = acceptor_.local_endpoint(ec);
    if (ec) return Status::IoError("cannot read the bound port of " + where + ": " + ec.message());
    return Status::Ok();
  }

  void Run() {
    DoAccept();
    Sweep();
    const int threads = core_->options.threads;
    threads_.reserve(static_cast<std::size_t>(threads));
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([core = core_.get()] { RunIoLoop(core->ioc); });
    }
  }

  std::uint16_t port() const override { return bound_.port(); }

  std::string url() const override {
    net::ip::address host = bound_.address();
    // A wildcard bind is reachable on loopback; a URL naming 0.0.0.0 is not usable.
    if (host.is_unspecified()) {
      host = host.is_v6() ? net::ip::address(net::ip::address_v6::loopback())
                          : net::ip::address(net::ip::address_v4::loopback());
    }
    return std::string(core_->tls ? "https://" : "http://") + HostPort(host, port());
  }

  void Stop() override {
    if (core_->stopped.exchange(true)) return;
    // Stopping the io_context first means no handler runs while we close things below; the
    // handlers left queued are destroyed with the io_context.
    core_->ioc.stop();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
    sweep_.cancel();
    std::vector<std::shared_ptr<SessionBase>> live;
    {
      std::lock_guard<std::mutex> lock(core_->sessions_mu);
      for (SessionBase* session : core_->sessions) {
        if (auto strong = session->weak_from_this().lock()) live.push_back(std::move(strong));
      }
    }
    for (const auto& session : live) session->Abandon();
    // `live` may hold the last references: the sessions unregister here, outside the lock.
  }

 private:
  void Sweep() {
    sweep_.expires_after(sweep_interval_);
    sweep_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      internal::ExpireOverdueSessions(*core_);
      Sweep();
    });
  }

  void DoAccept() {
    acceptor_.async_accept(net::make_strand(core_->ioc),
                           [this](boost::system::error_code ec, tcp::socket socket) {
                             OnAccept(ec, std::move(socket));
                           });
  }

  void OnAccept(boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (ec) {
      if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
          ec == net::error::no_memory) {
        accept_retry_.expires_after(kAcceptRetryDelay);
        accept_retry_.async_wait([this](boost::system::error_code wait_ec) {
          if (!wait_ec) DoAccept();
        });
        return;
      }
      return DoAccept();  // the peer gave up before we accepted it, and the like
    }
    // Only this handler adds connections, and one accept is outstanding at a time.
    if (core_->open_connections.load(std::memory_order_relaxed) >= core_->options.max_connections) {
      boost::system::error_code ignored;
      socket.close(ignored);
      return DoAccept();
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // small responses must not wait for ACKs
    try {
      internal::StartSession(*core_, std::move(socket));
    } catch (...) {  // out of memory or TLS state for one connection: drop it, keep accepting
    }
    DoAccept();
  }

  std::shared_ptr<ServerCore> core_;  // first: outlives the I/O objects below
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
  net::steady_timer sweep_;  // enforces the sessions' timeouts (see http_session.h)
  const std::chrono::milliseconds sweep_interval_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  tcp::endpoint bound_;
  std::vector<std::thread> threads_;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      RequestHandler& handler) {
  if (options.threads < 1) {
    return Status::Invalid("http threads must be at least 1, got " +
                           std::to_string(options.threads));
  }
  Result<net::ip::address> address = ParseAddress(options.address);
  if (!address.ok()) return address.status();
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return Status::Invalid("TLS needs both a certificate file and a private key file");
  }

  auto core = std::make_shared<ServerCore>(options, handler);
  if (!options.tls_cert_file.empty()) WAYBILL_RETURN_IF_ERROR(ConfigureTls(options, core->tls));
  auto server = std::make_unique<HttpServerImpl>(core);
  WAYBILL_RETURN_IF_ERROR(server->Listen(tcp::endpoint(*address, options.port)));
  server->Run();
  return std::unique_ptr<HttpServer>(std::move(server));
}

Response MakeErrorResponse(beast_http::status status, std::string_view code,
                           std::string_view message, std::string_view details_json,
                           unsigned version, bool keep_alive) {
  Response response{status, version};
  response.set(beast_http::field::content_type, "application/json");
  response.keep_alive(keep_alive);
  std::string& body = response.body();
  body.reserve(48 + code.size() + message.size() + details_json.size());
  body += "{\"error\":{\"code\":";
  AppendJsonString(code, &body);
  body += ",\"message\":";
  AppendJsonString(message, &body);
  body += ",\"details\":";
  body += details_json;
  body += "}}";
  response.prepare_payload();
  return response;
}

}  // namespace waybill::server::http
