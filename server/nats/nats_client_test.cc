// Integration tests of the NATS.c wrapper against a real nats-server (tests/nats_test_server.h).

#include "server/nats/nats_client.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/nats_test_server.h"

namespace waybill::nats {
namespace {

using Clock = std::chrono::steady_clock;
using testing::NatsTestServer;

bool WaitFor(const std::function<bool()>& pred, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

std::unique_ptr<NatsClient> MustConnect(const std::string& url,
                                        std::function<void(bool)> on_state = nullptr) {
  NatsOptions o;
  o.url = url;
  o.reconnect_wait_ms = 100;  // quick recovery keeps the outage tests short
  o.on_state_change = std::move(on_state);
  auto c = NatsClient::Connect(o);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  return std::move(c).value();
}

std::vector<NatsClient::OutMessage> MakeMessages(const std::string& subject, int n,
                                                 const std::string& id_prefix) {
  std::vector<NatsClient::OutMessage> out;
  for (int i = 0; i < n; ++i) {
    NatsClient::OutMessage m;
    m.subject = subject;
    m.payload = "payload-" + std::to_string(i);
    m.msg_id = id_prefix + std::to_string(i);
    m.headers = {{"Waybill-Partner", "P" + std::to_string(i % 7)}};
    out.push_back(std::move(m));
  }
  return out;
}

// Fetches until `want` messages arrived or timeout_ms passed.
std::vector<InMessage> FetchN(PullConsumer& c, size_t want, int timeout_ms) {
  std::vector<InMessage> got;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (got.size() < want && Clock::now() < deadline) {
    auto r = c.Fetch(static_cast<int>(want - got.size()), 500);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    for (InMessage& m : *r) got.push_back(std::move(m));
  }
  return got;
}

TEST_CASE("Connect rejects malformed URLs") {
  for (const char* url : {"", "localhost:4222", "http://x:1", "nats://", "nats://h:99999",
                          "nats://h:4222,nats://bad host:1"}) {
    NatsOptions o;
    o.url = url;
    auto c = NatsClient::Connect(o);
    CHECK_MESSAGE(!c.ok(), url);
    if (!c.ok()) CHECK(c.status().code() == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("EnsureStream creates, is idempotent, and updates limits") {
  NatsTestServer server;
  auto client = MustConnect(server.url());
  NatsClient::StreamSpec spec;
  spec.name = "VIEWS";
  spec.subjects = {"waybill.views.>"};
  spec.max_msgs_per_subject = 2;

  CHECK(client->GetStreamInfo("VIEWS").status().code() == ErrorCode::kNotFound);
  REQUIRE(client->EnsureStream(spec).ok());
  auto info = client->GetStreamInfo("VIEWS");
  REQUIRE_MESSAGE(info.ok(), info.status().ToString());
  CHECK(info->spec.subjects == std::vector<std::string>{"waybill.views.>"});
  CHECK(info->spec.max_msgs_per_subject == 2);
  CHECK(info->spec.duplicate_window_seconds == 120);

  // The per-subject limit is enforced: 5 publishes on one subject keep 2.
  auto r = client->PublishOrdered(MakeMessages("waybill.views.status.c1.s1", 5, "a"), 5000);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(*r == 5);
  CHECK(client->GetStreamInfo("VIEWS")->messages == 2);

  // Same spec again: no change, nothing lost.
  REQUIRE(client->EnsureStream(spec).ok());
  info = client->GetStreamInfo("VIEWS");
  CHECK(info->messages == 2);
  CHECK(info->last_seq == 5);

  // Raising the limit updates the stream in place (messages kept) and takes effect.
  spec.max_msgs_per_subject = 4;
  spec.subjects = {"waybill.views.>", "waybill.extra.>"};
  REQUIRE(client->EnsureStream(spec).ok());
  info = client->GetStreamInfo("VIEWS");
  CHECK(info->spec.max_msgs_per_subject == 4);
  CHECK(info->spec.subjects.size() == 2);
  CHECK(info->messages == 2);
  r = client->PublishOrdered(MakeMessages("waybill.views.status.c1.s1", 5, "b"), 5000);
  REQUIRE(r.ok());
  CHECK(client->GetStreamInfo("VIEWS")->messages == 4);

  // A server-side rejection comes back as an error naming the stream.
  NatsClient::StreamSpec clash;
  clash.name = "OTHER";
  clash.subjects = {"waybill.views.x.>"};  // overlaps VIEWS
  Status st = client->EnsureStream(clash);
  CHECK(!st.ok());
  CHECK(st.message().find("OTHER") != std::string::npos);
}

TEST_CASE("PublishOrdered pipelines, dedupes by msg id, and reads back in order") {
  NatsTestServer server;
  auto client = MustConnect(server.url());
  REQUIRE(client->EnsureStream({.name = "INGEST", .subjects = {"waybill.ingest.>"}}).ok());

  const auto msgs = MakeMessages("waybill.ingest.x12", 1000, "id-");
  auto start = Clock::now();
  auto r = client->PublishOrdered(msgs, 10000);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(*r == 1000);
  MESSAGE("1000 acked publishes took "
          << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()
          << " ms");

  // Resending the same messages (as after an ambiguous failure) is acked but stored once.
  r = client->PublishOrdered(msgs, 10000);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(*r == 1000);
  CHECK(client->GetStreamInfo("INGEST")->messages == 1000);

  auto back = client->ReadStream("INGEST", "waybill.ingest.x12", 1, 5000, 5000);
  REQUIRE_MESSAGE(back.ok(), back.status().ToString());
  REQUIRE(back->size() == 1000);
  for (size_t i = 0; i < back->size(); ++i) {
    const InMessage& m = (*back)[i];
    CHECK(m.subject == "waybill.ingest.x12");
    CHECK(m.payload == msgs[i].payload);
    CHECK(m.stream_seq == i + 1);
    CHECK(m.headers.at("Nats-Msg-Id") == msgs[i].msg_id);
    CHECK(m.headers.at("Waybill-Partner") == msgs[i].headers[0].second);
    CHECK(!m.ackable());
    if (m.payload != msgs[i].payload) break;  // one report is enough
  }
  CHECK(!(*back)[0].ackable());
  InMessage copy = std::move((*back)[0]);
  CHECK(copy.Ack().code() == ErrorCode::kInvalidArgument);

  // Start sequence and an empty remainder.
  auto tail = client->ReadStream("INGEST", "waybill.ingest.x12", 996, 100, 5000);
  REQUIRE(tail.ok());
  REQUIRE(tail->size() == 5);
  CHECK(tail->front().stream_seq == 996);
  start = Clock::now();
  auto none = client->ReadStream("INGEST", "waybill.ingest.x12", 1001, 100, 5000);
  REQUIRE(none.ok());
  CHECK(none->empty());
  CHECK(Clock::now() - start < std::chrono::seconds(2));  // did not wait for the timeout
  CHECK(client->ReadStream("NOPE", "", 1, 10, 1000).status().code() == ErrorCode::kNotFound);
}

TEST_CASE("PublishOrdered reports the acked prefix when a message in the middle fails") {
  NatsTestServer server;
  auto client = MustConnect(server.url());
  REQUIRE(client->EnsureStream({.name = "INGEST", .subjects = {"waybill.ingest.>"}}).ok());
  auto msgs = MakeMessages("waybill.ingest.x12", 10, "m-");
  msgs[3].subject = "nobody.listens.here";  // no stream: JetStream answers "no responders"

  Status why;
  auto r = client->PublishOrdered(msgs, 3000, &why);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(*r == 3);
  CHECK(!why.ok());
  CHECK_MESSAGE(why.message().find("message 3") != std::string::npos, why.message());
  CHECK(why.message().find("nobody.listens.here") != std::string::npos);

  // Nothing after the refused message was stored: later messages cannot overtake it.
  CHECK(client->GetStreamInfo("INGEST")->messages == 3);

  // Failing on the first message is an error, not 0.
  auto first_bad = client->PublishOrdered({msgs[3]}, 3000);
  CHECK(!first_bad.ok());

  // The caller's resend from the prefix (here with the subject fixed) stores the rest in order.
  msgs[3].subject = "waybill.ingest.x12";
  const std::vector<NatsClient::OutMessage> rest(msgs.begin() + 3, msgs.end());
  r = client->PublishOrdered(rest, 3000);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(*r == 7);
  auto back = client->ReadStream("INGEST", "waybill.ingest.x12", 1, 100, 5000);
  REQUIRE(back.ok());
  REQUIRE(back->size() == 10);
  for (size_t i = 0; i < back->size(); ++i)
    CHECK((*back)[i].headers.at("Nats-Msg-Id") == msgs[i].msg_id);
}

// Refused messages still reach core subscribers; after a failure the next call must not
// pipeline past a first message that JetStream may refuse.
TEST_CASE("PublishOrdered: after a connect or a failure the first message goes alone") {
  NatsTestServer server;
  auto client = MustConnect(server.url());
  REQUIRE(client->EnsureStream({.name = "INGEST", .subjects = {"waybill.ingest.>"}}).ok());
  std::mutex mu;
  std::vector<std::string> seen;
  auto sub = client->Subscribe("waybill.ingest.x12", [&](InMessage m) {
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(m.headers.count("Nats-Msg-Id") ? m.headers.at("Nats-Msg-Id") : "?");
  });
  REQUIRE_MESSAGE(sub.ok(), sub.status().ToString());
  REQUIRE(client->Flush(2000).ok());

  auto msgs = MakeMessages("waybill.ingest.x12", 5, "g-");
  msgs[0].subject = "nobody.listens.here";  // refused: no stream
  CHECK(!client->PublishOrdered(msgs, 3000).ok());
  REQUIRE(client->Flush(2000).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  {
    std::lock_guard<std::mutex> lock(mu);
    CHECK_MESSAGE(seen.empty(), "core subscriber saw " << seen.size() << " refused messages");
  }
  msgs[0].subject = "waybill.ingest.x12";
  REQUIRE(*client->PublishOrdered(msgs, 3000) == 5);
  REQUIRE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return seen.size() >= 5;
      },
      3000));
  std::lock_guard<std::mutex> lock(mu);
  CHECK(seen == std::vector<std::string>{"g-0", "g-1", "g-2", "g-3", "g-4"});
}

TEST_CASE("PublishOrdered: another publisher in between ends the prefix, the resend goes on") {
  NatsTestServer server;
  auto client = MustConnect(server.url());
  auto other = MustConnect(server.url());
  REQUIRE(client->EnsureStream({.name = "INGEST", .subjects = {"waybill.ingest.>"}}).ok());
  const auto msgs = MakeMessages("waybill.ingest.x12", 4, "c-");
  REQUIRE(*client->PublishOrdered({msgs[0], msgs[1]}, 3000) == 2);
  REQUIRE(*other->PublishOrdered(MakeMessages("waybill.ingest.x12", 1, "other-"), 3000) == 1);

  // msgs[1] is a duplicate (acked); msgs[2] expects msgs[1] last but finds other-0 there.
  Status why;
  auto r = client->PublishOrdered({msgs[1], msgs[2], msgs[3]}, 3000, &why);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(*r == 1);
  CHECK_MESSAGE(why.message().find("c-2") != std::string::npos, why.message());
  r = client->PublishOrdered({msgs[2], msgs[3]}, 3000);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(*r == 2);
  CHECK(client->GetStreamInfo("INGEST")->messages == 5);
}

TEST_CASE("Pull consumer: fetch, partial ack, redelivery of the unacked after ack_wait") {
  NatsTestServer server;
  {
    auto client = MustConnect(server.url());
    REQUIRE(client->EnsureStream({.name = "INGEST", .subjects = {"waybill.ingest.>"}}).ok());
    auto msgs = MakeMessages("waybill.ingest.x12", 50, "p-");
    REQUIRE(*client->PublishOrdered(msgs, 5000) == 50);
    // A message on another subject must not reach a consumer filtered to x12.
    REQUIRE(*client->PublishOrdered(MakeMessages("waybill.ingest.edifact", 1, "e-"), 5000) == 1);

    auto consumer = client->MakePullConsumer("INGEST", "ledger", "waybill.ingest.x12", 1);
    REQUIRE_MESSAGE(consumer.ok(), consumer.status().ToString());
    auto got = FetchN(**consumer, 50, 5000);
    REQUIRE(got.size() == 50);
    for (size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].subject == "waybill.ingest.x12");
      CHECK(got[i].payload == "payload-" + std::to_string(i));
      CHECK(got[i].headers.at("Waybill-Partner") == "P" + std::to_string(i % 7));
      CHECK(got[i].stream_seq == i + 1);
      CHECK(got[i].delivered_count == 1);
      CHECK(got[i].ackable());
    }
    for (size_t i = 0; i < 30; ++i) {
      Status st = got[i].Ack();
      REQUIRE_MESSAGE(st.ok(), st.ToString());
    }
    CHECK(got[0].Ack().ok());  // acking twice is harmless
    // Messages outlive their consumer and client safely (they keep the subscription alive).
    consumer->reset();
    client.reset();
    got.clear();
  }

  // A fresh connection binding the same durable sees exactly the 20 unacked, redelivered.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto client = MustConnect(server.url());
  auto consumer = client->MakePullConsumer("INGEST", "ledger", "waybill.ingest.x12", 1);
  REQUIRE_MESSAGE(consumer.ok(), consumer.status().ToString());
  auto again = FetchN(**consumer, 20, 5000);
  REQUIRE(again.size() == 20);
  for (size_t i = 0; i < again.size(); ++i) {
    CHECK(again[i].stream_seq == 31 + i);
    CHECK(again[i].delivered_count == 2);
    CHECK(again[i].AckAsync().ok());  // no round trip each; the flush below sees them out
  }
  REQUIRE(client->Flush(2000).ok());
  auto more = (*consumer)->Fetch(10, 1500);  // > ack_wait: anything unacked would show up
  REQUIRE(more.ok());
  CHECK(more->empty());

  // Nak with a delay: redelivered, but not before the delay.
  REQUIRE(*client->PublishOrdered(MakeMessages("waybill.ingest.x12", 1, "late-"), 5000) == 1);
  auto one = FetchN(**consumer, 1, 3000);
  REQUIRE(one.size() == 1);
  REQUIRE(one[0].Nak(300).ok());
  auto early = (*consumer)->Fetch(1, 100);
  REQUIRE(early.ok());
  CHECK(early->empty());
  auto redelivered = FetchN(**consumer, 1, 3000);
  REQUIRE(redelivered.size() == 1);
  CHECK(redelivered[0].stream_seq == one[0].stream_seq);
  CHECK(redelivered[0].delivered_count == 2);
  CHECK(redelivered[0].Ack().ok());

  // Changing ack_wait of an existing durable updates it rather than failing.
  auto rebound = client->MakePullConsumer("INGEST", "ledger", "waybill.ingest.x12", 30);
  CHECK_MESSAGE(rebound.ok(), rebound.status().ToString());
  CHECK(client->MakePullConsumer("NOPE", "d", "x", 1).status().code() == ErrorCode::kNotFound);
  CHECK(client->MakePullConsumer("INGEST", "bad.name", "x", 1).status().code() ==
        ErrorCode::kInvalidArgument);
}

TEST_CASE("Core subscribe and publish with headers") {
  NatsTestServer server;
  auto client = MustConnect(server.url());
  std::mutex mu;
  std::vector<InMessage> seen;
  {
    auto sub = client->Subscribe("waybill.query.>", [&](InMessage m) {
      std::lock_guard<std::mutex> lock(mu);
      seen.push_back(std::move(m));
    });
    REQUIRE_MESSAGE(sub.ok(), sub.status().ToString());
    REQUIRE(client->Flush(2000).ok());  // the SUB reached the server before we publish
    REQUIRE(client->Publish("waybill.query.status", "hello", {{"Waybill-Customer", "c1"}}).ok());
    REQUIRE(WaitFor(
        [&] {
          std::lock_guard<std::mutex> lock(mu);
          return !seen.empty();
        },
        5000));
  }  // unsubscribed: later publishes are not delivered
  REQUIRE(client->Publish("waybill.query.status", "late").ok());
  REQUIRE(client->Flush(2000).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].subject == "waybill.query.status");
  CHECK(seen[0].payload == "hello");
  CHECK(seen[0].headers.at("Waybill-Customer") == "c1");
  CHECK(!seen[0].ackable());
}

TEST_CASE("Core subscribe: a callback that falls behind its pending limit drops, counted") {
  NatsTestServer server;
  auto client = MustConnect(server.url());
  constexpr int kMessages = 60;
  for (const bool limited : {true, false}) {
    CAPTURE(limited);
    std::mutex mu;
    std::condition_variable cv;
    bool release = false;
    int seen = 0;
    auto sub = client->Subscribe("waybill.burst", [&](InMessage) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return release; });  // blocks until the whole burst is queued
      ++seen;
    });
    REQUIRE_MESSAGE(sub.ok(), sub.status().ToString());
    REQUIRE((*sub)->SetPendingLimits(limited ? 10 : -1, -1).ok());
    REQUIRE(client->Flush(2000).ok());
    const std::string payload(1024, 'v');
    for (int i = 0; i < kMessages; ++i) REQUIRE(client->Publish("waybill.burst", payload).ok());
    REQUIRE(client->Flush(2000).ok());
    // The server has sent them all; wait until NATS.c has queued or dropped each one.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    {
      std::lock_guard<std::mutex> lock(mu);
      release = true;
    }
    cv.notify_all();
    REQUIRE(WaitFor(
        [&] {
          std::lock_guard<std::mutex> lock(mu);
          return seen + static_cast<int>((*sub)->dropped()) == kMessages;
        },
        5000));
    if (limited) {
      CHECK((*sub)->dropped() > 0);
    } else {
      CHECK((*sub)->dropped() == 0);
    }
  }
}

