#include "server/nats/nats_client.h"

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

namespace waybill::nats {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kNanosPerSecond = 1'000'000'000;
// JetStream API requests (stream/consumer info, acks) give up after this long.
constexpr int64_t kApiWaitMs = 5000;
// Unacknowledged async publishes in flight per PublishOrdered call: enough to keep the pipe full
// on a LAN, small enough to bound what may need resending after a failure.
constexpr size_t kPublishWindow = 1024;
// How long teardown waits for NATS.c to confirm that no callback can still run.
constexpr auto kTeardownWait = std::chrono::seconds(10);

// NATS.c initializes itself lazily too, but only nats_Open lets us see its failure; doing it
// once up front also avoids racing lazy initialization from several threads.
natsStatus OpenLibrary() {
  static std::once_flag once;
  static natsStatus status = NATS_OK;
  std::call_once(once, [] { status = nats_Open(-1); });
  return status;
}

// "<natsStatus text>: <nats_GetLastError text> (JetStream error <code>)". The last-error text is
// per thread and sticky, so it is only used when it belongs to this status.
std::string NatsErrorText(natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0)) {
  std::string out = natsStatus_GetText(s);
  natsStatus last_status = NATS_OK;
  const char* last = nats_GetLastError(&last_status);
  if (last != nullptr && *last != '\0' && last_status == s && out != last) {
    out += ": ";
    out += last;
  }
  if (static_cast<int>(jerr) != 0) out += " (JetStream error " + std::to_string(jerr) + ")";
  return out;
}

Status NatsFailure(const std::string& what, natsStatus s,
                   jsErrCode jerr = static_cast<jsErrCode>(0)) {
  std::string msg = what + ": " + NatsErrorText(s, jerr);
  if (s == NATS_INVALID_ARG || s == NATS_INVALID_SUBJECT) return Status::Invalid(std::move(msg));
  return Status::IoError(std::move(msg));
}

