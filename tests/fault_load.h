// Shared pieces of the whole-server fault sweeps (crash_sweep_test, nats_chaos_test): canonical
// events with deterministic ids, the book of what the server acknowledged, a census of the
// ledger read through a RocksDB secondary while `waybill serve` runs, the view versions it
// stored, a NATS subscriber recording the view versions it received, and the "views equal a
// fresh rebuild" check on a copy of a data dir. Test-only, header-only.
//
// Thread-safety: AckBook and ViewRecorder are safe from any thread; the free functions are
// stateless; EventSource is used by one thread.
#pragma once

#include <doctest/doctest.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ledger/key_layout.h"
#include "ledger/ledger.h"
#include "projections/projection_test_util.h"
#include "projections/projector.h"
#include "projections/store_layout.h"
#include "projections/view_reader.h"
#include "projections/views.h"
#include "server/auth/token_mint.h"
#include "server/client/http_client.h"
#include "server/nats/nats_client.h"

namespace waybill::testing::fault {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// An integer from the environment (the long form's knobs), else `fallback`.
inline int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::atoi(v);
}

// The seed of a sweep: WAYBILL_SWEEP_SEED when set (to replay a failure), else from the clock.
// Printed by the tests so a failing run can be repeated.
inline std::uint32_t SweepSeed() {
  const int env = EnvInt("WAYBILL_SWEEP_SEED", 0);
  if (env != 0) return static_cast<std::uint32_t>(env);
  return static_cast<std::uint32_t>(std::chrono::system_clock::now().time_since_epoch().count() &
                                    0x7fffffff);
}

// Polls `pred` every 50 ms until it holds or `timeout` passes.
inline bool WaitFor(std::chrono::milliseconds timeout, const std::function<bool()>& pred) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// The HS256 secret the sweeps give `waybill serve` (--jwt-secret-file).
inline constexpr std::string_view kSecret = "fault-sweep-secret-of-at-least-thirty-two-bytes";

inline std::string Token(const std::string& scope) {
  server::auth::TokenClaims c;
  c.subject = "sweep";
  c.scope = scope;
  c.expires_at = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count() +
                 24 * 3600;
  auto t = server::auth::MintHs256(c, kSecret);
  REQUIRE(t.ok());
  return *t;
}

inline std::unique_ptr<client::HttpClient> MakeClient(
    const std::string& url, const std::string& token,
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  client::ClientOptions o;
  o.base_url = url;
  o.bearer_token = token;
  o.timeout = timeout;
  auto c = client::HttpClient::Create(o);
  REQUIRE(c.ok());
  return std::move(c).value();
}

// Unexpected answers seen by the load threads, checked on the main thread.
class Problems {
 public:
  void Add(std::string p) {
    std::lock_guard<std::mutex> lock(mu_);
    if (list_.size() < 20) list_.push_back(std::move(p));
  }
  std::string Text() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string s;
    for (const auto& p : list_) s += "  " + p + "\n";
    return s;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> list_;
};

// One canonical event: its id and its NDJSON line (no newline).
struct EventLine {
  std::string id;
  std::string line;
};

// Every event the server acknowledged (HTTP 200, JetStream PubAck of an intake message, an
// inbox file renamed into place), by id, with how it came in.
class AckBook {
 public:
  void Acked(const std::vector<EventLine>& events, const char* via) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& e : events) {
      if (via_.emplace(e.id, via).second) lines_.push_back(e);
    }
  }
  // A random acknowledged event, to send again as a deliberate duplicate; false when none.
  bool Pick(std::mt19937& rng, EventLine* out) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (lines_.empty()) return false;
    *out = lines_[rng() % lines_.size()];
    return true;
  }
  std::map<std::string, std::string> Snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return via_;
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return via_.size();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> via_;  // id -> "http", "nats", "inbox"
  std::vector<EventLine> lines_;
};

inline constexpr int kShipments = 24;

