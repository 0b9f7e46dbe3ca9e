// A small RAII wrapper over NATS.c (libnats 3.4): one connection, its JetStream context,
// streams, ordered pipelined JetStream publishing, durable pull consumers and core
// subscriptions. It hides NATS.c's ownership rules (who destroys which natsMsg, which objects
// must outlive which) behind C++ objects and turns every NATS.c error into a Status whose message
// names the operation, the URL/stream/subject, natsStatus_GetText and nats_GetLastError.
//
// Lifetimes: NatsClient, PullConsumer, Subscription and InMessage share ownership of the
// underlying connection, so any of them may outlive the others; the connection closes when the
// last one is gone. An InMessage from a PullConsumer keeps that consumer's NATS.c subscription
// alive, because NATS.c acks through it.
//
// Error codes: Status has no "unavailable" code, so "not connected", timeouts and server-side
// JetStream errors are kIoError; a bad URL or argument is kInvalidArgument; a missing stream is
// kNotFound where noted. Calls that need the server fail at once with kIoError ("not connected
// to NATS at <url>") while the connection is down, instead of waiting out a timeout; NATS.c
// reconnects in the background, so callers retry with a back-off.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schemas/result.h"

struct __natsMsg;  // natsMsg from <nats/nats.h>; kept out of this header on purpose.

namespace waybill::nats {

namespace internal {
struct Conn;
struct PullSub;
struct CoreSub;
struct MsgAccess;
}  // namespace internal

using Headers = std::vector<std::pair<std::string, std::string>>;

struct NatsOptions {
  // One URL ("nats://host:port") or a comma-separated list of them. Schemes: nats, tls.
  std::string url;
  std::string name = "waybill";  // connection name shown by the server's monitoring
  int connect_timeout_ms = 2000;
  // Reconnects are unlimited: Waybill must ride out any NATS outage by itself.
  int reconnect_wait_ms = 500;
  // A server that stops answering without closing the socket (frozen, partitioned) is declared
  // stale, and the reconnect loop starts, after max_pings_out unanswered pings sent every
  // ping_interval_ms: within about (max_pings_out + 1) * ping_interval_ms.
  int ping_interval_ms = 2000;
  int max_pings_out = 2;
  // The client's own watchdog round-trips a PING every ping_interval_ms on threads of its own
  // and reports the connection down (connected() false) while one stays unanswered for longer
  // than this, even when NATS.c's ping timer is held up behind its connection lock; NATS.c
  // still decides when to reconnect. 0: (max_pings_out + 1) * ping_interval_ms.
  int stall_report_ms = 0;
  // A write to the socket that cannot complete within this long fails, and the connection
  // reconnects, instead of blocking (with NATS.c's connection lock held) until the server reads.
  int write_deadline_ms = 5000;
  // Called with false on disconnect (or a stall the watchdog found) and true on (re)connect
  // (or the stalled server answering again), from NATS.c's callback thread or the watchdog's;
  // calls are serialised and only report changes. It must be quick and must not destroy the
  // client. Also called with false while the client is being destroyed if it was connected.
  std::function<void(bool connected)> on_state_change;
};

// A received message. Move-only; owns its natsMsg, which it destroys.
// Thread-safety: one InMessage may be used by one thread at a time; different InMessages
// (even from the same consumer) may be acked concurrently from different threads.
class InMessage {
 public:
  InMessage() = default;
  ~InMessage();
  InMessage(InMessage&& other) noexcept;
  InMessage& operator=(InMessage&& other) noexcept;
  InMessage(const InMessage&) = delete;
  InMessage& operator=(const InMessage&) = delete;

  std::string subject;
  std::string reply;  // core messages only (request/reply); empty for JetStream deliveries
  std::string payload;
  std::map<std::string, std::string> headers;  // first value per key, keys as sent
  uint64_t stream_seq = 0;                     // JetStream deliveries only, else 0
  uint64_t delivered_count = 0;                // 1 on first delivery; JetStream only

  // True for messages from a PullConsumer, which are the only ones that can be acked.
  bool ackable() const { return msg_ != nullptr && ackable_; }

  // Acks and waits for the server's confirmation (AckSync), so after an ok return the
  // server will not redeliver the message. Acking twice is ok (the second is a no-op).
  Status Ack();
  // Sends the ack without waiting for the server's confirmation: many acks then cost one
  // round trip (NatsClient::Flush after the last) instead of one each. An ack lost on the way
  // means one redelivery after ack_wait, so use it where a second copy is harmless (the
  // ledger's idempotency absorbs it).
  Status AckAsync();
  // Negative ack: asks the server to redeliver, after delay_ms if > 0.
  Status Nak(int delay_ms = 0);
  // Tells the server the message is still being worked on, resetting its ack_wait timer.
  Status InProgress();