// Accepts "scheme://host[:port]" with scheme nats or tls (also user:pass@host), or a
// comma-separated list of those. NATS.c would accept almost anything and then retry forever,
// which turns a typo into a silent hang; this makes it an immediate kInvalidArgument.
Status ValidateUrl(const std::string& urls) {
  if (urls.empty()) return Status::Invalid("NATS url is empty");
  size_t start = 0;
  while (start <= urls.size()) {
    size_t end = urls.find(',', start);
    if (end == std::string::npos) end = urls.size();
    std::string url = urls.substr(start, end - start);
    while (!url.empty() && url.front() == ' ') url.erase(url.begin());
    while (!url.empty() && url.back() == ' ') url.pop_back();
    const auto bad = [&](const std::string& why) {
      return Status::Invalid("NATS url '" + url + "' (in '" + urls + "'): " + why);
    };
    const size_t sep = url.find("://");
    if (sep == std::string::npos) return bad("expected nats://host:port");
    const std::string scheme = url.substr(0, sep);
    if (scheme != "nats" && scheme != "tls") return bad("scheme must be nats or tls");
    std::string hostport = url.substr(sep + 3);
    if (const size_t at = hostport.rfind('@'); at != std::string::npos) {
      hostport = hostport.substr(at + 1);
    }
    if (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
    std::string host = hostport;
    std::string port;
    if (!hostport.empty() && hostport.front() == '[') {  // [ipv6]:port
      const size_t close = hostport.find(']');
      if (close == std::string::npos) return bad("unterminated [ipv6] host");
      host = hostport.substr(0, close + 1);
      if (close + 1 < hostport.size()) {
        if (hostport[close + 1] != ':') return bad("junk after ]");
        port = hostport.substr(close + 2);
        if (port.empty()) return bad("empty port");
      }
    } else if (const size_t colon = hostport.rfind(':'); colon != std::string::npos) {
      host = hostport.substr(0, colon);
      port = hostport.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
    if (host.empty()) return bad("missing host");
    for (char c : host) {
      if (c == ' ' || c == '/' || c == '?' || c == '#') return bad("invalid character in host");
    }
    if (!port.empty()) {
      const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
      if (port.size() > 5 || !std::all_of(port.begin(), port.end(), is_digit)) {
        return bad("port must be a number");
      }
      const int p = std::atoi(port.c_str());
      if (p < 1 || p > 65535) return bad("port out of range");
    }
    start = end + 1;
  }
  return Status::Ok();
}

// The outcome of one PublishOrdered call, filled by OnPubAck.
struct PubBatch {
  // Messages handed to NATS.c and not yet acked, by address. An entry is erased before its
  // message is destroyed, so a later message reusing the address cannot be confused with it.
  std::unordered_map<natsMsg*, size_t> inflight;
  std::vector<uint8_t> acked;  // per message: 1 once JetStream stored it (or had it already)
  size_t first_failed = std::numeric_limits<size_t>::max();
  std::string first_failed_error;
  size_t completed = 0;  // acks and failures received
};

Status SetHeaders(natsMsg* m, const Headers& headers, const std::string& subject) {
  for (const auto& [key, value] : headers) {
    const natsStatus s = natsMsgHeader_Set(m, key.c_str(), value.c_str());
    if (s != NATS_OK) {
      return NatsFailure("set header '" + key + "' on message for subject '" + subject + "'", s);
    }
  }
  return Status::Ok();
}

}  // namespace

namespace internal {

struct MsgAccess {
  static InMessage Make(natsMsg* msg, std::shared_ptr<void> keepalive, bool ackable) {
    return InMessage(msg, std::move(keepalive), ackable);
  }
};

// State that NATS.c callbacks point to. It is separate from Conn so that, should NATS.c fail to
// confirm the close, it can be leaked instead of freed under a callback's feet.
struct Callbacks {
  std::string url;
  std::function<void(bool)> on_state_change;

  std::mutex mu;
  std::condition_variable cv;
  PubBatch* batch = nullptr;  // the PublishOrdered call in progress, if any
  bool closed = false;        // NATS.c's closed callback ran: no more connection callbacks

  // The connection state as NATS.c's callbacks last reported it. connected() reads this
  // instead of natsConnection_Status, which takes the connection's lock: NATS.c holds that lock
  // while it writes to the socket, so with a frozen server and a full socket buffer the status
  // call would block the caller (an HTTP thread answering /readyz or /metrics) for as long.
  std::mutex state_mu;
  std::atomic<bool> up{false};
  // The watchdog's verdict: NATS.c says connected, but a PING went unanswered (or could not
  // even be written) for longer than stale detection allows. See Watchdog.
  std::atomic<bool> stalled{false};
  std::uint64_t state_changes = 0;  // guarded by state_mu
  // Set on every (re)connect: the next PublishOrdered sends its first message alone and waits
  // for the ack before pipelining the rest (see there). Cleared by PublishOrdered.
  std::atomic<bool> publish_carefully{true};
  bool reported = false;  // what on_state_change last said; guarded by report_mu
  std::mutex report_mu;   // serialises on_state_change calls

  bool usable() const { return up.load() && !stalled.load(); }

  // Calls on_state_change when usable() differs from what it last said.
  void Report() {
    std::lock_guard<std::mutex> lock(report_mu);
    const bool now = usable();
    if (now == reported) return;
    reported = now;
    if (on_state_change) on_state_change(now);
  }
  void StateChanged(bool now_up) {
    {
      std::lock_guard<std::mutex> lock(state_mu);
      up.store(now_up);
      ++state_changes;
    }
    if (now_up) {
      stalled.store(false);  // a fresh connection; the watchdog probes it anew
      publish_carefully.store(true);
    }
    Report();
  }
  void SetStalled(bool now_stalled) {
    stalled.store(now_stalled);
    Report();
  }
  // After a synchronous connect: up, unless a callback already said otherwise.
  void ConnectedAtStart() {
    {
      std::lock_guard<std::mutex> lock(state_mu);
      if (state_changes == 0) up.store(true);
    }
    std::lock_guard<std::mutex> lock(report_mu);
    reported = usable();  // a connect that succeeded at once is not announced
  }
};

// Stale-connection detection that does not depend on NATS.c's ping timer. That timer takes the
// connection lock, and NATS.c 3.4.1 can hold the lock for as long as a frozen server stays
// frozen (the chaos test saw a 10 s freeze go unnoticed until SIGCONT). Every ping interval a
// prober thread round-trips a PING (natsConnection_FlushTimeout) while the watcher waits for it
// without touching NATS.c: if the answer takes longer than stale detection allows, the
// connection is reported down (connected() false, on_state_change(false)) until a PING comes
// back or NATS.c reconnects.
class Watchdog {
 public:
  Watchdog(natsConnection* nc, Callbacks* cb, int interval_ms, int stale_ms)
      : nc_(nc), cb_(cb), interval_(interval_ms), stale_(stale_ms) {
    prober_ = std::thread([this] { Probe(); });
    watcher_ = std::thread([this] { Watch(); });
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Stops the watcher; the prober may be inside natsConnection_FlushTimeout, so the caller
  // closes the connection (which ends that call) before Join.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
  }
  void Join() {
    if (prober_.joinable()) prober_.join();
  }

 private:
  void Probe() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || requested_; });
      if (stop_) return;
      requested_ = false;
      lock.unlock();
      const natsStatus s = natsConnection_FlushTimeout(nc_, stale_.count());
      lock.lock();
      answered_ = true;
      result_ = s;
      cv_.notify_all();
    }
  }

  void Watch() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, interval_, [&] { return stop_; })) {
      if (!cb_->up.load()) continue;  // NATS.c knows; its callbacks report it
      answered_ = false;
      requested_ = true;
      cv_.notify_all();
      if (!cv_.wait_for(lock, stale_, [&] { return stop_ || answered_; })) {
        lock.unlock();
        cb_->SetStalled(true);
        lock.lock();
        cv_.wait(lock, [&] { return stop_ || answered_; });
      }
      if (stop_) return;
      // Only an unanswered PING is a stall; other errors mean NATS.c is reconnecting or closed
      // and says so through its callbacks.
      const bool stalled = result_ == NATS_TIMEOUT;
      lock.unlock();
      cb_->SetStalled(stalled);
      lock.lock();
    }
  }

  natsConnection* const nc_;
  Callbacks* const cb_;
  const std::chrono::milliseconds interval_;
  const std::chrono::milliseconds stale_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool requested_ = false;
  bool answered_ = true;
  natsStatus result_ = NATS_OK;
  std::thread prober_;
  std::thread watcher_;
};

void OnDisconnected(natsConnection*, void* closure) {
  static_cast<Callbacks*>(closure)->StateChanged(false);
}
void OnConnected(natsConnection*, void* closure) {
  static_cast<Callbacks*>(closure)->StateChanged(true);
}
void OnClosed(natsConnection*, void* closure) {
  auto* cb = static_cast<Callbacks*>(closure);
  cb->up.store(false);
  std::lock_guard<std::mutex> lock(cb->mu);
  cb->closed = true;
  cb->cv.notify_all();
}

std::string PubAckErrorText(const jsPubAckErr* pae) {
  if (pae == nullptr) return "no ack and no error from NATS.c";
  std::string out = natsStatus_GetText(pae->Err);
  if (pae->ErrText != nullptr && *pae->ErrText != '\0') out += std::string(": ") + pae->ErrText;
  if (pae->ErrCode != 0) out += " (JetStream error " + std::to_string(pae->ErrCode) + ")";
  return out;
}

// JetStream async publish result (NATS.c's subscription thread). We own `msg`.
void OnPubAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* cb = static_cast<Callbacks*>(closure);
  {
    std::lock_guard<std::mutex> lock(cb->mu);
    PubBatch* batch = cb->batch;
    // No batch, or not found: a late ack for a call that already gave up; nothing to record.
    if (batch != nullptr) {
      if (auto it = batch->inflight.find(msg); it != batch->inflight.end()) {
        const size_t index = it->second;
        batch->inflight.erase(it);
        if (pa != nullptr) {
          batch->acked[index] = 1;
        } else if (index < batch->first_failed) {
          batch->first_failed = index;
          batch->first_failed_error = PubAckErrorText(pae);
        }
        ++batch->completed;
        cb->cv.notify_all();
      }
    }
  }
  natsMsg_Destroy(msg);
}

