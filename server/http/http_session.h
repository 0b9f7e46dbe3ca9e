// Private to server/http: the state the listener shares with its connections, the entry point
// that serves one accepted connection, and the sweep that enforces timeouts
// (http_session.cc).
//
// Lifetimes, which decide where each piece lives:
//   - ServerCore is held by the HttpServer and by every Respond not yet called or destroyed,
//     so a handler that answers after the server is gone still posts into a live (stopped)
//     io_context instead of a destroyed one.
//   - A session is held by its pending I/O handlers while it reads or writes, and by itself
//     while the handler owns its request. Responds and the registry hold it weakly.
//   - Sessions refer to the core by plain reference: a strong one would form a cycle through
//     the handlers queued in core.ioc, which after Stop are only destroyed with the io_context.
//
// Timeouts: each session publishes the deadline of what it is doing (handshake, waiting for a
// request, reading one, writing, lingering) and a periodic sweep hands overdue sessions back to
// their strand. That costs a clock read per step instead of arming and cancelling a timer
// around every read and write.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <list>
#include <memory>
#include <mutex>
#include <optional>

#include "server/http/http_server.h"

namespace waybill::server::http::internal {

class SessionBase;

struct ServerCore : std::enable_shared_from_this<ServerCore> {
  ServerCore(const HttpServerOptions& opts, RequestHandler& h)
      : options(opts), handler(h), ioc(opts.threads) {}

  const HttpServerOptions options;
  RequestHandler& handler;
  // Set once by Stop; Responds check it so late answers do no work.
  std::atomic<bool> stopped{false};
  // Sessions alive (each counts from construction to destruction, lingering close included).
  std::atomic<std::size_t> open_connections{0};

  std::mutex sessions_mu;
  // Guarded by sessions_mu. A session leaves it in ~SessionBase, so a pointer read under the
  // mutex is safe to use; to act on it, take a shared_ptr with weak_from_this() and let go of
  // it only after unlocking (the last reference would re-enter the mutex).
  std::list<SessionBase*> sessions;

  std::optional<boost::asio::ssl::context> tls;  // set before the first accept; then read-only

  // Last member, so destroyed first: its destructor destroys the handlers still queued, and
  // with them sessions whose destructors use the members above.
  boost::asio::io_context ioc;
};

// One accepted connection. The concrete sessions (plain and TLS) live in http_session.cc.
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr Clock::rep kNoDeadline = std::numeric_limits<Clock::rep>::max();

  explicit SessionBase(ServerCore& core);
  virtual ~SessionBase();  // leaves the registry, frees the connection slot
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;

  // Hands the handler's response to the session's strand. Any thread; ignored unless the
  // session is waiting for exactly this response.
  virtual void Deliver(Response response) = 0;
  // Closes the connection at once and drops the session's hold on itself. Only while no I/O
  // thread runs (Stop, after joining them).
  virtual void Abandon() = 0;

  // Adds `session` to core.sessions; it leaves on destruction.
  static void Register(const std::shared_ptr<SessionBase>& session);

 protected:
  // Asks the session, on its strand, to act on its deadline if it still has passed.
  virtual void Expire() = 0;

  ServerCore& core_;
  // Clock ticks after which the current step has taken too long; written on the strand, read
  // by the sweep.
  std::atomic<Clock::rep> deadline_{kNoDeadline};
  // Set by the sweep when it hands the session an Expire, cleared on the strand when that
  // runs: a slow strand gets one Expire, not one per sweep.
  std::atomic<bool> expiry_pending_{false};

 private:
  friend void ExpireOverdueSessions(ServerCore& core);
  std::optional<std::list<SessionBase*>::iterator> registry_pos_;
};

// Serves `socket` (accepted with a strand of core.ioc as its executor) until the peer leaves,
// a limit or timeout closes it, or Stop abandons it. TLS when core.tls is set.
void StartSession(ServerCore& core, boost::asio::ip::tcp::socket socket);

// Hands every session whose deadline has passed to its strand. Call it periodically, at
// SweepInterval(options): timeouts take effect up to one interval late.
void ExpireOverdueSessions(ServerCore& core);
std::chrono::milliseconds SweepInterval(const HttpServerOptions& options);

}  // namespace waybill::server::http::internal