 private:
  friend struct internal::MsgAccess;
  // Copies the fields out of `msg` and takes ownership of it. `keepalive` keeps the
  // subscription (and connection) that NATS.c needs for acks alive.
  InMessage(__natsMsg* msg, std::shared_ptr<void> keepalive, bool ackable);
  void Reset();

  __natsMsg* msg_ = nullptr;
  std::shared_ptr<void> keepalive_;
  bool ackable_ = false;
};

// A durable JetStream pull consumer bound to one stream. Destroying it does not delete the
// server-side consumer: a new PullConsumer with the same durable resumes where it left off,
// and unacked messages are redelivered after ack_wait.
// Thread-safety: Fetch must not be called concurrently on the same PullConsumer; messages it
// returned may be acked from any thread.
class PullConsumer {
 public:
  ~PullConsumer();
  PullConsumer(const PullConsumer&) = delete;
  PullConsumer& operator=(const PullConsumer&) = delete;

  // Fetches up to `max` (>= 1) messages, waiting up to timeout_ms for the first. Returns an
  // empty vector when nothing arrived in time (not an error). Returns kIoError at once, without
  // waiting, when the connection is down: callers should back off before retrying.
  Result<std::vector<InMessage>> Fetch(int max, int timeout_ms);

  const std::string& stream() const;
  const std::string& durable() const;

 private:
  friend class NatsClient;
  explicit PullConsumer(std::shared_ptr<internal::PullSub> sub);
  std::shared_ptr<internal::PullSub> sub_;
};

// A core NATS subscription with a callback. Destroying it unsubscribes and waits until a
// callback in progress has returned, so `fn` may reference objects that outlive the
// Subscription. Do not destroy it from inside its own callback (that would deadlock).
class Subscription {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Messages NATS.c dropped for this subscription because its callback fell behind (pending
  // limits, 65536 messages or 64 MiB by default). Thread-safety: any thread.
  std::uint64_t dropped() const;

  // How much NATS.c may queue for the callback before it drops (see dropped()); -1 for no
  // limit. A subscriber that must see every message of a burst of large ones (views of long
  // shipment histories, say) raises these. kIoError if NATS.c refuses the values.
  // Thread-safety: any thread.
  Status SetPendingLimits(int messages, std::int64_t bytes);

 private:
  friend class NatsClient;
  explicit Subscription(std::shared_ptr<internal::CoreSub> sub);
  std::shared_ptr<internal::CoreSub> sub_;
};

class NatsClient {
 public:
  // The brief's nested spellings (NatsClient::PullConsumer, ...) also work.
  using PullConsumer = ::waybill::nats::PullConsumer;
  using InMessage = ::waybill::nats::InMessage;
  using Subscription = ::waybill::nats::Subscription;

  // Connects to opts.url. The connection retries forever, including the first attempt: if the
  // server is down, Connect still succeeds and connected() turns true once the server is up
  // (on_state_change(true) is called then). Errors: kInvalidArgument for an empty or malformed
  // URL; kIoError if NATS.c fails otherwise (e.g. out of memory, TLS setup).
  // Thread-safety: may be called from any thread.
  static Result<std::unique_ptr<NatsClient>> Connect(const NatsOptions& opts);

  // Closes the connection once no PullConsumer/Subscription/InMessage still uses it.
  ~NatsClient();
  NatsClient(const NatsClient&) = delete;
  NatsClient& operator=(const NatsClient&) = delete;

  // Everything below is safe to call concurrently from any thread (PublishOrdered calls are
  // serialized internally).

  const std::string& url() const;
  // True if the connection is currently up (not connecting/reconnecting/closed), as NATS.c's
  // connection callbacks last reported it, and the server answers: false while a PING has gone
  // unanswered for longer than stale detection allows, even if NATS.c has not noticed yet.
  // Never blocks (a lock-free read), so it is safe on latency-sensitive threads (/readyz,
  // /metrics) even while NATS.c is stuck writing.
  bool connected() const;

  struct StreamSpec {
    std::string name;
    std::vector<std::string> subjects;
    int64_t max_msgs_per_subject = -1;  // -1: unlimited
    int64_t max_age_seconds = 0;        // 0: unlimited
    int64_t duplicate_window_seconds = 120;
  };
  // Creates the stream (file storage) if missing, or updates it if its subjects or limits differ
  // from `spec`; a no-op if it already matches. Errors name the stream; kIoError on timeouts
  // (5 s per JetStream API request) and server rejections (e.g. overlapping subjects).
  Status EnsureStream(const StreamSpec& spec);

  // The stream's current configuration (in StreamSpec terms) and contents.
  struct StreamInfo {
    StreamSpec spec;
    uint64_t messages = 0;
    uint64_t first_seq = 0;
    uint64_t last_seq = 0;
  };
  // kNotFound if the stream does not exist.
  Result<StreamInfo> GetStreamInfo(const std::string& stream);

