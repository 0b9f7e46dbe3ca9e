// Proves the portal permissions of deploy/nats-accounts.conf against a real nats-server.
//
// The server runs that very file: the test copies it into a temp dir with only the `listen:`
// line (a free loopback port) and the JetStream `store_dir:` (inside the temp dir) replaced,
// and fails if either line cannot be found, so the test cannot silently check another config.
// The Waybill side uses the project's client (waybill::nats::NatsClient, JetStream publishing
// as `waybill serve` does it); the portals use NATS.c directly, because a permission violation
// only shows through NATS.c's asynchronous error handler: the server answers
// "-ERR 'Permissions Violation for Subscription to "..."'" (or "... for Publish to ..."),
// keeps the connection open and delivers nothing; NATS.c then calls the error handler with
// NATS_NOT_PERMITTED and natsConnection_GetLastError returns that text.
//
// "Nothing arrived" is never a bare timeout: after the denied attempt a marker message is sent
// that the same receiver does get, and since NATS keeps the order of one publisher's messages
// to one connection, anything denied-but-delivered would have come first.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server/nats/nats_client.h"
#include "tests/child_process.h"
#include "tests/test_util.h"

namespace waybill::testing {
namespace {

using Clock = std::chrono::steady_clock;
using nats::NatsClient;

// The placeholder credentials of deploy/nats-accounts.conf (checked against the file below).
constexpr std::string_view kWaybillUser = "waybill";
constexpr std::string_view kWaybillPassword = "CHANGE-ME-waybill";
constexpr std::string_view kAcmeUser = "portal-ACME";
constexpr std::string_view kAcmePassword = "CHANGE-ME-portal-ACME";
constexpr std::string_view kGlobexUser = "portal-GLOBEX";
constexpr std::string_view kGlobexPassword = "CHANGE-ME-portal-GLOBEX";

// Generous: the test must pass on a loaded 2-core machine, under ASan too.
constexpr int kWaitMs = 20'000;
// How long a "should not arrive" check keeps looking after its marker already arrived.
constexpr int kQuietMs = 300;

std::string SourcePath(const std::string& rel) {
  const char* src = std::getenv("WAYBILL_SOURCE_DIR");
  if (src == nullptr || *src == '\0') {
    throw std::runtime_error(
        "WAYBILL_SOURCE_DIR is not set (ctest sets it; run by hand with "
        "WAYBILL_SOURCE_DIR=/path/to/source)");
  }
  return std::string(src) + "/" + rel;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

std::string FindNatsServer() {
  if (const char* env = std::getenv("WAYBILL_NATS_SERVER"); env != nullptr && *env != '\0') {
    return env;
  }
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      if (dir.empty()) continue;
      const std::string candidate = dir + "/nats-server";
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  if (access("/usr/sbin/nats-server", X_OK) == 0) return "/usr/sbin/nats-server";
  throw std::runtime_error(
      "nats-server not found: set WAYBILL_NATS_SERVER or put nats-server on PATH");
}

// Binds port 0 on loopback and returns what the kernel chose (as tests/nats_test_server.h).
int PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string err = std::strerror(errno);
    close(fd);
    throw std::runtime_error("pick a free loopback port: " + err);
  }
  close(fd);
  return ntohs(addr.sin_port);
}

bool CanConnect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Runs `args` to completion (up to 30 s) with its output in `log`; returns the exit status.
int RunToCompletion(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = SpawnWithLog(args, log);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  int wstatus = 0;
  while (Clock::now() < deadline) {
    if (waitpid(pid, &wstatus, WNOHANG) == pid) {
      return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

// The deploy file with its `listen:` and `store_dir:` lines replaced (indentation kept).
// Throws unless each occurs exactly once as a setting (comments are left alone).
std::string AdaptConfig(const std::string& conf, int port, const std::string& store_dir) {
  std::stringstream in(conf);
  std::string out;
  std::string line;
  int listens = 0;
  int store_dirs = 0;
  while (std::getline(in, line)) {
    const size_t indent = line.find_first_not_of(' ');
    const std::string_view body =
        indent == std::string::npos ? std::string_view() : std::string_view(line).substr(indent);
    if (body.starts_with("listen:")) {
      line = line.substr(0, indent) + "listen: 127.0.0.1:" + std::to_string(port);
      ++listens;
    } else if (body.starts_with("store_dir:")) {
      line = line.substr(0, indent) + "store_dir: \"" + store_dir + "\"";
      ++store_dirs;
    }
    out += line;
    out += '\n';
  }
  if (listens != 1 || store_dirs != 1) {
    throw std::runtime_error(
        "deploy/nats-accounts.conf must have exactly one `listen:` and one `store_dir:` line "
        "(found " +
        std::to_string(listens) + " and " + std::to_string(store_dirs) + ")");
  }
  return out;
}

// nats-server running the adapted deploy/nats-accounts.conf. Stopped (SIGTERM, then SIGKILL
// after 10 s) on destruction. Drive it from the thread that constructed it (PR_SET_PDEATHSIG).
class AccountsServer {
 public:
  AccountsServer() : binary_(FindNatsServer()), port_(PickFreePort()) {
    const std::string deploy = ReadFile(SourcePath("deploy/nats-accounts.conf"));
    WriteFile(config_path(), AdaptConfig(deploy, port_, dir_.Sub("jetstream")));
    pid_ = SpawnWithLog({binary_, "-c", config_path()}, log_path());
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      int wstatus = 0;
      if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("nats-server exited during startup (status " +
                                 std::to_string(wstatus) + "); log:\n" + LogTail());
      }
      if (CanConnect(port_)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Stop();
    throw std::runtime_error("nats-server did not listen on 127.0.0.1:" + std::to_string(port_) +
                             " within 30 s; log:\n" + LogTail());
  }
  ~AccountsServer() { Stop(); }
  AccountsServer(const AccountsServer&) = delete;
  AccountsServer& operator=(const AccountsServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  // The URL with credentials, as `waybill serve --nats` takes it.
  std::string url_as(std::string_view user, std::string_view password) const {
    return "nats://" + std::string(user) + ":" + std::string(password) +
           "@127.0.0.1:" + std::to_string(port_);
  }
  std::string config_path() const { return dir_.Sub("nats.conf"); }
  std::string log_path() const { return dir_.Sub("nats-server.log"); }
  std::string LogTail(size_t max_bytes = 4000) const {
    std::ifstream in(log_path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string s = ss.str();
    return s.size() > max_bytes ? s.substr(s.size() - max_bytes) : s;
  }

 private:
  void Stop() {
    if (pid_ <= 0) return;
    const pid_t pid = pid_;
    pid_ = -1;
    kill(pid, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      const pid_t r = waitpid(pid, nullptr, WNOHANG);
      if (r == pid || (r < 0 && errno == ECHILD)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }

  TempDir dir_;
  std::string binary_;
  int port_;
  pid_t pid_ = -1;
};

std::string StatusText(natsStatus s) { return natsStatus_GetText(s); }

// One NATS.c connection as a portal would open it, recording every asynchronous error.
class RawConnection {
 public:
  // Connects as user/password (both empty: anonymously). Returns nullptr and sets *status and
  // *error when the server refuses. No reconnects: a dropped connection must show up as such.
  static std::unique_ptr<RawConnection> Connect(const std::string& url, std::string_view user,
                                                std::string_view password, natsStatus* status,
                                                std::string* error) {
    auto c = std::unique_ptr<RawConnection>(new RawConnection());
    natsStatus s = natsOptions_Create(&c->opts_);
    if (s == NATS_OK) s = natsOptions_SetURL(c->opts_, url.c_str());
    if (s == NATS_OK && !user.empty()) {
      s = natsOptions_SetUserInfo(c->opts_, std::string(user).c_str(),
                                  std::string(password).c_str());
    }
    if (s == NATS_OK) s = natsOptions_SetTimeout(c->opts_, 10'000);
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(c->opts_, false);
    if (s == NATS_OK) s = natsOptions_SetErrorHandler(c->opts_, &RawConnection::OnError, c.get());
    if (s == NATS_OK) s = natsOptions_SetClosedCB(c->opts_, &RawConnection::OnClosed, c.get());
    if (s == NATS_OK) s = natsConnection_Connect(&c->nc_, c->opts_);
    *status = s;
    if (s != NATS_OK) {
      const char* last = nats_GetLastError(nullptr);
      *error = StatusText(s) + (last != nullptr ? std::string(": ") + last : std::string());
      c->nc_ = nullptr;
      return nullptr;
    }
    return c;
  }

  ~RawConnection() {
    if (nc_ != nullptr) {
      natsConnection_Close(nc_);
      // Callbacks run on NATS.c's callback thread in the order they were posted: once the
      // closed callback ran, no callback refers to `this` any more.
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(kWaitMs), [&] { return closed_; });
      lock.unlock();
      natsConnection_Destroy(nc_);
    }
    if (opts_ != nullptr) natsOptions_Destroy(opts_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  natsConnection* nc() const { return nc_; }
  bool connected() const { return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED; }

  // PING/PONG: the server has processed everything this connection sent before.
  void Flush() {
    const natsStatus s = natsConnection_FlushTimeout(nc_, kWaitMs);
    REQUIRE_MESSAGE(s == NATS_OK, "flush: ", StatusText(s));
  }

  // Checks that the server refused what this connection just sent with an error containing
  // `needle`, both ways NATS.c reports it. The server sends "-ERR" before the PONG that ends
  // Flush(), so once Flush() returned, natsConnection_GetLastError already has it (no waiting;
  // it is sticky, so the needle must name the subject); the error handler runs a bit later on
  // NATS.c's callback thread. The connection stays open.
  void ExpectRefused(const std::string& needle) {
    Flush();
    const char* text = nullptr;
    const natsStatus last = natsConnection_GetLastError(nc_, &text);
    const std::string last_text = text != nullptr ? text : "";
    CHECK_MESSAGE(last == NATS_NOT_PERMITTED, "not refused: last error is ", StatusText(last), " '",
                  last_text, "' (expected '", needle, "')");
    CHECK_MESSAGE(last_text.find(needle) != std::string::npos, "last error is '", last_text,
                  "', expected it to contain '", needle, "'");
    if (last == NATS_NOT_PERMITTED && last_text.find(needle) != std::string::npos) {
      std::unique_lock<std::mutex> lock(mu_);
      const bool reported = cv_.wait_for(lock, std::chrono::milliseconds(kWaitMs), [&] {
        return std::any_of(errors_.begin(), errors_.end(), [&](const std::string& e) {
          return e.find(needle) != std::string::npos;
        });
      });
      CHECK_MESSAGE(reported, "the error handler did not report '", needle,
                    "'; it reported:", Joined());
    }
    CHECK_MESSAGE(connected(), "the connection did not stay open");
  }

  std::vector<std::string> errors() const {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }
  std::string ErrorsText() const {
    std::lock_guard<std::mutex> lock(mu_);
    return Joined();
  }

 private:
  RawConnection() = default;

  std::string Joined() const {
    std::string s;
    for (const std::string& e : errors_) s += "\n  " + e;
    return s.empty() ? std::string(" (none)") : s;
  }

  static void OnError(natsConnection* nc, natsSubscription* /*sub*/, natsStatus err,
                      void* closure) {
    auto* self = static_cast<RawConnection*>(closure);
    const char* text = nullptr;
    natsConnection_GetLastError(nc, &text);
    std::lock_guard<std::mutex> lock(self->mu_);
    self->errors_.push_back(StatusText(err) + ": " + (text != nullptr ? text : ""));
    self->cv_.notify_all();
  }
  static void OnClosed(natsConnection* /*nc*/, void* closure) {
    auto* self = static_cast<RawConnection*>(closure);
    std::lock_guard<std::mutex> lock(self->mu_);
    self->closed_ = true;
    self->cv_.notify_all();
  }

  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> errors_;
  bool closed_ = false;
};

std::unique_ptr<RawConnection> MustConnectRaw(const AccountsServer& server, std::string_view user,
                                              std::string_view password) {
  natsStatus s = NATS_OK;
  std::string error;
  auto c = RawConnection::Connect(server.url(), user, password, &s, &error);
  REQUIRE_MESSAGE(c != nullptr, "connect as ", user, ": ", error, "\nnats-server log:\n",
                  server.LogTail());
  return c;
}

struct Received {
  std::string subject;
  std::string payload;
};

// A synchronous core subscription of a RawConnection.
class SyncSub {
 public:
  SyncSub(RawConnection& conn, const std::string& subject) : subject_(subject) {
    const natsStatus s = natsConnection_SubscribeSync(&sub_, conn.nc(), subject.c_str());
    REQUIRE_MESSAGE(s == NATS_OK, "subscribe to ", subject, ": ", StatusText(s));
  }
  ~SyncSub() { natsSubscription_Destroy(sub_); }
  SyncSub(const SyncSub&) = delete;
  SyncSub& operator=(const SyncSub&) = delete;

  // The next message, or nullopt after timeout_ms.
  std::optional<Received> Next(int timeout_ms) {
    natsMsg* msg = nullptr;
    const natsStatus s = natsSubscription_NextMsg(&msg, sub_, timeout_ms);
    if (s == NATS_TIMEOUT) return std::nullopt;
    REQUIRE_MESSAGE(s == NATS_OK, "next message on ", subject_, ": ", StatusText(s));
    Received r{natsMsg_GetSubject(msg),
               std::string(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)))};
    natsMsg_Destroy(msg);
    return r;
  }

  // Everything that arrives within timeout_ms, as "subject payload" lines (for messages).
  std::vector<std::string> Drain(int timeout_ms) {
    std::vector<std::string> out;
    while (auto m = Next(timeout_ms)) out.push_back(m->subject + " " + m->payload);
    return out;
  }

 private:
  std::string subject_;
  natsSubscription* sub_ = nullptr;
};

std::string Lines(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += "\n  " + x;
  return s.empty() ? std::string(" (none)") : s;
}

std::unique_ptr<NatsClient> ConnectWaybill(const AccountsServer& server) {
  nats::NatsOptions o;
  o.url = server.url_as(kWaybillUser, kWaybillPassword);
  o.name = "waybill-permissions-test";
  auto c = NatsClient::Connect(o);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  std::unique_ptr<NatsClient> client = std::move(c).value();
  const auto deadline = Clock::now() + std::chrono::milliseconds(kWaitMs);
  while (!client->connected() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE_MESSAGE(client->connected(), "the waybill user could not connect; nats-server log:\n",
                  server.LogTail());
  return client;
}

// Subjects a NatsClient subscription received, in order.
class Collector {
 public:
  std::function<void(nats::InMessage)> Callback() {
    return [this](nats::InMessage m) {
      std::lock_guard<std::mutex> lock(mu_);
      subjects_.push_back(m.subject);
      cv_.notify_all();
    };
  }
  bool WaitFor(const std::string& subject) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(kWaitMs), [&] {
      return std::find(subjects_.begin(), subjects_.end(), subject) != subjects_.end();
    });
  }
  std::vector<std::string> subjects() const {
    std::lock_guard<std::mutex> lock(mu_);
    return subjects_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> subjects_;
};

TEST_CASE("deploy/nats-accounts.conf passes nats-server -t unchanged") {
  const std::string conf = SourcePath("deploy/nats-accounts.conf");
  TempDir dir;
  const int rc = RunToCompletion({FindNatsServer(), "-t", "-c", conf}, dir.Sub("check.log"));
  CHECK_MESSAGE(rc == 0, "nats-server -t -c ", conf, " exited ", rc, ":\n",
                ReadFile(dir.Sub("check.log")));
  // The test logs in with the file's placeholder credentials: a change there must show here.
  const std::string text = ReadFile(conf);
  for (std::string_view s : {kWaybillPassword, kAcmePassword, kGlobexPassword}) {
    CHECK_MESSAGE(text.find("password: \"" + std::string(s) + "\"") != std::string::npos,
                  "deploy/nats-accounts.conf no longer has the placeholder password ", s);
  }
}

TEST_CASE("connections need the credentials of a configured user") {
  AccountsServer server;
  for (const auto& [user, password] : std::vector<std::pair<std::string_view, std::string_view>>{
           {"", ""}, {kAcmeUser, "wrong-password"}, {"portal-NOBODY", kAcmePassword}}) {
    CAPTURE(user);
    natsStatus s = NATS_OK;
    std::string error;
    auto c = RawConnection::Connect(server.url(), user, password, &s, &error);
    CHECK_MESSAGE(c == nullptr, "connected as '", user, "' with password '", password, "'");
    CHECK_MESSAGE(s == NATS_CONNECTION_AUTH_FAILED, "expected an authorization failure, got ",
                  error);
  }
}

TEST_CASE("waybill publishes views through JetStream; each portal receives its customer's only") {
  AccountsServer server;
  auto waybill = ConnectWaybill(server);

  // JetStream is enabled for the account: the server user can create the views stream as
  // `waybill serve` does (retried: JetStream may need a moment after the port opens).
  NatsClient::StreamSpec spec;
  spec.name = "WAYBILL_VIEWS";
  spec.subjects = {"waybill.views.>"};
  spec.max_msgs_per_subject = 10;
  Status ensured;
  const auto deadline = Clock::now() + std::chrono::milliseconds(kWaitMs);
  do {
    ensured = waybill->EnsureStream(spec);
    if (ensured.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (Clock::now() < deadline);
  REQUIRE_MESSAGE(ensured.ok(), ensured.ToString(), "\nnats-server log:\n", server.LogTail());

  auto acme = MustConnectRaw(server, kAcmeUser, kAcmePassword);
  auto globex = MustConnectRaw(server, kGlobexUser, kGlobexPassword);
  SyncSub acme_views(*acme, "waybill.views.*.ACME.>");
  SyncSub globex_views(*globex, "waybill.views.*.GLOBEX.>");
  acme->Flush();  // the server has registered the subscriptions (or refused them)
  globex->Flush();

  std::vector<NatsClient::OutMessage> msgs;
  for (const auto& [subject, payload] : std::vector<std::pair<std::string, std::string>>{
           {"waybill.views.status.ACME.SHP-1", R"({"view":"status","shipment_id":"SHP-1"})"},
           {"waybill.views.eta.GLOBEX.SHP-2", R"({"view":"eta","shipment_id":"SHP-2"})"},
           {"waybill.views.status._.SHP-3", R"({"view":"status","shipment_id":"SHP-3"})"},
           {"waybill.views.status.ACME%2EX.SHP-5", R"({"view":"status","shipment_id":"SHP-5"})"},
           {"waybill.views.freight_cost.ACME.SHP-4",
            R"({"view":"freight_cost","shipment_id":"SHP-4"})"},
       }) {
    NatsClient::OutMessage m;
    m.subject = subject;
    m.payload = payload;
    m.msg_id = subject;
    msgs.push_back(std::move(m));
  }
  auto acked = waybill->PublishOrdered(msgs, kWaitMs);
  REQUIRE_MESSAGE(acked.ok(), acked.status().ToString(), "\nnats-server log:\n", server.LogTail());
  REQUIRE(acked.value() == msgs.size());

  // ACME: its two views in order, then nothing (GLOBEX's, the unknown customer's "_" and the
  // look-alike customer "ACME.X" were published before the last one, so they would be here).
  auto first = acme_views.Next(kWaitMs);
  REQUIRE_MESSAGE(first.has_value(), "portal-ACME received nothing; errors:", acme->ErrorsText());
  CHECK(first->subject == "waybill.views.status.ACME.SHP-1");
  CHECK(first->payload == R"({"view":"status","shipment_id":"SHP-1"})");
  auto second = acme_views.Next(kWaitMs);
  REQUIRE(second.has_value());
  CHECK(second->subject == "waybill.views.freight_cost.ACME.SHP-4");
  const auto acme_extra = acme_views.Drain(kQuietMs);
  CHECK_MESSAGE(acme_extra.empty(), "portal-ACME also received:", Lines(acme_extra));

  auto g = globex_views.Next(kWaitMs);
  REQUIRE_MESSAGE(g.has_value(), "portal-GLOBEX received nothing; errors:", globex->ErrorsText());
  CHECK(g->subject == "waybill.views.eta.GLOBEX.SHP-2");
  // GLOBEX's only message came before ACME's last; anything else for it was queued by now.
  const auto globex_extra = globex_views.Drain(kQuietMs);
  CHECK_MESSAGE(globex_extra.empty(), "portal-GLOBEX also received:", Lines(globex_extra));

  CHECK_MESSAGE(acme->errors().empty(), "portal-ACME errors:", acme->ErrorsText());
  CHECK_MESSAGE(globex->errors().empty(), "portal-GLOBEX errors:", globex->ErrorsText());
}

TEST_CASE("a portal cannot subscribe to another customer's views nor to all views") {
  AccountsServer server;
  auto waybill = ConnectWaybill(server);
  auto acme = MustConnectRaw(server, kAcmeUser, kAcmePassword);

  SyncSub own(*acme, "waybill.views.*.ACME.>");
  std::vector<std::unique_ptr<SyncSub>> denied;
  for (const std::string subject :
       {"waybill.views.*.GLOBEX.>", "waybill.views.>", "waybill.views.*.*.>",
        "waybill.views.status.GLOBEX.SHP-2", "waybill.>", ">", "_INBOX.>"}) {
    CAPTURE(subject);
    denied.push_back(std::make_unique<SyncSub>(*acme, subject));
    acme->ExpectRefused("Permissions Violation for Subscription to \"" + subject + "\"");
  }

  // GLOBEX's view first, then ACME's as the marker: once the marker is in, a GLOBEX delivery
  // would have been too (and "waybill.views.>" would even have matched the marker itself).
  REQUIRE(waybill->Publish("waybill.views.status.GLOBEX.SHP-2", "globex").ok());
  REQUIRE(waybill->Publish("waybill.views.status.ACME.SHP-1", "acme").ok());
  REQUIRE(waybill->Flush(kWaitMs).ok());

  auto marker = own.Next(kWaitMs);
  REQUIRE_MESSAGE(marker.has_value(),
                  "portal-ACME's own subscription received nothing; errors:", acme->ErrorsText());
  CHECK(marker->subject == "waybill.views.status.ACME.SHP-1");
  CHECK(own.Drain(kQuietMs).empty());
  for (auto& sub : denied) {
    const auto got = sub->Drain(kQuietMs);
    CHECK_MESSAGE(got.empty(), "a refused subscription received:", Lines(got));
  }
}

TEST_CASE("a portal can publish nothing") {
  AccountsServer server;
  auto waybill = ConnectWaybill(server);
  Collector seen;
  auto everything = waybill->Subscribe(">", seen.Callback());
  REQUIRE_MESSAGE(everything.ok(), everything.status().ToString());
  REQUIRE(waybill->Flush(kWaitMs).ok());

  auto acme = MustConnectRaw(server, kAcmeUser, kAcmePassword);
  const std::vector<std::string> attempts = {
      "waybill.views.status.ACME.SHP-1",    // even its own customer's view subject
      "waybill.ingest.canonical",           // intake
      "waybill.query.shipment",             // request/reply queries (a separate user's job)
      "waybill.events.milestone.SHP-1",     // the event feed
      "$JS.API.STREAM.INFO.WAYBILL_VIEWS",  // the JetStream API
      "$JS.API.CONSUMER.CREATE.WAYBILL_VIEWS",
      "_INBOX.reply",
  };
  for (const std::string& subject : attempts) {
    CAPTURE(subject);
    const natsStatus s = natsConnection_PublishString(acme->nc(), subject.c_str(), "portal");
    // The client only buffers; the refusal comes back asynchronously.
    CHECK_MESSAGE(s == NATS_OK, "publish: ", StatusText(s));
    acme->ExpectRefused("Permissions Violation for Publish to \"" + subject + "\"");
  }

  // Marker from the waybill side, sent after every refused publish was processed: once it is
  // in, anything the portal got through would have been delivered before it.
  const std::string marker = "waybill.test.marker";
  REQUIRE(waybill->Publish(marker, "marker").ok());
  REQUIRE_MESSAGE(seen.WaitFor(marker), "the waybill subscriber missed its own marker");
  std::vector<std::string> leaked;
  for (const std::string& s : seen.subjects()) {
    if (std::find(attempts.begin(), attempts.end(), s) != attempts.end()) leaked.push_back(s);
  }
  CHECK_MESSAGE(leaked.empty(),
                "the waybill subscriber received portal messages on:", Lines(leaked),
                "\nall subjects it saw:", Lines(seen.subjects()));
}

}  // namespace
}  // namespace waybill::testing