TEST_CASE("Outage: disconnect is noticed, publishing fails fast, reconnect is automatic") {
  NatsTestServer server;
  std::mutex mu;
  std::vector<bool> states;
  auto client = MustConnect(server.url(), [&](bool up) {
    std::lock_guard<std::mutex> lock(mu);
    states.push_back(up);
  });
  REQUIRE(client->connected());
  REQUIRE(client->EnsureStream({.name = "INGEST", .subjects = {"waybill.ingest.>"}}).ok());
  REQUIRE(*client->PublishOrdered(MakeMessages("waybill.ingest.x12", 10, "before-"), 5000) == 10);
  auto consumer = client->MakePullConsumer("INGEST", "ledger", "waybill.ingest.x12", 5);
  REQUIRE(consumer.ok());

  server.Stop();
  REQUIRE(WaitFor([&] { return !client->connected(); }, 5000));

  auto start = Clock::now();
  auto r = client->PublishOrdered(MakeMessages("waybill.ingest.x12", 10, "during-"), 2000);
  CHECK(Clock::now() - start < std::chrono::milliseconds(2500));
  CHECK((!r.ok() || *r == 0));
  if (!r.ok()) {
    CHECK(r.status().code() == ErrorCode::kIoError);
    CHECK(r.status().message().find(server.url()) != std::string::npos);
  }
  start = Clock::now();
  auto f = (*consumer)->Fetch(10, 2000);
  CHECK(Clock::now() - start < std::chrono::milliseconds(2500));
  CHECK(!f.ok());

  CHECK(client->EnsureStream({.name = "INGEST", .subjects = {"waybill.ingest.>"}}).code() ==
        ErrorCode::kIoError);

  server.Restart();
  REQUIRE(WaitFor([&] { return client->connected(); }, 10000));
  // JetStream may need a moment after the port opens; the caller's retry loop covers that.
  Result<size_t> after = Status::IoError("not tried");
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    after = client->PublishOrdered(MakeMessages("waybill.ingest.x12", 10, "after-"), 2000);
    if (after.ok() && *after == 10) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE_MESSAGE(after.ok(), after.status().ToString());
  CHECK(*after == 10);
  // The stream (file storage) survived the restart; the "during" batch never got in.
  auto info = client->GetStreamInfo("INGEST");
  REQUIRE(info.ok());
  CHECK(info->messages == 20);
  // The consumer survived as well and resumes.
  auto got = FetchN(**consumer, 20, 5000);
  CHECK(got.size() == 20);

  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(states.size() >= 2);
  CHECK(states.front() == false);
  CHECK(states.back() == true);
}