struct Conn {
  Callbacks* cb = new Callbacks();
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::unique_ptr<Watchdog> watchdog;
  std::mutex publish_mu;  // one PublishOrdered at a time: batches share the jsCtx's ack stream
  bool async_publish_used = false;  // guarded by publish_mu (and read in the destructor)

  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  ~Conn() {
    if (js != nullptr) {
      // Take back messages still waiting for acks so NATS.c does not call OnPubAck for them.
      // Only after an async publish: NATS.c 3.4.1 crashes (NULL hash) before the first one.
      if (async_publish_used) {
        natsMsgList pending{};
        if (js_PublishAsyncGetPendingList(&pending, js) == NATS_OK) natsMsgList_Destroy(&pending);
      }
      jsCtx_Destroy(js);
    }
    bool safe_to_free = true;
    if (watchdog) watchdog->Stop();
    if (nc != nullptr) {
      natsConnection_Close(nc);
      if (watchdog) watchdog->Join();  // Close ended any PING round trip in progress
      // Connection callbacks run on NATS.c's callback thread, in order; the closed callback is
      // the last one, so after it `cb` is no longer referenced.
      std::unique_lock<std::mutex> lock(cb->mu);
      safe_to_free = cb->cv.wait_for(lock, kTeardownWait, [&] { return cb->closed; });
      lock.unlock();
      natsConnection_Destroy(nc);
    }
    natsOptions_Destroy(opts);
    if (safe_to_free) delete cb;  // else leaked on purpose: a callback may still use it
  }

  const std::string& url() const { return cb->url; }
  bool connected() const { return nc != nullptr && cb->usable(); }
  Status NotConnected(const std::string& what) const {
    return Status::IoError(what + ": not connected to NATS at " + url() +
                           " (server down or reconnecting)");
  }
};

struct PullSub {
  std::shared_ptr<Conn> conn;
  natsSubscription* sub = nullptr;
  std::string stream;
  std::string durable;

  ~PullSub() {
    // Destroy without Unsubscribe: since NATS.c 3.4 this leaves the durable consumer on the
    // server (and we bound to a consumer we created explicitly, which NATS.c never deletes).
    natsSubscription_Destroy(sub);
  }
};

struct CoreSub {
  std::shared_ptr<Conn> conn;
  natsSubscription* sub = nullptr;
  std::string subject;
  std::function<void(InMessage)> fn;
  std::mutex mu;
  std::condition_variable cv;
  bool complete = false;  // NATS.c will not call OnCoreMsg any more

  ~CoreSub() {
    if (sub == nullptr) return;
    bool done = false;
    if (natsSubscription_Unsubscribe(sub) == NATS_OK) {
      std::unique_lock<std::mutex> lock(mu);
      done = cv.wait_for(lock, kTeardownWait, [&] { return complete; });
    }
    natsSubscription_Destroy(sub);
    // If NATS.c never confirmed completion, a callback might still be running on `fn`; leak
    // it rather than destroy it under that callback.
    if (!done) new std::function<void(InMessage)>(std::move(fn));
  }
};

// noexcept: an exception escaping into NATS.c's C frames would be undefined behavior; this way
// it terminates with a clear std::terminate instead.
void OnCoreMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) noexcept {
  auto* cs = static_cast<CoreSub*>(closure);
  cs->fn(MsgAccess::Make(msg, nullptr, /*ackable=*/false));
}

void OnCoreSubComplete(void* closure) {
  auto* cs = static_cast<CoreSub*>(closure);
  std::lock_guard<std::mutex> lock(cs->mu);
  cs->complete = true;
  cs->cv.notify_all();
}

}  // namespace internal

// ---------------------------------------------------------------------------------------------
// InMessage

InMessage::InMessage(natsMsg* msg, std::shared_ptr<void> keepalive, bool ackable) {
  if (const char* s = natsMsg_GetSubject(msg); s != nullptr) subject = s;
  const char* r = natsMsg_GetReply(msg);
  // JetStream deliveries have a "$JS.ACK..." reply: an ack handle, not a reply address.
  const bool from_jetstream = r != nullptr && std::string_view(r).starts_with("$JS.ACK.");
  if (r != nullptr && !from_jetstream) reply = r;
  if (const char* d = natsMsg_GetData(msg); d != nullptr) {
    payload.assign(d, static_cast<size_t>(natsMsg_GetDataLength(msg)));
  }
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
    for (int i = 0; i < count; ++i) {
      const char* value = nullptr;
      if (natsMsgHeader_Get(msg, keys[i], &value) == NATS_OK && value != nullptr) {
        headers.emplace(keys[i], value);
      }
    }
    free(static_cast<void*>(keys));  // NATS.c allocates the array with malloc
  }
  // JetStream deliveries carry their metadata in the $JS.ACK reply subject.
  jsMsgMetaData* meta = nullptr;
  if (from_jetstream && natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
    stream_seq = meta->Sequence.Stream;
    delivered_count = meta->NumDelivered;
    jsMsgMetaData_Destroy(meta);
  }
  if (ackable) {
    msg_ = msg;
    keepalive_ = std::move(keepalive);
    ackable_ = true;
  } else {
    // Nothing can be done with it any more; free it now rather than pin memory.
    natsMsg_Destroy(msg);
  }
}

InMessage::~InMessage() { Reset(); }

InMessage::InMessage(InMessage&& other) noexcept
    : subject(std::move(other.subject)),
      reply(std::move(other.reply)),
      payload(std::move(other.payload)),
      headers(std::move(other.headers)),
      stream_seq(other.stream_seq),
      delivered_count(other.delivered_count),
      msg_(std::exchange(other.msg_, nullptr)),
      keepalive_(std::move(other.keepalive_)),
      ackable_(std::exchange(other.ackable_, false)) {}

