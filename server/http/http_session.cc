// One connection of the HTTP listener. A session runs on its socket's strand and loops:
//
//   wait for the first byte (idle_timeout) -> parse; read more until the request is complete
//   (request_timeout from its first byte) -> hand it to the RequestHandler -> write the answer
//   (request_timeout without progress) -> next request, or a lingering close.
//
// Requests are parsed straight from the session's buffer with request_parser::put, so a
// request that arrived in one segment costs one read. Deadlines are enforced by the sweep at
// the bottom of this file.
#include "server/http/http_session.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace waybill::server::http::internal {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using beast_http::status;
using Clock = SessionBase::Clock;

// Bytes asked of the socket per read: a whole GET fits, bodies stream through into the string.
constexpr std::size_t kReadChunk = 16 * 1024;
// After an answer that ends the connection we read and discard for a while before closing:
// closing with unread input makes the kernel send RST, which can destroy the answer (a 413,
// say) before the peer has read it.
constexpr std::chrono::milliseconds kLingerTimeout{2000};
constexpr std::size_t kLingerMaxBytes = 4 * 1024 * 1024;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// Sends the one response of a request. Shared by all copies of the Respond function; if the
// last copy goes without a call (a handler bug) the client still gets an answer.
class Responder {
 public:
  Responder(std::shared_ptr<ServerCore> core, std::weak_ptr<SessionBase> session)
      : core_(std::move(core)), session_(std::move(session)) {}
  ~Responder() {
    if (sent_.load(std::memory_order_relaxed)) return;
    try {
      Send(MakeErrorResponse(status::internal_server_error, "internal",
                             "the request handler dropped the request without answering"));
    } catch (...) {  // a destructor must not throw; the connection then waits for Stop
    }
  }
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  void Send(Response response) {
    if (sent_.exchange(true, std::memory_order_acq_rel)) return;  // later calls are ignored
    if (core_->stopped.load(std::memory_order_acquire)) return;
    if (auto session = session_.lock()) session->Deliver(std::move(response));
  }

 private:
  std::shared_ptr<ServerCore> core_;  // keeps the io_context alive for a late Deliver
  std::weak_ptr<SessionBase> session_;
  std::atomic<bool> sent_{false};
};

unsigned AnswerVersion(unsigned request_version) { return request_version == 10 ? 10 : 11; }

// What a session is doing decides what its deadline means.
enum class Step {
  kHandshake,  // TLS handshake (request_timeout)
  kIdle,       // waiting for the first byte of a request (idle_timeout)
  kRequest,    // reading the rest of a begun request (request_timeout from its first byte)
  kHandler,    // the handler owns the request: no deadline
  kWrite,      // writing a response (request_timeout since the peer last took bytes)
  kLinger,     // closing gracefully (kLingerTimeout)
};

template <class Stream>
class Session final : public SessionBase {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

  template <class... StreamArgs>
  Session(ServerCore& core, std::string remote_address, StreamArgs&&... stream_args)
      : SessionBase(core), stream_(std::forward<StreamArgs>(stream_args)...) {
    info_.remote_address = std::move(remote_address);
    info_.tls = kTls;
  }

  void Run() {
    net::dispatch(stream_.get_executor(), [self = Self()] { self->Begin(); });
  }

  void Deliver(Response response) override {
    // dispatch, not post: a handler answering inside Handle is already on this strand.
    net::dispatch(stream_.get_executor(),
                  [self = Self(), response = std::move(response)]() mutable {
                    self->OnResponse(std::move(response));
                  });
  }

  void Abandon() override {
    Close();
    awaiting_response_.reset();
  }

 private:
  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  tcp::socket& Socket() { return beast::get_lowest_layer(stream_); }
  const HttpServerOptions& options() const { return core_.options; }

  void Enter(Step step, std::chrono::milliseconds timeout) {
    step_ = step;
    deadline_.store((Clock::now() + timeout).time_since_epoch().count(), std::memory_order_relaxed);
  }

  void Expire() override {
    net::post(stream_.get_executor(), [self = Self()] { self->OnExpire(); });
  }