TEST_CASE("A hung server: PublishOrdered times out, late acks are ignored, resend dedupes") {
  NatsTestServer server;
  auto client = MustConnect(server.url());
  REQUIRE(client->EnsureStream({.name = "INGEST", .subjects = {"waybill.ingest.>"}}).ok());
  REQUIRE(*client->PublishOrdered(MakeMessages("waybill.ingest.x12", 5, "warm-"), 5000) == 5);

  const auto batch = MakeMessages("waybill.ingest.x12", 10, "hung-");
  server.Freeze();
  const auto start = Clock::now();
  auto r = client->PublishOrdered(batch, 500);
  const auto took = Clock::now() - start;
  server.Thaw();
  CHECK(took >= std::chrono::milliseconds(450));
  CHECK(took < std::chrono::milliseconds(1500));
  REQUIRE(!r.ok());
  CHECK_MESSAGE(r.status().message().find("no ack for message 0") != std::string::npos,
                r.status().message());

  // The messages were on the wire and land anyway (the documented caveat); their acks arrive
  // after PublishOrdered gave up and must be ignored harmlessly.
  CHECK(WaitFor([&] { return client->GetStreamInfo("INGEST")->messages == 15; }, 5000));
  // Resending with the same msg ids is acked without storing copies.
  r = client->PublishOrdered(batch, 5000);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(*r == 10);
  CHECK(client->GetStreamInfo("INGEST")->messages == 15);
}