InMessage& InMessage::operator=(InMessage&& other) noexcept {
  if (this != &other) {
    Reset();
    subject = std::move(other.subject);
    reply = std::move(other.reply);
    payload = std::move(other.payload);
    headers = std::move(other.headers);
    stream_seq = other.stream_seq;
    delivered_count = other.delivered_count;
    msg_ = std::exchange(other.msg_, nullptr);
    keepalive_ = std::move(other.keepalive_);
    ackable_ = std::exchange(other.ackable_, false);
  }
  return *this;
}

void InMessage::Reset() {
  // The message must go before the subscription it references (keepalive_).
  natsMsg_Destroy(msg_);
  msg_ = nullptr;
  keepalive_.reset();
  ackable_ = false;
}

namespace {
std::string Describe(const InMessage& m) {
  return "message seq " + std::to_string(m.stream_seq) + " on '" + m.subject + "'";
}
}  // namespace

Status InMessage::Ack() {
  // NATS.c dereferences the subscription's JetStream state without checking it, so acking
  // anything but a consumer delivery must be stopped here.
  if (!ackable()) return Status::Invalid("ack: " + Describe(*this) + " is not ackable");
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = kApiWaitMs;
  const natsStatus s = natsMsg_AckSync(msg_, &jo, &jerr);
  if (s != NATS_OK) return NatsFailure("ack " + Describe(*this), s, jerr);
  return Status::Ok();
}

Status InMessage::AckAsync() {
  if (!ackable()) return Status::Invalid("ack: " + Describe(*this) + " is not ackable");
  const natsStatus s = natsMsg_Ack(msg_, nullptr);
  if (s != NATS_OK) return NatsFailure("ack " + Describe(*this), s);
  return Status::Ok();
}

Status InMessage::Nak(int delay_ms) {
  if (!ackable()) return Status::Invalid("nak: " + Describe(*this) + " is not ackable");
  const natsStatus s =
      delay_ms > 0 ? natsMsg_NakWithDelay(msg_, delay_ms, nullptr) : natsMsg_Nak(msg_, nullptr);
  if (s != NATS_OK) return NatsFailure("nak " + Describe(*this), s);
  return Status::Ok();
}

Status InMessage::InProgress() {
  if (!ackable()) return Status::Invalid("in-progress: " + Describe(*this) + " is not ackable");
  const natsStatus s = natsMsg_InProgress(msg_, nullptr);
  if (s != NATS_OK) return NatsFailure("in-progress ack of " + Describe(*this), s);
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// PullConsumer, Subscription

PullConsumer::PullConsumer(std::shared_ptr<internal::PullSub> sub) : sub_(std::move(sub)) {}
PullConsumer::~PullConsumer() = default;
const std::string& PullConsumer::stream() const { return sub_->stream; }
const std::string& PullConsumer::durable() const { return sub_->durable; }

Result<std::vector<InMessage>> PullConsumer::Fetch(int max, int timeout_ms) {
  const std::string what = "fetch from consumer '" + sub_->durable + "' on stream '" +
                           sub_->stream + "' at " + sub_->conn->url();
  if (max < 1) return Status::Invalid(what + ": max must be >= 1, got " + std::to_string(max));
  // While disconnected NATS.c would queue the pull request and time out; say why instead.
  if (!sub_->conn->connected()) return sub_->conn->NotConnected(what);
  natsMsgList list{};
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s =
      natsSubscription_Fetch(&list, sub_->sub, max, std::max(timeout_ms, 1), &jerr);
  std::vector<InMessage> out;
  out.reserve(static_cast<size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    out.push_back(internal::MsgAccess::Make(list.Msgs[i], sub_, /*ackable=*/true));
    list.Msgs[i] = nullptr;  // now owned by the InMessage
  }
  natsMsgList_Destroy(&list);
  // Messages in hand are returned even with an error: dropping them would only delay them
  // until ack_wait; the error will show again on the next call.
  if (s == NATS_OK || s == NATS_TIMEOUT || !out.empty()) return out;
  return NatsFailure(what, s, jerr);
}

Subscription::Subscription(std::shared_ptr<internal::CoreSub> sub) : sub_(std::move(sub)) {}
Subscription::~Subscription() = default;

Status Subscription::SetPendingLimits(int messages, std::int64_t bytes) {
  const natsStatus s = natsSubscription_SetPendingLimits(sub_->sub, messages, bytes);
  if (s != NATS_OK) {
    return Status::IoError(std::string("cannot set the pending limits of the subscription to ") +
                           sub_->subject + ": " + natsStatus_GetText(s));
  }
  return Status::Ok();
}

std::uint64_t Subscription::dropped() const {
  int64_t n = 0;
  if (sub_->sub == nullptr || natsSubscription_GetDropped(sub_->sub, &n) != NATS_OK) return 0;
  return static_cast<std::uint64_t>(n);
}

// ---------------------------------------------------------------------------------------------
// NatsClient

NatsClient::NatsClient(std::shared_ptr<internal::Conn> conn) : conn_(std::move(conn)) {}
NatsClient::~NatsClient() = default;

const std::string& NatsClient::url() const { return conn_->url(); }
bool NatsClient::connected() const { return conn_->connected(); }

Result<std::unique_ptr<NatsClient>> NatsClient::Connect(const NatsOptions& options) {
  WAYBILL_RETURN_IF_ERROR(ValidateUrl(options.url));
  const std::string what = "connect to NATS at " + options.url;
  if (natsStatus s = OpenLibrary(); s != NATS_OK) return NatsFailure("nats_Open", s);

  auto conn = std::make_shared<internal::Conn>();
  conn->cb->url = options.url;
  conn->cb->on_state_change = options.on_state_change;

  natsStatus s = natsOptions_Create(&conn->opts);
  natsOptions* o = conn->opts;
  if (s == NATS_OK) s = natsOptions_SetURL(o, options.url.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(o, options.name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(o, std::max(options.connect_timeout_ms, 1));
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1);  // -1: forever
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, std::max(options.reconnect_wait_ms, 1));
  // No reconnect buffer (1 byte: 0 means NATS.c's 8 MiB default). With one, publishes made
  // after the connection died but before NATS.c noticed are lost with the old socket, while
  // the ones made after it noticed wait in the buffer and go out on the new connection: an
  // ordered batch could reach JetStream as k+1, k+2, ... and then the re-sent k (one way the
  // NATS chaos test's out-of-order view versions can arise). Without it, publishing fails
  // fast until the connection is back.
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(o, 1);
  // A server that vanishes without closing the socket (network partition, a frozen process) is
  // noticed after about interval * max_out; NATS.c's default is 2 min * 2, far too slow for
  // on_state_change, /readyz and waybill_nats_connected.
  if (s == NATS_OK) s = natsOptions_SetPingInterval(o, std::max(options.ping_interval_ms, 1));
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(o, std::max(options.max_pings_out, 1));
  // Without a write deadline NATS.c writes in blocking mode while holding the connection's
  // lock: a frozen server with a full socket buffer would hang every publisher, the ping timer
  // (so the stale connection is never noticed) and anything else that needs the lock.
  if (s == NATS_OK) s = natsOptions_SetWriteDeadline(o, std::max(options.write_deadline_ms, 1));
  if (s == NATS_OK) {
    s = natsOptions_SetRetryOnFailedConnect(o, true, internal::OnConnected, conn->cb);
  }
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(o, internal::OnDisconnected, conn->cb);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(o, internal::OnConnected, conn->cb);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(o, internal::OnClosed, conn->cb);
  if (s != NATS_OK) return NatsFailure(what + ": set options", s);

  s = natsConnection_Connect(&conn->nc, o);
  // NOT_YET_CONNECTED: the server is down; NATS.c keeps trying in the background.
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    conn->nc = nullptr;
    if (s == NATS_ADDRESS_MISSING) return Status::Invalid(what + ": " + NatsErrorText(s));
    return NatsFailure(what, s);
  }
  if (s == NATS_OK) conn->cb->ConnectedAtStart();
  const int ping_interval_ms = std::max(options.ping_interval_ms, 1);
  conn->watchdog = std::make_unique<internal::Watchdog>(
      conn->nc, conn->cb, ping_interval_ms,
      options.stall_report_ms > 0 ? options.stall_report_ms
                                  : (std::max(options.max_pings_out, 1) + 1) * ping_interval_ms);

  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = kApiWaitMs;
  jo.PublishAsync.AckHandler = internal::OnPubAck;
  jo.PublishAsync.AckHandlerClosure = conn->cb;
  s = natsConnection_JetStream(&conn->js, conn->nc, &jo);
  if (s != NATS_OK) return NatsFailure(what + ": create JetStream context", s);
  return std::unique_ptr<NatsClient>(new NatsClient(std::move(conn)));
}