inline std::string ShipmentId(int s) {
  char id[16];
  std::snprintf(id, sizeof id, "SW-%02d", s);
  return id;
}

// Fresh events with ids PREFIX-N, and ~dup_percent % deliberate duplicates (an acknowledged
// event sent again, byte for byte). Milestones, estimates and charges over kShipments
// shipments, two thirds of them naming a customer, so all three views and both subject
// shapes ("_" and a customer token) are exercised.
class EventSource {
 public:
  EventSource(std::string prefix, std::uint32_t seed, const AckBook& book, int dup_percent = 5)
      : prefix_(std::move(prefix)), rng_(seed), book_(book), dup_percent_(dup_percent) {}

  std::vector<EventLine> Next(int n) {
    std::vector<EventLine> out;
    for (int i = 0; i < n; ++i) {
      EventLine dup;
      if (static_cast<int>(rng_() % 100) < dup_percent_ && book_.Pick(rng_, &dup)) {
        out.push_back(std::move(dup));
        continue;
      }
      out.push_back(Fresh());
    }
    return out;
  }

  static std::string Ndjson(const std::vector<EventLine>& events) {
    std::string s;
    for (const auto& e : events) s += e.line + "\n";
    return s;
  }

 private:
  EventLine Fresh() {
    const std::uint64_t n = counter_++;
    EventLine e;
    e.id = prefix_ + "-" + std::to_string(n);
    const int s = static_cast<int>(rng_() % kShipments);
    // Event times move forward (a minute per event of this source) with some jitter, so
    // most events change a view and some arrive out of order.
    const std::time_t t = 1748736000 + static_cast<std::time_t>(n) * 60 +
                          static_cast<std::time_t>(rng_() % 7200) - 3600;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::string head = "{\"event_id\":\"" + e.id + "\",\"occurred_at\":\"" + when +
                       "\",\"shipment_id\":\"" + ShipmentId(s) + "\"";
    if (s % 3 != 0) head += ",\"customer_id\":\"C" + std::to_string(s % 4) + "\"";
    const int kind = static_cast<int>(rng_() % 10);
    if (kind < 6) {
      e.line = head +
               ",\"kind\":\"milestone\",\"source\":{\"system\":\"carrier\",\"partner\":\"ACME\"},"
               "\"carrier\":\"ACME\",\"status\":\"IN_TRANSIT\",\"source_code\":\"X6\","
               "\"location\":{\"city\":\"City" +
               std::to_string(rng_() % 1000) + "\",\"country\":\"US\"}}";
    } else if (kind < 8) {
      const std::time_t eta = t + 3600 * static_cast<std::time_t>(1 + rng_() % 96);
      std::tm etm{};
      gmtime_r(&eta, &etm);
      char eta_s[32];
      std::strftime(eta_s, sizeof eta_s, "%Y-%m-%dT%H:%M:%SZ", &etm);
      e.line = head +
               ",\"kind\":\"estimate\",\"source\":{\"system\":\"carrier\",\"partner\":\"ACME\"},"
               "\"carrier\":\"ACME\",\"estimate\":{\"estimated_at\":\"" +
               eta_s + "\",\"of\":\"delivery\",\"issued_at\":\"" + when + "\"}}";
    } else {
      e.line = head +
               ",\"kind\":\"charges\",\"source\":{\"system\":\"tms\"},\"charges\":{\"basis\":"
               "\"invoiced\",\"document\":\"INV-" +
               e.id + "\",\"currency\":\"USD\",\"lines\":[{\"code\":\"400\",\"amount\":\"" +
               std::to_string(100 + rng_() % 900) + ".50\"}]}}";
    }
    return e;
  }

  std::string prefix_;
  std::mt19937 rng_;
  const AckBook& book_;
  int dup_percent_;
  std::uint64_t counter_ = 0;
};