TEST_CASE("A hung server: the resend naming its stream skips what the stream already holds") {
  NatsTestServer server;
  auto client = MustConnect(server.url());
  auto watcher = MustConnect(server.url());
  REQUIRE(client->EnsureStream({.name = "INGEST", .subjects = {"waybill.ingest.>"}}).ok());
  std::mutex mu;
  std::map<std::string, int> copies;  // msg id -> deliveries to a core subscriber
  auto sub = watcher->Subscribe("waybill.ingest.>", [&](InMessage m) {
    std::lock_guard<std::mutex> lock(mu);
    ++copies[m.headers.count("Nats-Msg-Id") ? m.headers.at("Nats-Msg-Id") : "?"];
  });
  REQUIRE_MESSAGE(sub.ok(), sub.status().ToString());
  REQUIRE(watcher->Flush(2000).ok());
  REQUIRE(*client->PublishOrdered(MakeMessages("waybill.ingest.x12", 5, "warm-"), 5000, nullptr,
                                  "INGEST") == 5);

  // Acks lost (the server froze past the timeout), the messages stored after the thaw.
  auto batch = MakeMessages("waybill.ingest.x12", 10, "hung-");
  server.Freeze();
  auto r = client->PublishOrdered(batch, 500, nullptr, "INGEST");
  server.Thaw();
  REQUIRE(!r.ok());
  REQUIRE(WaitFor([&] { return client->GetStreamInfo("INGEST")->messages == 15; }, 5000));

  // The resend finds hung-9 last in the stream and sends none of the ten again; a longer list
  // sends only what the stream lacks.
  r = client->PublishOrdered(batch, 5000, nullptr, "INGEST");
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(*r == 10);
  batch.push_back(MakeMessages("waybill.ingest.x12", 1, "after-")[0]);
  r = client->PublishOrdered(batch, 5000, nullptr, "INGEST");
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(*r == 11);
  CHECK(client->GetStreamInfo("INGEST")->messages == 16);
  REQUIRE(client->Flush(2000).ok());
  REQUIRE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return copies.count("after-0") != 0;
      },
      3000));
  std::lock_guard<std::mutex> lock(mu);
  for (const auto& [id, n] : copies) {
    INFO(id);
    CHECK(n == 1);
  }
  CHECK(copies.size() == 16);
}