Status NatsClient::EnsureStream(const StreamSpec& spec) {
  const std::string what = "ensure JetStream stream '" + spec.name + "' at " + url();
  if (spec.name.empty()) return Status::Invalid(what + ": empty stream name");
  if (spec.subjects.empty()) return Status::Invalid(what + ": no subjects");
  if (!conn_->connected()) return conn_->NotConnected(what);

  std::vector<const char*> subjects;
  for (const std::string& s : spec.subjects) subjects.push_back(s.c_str());
  // The server stores "no limit" as -1 and a zero duplicate window as its default (2 min), so
  // compare normalized values; otherwise every call would look like a change.
  const auto norm_limit = [](int64_t v) { return v <= 0 ? int64_t{-1} : v; };
  const int64_t want_per_subject = norm_limit(spec.max_msgs_per_subject);
  const int64_t want_age = std::max<int64_t>(spec.max_age_seconds, 0) * kNanosPerSecond;
  const int64_t want_dupes = std::max<int64_t>(spec.duplicate_window_seconds, 0) * kNanosPerSecond;

  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, conn_->js, spec.name.c_str(), nullptr, &jerr);
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = spec.name.c_str();
    cfg.Subjects = subjects.data();
    cfg.SubjectsLen = static_cast<int>(subjects.size());
    cfg.Storage = js_FileStorage;
    cfg.MaxMsgsPerSubject = want_per_subject;
    cfg.MaxAge = want_age;
    cfg.Duplicates = want_dupes;
    jsStreamInfo* created = nullptr;
    jerr = static_cast<jsErrCode>(0);
    s = js_AddStream(&created, conn_->js, &cfg, nullptr, &jerr);
    jsStreamInfo_Destroy(created);
    if (s != NATS_OK) return NatsFailure(what + ": create", s, jerr);
    return Status::Ok();
  }
  if (s != NATS_OK) return NatsFailure(what + ": get stream info", s, jerr);

  jsStreamConfig cfg = *si->Config;  // keep settings an operator may have changed
  const std::set<std::string> have_subjects(cfg.Subjects, cfg.Subjects + cfg.SubjectsLen);
  const std::set<std::string> want_subjects(spec.subjects.begin(), spec.subjects.end());
  if (cfg.Storage != js_FileStorage) {
    jsStreamInfo_Destroy(si);
    return Status::IoError(what +
                           ": the stream exists with memory storage; Waybill needs file "
                           "storage, which cannot be changed in place (delete the stream)");
  }
  const bool same = have_subjects == want_subjects &&
                    norm_limit(cfg.MaxMsgsPerSubject) == want_per_subject &&
                    cfg.MaxAge == want_age && (want_dupes == 0 || cfg.Duplicates == want_dupes);
  if (same) {
    jsStreamInfo_Destroy(si);
    return Status::Ok();
  }
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.MaxMsgsPerSubject = want_per_subject;
  cfg.MaxAge = want_age;
  if (want_dupes != 0) cfg.Duplicates = want_dupes;
  jsStreamInfo* updated = nullptr;
  jerr = static_cast<jsErrCode>(0);
  s = js_UpdateStream(&updated, conn_->js, &cfg, nullptr, &jerr);
  jsStreamInfo_Destroy(updated);
  jsStreamInfo_Destroy(si);  // after the update: cfg pointed into it
  if (s != NATS_OK) return NatsFailure(what + ": update", s, jerr);
  return Status::Ok();
}