  void OnExpire() {
    expiry_pending_.store(false, std::memory_order_relaxed);
    if (closed_ ||
        Clock::now().time_since_epoch().count() < deadline_.load(std::memory_order_relaxed)) {
      return;  // moved on since the sweep looked
    }
    if (step_ == Step::kRequest) {
      timed_out_ = true;
      beast::error_code ignored;
      Socket().cancel(ignored);  // the pending read completes and answers 408
      return;
    }
    Close();  // nobody to answer: an idle peer, a stalled handshake, write or linger
  }

  void Begin() {
    if constexpr (kTls) {
      Enter(Step::kHandshake, options().request_timeout);
      stream_.async_handshake(net::ssl::stream_base::server, [self = Self()](beast::error_code ec) {
        if (ec) return self->Close();
        self->StartRequest();
      });
    } else {
      StartRequest();
    }
  }

  void StartRequest() {
    parser_.emplace();
    parser_->eager(true);
    parser_->header_limit(options().header_limit);
    parser_->body_limit(options().body_limit);
    continue_sent_ = false;
    framing_checked_ = false;
    Enter(Step::kIdle, options().idle_timeout);
    ParseBuffered();  // pipelined bytes may already hold the next request
  }

  void ParseBuffered() {
    while (buffer_.size() > 0 && !parser_->is_done()) {
      beast::error_code ec;
      const std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == beast_http::error::need_more) {
        // Beast limits the header block itself but waits without limit for the end of a
        // chunk-size line or of the trailer section, which we would buffer meanwhile. Both
        // are header-like: the same limit applies (the parser's own check, for the header
        // block, fires first at the same size).
        if (buffer_.size() > options().header_limit) {
          return SendError(status::request_header_fields_too_large, "header_too_large",
                           "a chunk header or the trailer section is larger than " +
                               std::to_string(options().header_limit) + " bytes",
                           "{\"limit\":" + std::to_string(options().header_limit) + "}");
        }
        break;
      }
      if (ec) return Reject(ec);
      if (used == 0) break;
    }
    if (parser_->is_header_done() && !framing_checked_) {
      framing_checked_ = true;
      if (!CheckTransferEncoding()) return;
    }
    if (parser_->is_done()) return HandleRequest();
    if (step_ == Step::kIdle && (parser_->got_some() || buffer_.size() > 0)) {
      Enter(Step::kRequest, options().request_timeout);
    }
    if (!continue_sent_ && parser_->is_header_done() && ExpectsContinue()) return SendContinue();
    ReadMore();
  }

  // Beast frames a request whose Transfer-Encoding does not end in "chunked" as having no
  // body, and would then read the body as the next request: the request smuggling RFC 9112
  // section 6.3 forbids. Such a request is answered 400, and codings other than chunked
  // (which we would pass on still encoded) 501. Returns false when it answered.
  bool CheckTransferEncoding() {
    const Request& request = parser_->get();
    const auto it = request.find(beast_http::field::transfer_encoding);
    if (it == request.end()) return true;
    if (!parser_->chunked()) {
      SendError(status::bad_request, "bad_request",
                "Transfer-Encoding must end with chunked; the body length cannot be known");
      return false;
    }
    for (const auto& coding : beast_http::token_list(it->value())) {
      if (!beast::iequals(coding, "chunked")) {
        SendError(status::not_implemented, "not_implemented",
                  "Transfer-Encoding: only chunked is supported");
        return false;
      }
    }
    return true;
  }

  void ReadMore() {
    stream_.async_read_some(
        buffer_.prepare(kReadChunk),
        [self = Self()](beast::error_code ec, std::size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(beast::error_code ec, std::size_t n) {
    if (timed_out_) {
      return SendError(status::request_timeout, "request_timeout",
                       "no complete request within " +
                           std::to_string(options().request_timeout.count()) + " ms");
    }
    if (ec == net::error::eof || ec == net::ssl::error::stream_truncated) {
      if (step_ != Step::kRequest) return Close();
      return SendError(status::bad_request, "bad_request", "the connection ended inside a request");
    }
    if (ec) return Close();  // reset, idle timeout, abandon
    buffer_.commit(n);
    ParseBuffered();
  }

  bool ExpectsContinue() const {
    const Request& request = parser_->get();
    if (request.version() < 11) return false;
    const auto it = request.find(beast_http::field::expect);
    return it != request.end() && beast::iequals(it->value(), "100-continue");
  }

  void SendContinue() {  // within the request's deadline
    continue_sent_ = true;
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = Self()](beast::error_code ec, std::size_t) {
                       if (ec) return self->Close();
                       self->ReadMore();
                     });
  }

  void Reject(beast::error_code ec) {
    if (ec == beast_http::error::body_limit) {
      return SendError(
          status::payload_too_large, "payload_too_large",
          "request body is larger than " + std::to_string(options().body_limit) + " bytes",
          "{\"limit\":" + std::to_string(options().body_limit) + "}");
    }
    if (ec == beast_http::error::header_limit) {
      return SendError(status::request_header_fields_too_large, "header_too_large",
                       "request header block is larger than " +
                           std::to_string(options().header_limit) + " bytes",
                       "{\"limit\":" + std::to_string(options().header_limit) + "}");
    }
    SendError(status::bad_request, "bad_request", "malformed request: " + ec.message());
  }

  void HandleRequest() {
    step_ = Step::kHandler;
    deadline_.store(kNoDeadline, std::memory_order_relaxed);
    Request request = parser_->release();
    request_version_ = AnswerVersion(request.version());
    request_keep_alive_ = request.keep_alive();
    request_is_head_ = request.method() == beast_http::verb::head;
    awaiting_response_ = shared_from_this();
    auto responder = std::make_shared<Responder>(core_.shared_from_this(), weak_from_this());
    try {
      core_.handler.Handle(std::move(request), info_,
                           [responder](Response r) { responder->Send(std::move(r)); });
    } catch (...) {  // ignored by Send if the handler answered before throwing
      responder->Send(
          MakeErrorResponse(status::internal_server_error, "internal", "internal error"));
    }
  }

  void OnResponse(Response response) {
    if (!awaiting_response_) return;  // abandoned
    awaiting_response_.reset();       // the dispatching lambda holds us through this call
    response_ = std::move(response);
    try {
      response_.version(request_version_);
      const bool handler_closes =
          beast_http::token_list(response_[beast_http::field::connection]).exists("close");
      response_.keep_alive(request_keep_alive_ && !handler_closes);
      response_.prepare_payload();
    } catch (const std::exception& e) {  // prepare_payload rejects a body on 1xx/204/304
      response_ = MakeErrorResponse(status::internal_server_error, "internal",
                                    std::string("invalid response: ") + e.what(), "{}",
                                    request_version_, false);
    }
    // HEAD: the header says what GET would send; the body must not follow.
    if (request_is_head_) response_.body().clear();
    close_after_write_ = !response_.keep_alive();
    Write();
  }

  void SendError(status code_status, std::string_view code, const std::string& message,
                 std::string_view details = "{}") {
    response_ = MakeErrorResponse(code_status, code, message, details,
                                  AnswerVersion(parser_->get().version()), false);
    close_after_write_ = true;
    Write();
  }

  void Write() {
    if (!options().server_header.empty() &&
        response_.find(beast_http::field::server) == response_.end()) {
      response_.set(beast_http::field::server, options().server_header);
    }
    serializer_.emplace(response_);
    WriteSome();
  }

  // The write deadline restarts with every chunk the peer takes: a large answer (a 64 MiB dead
  // letter, an export page) to a reader that keeps reading is never cut off, while a peer that
  // stops reading is dropped after request_timeout without progress.
  void WriteSome() {
    Enter(Step::kWrite, options().request_timeout);
    beast_http::async_write_some(
        stream_, *serializer_,
        [self = Self()](beast::error_code ec, std::size_t) { self->OnWriteSome(ec); });
  }

  void OnWriteSome(beast::error_code ec) {
    if (!ec && !serializer_->is_done()) return WriteSome();
    serializer_.reset();
    OnWrite(ec);
  }

  void OnWrite(beast::error_code ec) {
    if (ec) return Close();
    if (close_after_write_) return LingeringClose();
    response_ = Response();
    StartRequest();
  }

  void LingeringClose() {
    Enter(Step::kLinger, kLingerTimeout);
    if constexpr (kTls) {
      // SSL shutdown sends close_notify and reads until the peer's, discarding data records.
      stream_.async_shutdown([self = Self()](beast::error_code) { self->Close(); });
    } else {
      beast::error_code ignored;
      Socket().shutdown(tcp::socket::shutdown_send, ignored);
      buffer_.clear();
      drained_ = 0;
      Drain();
    }
  }

  void Drain() {
    Socket().async_read_some(buffer_.prepare(kReadChunk),
                             [self = Self()](beast::error_code ec, std::size_t n) {
                               self->drained_ += n;
                               if (ec || self->drained_ > kLingerMaxBytes) return self->Close();
                               self->Drain();
                             });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    deadline_.store(kNoDeadline, std::memory_order_relaxed);
    beast::error_code ignored;
    Socket().close(ignored);
  }

  Stream stream_;
  beast::flat_buffer buffer_;  // reused by every request of the connection
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  Response response_;  // must outlive serializer_
  std::optional<beast_http::response_serializer<beast_http::string_body>> serializer_;
  ConnectionInfo info_;
  // Set while the handler owns the request: nothing else holds the session then.
  std::shared_ptr<SessionBase> awaiting_response_;

  Step step_ = Step::kIdle;
  unsigned request_version_ = 11;
  bool request_keep_alive_ = false;
  bool request_is_head_ = false;
  bool close_after_write_ = false;
  bool continue_sent_ = false;
  bool framing_checked_ = false;  // CheckTransferEncoding ran for the current request
  bool timed_out_ = false;
  bool closed_ = false;
  std::size_t drained_ = 0;
};

