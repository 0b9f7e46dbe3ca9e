// waybill backup [--server URL | --data-dir DIR] --to DIR
//
// Online (a server holds the data dir): POST /v1/admin/backups makes a checkpoint on the
// server, every file is downloaded in chunks of at most 8 MiB (GET .../files/NAME), written,
// hashed and fsynced, BACKUP.json is written last (backup_manifest.h), then the checkpoint is
// deleted on the server. Offline (no server holds the data dir): the same checkpoint is made
// locally under DATA_DIR/backups and copied the same way.
#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "cli/backup_manifest.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/online.h"
#include "cli/progress.h"
#include "ledger/key_layout.h"
#include "schemas/event_json.h"
#include "schemas/sha256.h"
#include "schemas/time.h"

namespace waybill::cli {
namespace fs = std::filesystem;
namespace {

constexpr std::uint64_t kChunkBytes = 8u << 20;  // the server's largest chunk

// A checkpoint to copy: what the server's POST answered, or what was made locally.
struct CheckpointFiles {
  std::string id;
  std::uint32_t format_version = 0;
  std::uint64_t head_seq = 0;
  std::string head_hash;
  std::string head_recorded_at;                              // "" when the ledger is empty
  std::vector<std::pair<std::string, std::uint64_t>> files;  // name, size
};

// Reads `length` bytes of checkpoint file `name` from `offset` (fewer only at its end).
using ReadChunk = std::function<Result<std::string>(const std::string& name, std::uint64_t offset,
                                                    std::uint64_t length)>;

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t b = 0;
  while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  return s.substr(b);
}

// Writes the checkpoint's files into `to` (which exists and is empty), then BACKUP.json.
// `written` collects the files created, for cleanup on failure.
Status CopyCheckpoint(const CheckpointFiles& cp, const ReadChunk& read, const std::string& to,
                      const std::string& source, std::vector<std::string>* written,
                      std::uint64_t* bytes) {
  BackupManifest manifest;
  manifest.format_version = cp.format_version;
  manifest.head_seq = cp.head_seq;
  manifest.head_hash = cp.head_hash;
  manifest.head_recorded_at = cp.head_recorded_at;
  manifest.source = source;
  manifest.created_at = FormatUtc(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  for (const auto& [name, size] : cp.files) {
    if (!IsPlainBackupFileName(name)) {
      return Status::Invalid("the checkpoint lists a file named \"" + name +
                             "\", which is not a plain file name; refusing it");
    }
    const std::string path = to + "/" + name;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IoError("cannot create " + path + ": " + std::strerror(errno));
    written->push_back(path);
    Sha256Hasher hasher;
    Status st;
    for (std::uint64_t offset = 0; offset < size && st.ok();) {
      const std::uint64_t want = std::min(kChunkBytes, size - offset);
      auto chunk = read(name, offset, want);
      if (!chunk.ok()) {
        st = chunk.status();
        break;
      }
      if (chunk->size() != want) {
        st = Status::IoError(name + ": got " + std::to_string(chunk->size()) + " bytes at offset " +
                             std::to_string(offset) + ", expected " + std::to_string(want));
        break;
      }
      hasher.Update(*chunk);
      for (std::size_t done = 0; done < chunk->size();) {
        const ssize_t n = ::write(fd, chunk->data() + done, chunk->size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          st = Status::IoError("writing " + path + ": " + std::strerror(errno));
          break;
        }
        done += static_cast<std::size_t>(n);
      }
      offset += want;
    }
    if (st.ok() && ::fsync(fd) != 0) {
      st = Status::IoError("fsync " + path + ": " + std::strerror(errno));
    }
    ::close(fd);
    WAYBILL_RETURN_IF_ERROR(st);
    manifest.files.push_back({name, size, ToHex(hasher.Finish())});
    *bytes += size;
  }
  WAYBILL_RETURN_IF_ERROR(SyncPath(to));
  written->push_back(to + "/" + kBackupManifestName);
  return WriteFileAtomically(to + "/" + kBackupManifestName, BackupManifestJson(manifest));
}

void PrintSummary(const std::string& to, const CheckpointFiles& cp, std::uint64_t bytes,
                  std::int64_t ms) {
  std::string out = "{\"backup\":";
  AppendJsonString(to, &out);
  out += ",\"id\":";
  AppendJsonString(cp.id, &out);
  out += ",\"head\":{\"seq\":" + std::to_string(cp.head_seq) + ",\"hash\":\"" + cp.head_hash +
         "\"},\"files\":" + std::to_string(cp.files.size()) +
         ",\"bytes\":" + std::to_string(bytes) + ",\"elapsed_ms\":" + std::to_string(ms) + "}";
  std::cout << out << std::endl;
}

Result<CheckpointFiles> ParseCheckpointAnswer(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  CheckpointFiles cp;
  std::string_view s;
  std::uint64_t version = 0;
  simdjson::dom::array files;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS || doc["id"].get(s) != simdjson::SUCCESS) {
    return Status::IoError("unexpected answer from the server: " + MinifyJson(body));
  }
  cp.id = std::string(s);
  if (doc["format_version"].get(version) != simdjson::SUCCESS ||
      doc["head"]["seq"].get(cp.head_seq) != simdjson::SUCCESS ||
      doc["head"]["hash"].get(s) != simdjson::SUCCESS || doc["files"].get(files)) {
    return Status::IoError("the server's backup answer lacks format_version, head or files: " +
                           MinifyJson(body));
  }
  cp.format_version = static_cast<std::uint32_t>(version);
  cp.head_hash = std::string(s);
  if (doc["head"]["recorded_at"].get(s) == simdjson::SUCCESS) cp.head_recorded_at = std::string(s);
  for (auto f : files) {
    std::uint64_t size = 0;
    if (f["name"].get(s) != simdjson::SUCCESS || f["size"].get(size) != simdjson::SUCCESS) {
      return Status::IoError("the server's backup answer has a file without name or size");
    }
    cp.files.emplace_back(std::string(s), size);
  }
  return cp;
}

// Removes what a failed backup wrote, so --to is left as it was found.
void CleanUp(const std::vector<std::string>& written, const std::string& to, bool created_to) {
  std::error_code ec;
  for (const auto& path : written) {
    fs::remove(path, ec);
    fs::remove(path + ".tmp", ec);
  }
  if (created_to) fs::remove(to, ec);
}

int BackupOnline(const OnlineOptions& online, const std::string& data_dir, const std::string& to,
                 bool created_to) {
  const auto started = std::chrono::steady_clock::now();
  int open_rc = kExitIoError;
  auto session = ServerSession::Open("backup", online, data_dir, &open_rc);
  if (!session) {
    CleanUp({}, to, created_to);
    return open_rc;
  }
  Result<client::HttpReply> reply = Status::Internal("not sent");
  {
    Spinner spinner("backup");  // the server flushes and links the checkpoint
    reply = session->Call("POST", "/v1/admin/backups", "{}");
  }
  if (!reply.ok() || !IsSuccess(reply->status)) {
    CleanUp({}, to, created_to);
    return reply.ok() ? session->Refused(*reply) : session->Failed(reply.status());
  }
  auto cp = ParseCheckpointAnswer(reply->body);
  if (!cp.ok()) {
    CleanUp({}, to, created_to);
    return session->Failed(cp.status());
  }
  const std::string base = "/v1/admin/backups/" + client::UrlEncode(cp->id);
  ReadChunk read = [&](const std::string& name, std::uint64_t offset,
                       std::uint64_t length) -> Result<std::string> {
    auto r = session->Call("GET", base + "/files/" + client::UrlEncode(name) + "?offset=" +
                                      std::to_string(offset) + "&length=" + std::to_string(length));
    if (!r.ok()) return r.status();
    if (r->status != 200) {
      const ApiError e = ParseApiError(*r);
      return Status::IoError("downloading " + name + ": server answered " +
                             std::to_string(r->status) + " " + e.code + ": " + e.message);
    }
    return std::move(r->body);
  };
  std::vector<std::string> written;
  std::uint64_t bytes = 0;
  Status st = CopyCheckpoint(*cp, read, to, online.server, &written, &bytes);
  // The checkpoint pins SST files on the server: release it whatever happened here.
  auto deleted = session->Call("DELETE", base);
  if (!st.ok()) {
    CleanUp(written, to, created_to);
    return session->Failed(st);
  }
  if (!deleted.ok() || !IsSuccess(deleted->status)) {
    ReportError("backup", "warning: the backup is complete, but removing checkpoint " + cp->id +
                              " on the server failed; it is removed when the server restarts");
  }
  PrintSummary(to, *cp, bytes,
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count());
  return kExitOk;
}

int BackupOffline(ledger::Ledger& ledger, const std::string& data_dir, const std::string& to,
                  bool created_to) {
  const auto started = std::chrono::steady_clock::now();
  std::random_device rd;
  CheckpointFiles cp;
  cp.id = "offline-" + std::to_string(getpid()) + "-" + std::to_string(rd() % 100000);
  const std::string parent = data_dir + "/backups";
  const std::string dir = parent + "/" + cp.id;
  std::error_code ec;
  fs::create_directories(parent, ec);
  auto head = ec ? Result<ledger::LedgerHead>(
                       Status::IoError("cannot create " + parent + ": " + ec.message()))
                 : ledger.CreateCheckpoint(dir);
  if (!head.ok()) {
    CleanUp({}, to, created_to);
    ReportError("backup", head.status().ToString());
    return kExitIoError;
  }
  cp.format_version = ledger::kFormatVersion;
  cp.head_seq = head->seq;
  cp.head_hash = ToHex(head->hash);
  if (head->seq > 0) cp.head_recorded_at = FormatUtc(head->recorded_at);
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file())
      cp.files.emplace_back(it->path().filename().string(), it->file_size());
  }
  std::sort(cp.files.begin(), cp.files.end());
  ReadChunk read = [&](const std::string& name, std::uint64_t offset,
                       std::uint64_t length) -> Result<std::string> {
    std::ifstream in(dir + "/" + name, std::ios::binary);
    if (!in) return Status::IoError("cannot read " + dir + "/" + name);
    in.seekg(static_cast<std::streamoff>(offset));
    std::string data(length, '\0');
    in.read(data.data(), static_cast<std::streamsize>(length));
    data.resize(static_cast<std::size_t>(in.gcount()));
    return data;
  };
  std::vector<std::string> written;
  std::uint64_t bytes = 0;
  Status st = ec ? Status::IoError("cannot list checkpoint " + dir + ": " + ec.message())
                 : CopyCheckpoint(cp, read, to, fs::absolute(data_dir).string(), &written, &bytes);
  fs::remove_all(dir, ec);
  fs::remove(parent, ec);  // only when empty: nothing else of ours is in it
  if (!st.ok()) {
    CleanUp(written, to, created_to);
    ReportError("backup", st.ToString());
    return kExitIoError;
  }
  PrintSummary(to, cp, bytes,
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count());
  return kExitOk;
}

}  // namespace