Result<NatsClient::StreamInfo> NatsClient::GetStreamInfo(const std::string& stream) {
  const std::string what = "get info of JetStream stream '" + stream + "' at " + url();
  if (!conn_->connected()) return conn_->NotConnected(what);
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetStreamInfo(&si, conn_->js, stream.c_str(), nullptr, &jerr);
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
    return Status::NotFound(what + ": no such stream");
  }
  if (s != NATS_OK) return NatsFailure(what, s, jerr);
  StreamInfo info;
  const jsStreamConfig& c = *si->Config;
  info.spec.name = c.Name != nullptr ? c.Name : "";
  info.spec.subjects.assign(c.Subjects, c.Subjects + c.SubjectsLen);
  info.spec.max_msgs_per_subject = c.MaxMsgsPerSubject;
  info.spec.max_age_seconds = c.MaxAge / kNanosPerSecond;
  info.spec.duplicate_window_seconds = c.Duplicates / kNanosPerSecond;
  info.messages = si->State.Msgs;
  info.first_seq = si->State.FirstSeq;
  info.last_seq = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  return info;
}

size_t NatsClient::StoredPrefix(const std::string& stream, const std::vector<OutMessage>& msgs,
                                int timeout_ms) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = std::max(timeout_ms, 1);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  jsStreamInfo* si = nullptr;
  if (js_GetStreamInfo(&si, conn_->js, stream.c_str(), &o, &jerr) != NATS_OK) return 0;
  const uint64_t last_seq = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  if (last_seq == 0) return 0;
  natsMsg* last = nullptr;
  if (js_GetMsg(&last, conn_->js, stream.c_str(), last_seq, &o, &jerr) != NATS_OK) return 0;
  const char* id = nullptr;
  std::string last_id;
  if (natsMsgHeader_Get(last, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) last_id = id;
  natsMsg_Destroy(last);
  if (last_id.empty()) return 0;
  // msgs[k] stored means msgs[0..k) are too: each was sent expecting its predecessor last
  // (an earlier call's list began at or before msgs[0]: callers resend from their cursor).
  for (size_t k = 0; k < msgs.size(); ++k) {
    if (msgs[k].msg_id.empty()) return 0;
    if (msgs[k].msg_id == last_id) return k + 1;
  }
  return 0;
}