TEST_CASE("Connect succeeds while the server is down and connects when it comes up") {
  NatsTestServer server(NatsTestServer::StartMode::kNotStarted);
  std::atomic<int> ups{0};
  auto client = MustConnect(server.url(), [&](bool up) {
    if (up) ++ups;
  });
  CHECK(!client->connected());
  auto r = client->PublishOrdered(MakeMessages("waybill.ingest.x12", 1, "x-"), 1000);
  CHECK(!r.ok());
  const auto start = Clock::now();
  CHECK(!client->EnsureStream({.name = "INGEST", .subjects = {"waybill.ingest.>"}}).ok());
  CHECK(Clock::now() - start < std::chrono::milliseconds(500));  // fails fast, no API timeout

  server.Start();
  REQUIRE(WaitFor([&] { return client->connected(); }, 10000));
  CHECK(WaitFor([&] { return ups.load() >= 1; }, 2000));
  REQUIRE(client->EnsureStream({.name = "INGEST", .subjects = {"waybill.ingest.>"}}).ok());
  auto ok = client->PublishOrdered(MakeMessages("waybill.ingest.x12", 5, "y-"), 5000);
  REQUIRE_MESSAGE(ok.ok(), ok.status().ToString());
  CHECK(*ok == 5);
}

// Regression (issue 6 chaos sweep): with a frozen server and more outgoing data than the socket
// buffers hold, NATS.c used to block in a write while holding the connection lock, so
// connected() (then natsConnection_Status) hung every caller, /readyz and /metrics included,
// and the stale connection was never noticed. Now writes have a deadline and connected() is
// lock-free: it keeps answering, and turns false.
TEST_CASE("A frozen server with a full socket: connected() keeps answering and turns false") {
  NatsTestServer server;
  auto client = MustConnect(server.url());
  std::atomic<bool> stop{false};
  std::thread flood([&] {
    const std::string big(16 * 1024, 'x');
    while (!stop.load()) (void)client->Publish("chaos.flood", big);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  server.Freeze();
  // Polled on a thread of its own, so a hang fails the check below instead of the test run.
  std::atomic<bool> noticed{false};
  std::atomic<bool> polling{true};
  const auto frozen_at = Clock::now();
  std::atomic<std::int64_t> noticed_after_ms{-1};
  std::thread poller([&] {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline && !noticed.load()) {
      if (!client->connected()) {
        noticed_after_ms.store(
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - frozen_at)
                .count());
        noticed.store(true);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    polling.store(false);
  });
  const bool answered = WaitFor([&] { return !polling.load(); }, 30000);
  server.Thaw();
  stop.store(true);
  flood.join();
  poller.join();
  CHECK_MESSAGE(answered, "connected() blocked while the server was frozen");
  CHECK_MESSAGE(noticed.load(), "the frozen server was never reported as disconnected");
  MESSAGE("frozen server reported disconnected after " << noticed_after_ms.load() << " ms");
  CHECK(WaitFor([&] { return client->connected(); }, 20000));
}

// The watchdog alone (NATS.c's own stale detection pushed out of reach by max_pings_out): a
// frozen server is reported down within the stall limit and up again once it answers, and
// on_state_change hears each change once.
TEST_CASE("Watchdog: a frozen server is reported down without NATS.c's ping timer") {
  NatsTestServer server;
  std::mutex mu;
  std::vector<bool> changes;
  NatsOptions o;
  o.url = server.url();
  o.ping_interval_ms = 300;
  o.max_pings_out = 1000;  // NATS.c would take 5 minutes
  o.stall_report_ms = 1000;
  o.on_state_change = [&](bool up) {
    std::lock_guard<std::mutex> lock(mu);
    changes.push_back(up);
  };
  auto connected = NatsClient::Connect(o);
  REQUIRE_MESSAGE(connected.ok(), connected.status().ToString());
  auto client = std::move(connected).value();
  REQUIRE(WaitFor([&] { return client->connected(); }, 5000));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // probes answered: stays up
  CHECK(client->connected());

  server.Freeze();
  const auto frozen_at = Clock::now();
  const bool noticed = WaitFor([&] { return !client->connected(); }, 10000);
  const auto after_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - frozen_at).count();
  server.Thaw();
  CHECK_MESSAGE(noticed, "the frozen server was never reported as disconnected");
  MESSAGE("watchdog reported the frozen server after " << after_ms << " ms");
  CHECK(after_ms >= 1000);  // not before the stall limit
  CHECK(WaitFor([&] { return client->connected(); }, 5000));
  std::lock_guard<std::mutex> lock(mu);
  CHECK(changes == std::vector<bool>{false, true});
}

}  // namespace
}  // namespace waybill::nats
