// `waybill backup` and `waybill restore` with the real binary: online backups taken while a
// client ingests over HTTP, restored into new data dirs that verify, end exactly at the head
// recorded at backup time, hold every event acknowledged before the backup started and
// serve views; the backup routes refuse names outside the checkpoint; restore refuses damaged
// backups and non-empty targets. Also BACKUP.json parsing.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "cli/backup_manifest.h"
#include "ledger/ledger.h"
#include "server/client/http_client.h"
#include "tests/serve_process.h"
#include "tests/test_util.h"

namespace waybill {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::RunCli;

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string MilestoneLine(const std::string& id, const std::string& shipment) {
  return R"({"event_id":")" + id +
         R"(","kind":"milestone","occurred_at":"2025-01-01T00:00:00Z","source":{"system":"carrier"},"shipment_id":")" +
         shipment + R"(","status":"IN_TRANSIT"})" + "\n";
}

std::unique_ptr<client::HttpClient> Client(const std::string& url, const std::string& token) {
  client::ClientOptions o;
  o.base_url = url;
  o.bearer_token = token;
  o.timeout = std::chrono::seconds(60);
  auto c = client::HttpClient::Create(o);
  REQUIRE(c.ok());
  return std::move(c).value();
}

struct Head {
  std::uint64_t seq = 0;
  std::string hash;
};

// The "head" object of a JSON document (backup/restore output, BACKUP.json).
Head HeadOf(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  INFO("json: " << json);
  REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
  Head h;
  std::string_view hash;
  REQUIRE(doc["head"]["seq"].get(h.seq) == simdjson::SUCCESS);
  REQUIRE(doc["head"]["hash"].get(hash) == simdjson::SUCCESS);
  h.hash = std::string(hash);
  return h;
}

// Every event id in the ledger at `data_dir` (opened read-only).
std::set<std::string> EventIds(const std::string& data_dir, std::uint64_t* head_seq) {
  ledger::LedgerOptions o;
  o.mode = ledger::OpenMode::kReadOnly;
  auto l = ledger::Ledger::Open(data_dir, o);
  REQUIRE_MESSAGE(l.ok(), l.status().ToString());
  std::set<std::string> ids;
  REQUIRE((*l)->ReadRange(1, UINT64_MAX,
                          [&](const Event& e) {
                            ids.insert(e.event_id);
                            return true;
                          })
              .ok());
  *head_seq = (*l)->Head().seq;
  return ids;
}

// Posts batches of canonical events until stopped; remembers which ids were acknowledged.
class Ingestor {
 public:
  Ingestor(std::string url, std::string token)
      : url_(std::move(url)), token_(std::move(token)), thread_([this] { Run(); }) {}
  ~Ingestor() { Stop(); }

  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // Ids acknowledged (HTTP 200) so far.
  std::vector<std::string> Acked() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  std::size_t batches() const { return batches_.load(); }
  int failures() const { return failures_.load(); }

 private:
  void Run() {
    auto c = Client(url_, token_);
    for (int batch = 0; !stop_.load(); ++batch) {
      std::string body;
      std::vector<std::string> ids;
      for (int j = 0; j < 25; ++j) {
        ids.push_back("bk-" + std::to_string(batch) + "-" + std::to_string(j));
        body += MilestoneLine(ids.back(), "SHP-BK-" + std::to_string((batch * 25 + j) % 40));
      }
      auto r = c->Request("POST", "/v1/ingest/canonical", body,
                          {{"Content-Type", "application/x-ndjson"}});
      if (!r.ok() || r->status != 200) {
        failures_.fetch_add(1);
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        acked_.insert(acked_.end(), ids.begin(), ids.end());
      }
      batches_.fetch_add(1);
    }
  }

  std::string url_, token_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> batches_{0};
  std::atomic<int> failures_{0};
  std::mutex mu_;
  std::vector<std::string> acked_;
  std::thread thread_;
};