// What the ledger holds, read through a RocksDB secondary (works while serve runs).
struct Census {
  bool ok = false;
  std::string error;
  std::uint64_t head = 0;
  std::map<std::string, int> ids;    // event id -> how many stored events carry it
  std::uint64_t checkpoint = 0;      // projection checkpoint (last folded seq)
  std::uint64_t outbox_written = 0;  // outbox entries ever written (next_outbox_seq - 1)
  std::uint64_t outbox_cursor = 0;   // last outbox entry NATS acknowledged
  std::uint64_t feed_cursor = 0;     // last ledger seq published on the event feed
  // (view, shipment) -> current version (stored, with the events after views_through).
  std::map<std::pair<std::string, std::string>, std::uint64_t> versions;
  bool verified = false;  // Verify walked the whole chain intact
  std::string verify_error;

  bool projected() const { return ok && checkpoint == head; }
  bool published() const {
    return projected() && outbox_cursor == outbox_written && feed_cursor == head;
  }
};

inline std::uint64_t CursorValue(const ledger::Ledger& l, std::string_view key) {
  auto bytes = l.GetAux(ledger::AuxSpace::kViews, key);
  if (!bytes.ok() || bytes->size() != 8) return 0;
  return ledger::GetU64BE(bytes->data());
}

// Opens DATA_DIR as a secondary and reads the census; `with_ids` scans every event,
// `with_verify` walks the chain.
inline Census TakeCensus(const std::string& data_dir, bool with_ids, bool with_verify) {
  Census c;
  ledger::LedgerOptions o;
  o.mode = ledger::OpenMode::kReadOnly;
  auto opened = ledger::Ledger::Open(data_dir, o);
  if (!opened.ok()) {
    c.error = opened.status().ToString();
    return c;
  }
  ledger::Ledger& l = **opened;
  c.head = l.Head().seq;
  auto cp = projections::ReadCheckpoint(l);
  if (!cp.ok()) {
    c.error = cp.status().ToString();
    return c;
  }
  c.checkpoint = cp->last_seq;
  c.outbox_written = cp->next_outbox_seq - 1;
  c.outbox_cursor = CursorValue(l, projections::kOutboxCursorKey);
  c.feed_cursor = CursorValue(l, projections::kEventFeedCursorKey);
  for (const auto& [key, bytes] : projections::testing::SnapshotViews(l)) {
    const auto kind = static_cast<projections::ViewKind>(key.first);
    auto view = projections::DecodeView(kind, bytes);
    if (!view.ok()) {
      c.error = view.status().ToString();
      return c;
    }
    c.versions[{std::string(projections::ToString(kind)), key.second}] = (*view)->version();
  }
  // The worker writes views behind: a shipment with events after views_through has its
  // current versions in the stored views plus those events, as `waybill view` reads them.
  if (c.head > cp->views_through) {
    std::set<std::string> moved;
    Status st = l.ReadRange(cp->views_through + 1, c.head, [&](const Event& e) {
      moved.insert(e.shipment_id);
      return true;
    });
    for (auto it = moved.begin(); st.ok() && it != moved.end(); ++it) {
      auto current = projections::ReadCurrentViews(l, *it);
      if (!current.ok()) {
        st = current.status();
        break;
      }
      for (projections::ViewKind kind : projections::kAllViews) {
        const projections::ShipmentView* view = current->get(kind);
        if (view != nullptr && view->version() != 0) {
          c.versions[{std::string(projections::ToString(kind)), *it}] = view->version();
        }
      }
    }
    if (!st.ok()) {
      c.error = st.ToString();
      return c;
    }
  }
  if (with_ids && c.head > 0) {
    Status st = l.ReadRange(1, c.head, [&](const Event& e) {
      ++c.ids[e.event_id];
      return true;
    });
    if (!st.ok()) {
      c.error = st.ToString();
      return c;
    }
  }
  if (with_verify) {
    auto report = l.Verify();
    if (!report.ok()) {
      c.verify_error = report.status().ToString();
    } else if (!report->intact) {
      c.verify_error =
          "chain broken at seq " + std::to_string(report->first_broken_seq) + ": " + report->reason;
    } else {
      c.verified = report->events == c.head;
      if (!c.verified) {
        c.verify_error = "verify checked " + std::to_string(report->events) +
                         " events, the head is " + std::to_string(c.head);
      }
    }
  }
  c.ok = true;
  return c;
}

