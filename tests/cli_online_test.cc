// The `waybill` commands with --server URL against a real `waybill serve --http` (no NATS):
// the same data read offline (--data-dir, as a secondary while the server runs) and online
// prints byte for byte the same; import sends NDJSON in chunks with file line numbers and
// is idempotent when run again; tokens and HTTP errors map to the documented exit codes; the
// example config file starts the server as it is.
#include <doctest/doctest.h>
#include <simdjson.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "schemas/time.h"
#include "tests/serve_process.h"
#include "tests/test_util.h"

namespace waybill {
namespace {

using testing::CliResult;
using testing::RunCli;
using testing::ServeProcess;

std::string Fixture(const std::string& name) {
  return std::string(std::getenv("WAYBILL_SOURCE_DIR")) + "/tests/fixtures/" + name;
}

std::string SamplePath() {
  return std::string(std::getenv("WAYBILL_SOURCE_DIR")) + "/deploy/sample/shipments.ndjson";
}

// Appends `more` to `args`.
std::vector<std::string> With(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// The server's base URL, from DATA_DIR/http.url (written once the listener is bound).
std::string WaitForUrl(const ServeProcess& serve) {
  const std::string path = serve.data_dir() + "/http.url";
  for (int i = 0; i < 500; ++i) {
    std::string url = testing::ReadWholeFile(path);
    while (!url.empty() && (url.back() == '\n' || url.back() == ' ')) url.pop_back();
    if (url.rfind("http", 0) == 0) return url;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL("no " << path << "; server log:\n" << serve.LogTail());
  return {};
}

// Waits until the projection worker has folded the whole log (stats "lag_events":0).
void WaitForWorker(const std::vector<std::string>& online) {
  for (int i = 0; i < 500; ++i) {
    CliResult s = RunCli(With({"stats"}, online));
    if (s.code == 0 && s.out.find("\"lag_events\":0") != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL("the projection worker did not catch up");
}

// canonical NDJSON: `n` milestones of shipment `shipment`, with lines in `bad` invalid.
void WriteEvents(const std::string& path, const std::string& shipment, int n,
                 const std::vector<int>& bad) {
  std::ofstream out(path);
  for (int line = 1; line <= n; ++line) {
    if (std::find(bad.begin(), bad.end(), line) != bad.end()) {
      out << "{\"kind\":\"milestone\",\"this line\":\"has no shipment\"}\n";
      continue;
    }
    out << R"({"event_id":")" << shipment << "-" << line
        << R"(","kind":"milestone","occurred_at":"2025-01-01T00:00:00Z",)"
        << R"("source":{"system":"carrier"},"shipment_id":")" << shipment
        << R"(","status":"IN_TRANSIT"})"
        << "\n";
  }
}

class OnlineFixture {
 public:
  OnlineFixture() : data_(dir_.Sub("d")) {
    offline_ = {"--data-dir", data_};
    // Data imported offline first: canonical with rejects, the sample, an X12 set whose LT
    // time needs a partner profile (one dead letter).
    REQUIRE(RunCli(With({"import", "--format", "canonical", Fixture("canonical/mixed.ndjson"),
                         SamplePath()},
                        offline_))
                .code == 3);
    REQUIRE(
        RunCli(With({"import", "--format", "x12", Fixture("e2e/local-time.x12")}, offline_)).code ==
        3);
    // The fix the server will retry with.
    std::ofstream(data_ + "/partners.json")
        << R"({"version":1,"partners":[{"id":"ACME","aliases":["ACMEFREIGHT"],)"
        << R"("time_zone":"America/Chicago"}]})";
    serve_ = std::make_unique<ServeProcess>(
        data_, std::vector<std::string>{"--http", "127.0.0.1:0"}, dir_.Sub("serve.log"));
    serve_->Start();
    url_ = WaitForUrl(*serve_);
    online_ = {"--server", url_, "--data-dir", data_};  // token: DATA_DIR/admin.token
    WaitForWorker(online_);
  }

  const std::string& data() const { return data_; }
  const std::string& url() const { return url_; }
  const std::vector<std::string>& offline() const { return offline_; }
  const std::vector<std::string>& online() const { return online_; }
  const testing::TempDir& dir() const { return dir_; }
  ServeProcess& serve() { return *serve_; }

 private:
  testing::TempDir dir_;
  std::string data_;
  std::unique_ptr<ServeProcess> serve_;
  std::string url_;
  std::vector<std::string> offline_, online_;
};

}  // namespace