Result<size_t> NatsClient::PublishOrdered(const std::vector<OutMessage>& msgs, int timeout_ms,
                                          Status* why_short, const std::string& stream) {
  if (why_short != nullptr) *why_short = Status::Ok();
  if (msgs.empty()) return size_t{0};
  const std::string what =
      "publish " + std::to_string(msgs.size()) + " messages to JetStream at " + url();
  // Fail fast: while reconnecting NATS.c would buffer the messages and we would only learn of
  // the outage after timeout_ms.
  if (!conn_->connected()) return conn_->NotConnected(what);

  std::lock_guard<std::mutex> publish_lock(conn_->publish_mu);
  internal::Callbacks* cb = conn_->cb;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  PubBatch batch;
  batch.acked.assign(msgs.size(), 0);
  {
    std::lock_guard<std::mutex> lock(cb->mu);
    cb->batch = &batch;
  }

  // After a (re)connect or a call that ended short, the first message goes alone: until it is
  // acked, JetStream may still be settling (a restarted server answers "no responders" for a
  // moment). Pipelined messages that JetStream refuses are still delivered to core NATS
  // subscribers of their subjects, and the resend would then reach those subscribers after
  // later versions they had already seen.
  const bool carefully = cb->publish_carefully.load();
  // After a failure the stream may hold more of msgs than the acks said (acks lost in a freeze
  // or a disconnect): what it holds is not sent again, so core subscribers, which get every
  // copy, do not see an old version again after newer ones.
  const auto left_ms = [&] {
    return static_cast<int>(std::max<std::int64_t>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  };
  const size_t start = carefully && !stream.empty() ? StoredPrefix(stream, msgs, left_ms()) : 0;
  if (start == msgs.size()) {
    std::lock_guard<std::mutex> lock(cb->mu);
    cb->batch = nullptr;
    return start;
  }
  std::fill(batch.acked.begin(), batch.acked.begin() + static_cast<std::ptrdiff_t>(start), 1);
  size_t sent = start;
  Status send_error;
  for (size_t i = start; i < msgs.size(); ++i) {
    const size_t window = carefully && i == start + 1 ? 1 : kPublishWindow;
    {
      std::unique_lock<std::mutex> lock(cb->mu);
      cb->cv.wait_until(lock, deadline,
                        [&] { return batch.inflight.size() < window || batch.first_failed < i; });
      // Past a failure the prefix is fixed, so sending more would only create duplicates.
      if (batch.first_failed < i || batch.inflight.size() >= window) break;
      if (carefully && i == start + 1 && batch.acked[start] != 0) {
        cb->publish_carefully.store(false);
      }
    }
    const OutMessage& m = msgs[i];
    natsMsg* nm = nullptr;
    natsStatus s = natsMsg_Create(&nm, m.subject.c_str(), nullptr, m.payload.data(),
                                  static_cast<int>(m.payload.size()));
    if (s != NATS_OK) {
      send_error = NatsFailure(
          what + ": create message " + std::to_string(i) + " for subject '" + m.subject + "'", s);
      break;
    }
    if (Status hs = SetHeaders(nm, m.headers, m.subject); !hs.ok()) {
      natsMsg_Destroy(nm);
      send_error = hs;
      break;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    if (!m.msg_id.empty()) po.MsgId = m.msg_id.c_str();
    // Chained to its predecessor: JetStream stores msgs[i] only right after msgs[i-1], so a
    // refusal of one message (say "no responders" while a restarted server is still recovering
    // the stream) also refuses every later one in the pipe instead of letting them overtake it.
    // JetStream checks the msg id for a duplicate first, so resending a stored run still acks.
    if (i > 0 && !msgs[i - 1].msg_id.empty()) po.ExpectLastMsgId = msgs[i - 1].msg_id.c_str();
    natsMsg* registered = nm;
    {
      // Registered before sending: the ack can arrive before js_PublishMsgAsync returns.
      std::lock_guard<std::mutex> lock(cb->mu);
      batch.inflight.emplace(registered, i);
    }
    s = js_PublishMsgAsync(conn_->js, &nm, &po);
    if (s != NATS_OK) {
      // On failure NATS.c gives the message back (nm is still set) and will not ack it.
      {
        std::lock_guard<std::mutex> lock(cb->mu);
        batch.inflight.erase(registered);
      }
      natsMsg_Destroy(nm);
      send_error = NatsFailure(
          what + ": send message " + std::to_string(i) + " (subject '" + m.subject + "')", s);
      break;
    }
    conn_->async_publish_used = true;
    sent = i + 1;
  }

  {
    std::unique_lock<std::mutex> lock(cb->mu);
    cb->cv.wait_until(lock, deadline, [&] { return batch.completed == sent - start; });
    cb->batch = nullptr;  // from here on, acks for this batch are ignored
  }
  if (batch.completed != sent - start) {
    // Take the unacked messages back from NATS.c so that it does not track them forever.
    natsMsgList pending{};
    if (js_PublishAsyncGetPendingList(&pending, conn_->js) == NATS_OK) {
      natsMsgList_Destroy(&pending);
    }
  }

  size_t prefix = 0;
  while (prefix < sent && batch.acked[prefix] != 0) ++prefix;
  if (prefix == msgs.size()) {
    if (msgs.size() == start + 1) cb->publish_carefully.store(false);
    return prefix;
  }
  cb->publish_carefully.store(true);

  Status why;
  const OutMessage& m = msgs[prefix];
  const std::string which = "message " + std::to_string(prefix) + " (subject '" + m.subject + "'" +
                            (m.msg_id.empty() ? "" : ", msg id '" + m.msg_id + "'") + ")";
  if (prefix == batch.first_failed) {
    why = Status::IoError(what + ": JetStream did not store " + which + ": " +
                          batch.first_failed_error);
  } else if (prefix < sent) {
    why = Status::IoError(what + ": no ack for " + which + " within " + std::to_string(timeout_ms) +
                          " ms" + (conn_->connected() ? "" : " (connection lost)"));
  } else if (!send_error.ok()) {
    why = send_error;
  } else {
    why = Status::IoError(what + ": " + which + " not sent within " + std::to_string(timeout_ms) +
                          " ms (acks for earlier messages too slow)");
  }
  if (prefix == 0) return why;
  if (why_short != nullptr) *why_short = why;
  return prefix;
}

Status NatsClient::Publish(const std::string& subject, std::string_view payload,
                           const Headers& headers) {
  const std::string what = "publish to '" + subject + "' at " + url();
  natsMsg* nm = nullptr;
  natsStatus s = natsMsg_Create(&nm, subject.c_str(), nullptr, payload.data(),
                                static_cast<int>(payload.size()));
  if (s != NATS_OK) return NatsFailure(what + ": create message", s);
  if (Status hs = SetHeaders(nm, headers, subject); !hs.ok()) {
    natsMsg_Destroy(nm);
    return hs;
  }
  s = natsConnection_PublishMsg(conn_->nc, nm);
  natsMsg_Destroy(nm);
  if (s != NATS_OK) return NatsFailure(what, s);
  return Status::Ok();
}

Result<std::unique_ptr<PullConsumer>> NatsClient::MakePullConsumer(
    const std::string& stream, const std::string& durable, const std::string& filter_subject,
    int ack_wait_seconds) {
  const std::string what = "pull consumer '" + durable + "' on stream '" + stream + "' (filter '" +
                           filter_subject + "') at " + url();
  if (stream.empty()) return Status::Invalid(what + ": empty stream name");
  if (durable.empty() || durable.find_first_of(".*> \t") != std::string::npos) {
    return Status::Invalid(what + ": durable name must be non-empty without '.', '*', '>', spaces");
  }
  if (ack_wait_seconds < 1) return Status::Invalid(what + ": ack_wait_seconds must be >= 1");
  if (!conn_->connected()) return conn_->NotConnected(what);
  const int64_t ack_wait = int64_t{ack_wait_seconds} * kNanosPerSecond;
  constexpr int64_t kMaxAckPending = 10000;

  // Created explicitly (not by js_PullSubscribe) so that NATS.c never deletes it on unsubscribe.
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      js_GetConsumerInfo(&ci, conn_->js, stream.c_str(), durable.c_str(), nullptr, &jerr);
  if (jerr == JSStreamNotFoundErr) return Status::NotFound(what + ": no such stream");
  if (s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr) {
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = durable.c_str();
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = ack_wait;
    cc.DeliverPolicy = js_DeliverAll;
    cc.MaxAckPending = kMaxAckPending;
    if (!filter_subject.empty()) cc.FilterSubject = filter_subject.c_str();
    jerr = static_cast<jsErrCode>(0);
    s = js_AddConsumer(&ci, conn_->js, stream.c_str(), &cc, nullptr, &jerr);
    if (s != NATS_OK) return NatsFailure(what + ": create", s, jerr);
  } else if (s != NATS_OK) {
    return NatsFailure(what + ": get consumer info", s, jerr);
  } else {
    const jsConsumerConfig& have = *ci->Config;
    const std::string have_filter = have.FilterSubject != nullptr ? have.FilterSubject : "";
    if (have_filter != filter_subject || have.AckWait != ack_wait ||
        have.AckPolicy != js_AckExplicit || have.MaxAckPending != kMaxAckPending) {
      jsConsumerConfig cc = have;
      cc.AckPolicy = js_AckExplicit;
      cc.AckWait = ack_wait;
      cc.MaxAckPending = kMaxAckPending;
      cc.FilterSubject = filter_subject.empty() ? nullptr : filter_subject.c_str();
      jsConsumerInfo* updated = nullptr;
      jerr = static_cast<jsErrCode>(0);
      s = js_UpdateConsumer(&updated, conn_->js, stream.c_str(), &cc, nullptr, &jerr);
      jsConsumerInfo_Destroy(updated);
      if (s != NATS_OK) {
        jsConsumerInfo_Destroy(ci);
        return NatsFailure(what + ": update existing consumer (filter '" + have_filter +
                               "', ack_wait " + std::to_string(have.AckWait / kNanosPerSecond) +
                               " s)",
                           s, jerr);
      }
    }
  }
  jsConsumerInfo_Destroy(ci);

  auto ps = std::make_shared<internal::PullSub>();
  ps->conn = conn_;
  ps->stream = stream;
  ps->durable = durable;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Consumer = durable.c_str();
  jerr = static_cast<jsErrCode>(0);
  s = js_PullSubscribe(&ps->sub, conn_->js, filter_subject.c_str(), durable.c_str(), nullptr, &so,
                       &jerr);
  if (s != NATS_OK) {
    ps->sub = nullptr;
    return NatsFailure(what + ": subscribe", s, jerr);
  }
  return std::unique_ptr<PullConsumer>(new PullConsumer(std::move(ps)));
}

Result<std::vector<InMessage>> NatsClient::ReadStream(const std::string& stream,
                                                      const std::string& filter_subject,
                                                      uint64_t start_seq, int max, int timeout_ms) {
  const std::string what = "read stream '" + stream + "' (filter '" + filter_subject +
                           "') from seq " + std::to_string(start_seq) + " at " + url();
  if (max < 1) return Status::Invalid(what + ": max must be >= 1");
  if (!connected()) return conn_->NotConnected(what);
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 1));

  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = std::max<uint64_t>(start_seq, 1);
  so.Config.AckPolicy = js_AckExplicit;  // NATS.c refuses AckNone for pull consumers
  so.Config.MaxAckPending = max;         // we never ack, so allow all `max` out at once
  so.Config.MemoryStorage = true;
  // If we crash before deleting it, the server drops the consumer after this idle time.
  so.Config.InactiveThreshold = 60 * kNanosPerSecond;
  if (!filter_subject.empty()) so.Config.FilterSubject = filter_subject.c_str();
  natsSubscription* sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s =
      js_PullSubscribe(&sub, conn_->js, filter_subject.empty() ? ">" : filter_subject.c_str(),
                       nullptr, nullptr, &so, &jerr);
  if (s != NATS_OK) {
    if (jerr == JSStreamNotFoundErr) return Status::NotFound(what + ": no such stream");
    return NatsFailure(what + ": create ephemeral consumer", s, jerr);
  }

  std::vector<InMessage> out;
  Status error;
  // The consumer's pending count says how much there is, so we can stop without waiting for
  // a fetch timeout when the stream has nothing (more) to give.
  uint64_t pending = 1;
  jsConsumerInfo* ci = nullptr;
  if (natsSubscription_GetConsumerInfo(&ci, sub, nullptr, nullptr) == NATS_OK) {
    pending = ci->NumPending;
    jsConsumerInfo_Destroy(ci);
  }
  while (pending > 0 && out.size() < static_cast<size_t>(max)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    const int batch = static_cast<int>(std::min<size_t>(max - out.size(), 256));
    natsMsgList list{};
    jerr = static_cast<jsErrCode>(0);
    s = natsSubscription_Fetch(&list, sub, batch, left, &jerr);
    for (int i = 0; i < list.Count; ++i) {
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, list.Msgs[i]) == NATS_OK) {
        pending = meta->NumPending;
        jsMsgMetaData_Destroy(meta);
      }
      out.push_back(internal::MsgAccess::Make(list.Msgs[i], nullptr, /*ackable=*/false));
      list.Msgs[i] = nullptr;
    }
    const int got = list.Count;
    natsMsgList_Destroy(&list);
    if (s == NATS_TIMEOUT || got == 0) break;
    if (s != NATS_OK) {
      error = NatsFailure(what + ": fetch", s, jerr);
      break;
    }
  }
  // Unsubscribe (not just destroy) so the server deletes the ephemeral consumer now.
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  if (!error.ok() && out.empty()) return error;
  return out;
}