// Every acknowledged id exactly once, and no id twice at all. Returns a description of the
// first few violations ("" when none).
inline std::string ExactlyOnceViolations(const Census& c,
                                         const std::map<std::string, std::string>& acked) {
  std::string out;
  int shown = 0;
  std::size_t missing = 0, doubled = 0;
  for (const auto& [id, via] : acked) {
    auto it = c.ids.find(id);
    const int n = it == c.ids.end() ? 0 : it->second;
    if (n != 1) {
      (n == 0 ? missing : doubled)++;
      if (shown++ < 10) {
        out += "  acknowledged (" + via + ") " + id + " stored " + std::to_string(n) + " times\n";
      }
    }
  }
  for (const auto& [id, n] : c.ids) {
    if (n > 1 && !acked.count(id)) {
      ++doubled;
      if (shown++ < 20)
        out += "  unacknowledged " + id + " stored " + std::to_string(n) + " times\n";
    }
  }
  if (!out.empty()) {
    out = std::to_string(missing) + " acknowledged events missing, " + std::to_string(doubled) +
          " stored more than once:\n" + out;
  }
  return out;
}

// A view update as a subscriber sees it.
struct ViewUpdate {
  std::string view, shipment;
  std::uint64_t version = 0;
};

inline bool ParseViewUpdate(const std::string& payload, ViewUpdate* out) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(payload).get(doc) != simdjson::SUCCESS) return false;
  std::string_view v, s;
  if (doc["view"].get(v) != simdjson::SUCCESS || doc["shipment_id"].get(s) != simdjson::SUCCESS ||
      doc["version"].get(out->version) != simdjson::SUCCESS) {
    return false;
  }
  out->view = v;
  out->shipment = s;
  return true;
}

// A core NATS subscription on waybill.views.> that records, per (view, shipment), every
// version received, in arrival order.
class ViewRecorder {
 public:
  using Key = std::pair<std::string, std::string>;

  explicit ViewRecorder(const std::string& url) {
    nats::NatsOptions o;
    o.url = url;
    o.name = "fault sweep view recorder";
    o.on_state_change = [this](bool up) {
      if (!up) disconnects_.fetch_add(1);
    };
    auto c = nats::NatsClient::Connect(o);
    REQUIRE_MESSAGE(c.ok(), c.status().ToString());
    client_ = std::move(c).value();
    REQUIRE_MESSAGE(WaitFor(std::chrono::seconds(10), [&] { return client_->connected(); }),
                    "view recorder could not connect to " << url);
    auto sub = client_->Subscribe("waybill.views.>", [this](nats::InMessage m) {
      ViewUpdate u;
      std::lock_guard<std::mutex> lock(mu_);
      if (!ParseViewUpdate(m.payload, &u)) {
        ++unparsable_;
        return;
      }
      receipts_[{u.view, u.shipment}].push_back({u.version, disconnects_.load()});
      ++received_;
    });
    REQUIRE_MESSAGE(sub.ok(), sub.status().ToString());
    sub_ = std::move(sub).value();
    // Versions of long shipment histories are large: NATS.c's default 64 MiB of pending bytes
    // would drop some of a catch-up burst while the checks hold mu_.
    REQUIRE(sub_->SetPendingLimits(-1, -1).ok());
    // The subscription is registered on the server before anything is published.
    REQUIRE_MESSAGE(client_->Flush(5000).ok(), "flush of the view recorder's subscription");
  }