TEST_CASE("online and offline print the same for the same data") {
  OnlineFixture f;
  const std::string now = FormatUtc(NowUnixNanos());
  const std::vector<std::vector<std::string>> commands = {
      {"history", "SHP-1"},
      {"history", "SHP-1", "--json"},
      {"history", "SHP-1001"},
      {"history", "NO-SUCH"},
      {"history", "NO-SUCH", "--json"},
      {"view", "SHP-1001"},
      {"view", "SHP-1001", "--json"},
      {"view", "NO-SUCH"},
      {"view", "A/B C?x=%2F"},  // path segments are percent-encoded
      {"asof", "SHP-1001", "--at", now, "--json"},
      {"asof", "SHP-1001", "--at", "2000-01-01T00:00:00Z"},
      {"asof", "SHP-1001", "--at", "yesterday"},
      {"verify"},
      {"verify", "--from", "2", "--to", "5"},
      {"dlq", "list"},
      {"dlq", "list", "--json"},
      {"dlq", "list", "--all", "--json"},
      {"dlq", "show", "1"},
      {"dlq", "show", "99"},
  };
  for (const auto& cmd : commands) {
    CliResult off = RunCli(With(cmd, f.offline()));
    CliResult on = RunCli(With(cmd, f.online()));
    std::string shown;
    for (const auto& a : cmd) shown += a + " ";
    CAPTURE(shown);
    CAPTURE(on.err);
    CHECK(on.code == off.code);
    CHECK(on.out == off.out);
  }
  CHECK(RunCli(With({"view", "NO-SUCH"}, f.online())).code == 5);
  CHECK(RunCli(With({"dlq", "show", "99"}, f.online())).code == 1);

  // stats: the same counts and head (sizes on disk move while the server runs).
  simdjson::dom::parser p1, p2;
  CliResult off = RunCli(With({"stats"}, f.offline()));
  CliResult on = RunCli(With({"stats"}, f.online()));
  REQUIRE(on.code == 0);
  simdjson::dom::element a = p1.parse(off.out), b = p2.parse(on.out);
  for (const char* key :
       {"events", "shipments", "dead_letters", "dead_letters_pending", "head_seq"}) {
    CHECK(int64_t(a[key]) == int64_t(b[key]));
  }
  CHECK(std::string_view(a["head_hash"]) == std::string_view(b["head_hash"]));
}

TEST_CASE("online import: chunks, file line numbers, idempotent when run again") {
  OnlineFixture f;
  const std::string file = f.dir().Sub("many.ndjson");
  WriteEvents(file, "SHP-BIG", 2500, {1500, 2400});
  CliResult first = RunCli(With({"import", "--format", "canonical", file}, f.online()));
  CAPTURE(first.err);
  REQUIRE(first.code == 3);
  simdjson::dom::parser parser;
  simdjson::dom::element s = parser.parse(first.out);
  CHECK(int64_t(s["accepted"]) == 2498);
  CHECK(int64_t(s["duplicates"]) == 0);
  CHECK(int64_t(s["rejected"]) == 2);
  std::vector<int64_t> lines, ids;
  for (auto r : simdjson::dom::array(s["rejects"])) {
    lines.push_back(int64_t(r["line"]));
    ids.push_back(int64_t(r["dead_letter_id"]));
    CHECK(std::string_view(r["file"]) == file);
  }
  CHECK(lines == std::vector<int64_t>{1500, 2400});
  CHECK(first.err.find(file + ":1500: rejected (dead letter ") != std::string::npos);

  // Run again: nothing new is stored; the rejects name the same dead letters.
  CliResult again = RunCli(With({"import", "--format", "canonical", file}, f.online()));
  REQUIRE(again.code == 3);
  simdjson::dom::parser parser2;
  simdjson::dom::element s2 = parser2.parse(again.out);
  CHECK(int64_t(s2["accepted"]) == 0);
  CHECK(int64_t(s2["duplicates"]) == 2498);
  CHECK(int64_t(s2["rejected"]) == 2);
  std::vector<int64_t> ids2;
  for (auto r : simdjson::dom::array(s2["rejects"])) ids2.push_back(int64_t(r["dead_letter_id"]));
  CHECK(ids2 == ids);

  // The server stored each event once and each rejected line once.
  CliResult history = RunCli(With({"history", "SHP-BIG", "--json"}, f.online()));
  REQUIRE(history.code == 0);
  simdjson::dom::parser parser3;
  CHECK(simdjson::dom::array(parser3.parse(history.out)).size() == 2498);

  // A clean file: exactly the offline summary line, exit 0; stdin works too.
  const std::string clean = f.dir().Sub("clean.ndjson");
  WriteEvents(clean, "SHP-CLEAN", 3, {});
  CliResult ok = RunCli(With({"import", "--format", "canonical", clean}, f.online()));
  CHECK(ok.code == 0);
  CHECK(ok.out == "{\"accepted\":3,\"duplicates\":0,\"rejected\":0}\n");

  // Options that only make sense offline are usage errors; unreadable files are I/O errors.
  CHECK(
      RunCli(With({"import", "--format", "x12", "--partners", "p.json", clean}, f.online())).code ==
      2);
  CHECK(RunCli(With({"import", "--format", "canonical", "/no/such/file"}, f.online())).code == 1);
}