std::string RemoteAddress(const tcp::socket& socket) {
  beast::error_code ec;
  const tcp::endpoint endpoint = socket.remote_endpoint(ec);
  if (ec) return {};
  const net::ip::address address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

template <class S>
void Launch(const std::shared_ptr<S>& session) {
  SessionBase::Register(session);
  session->Run();
}

}  // namespace

SessionBase::SessionBase(ServerCore& core) : core_(core) {
  core_.open_connections.fetch_add(1, std::memory_order_relaxed);
}

SessionBase::~SessionBase() {
  if (registry_pos_) {
    std::lock_guard<std::mutex> lock(core_.sessions_mu);
    core_.sessions.erase(*registry_pos_);
  }
  core_.open_connections.fetch_sub(1, std::memory_order_relaxed);
}

void SessionBase::Register(const std::shared_ptr<SessionBase>& session) {
  ServerCore& core = session->core_;
  std::lock_guard<std::mutex> lock(core.sessions_mu);
  session->registry_pos_ = core.sessions.insert(core.sessions.end(), session.get());
}

void StartSession(ServerCore& core, tcp::socket socket) {
  std::string remote = RemoteAddress(socket);
  if (core.tls) {
    Launch(std::make_shared<Session<beast::ssl_stream<tcp::socket>>>(core, std::move(remote),
                                                                     std::move(socket), *core.tls));
  } else {
    Launch(std::make_shared<Session<tcp::socket>>(core, std::move(remote), std::move(socket)));
  }
}

void ExpireOverdueSessions(ServerCore& core) {
  const Clock::rep now = Clock::now().time_since_epoch().count();
  std::vector<std::shared_ptr<SessionBase>> overdue;
  {
    std::lock_guard<std::mutex> lock(core.sessions_mu);
    for (SessionBase* session : core.sessions) {
      if (session->deadline_.load(std::memory_order_relaxed) > now) continue;
      if (session->expiry_pending_.exchange(true, std::memory_order_relaxed)) continue;
      // Empty when the session is being destroyed (it waits for our lock to leave the list).
      if (auto strong = session->weak_from_this().lock()) overdue.push_back(std::move(strong));
    }
  }
  for (const auto& session : overdue) session->Expire();
}

std::chrono::milliseconds SweepInterval(const HttpServerOptions& options) {
  using std::chrono::milliseconds;
  const milliseconds shortest = std::min(options.idle_timeout, options.request_timeout);
  return std::clamp(shortest / 8, milliseconds(5), milliseconds(500));
}

}  // namespace waybill::server::http::internal