int RunBackup(int argc, char** argv) {
  const CommandSpec spec{
      "backup", "waybill backup [--server URL | --data-dir DIR] --to DIR [--token-file F]",
      "Copies a consistent snapshot of the whole ledger (events, raw messages, dead letters, "
      "views, outbox) into DIR, which must not exist or be empty, and writes DIR/BACKUP.json "
      "last with the head (seq, hash) of the snapshot and every file's size and SHA-256. "
      "Works while the server ingests: with --server URL, or when `waybill serve` holds "
      "--data-dir (its URL is read from DATA_DIR/http.url), the server makes a RocksDB "
      "checkpoint and the files are downloaded in chunks (token scope admin); when no server "
      "holds --data-dir the checkpoint is made locally. Restore with `waybill restore`. "
      "Prints {\"backup\":DIR,\"id\":...,\"head\":{\"seq\",\"hash\"},\"files\":N,\"bytes\":N,"
      "\"elapsed_ms\":N}.",
      "waybill backup --server http://127.0.0.1:8080 --data-dir /var/lib/waybill "
      "--to /backups/waybill-$(date +%F)"};
  std::string data_dir, to, token_file;
  OnlineOptions online;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  AddOnlineOptions(options, &online, 600);
  options.add_options()("to", po::value<std::string>(&to)->required(),
                        "the backup directory to create (absent or empty)")(
      "token-file", po::value<std::string>(&token_file),
      "with a server: read the bearer token from this file (instead of --token)");
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, {}, &vm); rc >= 0) return rc;
  if (!token_file.empty()) {
    std::ifstream in(token_file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) {
      ReportError("backup", "--token-file: cannot read " + token_file);
      return kExitUsage;
    }
    online.token = Trim(ss.str());
  }
  auto usable = IsAbsentOrEmptyDir(to);
  if (!usable.ok()) {
    ReportError("backup", usable.status().message());
    return kExitIoError;
  }
  if (!*usable) {
    ReportError("backup", "--to " + to +
                              ": exists and is not an empty directory; a backup goes into a new "
                              "or empty directory");
    return kExitUsage;
  }
  std::error_code ec;
  const bool created_to = !fs::exists(to, ec);
  fs::create_directories(to, ec);
  if (ec) {
    ReportError("backup", "cannot create " + to + ": " + ec.message());
    return kExitIoError;
  }
  if (online.enabled()) return BackupOnline(online, data_dir, to, created_to);

  ledger::LedgerOptions lo;
  lo.create_if_missing = false;
  lo.holder = "waybill backup";
  auto ledger = ledger::Ledger::Open(data_dir, lo);
  if (ledger.ok()) return BackupOffline(**ledger, data_dir, to, created_to);
  if (ledger.status().code() == ErrorCode::kBusy) {
    // A server holds the data dir: ask it, at the URL it wrote when it started.
    std::ifstream in(data_dir + "/http.url");
    std::string url;
    std::getline(in, url);
    url = Trim(url);
    if (url.empty()) {
      CleanUp({}, to, created_to);
      ReportError("backup", "a server holds data dir " + data_dir + " but " + data_dir +
                                "/http.url is missing (it serves no HTTP API, or is stopping): "
                                "start it with --http, or give --server URL");
      return kExitIoError;
    }
    online.server = url;
    return BackupOnline(online, data_dir, to, created_to);
  }
  CleanUp({}, to, created_to);
  ReportError("backup", ledger.status().ToString());
  return kExitIoError;
}

}  // namespace waybill::cli