TEST_CASE("online admin commands: dlq retry, drop, rebuild, republish") {
  OnlineFixture f;
  // Dead letter 3 is the X12 set; the server loaded partners.json at start.
  CliResult retried = RunCli(With({"dlq", "retry", "3"}, f.online()));
  CAPTURE(retried.err);
  CHECK(retried.code == 0);
  CHECK(retried.out ==
        "{\"retried\":1,\"resolved\":1,\"still_failing\":0,\"accepted\":1,\"duplicates\":0}\n");
  CliResult all = RunCli(With({"dlq", "retry", "--all"}, f.online()));
  CHECK(all.code == 3);  // the canonical rejects still fail
  CHECK(all.err.find("still fails") != std::string::npos);
  CHECK(RunCli(With({"dlq", "retry", "--all", "--mappings", "m"}, f.online())).code == 2);

  CliResult dropped = RunCli(With({"dlq", "drop", "1", "--reason", "test & more"}, f.online()));
  CHECK(dropped.code == 0);
  CHECK(dropped.out == "{\"dropped\":1}\n");
  CliResult shown = RunCli(With({"dlq", "show", "1"}, f.online()));
  CHECK(shown.out.find("\"state\":\"dropped\"") != std::string::npos);
  CHECK(shown.out.find("test & more") != std::string::npos);
  CHECK(RunCli(With({"dlq", "drop", "1"}, f.online())).code != 0);  // already dropped

  CliResult rebuilt = RunCli(With({"rebuild", "--view", "status"}, f.online()));
  CHECK(rebuilt.code == 0);
  CHECK(rebuilt.out.rfind("{\"ok\":true,\"checkpoint\":", 0) == 0);
  CHECK(RunCli(With({"rebuild", "--shipment", "SHP-1001"}, f.online())).code == 0);
  CHECK(RunCli(With({"rebuild", "--view", "nope"}, f.online())).code == 2);
  CliResult republished = RunCli(With({"republish", "--from", "1", "--to", "3"}, f.online()));
  CHECK(republished.code == 0);
  CHECK(republished.out.find("\"events\":3") != std::string::npos);
}

TEST_CASE("online errors: tokens, refused connections, offline-only options") {
  OnlineFixture f;
  const std::string elsewhere = f.dir().Sub("elsewhere");  // has no admin.token
  unsetenv("WAYBILL_TOKEN");
  CliResult none = RunCli({"view", "--server", f.url(), "--data-dir", elsewhere, "SHP-1"});
  CHECK(none.code == 1);
  CHECK(none.err.find("waybill view: server refused: 401 unauthenticated") != std::string::npos);
  CHECK(none.err.find("no token") != std::string::npos);

  CliResult wrong =
      RunCli({"view", "--server", f.url(), "--data-dir", elsewhere, "--token", "nope", "SHP-1"});
  CHECK(wrong.code == 1);
  CHECK(wrong.err.find("401") != std::string::npos);

  const std::string token = testing::ReadWholeFile(f.data() + "/admin.token");
  setenv("WAYBILL_TOKEN", token.c_str(), 1);
  CHECK(RunCli({"view", "--server", f.url(), "--data-dir", elsewhere, "SHP-1"}).code == 0);
  unsetenv("WAYBILL_TOKEN");

  CHECK(RunCli(With({"asof", "SHP-1", "--at", "2025-03-02T00:00:00Z", "--event-time"}, f.online()))
            .code == 2);
  CHECK(RunCli({"view", "--server", "not a url", "SHP-1"}).code == 2);

  const std::string url = f.url();
  REQUIRE(f.serve().Stop() == 0);
  CliResult refused = RunCli({"verify", "--server", url, "--data-dir", f.data()});
  CHECK(refused.code == 1);
  CHECK(refused.err.find("cannot connect to " + url) != std::string::npos);
}

TEST_CASE("serve takes deploy/waybill.conf as it is, and names a config file's bad line") {
  testing::TempDir dir;
  const std::string example =
      std::string(std::getenv("WAYBILL_SOURCE_DIR")) + "/deploy/waybill.conf";
  // Flags win over the file: its listener (port 8080) gives way to a free port.
  ServeProcess serve(dir.Sub("d"), {"--config", example, "--http", "127.0.0.1:0"},
                     dir.Sub("serve.log"));
  serve.Start();
  CHECK(WaitForUrl(serve).rfind("http://127.0.0.1:", 0) == 0);
  CHECK(serve.Stop() == 0);

  const std::string bad_conf = dir.Sub("bad.conf");
  std::ofstream(bad_conf) << "outbox-render-mb = 8\nno-such-option = 1\n";
  CliResult bad =
      RunCli({"serve", "--data-dir", dir.Sub("d2"), "--config", bad_conf, "--http", "127.0.0.1:0"});
  CHECK(bad.code == 2);
  CHECK_MESSAGE(bad.err.find(bad_conf) != std::string::npos, bad.err);
  CHECK_MESSAGE(bad.err.find("no-such-option") != std::string::npos, bad.err);
}

}  // namespace waybill