void WaitForBatches(const Ingestor& ingest, std::size_t at_least) {
  for (int i = 0; i < 1000 && ingest.batches() < at_least; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(ingest.batches() >= at_least);
}

TEST_CASE("online backups taken while ingest runs restore to verified ledgers") {
  testing::TempDir tmp;
  const std::string data = tmp.Sub("data");
  testing::ServeProcess serve(data, {}, tmp.Sub("serve.log"));
  serve.Start(std::chrono::seconds(60));
  const std::string url = serve.http_url();
  REQUIRE(!url.empty());
  const std::string token = Trimmed(testing::ReadWholeFile(data + "/admin.token"));
  REQUIRE(!token.empty());
  std::ofstream(tmp.Sub("token")) << token << "\n";

  Ingestor ingest(url, token);
  struct Taken {
    std::string dir;
    std::vector<std::string> acked_before;
    Head head;
  };
  std::vector<Taken> taken;
  for (int round = 0; round < 2; ++round) {
    WaitForBatches(ingest, ingest.batches() + 5);
    Taken t;
    t.dir = tmp.Sub("backup" + std::to_string(round));
    t.acked_before = ingest.Acked();
    // Round 0 finds the server through DATA_DIR/http.url (the data dir is held); round 1
    // names it, with the token from a file.
    CliResult r = round == 0 ? RunCli({"backup", "--data-dir", data, "--to", t.dir})
                             : RunCli({"backup", "--server", url, "--token-file", tmp.Sub("token"),
                                       "--data-dir", tmp.Sub("nowhere"), "--to", t.dir});
    INFO("backup: " << r.out << r.err);
    REQUIRE(r.code == 0);
    t.head = HeadOf(r.out);
    CHECK(t.head.seq >= t.acked_before.size());
    const Head recorded = HeadOf(testing::ReadWholeFile(t.dir + "/BACKUP.json"));
    CHECK(recorded.seq == t.head.seq);
    CHECK(recorded.hash == t.head.hash);
    taken.push_back(std::move(t));
  }
  WaitForBatches(ingest, ingest.batches() + 3);  // ingest went on after the last backup
  ingest.Stop();
  CHECK(ingest.failures() == 0);
  CHECK(taken[1].head.seq > taken[0].head.seq);
  // Every checkpoint was released on the server.
  std::error_code ec;
  CHECK(fs::is_empty(data + "/backups", ec));

  {  // The backup routes hand out only the checkpoint's listed files.
    auto c = Client(url, token);
    auto made = c->Request("POST", "/v1/admin/backups");
    REQUIRE(made.ok());
    REQUIRE(made->status == 200);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    REQUIRE(parser.parse(made->body).get(doc) == simdjson::SUCCESS);
    std::string_view id_view;
    REQUIRE(doc["id"].get(id_view) == simdjson::SUCCESS);
    const std::string id(id_view);
    const std::string base = "/v1/admin/backups/" + id;
    auto status_of = [&](const std::string& target, std::string_view method = "GET") {
      auto r = c->Request(method, target);
      REQUIRE(r.ok());
      return r->status;
    };
    CHECK(status_of(base + "/files/CURRENT") == 200);
    CHECK(status_of(base + "/files/..%2FLOCK") == 404);
    CHECK(status_of(base + "/files/..%2F..%2Fadmin.token") == 404);
    CHECK(status_of(base + "/files/%2E%2E") == 404);
    CHECK(status_of("/v1/admin/backups/..%2F..%2F/files/admin.token") == 404);
    CHECK(status_of(base + "/files/CURRENT?length=0") == 400);
    CHECK(status_of(base + "/files/CURRENT?length=8388609") == 400);
    CHECK(status_of(base + "/files/CURRENT?offset=999999999") == 400);
    CHECK(status_of(base + "/files/CURRENT?bogus=1") == 400);
    auto chunk = c->Request("GET", base + "/files/CURRENT?offset=0&length=8");
    REQUIRE(chunk.ok());
    CHECK(chunk->body == "MANIFEST");
    CHECK(chunk->header("Content-Type") == "application/octet-stream");
    // At most four checkpoints at once: each pins files.
    std::vector<std::string> more;
    for (int i = 0; i < 3; ++i) {
      auto r = c->Request("POST", "/v1/admin/backups");
      REQUIRE(r.ok());
      REQUIRE(r->status == 200);
      simdjson::dom::element more_doc;
      std::string_view more_id;
      REQUIRE(parser.parse(r->body).get(more_doc) == simdjson::SUCCESS);
      REQUIRE(more_doc["id"].get(more_id) == simdjson::SUCCESS);
      more.emplace_back(more_id);
    }
    CHECK(status_of("/v1/admin/backups", "POST") == 409);
    for (const auto& m : more) CHECK(status_of("/v1/admin/backups/" + m, "DELETE") == 200);
    CHECK(status_of(base, "DELETE") == 200);
    CHECK(status_of(base, "DELETE") == 404);
    CHECK(status_of(base + "/files/CURRENT") == 404);
    CHECK(!fs::exists(data + "/backups/" + id));
  }

  {  // Each backup restores, verifies and holds what was acknowledged before it.
    std::uint64_t live_head = 0;
    REQUIRE(serve.Stop() == 0);
    const auto live_ids = EventIds(data, &live_head);
    ledger::LedgerOptions ro;
    ro.mode = ledger::OpenMode::kReadOnly;
    auto live = ledger::Ledger::Open(data, ro);
    REQUIRE(live.ok());
    for (std::size_t i = 0; i < taken.size(); ++i) {
      const std::string restored = tmp.Sub("restored" + std::to_string(i));
      CliResult r = RunCli({"restore", "--from", taken[i].dir, "--data-dir", restored});
      INFO("restore: " << r.out << r.err);
      REQUIRE(r.code == 0);
      const Head head = HeadOf(r.out);
      CHECK(head.seq == taken[i].head.seq);
      CHECK(head.hash == taken[i].head.hash);
      CliResult v = RunCli({"verify", "--data-dir", restored});
      CHECK(v.code == 0);
      CHECK(v.out.find("\"head_hash\":\"" + taken[i].head.hash + "\"") != std::string::npos);
      std::uint64_t restored_head = 0;
      const auto ids = EventIds(restored, &restored_head);
      CHECK(restored_head == taken[i].head.seq);
      CHECK(ids.size() == restored_head);
      std::size_t missing = 0;
      for (const auto& id : taken[i].acked_before) missing += ids.count(id) == 0;
      CHECK(missing == 0);
      // The restored chain is a prefix of the live one: same hash at the same sequence.
      auto same = (*live)->Get(taken[i].head.seq);
      REQUIRE(same.ok());
      CHECK(ToHex(same->ledger.hash) == taken[i].head.hash);
    }
    CHECK(live_ids.size() == live_head);

    // A restored data dir is a working data dir.
    const std::string restored = tmp.Sub("restored1");
    testing::ServeProcess again(restored, {}, tmp.Sub("again.log"));
    again.Start(std::chrono::seconds(60));
    const std::string token2 = Trimmed(testing::ReadWholeFile(restored + "/admin.token"));
    auto c = Client(again.http_url(), token2);
    int status = 0;
    for (int i = 0; i < 500 && status != 200; ++i) {
      auto r = c->Request("GET", "/v1/shipments/SHP-BK-1");
      REQUIRE(r.ok());
      status = r->status;
      if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(status == 200);
    auto h = c->Request("GET", "/v1/ledger/head");
    REQUIRE(h.ok());
    CHECK(HeadOf("{\"head\":" + h->body + "}").hash == taken[1].head.hash);
    CHECK(again.Stop() == 0);
  }
}

TEST_CASE("restore refuses damaged backups and non-empty targets") {
  testing::TempDir tmp;
  const std::string data = tmp.Sub("data");
  {
    std::ofstream f(tmp.Sub("events.ndjson"));
    for (int i = 0; i < 200; ++i) {
      f << MilestoneLine("off-" + std::to_string(i), "SHP-OFF-" + std::to_string(i % 7));
    }
  }
  REQUIRE(RunCli({"import", "--data-dir", data, "--format", "canonical", tmp.Sub("events.ndjson")})
              .code == 0);
  // Offline: no server holds the data dir, so backup makes the checkpoint itself.
  const std::string backup = tmp.Sub("backup");
  CliResult b = RunCli({"backup", "--data-dir", data, "--to", backup});
  INFO("backup: " << b.out << b.err);
  REQUIRE(b.code == 0);
  CHECK(HeadOf(b.out).seq == 200);
  CliResult again = RunCli({"backup", "--data-dir", data, "--to", backup});
  CHECK(again.code == 2);
  CHECK(again.err.find("not an empty directory") != std::string::npos);

  auto copy_of_backup = [&](const std::string& name) {
    const std::string dir = tmp.Sub(name);
    fs::copy(backup, dir, fs::copy_options::recursive);
    return dir;
  };

  {  // A good backup restores into an empty directory.
    fs::create_directories(tmp.Sub("empty"));
    CliResult r = RunCli({"restore", "--from", backup, "--data-dir", tmp.Sub("empty")});
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK(RunCli({"verify", "--data-dir", tmp.Sub("empty")}).code == 0);
  }
  {  // A non-empty target is refused and left alone.
    fs::create_directories(tmp.Sub("busy"));
    std::ofstream(tmp.Sub("busy/keep")) << "x";
    CliResult r = RunCli({"restore", "--from", backup, "--data-dir", tmp.Sub("busy")});
    CHECK(r.code == 2);
    CHECK(r.err.find("not empty") != std::string::npos);
    CHECK(testing::ReadWholeFile(tmp.Sub("busy/keep")) == "x");
  }
  {  // One flipped byte in a file is found and named.
    const std::string bad = copy_of_backup("bad");
    std::string victim;
    std::uintmax_t largest = 0;
    for (const auto& e : fs::directory_iterator(bad)) {
      if (e.path().extension() == ".sst" && e.file_size() > largest) {
        largest = e.file_size();
        victim = e.path().filename().string();
      }
    }
    REQUIRE(!victim.empty());
    {
      std::fstream f(bad + "/" + victim, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(static_cast<std::streamoff>(largest / 2));
      char c = 0;
      f.read(&c, 1);
      c = static_cast<char>(c ^ 0x01);
      f.seekp(static_cast<std::streamoff>(largest / 2));
      f.write(&c, 1);
    }
    CliResult r = RunCli({"restore", "--from", bad, "--data-dir", tmp.Sub("r-bad")});
    CHECK(r.code == 4);
    CHECK(r.err.find(victim) != std::string::npos);
    CHECK(!fs::exists(tmp.Sub("r-bad")));
    bool leftovers = false;
    for (const auto& e : fs::directory_iterator(tmp.path())) {
      leftovers = leftovers || e.path().filename().string().find(".restore-") != std::string::npos;
    }
    CHECK(!leftovers);
  }
  {  // A head digest that the chain does not end at is refused.
    const std::string bad = copy_of_backup("bad-head");
    std::string manifest = testing::ReadWholeFile(bad + "/BACKUP.json");
    const std::string real = HeadOf(manifest).hash;
    const std::string other(64, real[0] == 'a' ? 'b' : 'a');
    manifest.replace(manifest.find(real), real.size(), other);
    std::ofstream(bad + "/BACKUP.json", std::ios::trunc) << manifest;
    CliResult r = RunCli({"restore", "--from", bad, "--data-dir", tmp.Sub("r-head")});
    CHECK(r.code == 4);
    CHECK(r.err.find("BACKUP.json recorded") != std::string::npos);
    CHECK(!fs::exists(tmp.Sub("r-head")));
  }
  {  // A backup without BACKUP.json is incomplete.
    const std::string bad = copy_of_backup("partial");
    fs::remove(bad + "/BACKUP.json");
    CliResult r = RunCli({"restore", "--from", bad, "--data-dir", tmp.Sub("r-partial")});
    CHECK(r.code == 1);
    CHECK(r.err.find("BACKUP.json") != std::string::npos);
  }
}

TEST_CASE("BACKUP.json round-trips and rejects what is not a manifest") {
  cli::BackupManifest m;
  m.format_version = 1;
  m.head_seq = 7;
  m.head_hash = std::string(64, 'a');
  m.head_recorded_at = "2026-11-28T00:00:00Z";
  m.created_at = "2026-11-28T00:00:01Z";
  m.source = "http://127.0.0.1:1";
  m.files = {{"CURRENT", 16, std::string(64, 'b')}, {"000001.sst", 99, std::string(64, 'c')}};
  auto back = cli::ParseBackupManifest(cli::BackupManifestJson(m));
  REQUIRE(back.ok());
  CHECK(back->head_seq == 7);
  CHECK(back->head_hash == m.head_hash);
  CHECK(back->head_recorded_at == m.head_recorded_at);
  REQUIRE(back->files.size() == 2);
  CHECK(back->files[1].name == "000001.sst");
  CHECK(back->files[1].size == 99);

  auto with_file = [&](const std::string& name, const std::string& hash) {
    cli::BackupManifest bad = m;
    bad.files.push_back({name, 1, hash});
    return cli::ParseBackupManifest(cli::BackupManifestJson(bad));
  };
  CHECK(with_file("../LOCK", std::string(64, 'd')).status().message().find("files[2].name") !=
        std::string::npos);
  CHECK(!with_file("BACKUP.json", std::string(64, 'd')).ok());
  CHECK(!with_file("..", std::string(64, 'd')).ok());
  CHECK(with_file("CURRENT", std::string(64, 'd')).status().message().find("twice") !=
        std::string::npos);
  CHECK(with_file("x", "abc").status().message().find("files[2].sha256") != std::string::npos);
  CHECK(cli::ParseBackupManifest("{}").status().message().find("format_version") !=
        std::string::npos);
  CHECK(!cli::ParseBackupManifest("not json").ok());
}

}  // namespace
}  // namespace waybill
