// `waybill export` and the chain restore of `waybill import --format canonical`, end to end
// with the real binary and real RocksDB: an export restored onto an empty data dir is the
// same chain (same head digest, byte-identical re-export); ranges restore in order; a
// tampered line, a gap or an unrelated ledger is refused and stores nothing.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <fstream>
#include <sstream>

#include "tests/serve_process.h"
#include "tests/test_util.h"

namespace waybill {
namespace {

using testing::CliResult;
using testing::ReadWholeFile;
using testing::RunCli;

std::string Fixture(const std::string& name) {
  return std::string(std::getenv("WAYBILL_SOURCE_DIR")) + "/tests/fixtures/" + name;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Join(const std::vector<std::string>& lines, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to; ++i) out += lines[i] + "\n";
  return out;
}

struct Digest {
  std::int64_t seq = -1;
  std::string hash;
  bool operator==(const Digest&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Digest& d) {
  return os << "seq " << d.seq << " hash " << d.hash;
}

// `waybill verify`'s head digest (the chain must be intact).
Digest Verify(const std::string& data_dir) {
  CliResult r = RunCli({"verify", "--data-dir", data_dir});
  INFO("verify: ", r.out, r.err);
  REQUIRE(r.code == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(r.out);
  return {std::int64_t(doc["head_seq"]), std::string(std::string_view(doc["head_hash"]))};
}

// A ledger built the way production builds one: canonical lines with a duplicate and two
// dead letters, X12 with a resent interchange (duplicates) and rejects, and DCSA events,
// over several imports (several group commits, several recorded_at values).
void BuildSource(const std::string& dd) {
  CliResult c = RunCli(
      {"import", "--data-dir", dd, "--format", "canonical", Fixture("canonical/mixed.ndjson")});
  CHECK(c.code == 3);  // the fixture's two bad lines become dead letters
  CliResult x = RunCli({"import", "--data-dir", dd, "--format", "x12", "--partner", "ACME",
                        Fixture("x12/214_statuses.x12"), Fixture("x12/214_resent.x12"),
                        Fixture("x12/210_invoices.x12")});
  CHECK(x.code == 3);
  CHECK(x.out.find("\"duplicates\":0") == std::string::npos);
  CliResult d =
      RunCli({"import", "--data-dir", dd, "--format", "dcsa-tnt", Fixture("dcsa/voyage.json")});
  CHECK(d.code == 0);
}

std::int64_t StatsField(const std::string& dd, const char* field) {
  CliResult r = RunCli({"stats", "--data-dir", dd});
  REQUIRE(r.code == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(r.out);
  return std::int64_t(doc[field]);
}

// One source ledger and its full export, shared by the cases.
struct SourceLedger {
  testing::TempDir tmp;
  std::string dd = tmp.Sub("source");
  std::string all = tmp.Sub("all.ndjson");
  Digest head;
  std::vector<std::string> lines;

  SourceLedger() {
    BuildSource(dd);
    head = Verify(dd);
    REQUIRE(head.seq >= 15);
    CliResult e = RunCli({"export", "--data-dir", dd, "--out", all});
    INFO("export: ", e.err);
    REQUIRE(e.code == 0);
    lines = Lines(ReadWholeFile(all));
  }
};

// Built once per process: every case only reads it (serve, last, adds no events).
const SourceLedger& SharedSource() {
  static SourceLedger source;  // removed at exit
  return source;
}

}  // namespace

TEST_CASE("export all and restore onto an empty data dir: the same chain, byte for byte") {
  const SourceLedger& src = SharedSource();
  testing::TempDir tmp;
  REQUIRE(src.lines.size() == static_cast<std::size_t>(src.head.seq));

  // The summary (stderr) names the range and the digest of its last event.
  CliResult again = RunCli({"export", "--data-dir", src.dd});
  REQUIRE(again.code == 0);
  CHECK(again.out == ReadWholeFile(src.all));
  simdjson::dom::parser parser;
  simdjson::dom::element summary = parser.parse(again.err);
  CHECK(std::int64_t(summary["from"]) == 1);
  CHECK(std::int64_t(summary["to"]) == src.head.seq);
  CHECK(std::int64_t(summary["events"]) == src.head.seq);
  CHECK(std::string_view(summary["head_hash"]) == src.head.hash);

  // Every line carries the ledger fields and what the content digest covers.
  for (const auto& line : src.lines) {
    CHECK(line.find("\"seq\":") != std::string::npos);
    CHECK(line.find("\"prev_hash\":") != std::string::npos);
    CHECK(line.find("\"raw_hash\":") != std::string::npos);
    CHECK(line.find("\"principal\":\"local:") != std::string::npos);
  }

  const std::string dst = tmp.Sub("restored");
  CliResult r = RunCli({"import", "--data-dir", dst, "--format", "canonical", src.all});
  INFO("import: ", r.out, r.err);
  REQUIRE(r.code == 0);
  simdjson::dom::element imported = parser.parse(r.out);
  CHECK(std::int64_t(imported["accepted"]) == src.head.seq);
  CHECK(std::string_view(imported["restored"]["head_hash"]) == src.head.hash);
  CHECK(Verify(dst) == src.head);

  CliResult re = RunCli({"export", "--data-dir", dst});
  REQUIRE(re.code == 0);
  CHECK(re.out == ReadWholeFile(src.all));

  // Dead letters are not exported: the source has some, the restored ledger none.
  CHECK(StatsField(src.dd, "dead_letters") > 0);
  CHECK(StatsField(dst, "dead_letters") == 0);

  SUBCASE("restoring the same export again is refused: it does not continue the head") {
    CliResult twice = RunCli({"import", "--data-dir", dst, "--format", "canonical", src.all});
    CHECK(twice.code == 3);
    CHECK(twice.err.find("this ledger's head is seq " + std::to_string(src.head.seq)) !=
          std::string::npos);
    CHECK(Verify(dst) == src.head);
  }
  SUBCASE("from stdin") {
    // Through the shell: stdin cannot be reread, so the restore spools it.
    const std::string piped = tmp.Sub("piped");
    const std::string cmd = std::string(WAYBILL_CLI_PATH) + " import --data-dir " + piped +
                            " --format canonical - < " + src.all + " > /dev/null 2>&1";
    CHECK(std::system(cmd.c_str()) == 0);
    CHECK(Verify(piped) == src.head);
  }
}

TEST_CASE("export in two ranges and restore them in order: the same head") {
  const SourceLedger& src = SharedSource();
  testing::TempDir tmp;
  const std::uint64_t k = 7;
  const std::string p1 = tmp.Sub("p1.ndjson"), p2 = tmp.Sub("p2.ndjson");
  REQUIRE(RunCli({"export", "--data-dir", src.dd, "--to", std::to_string(k), "--out", p1}).code ==
          0);
  REQUIRE(
      RunCli({"export", "--data-dir", src.dd, "--from", std::to_string(k + 1), "--out", p2}).code ==
      0);
  CHECK(ReadWholeFile(p1) + ReadWholeFile(p2) == ReadWholeFile(src.all));

  const std::string dst = tmp.Sub("dst");
  // Out of order: the second range does not continue an empty ledger.
  CliResult early = RunCli({"import", "--data-dir", dst, "--format", "canonical", p2});
  CHECK(early.code == 3);
  CHECK(early.err.find("the export starts at seq " + std::to_string(k + 1)) != std::string::npos);
  CHECK(early.err.find("nothing was restored") != std::string::npos);
  CHECK(Verify(dst).seq == 0);

  CliResult first = RunCli({"import", "--data-dir", dst, "--format", "canonical", p1});
  REQUIRE(first.code == 0);
  CHECK(Verify(dst).seq == static_cast<std::int64_t>(k));
  CliResult second = RunCli({"import", "--data-dir", dst, "--format", "canonical", p2});
  REQUIRE(second.code == 0);
  CHECK(Verify(dst) == src.head);

  // Both files in one command, in order, too.
  const std::string both = tmp.Sub("both");
  CHECK(RunCli({"import", "--data-dir", both, "--format", "canonical", p1, p2}).code == 0);
  CHECK(Verify(both) == src.head);

  // Bad ranges are usage errors with a clear message.
  CliResult beyond = RunCli({"export", "--data-dir", src.dd, "--from", "100000"});
  CHECK(beyond.code == 2);
  CHECK(beyond.err.find("beyond the head") != std::string::npos);
  CliResult reversed = RunCli({"export", "--data-dir", src.dd, "--from", "5", "--to", "3"});
  CHECK(reversed.code == 2);
  CHECK(reversed.err.find("--from 5 is after --to 3") != std::string::npos);
}

TEST_CASE("a tampered export, a mixed file or an unrelated ledger is refused, storing nothing") {
  const SourceLedger& src = SharedSource();
  testing::TempDir tmp;
  const std::size_t k = 7;
  const std::string dst = tmp.Sub("dst");
  const std::string p1 = tmp.Sub("p1.ndjson");
  WriteFile(p1, Join(src.lines, 0, k));
  REQUIRE(RunCli({"import", "--data-dir", dst, "--format", "canonical", p1}).code == 0);
  const Digest at_k = Verify(dst);
  const std::string bad = tmp.Sub("bad.ndjson");

  SUBCASE("one character of content changed") {
    std::vector<std::string> lines = src.lines;
    std::string& line = lines[k + 2];  // seq k+3
    const std::size_t at = line.find("\"shipment_id\":\"") + 15;
    line[at] = line[at] == 'Q' ? 'R' : 'Q';
    WriteFile(bad, Join(lines, k, lines.size()));
    CliResult r = RunCli({"import", "--data-dir", dst, "--format", "canonical", bad});
    CHECK(r.code == 3);
    CHECK(r.err.find("(seq " + std::to_string(k + 3) + "): the line does not match its hash") !=
          std::string::npos);
  }
  SUBCASE("a wrong hash") {
    std::vector<std::string> lines = src.lines;
    std::string& line = lines[k];  // seq k+1
    const std::size_t at = line.rfind("\"}") - 1;
    line[at] = line[at] == '0' ? '1' : '0';
    WriteFile(bad, Join(lines, k, lines.size()));
    CliResult r = RunCli({"import", "--data-dir", dst, "--format", "canonical", bad});
    CHECK(r.code == 3);
    CHECK(r.err.find("(seq " + std::to_string(k + 1) + ")") != std::string::npos);
  }
  SUBCASE("a line without ledger fields in an export") {
    const std::string text = Join(src.lines, k, k + 2) +
                             Lines(ReadWholeFile(Fixture("canonical/mixed.ndjson")))[0] + "\n" +
                             Join(src.lines, k + 2, src.lines.size());
    WriteFile(bad, text);
    CliResult r = RunCli({"import", "--data-dir", dst, "--format", "canonical", bad});
    CHECK(r.code == 3);
    CHECK(r.err.find(":3: carries no ledger fields") != std::string::npos);
  }
  SUBCASE("an unrelated, non-empty ledger") {
    const std::string other = tmp.Sub("other");
    CHECK(RunCli({"import", "--data-dir", other, "--format", "canonical",
                  Fixture("canonical/mixed.ndjson")})
              .code == 3);
    const Digest before = Verify(other);
    CliResult r = RunCli({"import", "--data-dir", other, "--format", "canonical", src.all});
    CHECK(r.code == 3);
    CHECK(r.err.find("this ledger's head is seq " + std::to_string(before.seq)) !=
          std::string::npos);
    CHECK(Verify(other) == before);
  }
  // Nothing after the head moved, and the intact rest still restores.
  CHECK(Verify(dst) == at_k);
  WriteFile(bad, Join(src.lines, k, src.lines.size()));
  CHECK(RunCli({"import", "--data-dir", dst, "--format", "canonical", bad}).code == 0);
  CHECK(Verify(dst) == src.head);
}

TEST_CASE("a plain import dead-letters a later line that carries ledger fields") {
  const SourceLedger& src = SharedSource();
  testing::TempDir tmp;
  const std::string file = tmp.Sub("plain-first.ndjson");
  WriteFile(file, Lines(ReadWholeFile(Fixture("canonical/mixed.ndjson")))[0] + "\n" +
                      Join(src.lines, 3, 4));
  CliResult r = RunCli({"import", "--data-dir", tmp.Sub("d"), "--format", "canonical", file});
  CHECK(r.code == 3);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(r.out);
  CHECK(std::int64_t(doc["accepted"]) == 1);
  CHECK(std::int64_t(doc["rejected"]) == 1);
  CHECK(std::int64_t(doc["rejects"].at(0)["line"]) == 2);
  CHECK(std::string_view(doc["rejects"].at(0)["reason"]).find("carries ledger fields") !=
        std::string_view::npos);
}

TEST_CASE("export works while serve runs; an online import refuses an export") {
  const SourceLedger& src = SharedSource();
  testing::TempDir tmp;
  testing::ServeProcess serve(src.dd, {}, tmp.Sub("serve.log"));
  serve.Start(std::chrono::seconds(60));
  CliResult live = RunCli({"export", "--data-dir", src.dd});
  INFO("export: ", live.err);
  CHECK(live.code == 0);
  CHECK(live.out == ReadWholeFile(src.all));

  CliResult online = RunCli({"import", "--server", serve.http_url(), "--token", "unused",
                             "--format", "canonical", src.all});
  CHECK(online.code == 2);
  CHECK(online.err.find("a chain restore is offline only") != std::string::npos);
  CHECK(serve.Stop() == 0);
  CHECK(Verify(src.dd) == src.head);
}

}  // namespace waybill
