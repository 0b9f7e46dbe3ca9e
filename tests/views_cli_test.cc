// `waybill view`, `asof`, `rebuild` and `stats` end to end through the real binary, offline.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "schemas/time.h"
#include "tests/cli_runner.h"
#include "tests/test_util.h"

namespace waybill {
namespace {

using testing::Waybill;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string SamplePath() {
  return std::string(std::getenv("WAYBILL_SOURCE_DIR")) + "/deploy/sample/shipments.ndjson";
}

// The sample split in two files: its first `n` lines and the rest.
void SplitSample(const std::string& dir, int n) {
  std::istringstream lines(ReadFile(SamplePath()));
  std::ofstream a(dir + "/a.ndjson"), b(dir + "/b.ndjson");
  std::string line;
  for (int i = 0; std::getline(lines, line); ++i) (i < n ? a : b) << line << "\n";
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("view, asof and rebuild of the sample shipment") {
  testing::TempDir dir;
  const std::string data = "--data-dir " + dir.path() + "/data";
  SplitSample(dir.path(), 6);
  REQUIRE(Waybill("import " + data + " --format canonical " + dir.path() + "/a.ndjson").code == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string between = FormatUtc(NowUnixNanos());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(Waybill("import " + data + " --format canonical " + dir.path() + "/b.ndjson").code == 0);

  // No worker has run: view folds the log itself.
  auto view = Waybill("view " + data + " SHP-1001 --json");
  REQUIRE(view.code == 0);
  CHECK(Contains(view.out, "\"shipment_id\":\"SHP-1001\""));
  CHECK(Contains(view.out, "\"status\":\"DELIVERED\""));
  CHECK(Contains(view.out, "\"customer_id\":\"CUST-0042\""));
  CHECK(Contains(view.out, "\"freight_cost\":{"));
  CHECK(Contains(view.out, "\"current\":\"2145.75\""));
  CHECK(Contains(view.out, "\"late_by\":"));

  auto human = Waybill("view " + data + " SHP-1001");
  REQUIRE(human.code == 0);
  CHECK(Contains(human.out, "status: DELIVERED\n"));

  CHECK(Waybill("view " + data + " NO-SUCH-SHIPMENT").code == 5);

  // As of a time between the two imports: only the first file was known.
  auto before = Waybill("asof " + data + " SHP-1001 --at " + between + " --json");
  REQUIRE(before.code == 0);
  CHECK(!Contains(before.out, "\"status\":\"DELIVERED\""));
  CHECK(before.out != view.out);
  auto now = Waybill("asof " + data + " SHP-1001 --at " + FormatUtc(NowUnixNanos()) + " --json");
  REQUIRE(now.code == 0);
  CHECK(now.out == view.out);
  CHECK(Waybill("asof " + data + " SHP-1001 --at 2000-01-01T00:00:00Z").code == 5);
  CHECK(Waybill("asof " + data + " SHP-1001 --at yesterday").code == 2);

  // By event time: before the delivery happened (2025-03-07T14:20Z) it was not delivered.
  auto by_event =
      Waybill("asof " + data + " SHP-1001 --at 2025-03-06T00:00:00Z --event-time --json");
  REQUIRE(by_event.code == 0);
  CHECK(!Contains(by_event.out, "\"status\":\"DELIVERED\""));
  CHECK(Contains(by_event.out, "\"delivered_at\":null"));

  // Rebuild offline: folds the whole log; the views read back the same.
  auto rebuilt = Waybill("rebuild " + data);
  REQUIRE(rebuilt.code == 0);
  CHECK(Contains(rebuilt.out, "\"ok\":true"));
  CHECK(Waybill("view " + data + " SHP-1001 --json").out == view.out);
  CHECK(Waybill("rebuild " + data + " --view status --shipment SHP-1001").code == 0);
  CHECK(Waybill("view " + data + " SHP-1001 --json").out == view.out);
  CHECK(Waybill("rebuild " + data + " --view nope").code == 2);

  auto stats = Waybill("stats " + data);
  REQUIRE(stats.code == 0);
  CHECK(Contains(stats.out, "\"lag_events\":0"));
  CHECK(!Contains(stats.out, "\"outbox_backlog\":0,"));  // queued for a server to publish

  auto republish = Waybill("republish " + data + " --from 1 --to 3");
  REQUIRE(republish.code == 0);
  CHECK(Contains(republish.out, "\"events\":3"));
}

}  // namespace waybill