  std::map<Key, std::vector<std::uint64_t>> Received() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<Key, std::vector<std::uint64_t>> versions;
    for (const auto& [key, list] : receipts_) {
      auto& out = versions[key];
      for (const Receipt& r : list) out.push_back(r.version);
    }
    return versions;
  }
  // One delivery, with the recorder's connection generation at the time (its count of
  // disconnects, as on_state_change reported them).
  struct Receipt {
    std::uint64_t version = 0;
    std::uint64_t generation = 0;
  };
  std::map<Key, std::vector<Receipt>> Receipts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return receipts_;
  }
  std::uint64_t received() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  std::uint64_t unparsable() const {
    std::lock_guard<std::mutex> lock(mu_);
    return unparsable_;
  }
  bool connected() const { return client_->connected(); }
  // Core NATS delivers at most once: versions published while the recorder was disconnected,
  // or that NATS.c dropped because the callback fell behind, are not a publishing gap.
  std::uint64_t disconnects() const { return disconnects_.load(); }
  std::uint64_t dropped() const { return sub_ ? sub_->dropped() : 0; }

 private:
  std::unique_ptr<nats::NatsClient> client_;
  std::unique_ptr<nats::Subscription> sub_;
  mutable std::mutex mu_;
  std::map<Key, std::vector<Receipt>> receipts_;
  std::uint64_t received_ = 0;
  std::uint64_t unparsable_ = 0;
  std::atomic<std::uint64_t> disconnects_{0};
};

// True when, for every stored view, the subscriber has received its stored version.
inline bool SubscriberHasStored(
    const Census& c, const std::map<ViewRecorder::Key, std::vector<std::uint64_t>>& got) {
  for (const auto& [key, version] : c.versions) {
    if (version == 0) continue;
    auto it = got.find(key);
    if (it == got.end() ||
        std::find(it->second.begin(), it->second.end(), version) == it->second.end()) {
      return false;
    }
  }
  return true;
}

// The gapless check of the crash sweep: for every (view, shipment) the set of versions
// received is exactly {1, ..., stored version} (repeats allowed: a re-send after a crash
// between JetStream's ack and the cursor write reaches core subscribers again), and no
// version above the stored one, nor a view the ledger does not have, was received.
inline std::string GaplessViolations(
    const Census& c, const std::map<ViewRecorder::Key, std::vector<std::uint64_t>>& got) {
  std::string out;
  int shown = 0;
  for (const auto& [key, stored] : c.versions) {
    auto it = got.find(key);
    std::set<std::uint64_t> seen;
    if (it != got.end()) seen.insert(it->second.begin(), it->second.end());
    std::set<std::uint64_t> want;
    for (std::uint64_t v = 1; v <= stored; ++v) want.insert(v);
    if (seen != want && shown++ < 10) {
      std::string list;
      for (std::uint64_t v : seen) list += std::to_string(v) + " ";
      out += "  " + key.first + " of " + key.second + ": stored version " + std::to_string(stored) +
             ", received {" + list + "}\n";
    }
  }
  for (const auto& [key, versions] : got) {
    if (!c.versions.count(key) && shown++ < 20) {
      out += "  " + key.first + " of " + key.second + " received but not stored\n";
    }
  }
  return out;
}