Result<std::unique_ptr<Subscription>> NatsClient::Subscribe(const std::string& subject,
                                                            std::function<void(InMessage)> fn) {
  const std::string what = "subscribe to '" + subject + "' at " + url();
  if (!fn) return Status::Invalid(what + ": no callback");
  auto cs = std::make_shared<internal::CoreSub>();
  cs->conn = conn_;
  cs->subject = subject;
  cs->fn = std::move(fn);
  natsStatus s =
      natsConnection_Subscribe(&cs->sub, conn_->nc, subject.c_str(), internal::OnCoreMsg, cs.get());
  if (s != NATS_OK) {
    cs->sub = nullptr;
    return NatsFailure(what, s);
  }
  s = natsSubscription_SetOnCompleteCB(cs->sub, internal::OnCoreSubComplete, cs.get());
  if (s != NATS_OK) return NatsFailure(what + ": set completion callback", s);
  return std::unique_ptr<Subscription>(new Subscription(std::move(cs)));
}

Status NatsClient::Flush(int timeout_ms) {
  const natsStatus s = natsConnection_FlushTimeout(conn_->nc, std::max(timeout_ms, 1));
  if (s != NATS_OK) return NatsFailure("flush connection to " + url(), s);
  return Status::Ok();
}

}  // namespace waybill::nats