  struct OutMessage {
    std::string subject;
    std::string payload;
    std::string msg_id;  // Nats-Msg-Id for JetStream de-duplication; empty for none
    Headers headers;
  };
  // Publishes `msgs` in order to JetStream, pipelined (up to 1024 unacknowledged at a time), and
  // waits up to timeout_ms in total for their acks. Returns the length of the acked prefix: k
  // means msgs[0..k) are stored and msgs[k] is not known to be, even if later ones were acked,
  // so the caller resends from k (with the same msg ids, so that JetStream drops copies of
  // anything that did land). A duplicate reported by JetStream counts as acked.
  // Returns an error instead of 0 when nothing was acked (and msgs is non-empty): kIoError
  // immediately if the connection is down, or after timeout_ms if acks did not come. When the
  // prefix is short but non-zero and `why_short` is non-null, *why_short receives the reason.
  // Messages after the prefix may still have reached the stream (their acks were lost), which
  // is why msg ids matter. What JetStream stores of one call is in order, and a resend from k
  // cannot land behind msgs[k+1..]: the client keeps no reconnect buffer (nothing published
  // while reconnecting goes out later on a new connection), and each message after the first
  // carries Nats-Expected-Last-Msg-Id = the previous message's msg id, so JetStream refuses
  // msgs[k+1] unless msgs[k] is the stream's last message (or refuses it as a duplicate,
  // which counts as acked). Hence all msgs of one call must go to one stream; if another
  // publisher writes to that stream between two of them, the call's prefix ends there and the
  // caller's resend goes on from it. A message after one without a msg id is not chained.
  // JetStream refusing a message does not keep it from core NATS subscribers of its subject, so
  // after a (re)connect or a call that ended short the first message goes alone, and the rest
  // are pipelined only once it is acked: a server still settling after a restart then refuses
  // one message, not a window of them that core subscribers would see twice, out of order.
  // When `stream` (the stream msgs go to) is given, such a call first reads the stream's last
  // message: if it is msgs[k], msgs[0..k] are counted as acked and not sent again (acks lost
  // in a freeze or a disconnect would otherwise make core subscribers see old versions anew).
  Result<size_t> PublishOrdered(const std::vector<OutMessage>& msgs, int timeout_ms,
                                Status* why_short = nullptr, const std::string& stream = {});

  // Core NATS publish (no JetStream, no ack): for tests and tools. Buffered by NATS.c; an ok
  // return means queued, not delivered. kIoError if the connection is closed or the reconnect
  // buffer is full.
  Status Publish(const std::string& subject, std::string_view payload, const Headers& headers = {});

  // Binds to (creating if missing) the durable pull consumer `durable` on `stream` with
  // AckExplicit, the given filter subject, ack_wait and MaxAckPending 10000. If the consumer
  // exists with a different filter or ack_wait it is updated (the server may refuse some
  // changes; the error says so). `durable` must not contain '.', '*', '>' or spaces.
  Result<std::unique_ptr<PullConsumer>> MakePullConsumer(const std::string& stream,
                                                         const std::string& durable,
                                                         const std::string& filter_subject,
                                                         int ack_wait_seconds);

  // Reads up to `max` messages of `stream` matching `filter_subject` (empty: all), starting at
  // stream sequence start_seq (>= 1), through a temporary ephemeral consumer that is deleted
  // afterwards. Stops at `max`, when the stream has no more, or at timeout_ms. The messages are
  // not ackable. Meant for tests, tools and replays of small ranges.
  Result<std::vector<InMessage>> ReadStream(const std::string& stream,
                                            const std::string& filter_subject, uint64_t start_seq,
                                            int max, int timeout_ms);

  // Subscribes (core NATS) to a subject or pattern; `fn` runs on a NATS.c thread, one message
  // at a time per Subscription, in arrival order. Messages published while disconnected are not
  // seen (core NATS has no persistence); use a JetStream consumer when that matters. `fn` must
  // not throw: it is called from C code, so an exception terminates the process.
  Result<std::unique_ptr<Subscription>> Subscribe(const std::string& subject,
                                                  std::function<void(InMessage)> fn);

  // Waits until everything published so far reached the server (a PING/PONG round trip).
  Status Flush(int timeout_ms);

 private:
  explicit NatsClient(std::shared_ptr<internal::Conn> conn);
  // How many of msgs (a prefix) `stream` already holds, judged by its last message's msg id;
  // 0 when that cannot be told. Two JetStream API requests.
  size_t StoredPrefix(const std::string& stream, const std::vector<OutMessage>& msgs,
                      int timeout_ms);
  std::shared_ptr<internal::Conn> conn_;
};

}  // namespace waybill::nats