// The core subscriber's ordering check: within a (view, shipment), a version is never received
// for the first time after a higher one, except across a join. Core NATS delivers only while
// the subscription is registered, so a subscriber that (re)joins in the middle of a pipelined
// batch can get k+7 and miss k..k+6; when the server then dies before JetStream stored the
// batch, the publisher resends k..k+7 and the subscriber sees k..k+6 for the first time after
// k+7. That is excused when the higher version was received in a connection generation whose
// first delivery for the key was already above the late one (the subscriber joined after it
// went out). Re-sends of versions already received are always allowed.
inline std::string FirstSeenDisorder(
    const std::map<ViewRecorder::Key, std::vector<ViewRecorder::Receipt>>& receipts) {
  std::string out;
  int shown = 0;
  for (const auto& [key, list] : receipts) {
    std::map<std::uint64_t, std::uint64_t> first_in_generation;  // generation -> first version
    std::set<std::uint64_t> had;
    std::uint64_t highest = 0, highest_generation = 0;
    for (const auto& r : list) {
      first_in_generation.emplace(r.generation, r.version);
      if (had.count(r.version)) continue;
      had.insert(r.version);
      if (r.version < highest && r.version >= first_in_generation[highest_generation] &&
          shown++ < 10) {
        out += "  " + key.first + " of " + key.second + ": version " + std::to_string(r.version) +
               " first received after " + std::to_string(highest) + " (generation " +
               std::to_string(r.generation) + ", " + std::to_string(highest) + " in generation " +
               std::to_string(highest_generation) + ")\n";
      }
      if (r.version > highest) {
        highest = r.version;
        highest_generation = r.generation;
      }
    }
  }
  return out;
}

// Copies a data dir (regular files and folders only: a stale control socket is skipped).
inline void CopyDataDir(const std::string& from, const std::string& to) {
  fs::remove_all(to);
  fs::create_directories(to);
  for (const auto& entry : fs::recursive_directory_iterator(from)) {
    const fs::path rel = fs::relative(entry.path(), from);
    if (entry.is_directory()) {
      fs::create_directories(fs::path(to) / rel);
    } else if (entry.is_regular_file()) {
      fs::copy_file(entry.path(), fs::path(to) / rel, fs::copy_options::overwrite_existing);
    }
  }
}

// "Every view equals a fresh rebuild", on a copy of a data dir no process writes (a SIGKILLed
// server's, or a stopped one's): the copy is opened read-write, the projection worker catches
// up as a restarted server would, and its views are compared byte for byte with a full
// rebuild from the log. Also verifies the chain. Returns "" or what differs.
inline std::string RebuildViolations(const std::string& data_dir, const std::string& scratch,
                                     std::size_t* views_compared = nullptr) {
  CopyDataDir(data_dir, scratch);
  std::string out;
  {
    auto l = ledger::Ledger::Open(scratch);
    if (!l.ok()) return "open the copy: " + l.status().ToString();
    auto report = (*l)->Verify();
    if (!report.ok()) return "verify the copy: " + report.status().ToString();
    if (!report->intact) {
      return "chain broken at seq " + std::to_string(report->first_broken_seq) + ": " +
             report->reason;
    }
    auto projector = projections::Projector::Open(**l);
    if (!projector.ok()) return "projector on the copy: " + projector.status().ToString();
    auto caught = (*projector)->CatchUp();
    if (!caught.ok()) return "catch up on the copy: " + caught.status().ToString();
    const auto incremental = projections::testing::SnapshotViews(**l);
    if (Status st = (*projector)->Rebuild(projections::kAllViews); !st.ok()) {
      return "rebuild on the copy: " + st.ToString();
    }
    const auto rebuilt = projections::testing::SnapshotViews(**l);
    if (views_compared != nullptr) *views_compared = incremental.size();
    int shown = 0;
    for (const auto& [key, bytes] : rebuilt) {
      auto it = incremental.find(key);
      if ((it == incremental.end() || it->second != bytes) && shown++ < 10) {
        out += "  view " + std::to_string(key.first) + " of " + key.second +
               (it == incremental.end() ? ": missing from the incremental views\n"
                                        : ": differs from the rebuild\n");
      }
    }
    for (const auto& [key, bytes] : incremental) {
      if (!rebuilt.count(key) && shown++ < 20) {
        out += "  view " + std::to_string(key.first) + " of " + key.second +
               ": not produced by the rebuild\n";
      }
    }
    if (rebuilt.empty() && report->events > 0) out += "  the rebuild produced no views\n";
  }
  fs::remove_all(scratch);
  return out;
}

}  // namespace waybill::testing::fault
