// The pure parts of the `waybill` command: progress lines, the shared printers, the token
// order and the mapping of server answers to exit codes.
#include <dlfcn.h>
#include <doctest/doctest.h>
#include <stdlib.h>

#include <fstream>

#include "cli/online.h"
#include "cli/printers.h"
#include "cli/progress.h"
#include "schemas/event_json.h"
#include "schemas/time.h"
#include "tests/test_util.h"

namespace waybill::cli {
namespace {

UnixNanos At(const char* text) { return ParseRfc3339(text).value().utc; }

}  // namespace

TEST_CASE("executables run on tcmalloc unless built for the sanitizers") {
  // The build links tcmalloc into every executable (WAYBILL_TCMALLOC, root CMakeLists.txt);
  // this one stands for them. gperftools exports tc_version; glibc does not.
  const bool tcmalloc = dlsym(RTLD_DEFAULT, "tc_version") != nullptr;
#ifdef WAYBILL_EXPECT_TCMALLOC
  CHECK(tcmalloc);
#else
  CHECK_FALSE(tcmalloc);
#endif
}

TEST_CASE("progress lines: bytes with percentage, rate and time left; unknown totals") {
  using std::chrono::duration;
  CHECK(FormatProgress("import", 12u << 20, 48u << 20, ProgressUnit::kBytes, 120000,
                       duration<double>(3.0)) ==
        "import: 12.0 MiB of 48.0 MiB (25%), 120000 events, 40000 events/s, 9 s left");
  CHECK(FormatProgress("import", 2048, 0, ProgressUnit::kBytes, 0, duration<double>(1.0)) ==
        "import: 2.0 KiB");
  CHECK(FormatProgress("dlq retry", 3, 12, ProgressUnit::kItems, 0, duration<double>(2.0)) ==
        "dlq retry: 3 of 12 (25%), 1.5/s, 6 s left");
  CHECK(FormatProgress("import", 1, 1000, ProgressUnit::kItems, 0, duration<double>(1.0)) ==
        "import: 1 of 1000 (0%), 1.0/s, 16 min 39 s left");
  CHECK(FormatSpinner("rebuild", 5, duration<double>(12.34)) ==
        "rebuild: waiting for the server / 12.3 s");
}

TEST_CASE("a disabled meter or spinner writes nothing and ends cleanly") {
  ProgressMeter meter("import", 10, ProgressUnit::kBytes, false);
  meter.Update(5, 1);
  meter.Clear();
  Spinner spinner("rebuild", false);
}

TEST_CASE("history lines are built from the canonical JSON of an event") {
  Event e = testing::MakeMilestone("evt-1", "SHP-1", At("2025-03-01T08:00:00Z"));
  e.ledger.seq = 7;
  e.ledger.recorded_at = At("2025-03-01T09:00:00Z");
  CHECK(HistoryLine(EventToJson(e)) ==
        "7  2025-03-01T08:00:00Z  milestone  IN_TRANSIT (X6)  @ USCHI  [canonical/ACME evt-1]");

  e.location->unlocode.reset();
  e.reason_code = "AG";
  CHECK(HistoryLine(EventToJson(e)) ==
        "7  2025-03-01T08:00:00Z  milestone  IN_TRANSIT (X6) reason AG  @ Chicago, US  "
        "[canonical/ACME evt-1]");

  Event c = testing::MakeMilestone("evt-2", "SHP-1", At("2025-03-02T08:00:00Z"));
  c.kind = EventKind::kCharges;
  c.status.reset();
  c.source_code.reset();
  c.location.reset();
  c.source.partner.reset();
  c.charges = Charges{ChargeBasis::kInvoiced, std::nullopt, "USD", 202575, {}};
  c.ledger.seq = 9;
  CHECK(HistoryLine(EventToJson(c)) ==
        "9  2025-03-02T08:00:00Z  charges  invoiced 2025.75 USD  [canonical evt-2]");
  // The server leaves charges out for a token without costs:read.
  c.charges.reset();
  CHECK(HistoryLine(EventToJson(c)) == "9  2025-03-02T08:00:00Z  charges    [canonical evt-2]");
  // The sequence may also sit under "ledger".
  CHECK(HistoryLine(R"({"kind":"milestone","ledger":{"seq":3},"event_id":"x",)"
                    R"("occurred_at":"2025-01-01T00:00:00Z","source":{"format":"x12"}})") ==
        "3  2025-01-01T00:00:00Z  milestone    [x12 x]");
}

TEST_CASE("dead-letter lines are built from the dead letter's JSON") {
  CHECK(DeadLetterLine(R"({"id":4,"state":"pending","received_at":"2025-01-15T10:00:00Z",)"
                       R"("format":"x12","partner":"ACME","origin":"f.x12",)"
                       R"("position":"ISA 1/GS 1/ST 0001","reasons":["LT: no zone","b"],)"
                       R"("attempts":0,"raw_bytes":10})") ==
        "4  pending  2025-01-15T10:00:00Z  x12/ACME  f.x12 [ISA 1/GS 1/ST 0001]  LT: no zone");
  CHECK(DeadLetterLine(R"({"id":5,"state":"dropped","received_at":"2025-01-15T10:00:00Z",)"
                       R"("format":"canonical","reasons":[],"attempts":1,"raw_bytes":1})") ==
        "5  dropped  2025-01-15T10:00:00Z  canonical    ");
}

TEST_CASE("server answers: error objects, exit codes, one-line JSON") {
  client::HttpReply r;
  r.status = 401;
  r.body =
      R"({"error": {"code": "unauthenticated", "message": "token expired at X", "details": {}}})";
  ApiError e = ParseApiError(r);
  CHECK(e.code == "unauthenticated");
  CHECK(e.message == "token expired at X");
  r.body = "  <html>bad gateway</html>\n";
  e = ParseApiError(r);
  CHECK(e.code.empty());
  CHECK(e.message == "<html>bad gateway</html>");

  CHECK(ExitCodeForStatus(401) == kExitIoError);
  CHECK(ExitCodeForStatus(403) == kExitIoError);
  CHECK(ExitCodeForStatus(404) == kExitNotFound);
  CHECK(ExitCodeForStatus(422) == kExitRejected);
  CHECK(ExitCodeForStatus(400) == kExitUsage);
  CHECK(ExitCodeForStatus(503) == kExitIoError);

  CHECK(MinifyJson("{\n  \"a\": \"x  y\",\n  \"b\": [1, 2.50]\n}\n") ==
        "{\"a\":\"x  y\",\"b\":[1,2.50]}");
  CHECK(MinifyJson(R"({"ok":true})") == R"({"ok":true})");
}

TEST_CASE("the token: --token, then WAYBILL_TOKEN, then DATA_DIR/admin.token") {
  testing::TempDir dir;
  std::ofstream(dir.Sub("admin.token")) << "  file-token\n";
  OnlineOptions online;
  unsetenv("WAYBILL_TOKEN");
  TokenChoice t = ResolveToken(online, dir.path());
  CHECK(t.token == "file-token");
  CHECK(t.source == dir.path() + "/admin.token");
  CHECK(ResolveToken(online, dir.Sub("nowhere")).token.empty());
  CHECK(ResolveToken(online, dir.Sub("nowhere")).source.empty());
  setenv("WAYBILL_TOKEN", "env-token", 1);
  t = ResolveToken(online, dir.path());
  CHECK(t.token == "env-token");
  CHECK(t.source == "WAYBILL_TOKEN");
  online.token = "flag-token";
  t = ResolveToken(online, dir.path());
  CHECK(t.token == "flag-token");
  CHECK(t.source == "--token");
  unsetenv("WAYBILL_TOKEN");
}

}  // namespace waybill::cli
