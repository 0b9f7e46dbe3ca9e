// Online backups (docs/operations.md): POST /v1/admin/backups makes a RocksDB checkpoint
// under DATA_DIR/backups/ID (hard links: instant, consistent across column families), GET
// .../files/NAME hands its files out in chunks, DELETE removes it. Checkpoints are made on
// the operations thread; chunks are read on their own thread, so neither blocks I/O threads.
//
// Only names listed when the checkpoint was made are ever opened, so a request cannot reach
// outside it ("../LOCK" is simply not a listed name). Checkpoints pin the SST files they
// link to: a client that never sends DELETE leaves them until the server restarts, which
// removes DATA_DIR/backups (no client can be reading one then).
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "ledger/key_layout.h"
#include "schemas/event_json.h"
#include "schemas/time.h"
#include "server/api/api_impl.h"

namespace waybill::server::api {
namespace fs = std::filesystem;
namespace {

constexpr std::uint64_t kMaxChunkBytes = 8u << 20;
constexpr std::size_t kMaxCheckpoints = 4;

std::string BackupsDir(const std::string& data_dir) { return data_dir + "/backups"; }

// "20261128T001830Z-3f9a0c1e": sortable by creation, unguessable enough to never collide.
std::string NewBackupId() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "-%08x", static_cast<unsigned>(rd()));
  return std::string(stamp) + suffix;
}

http::Response BadRequest(const http::Request& req, std::string message) {
  return ErrorResponse(req, beast_http::status::bad_request, "bad_request", message);
}

http::Response NoBackup(const http::Request& req, const std::string& id) {
  return ErrorResponse(req, beast_http::status::not_found, "not_found",
                       "no backup \"" + id +
                           "\" on this server (it was deleted, or the server "
                           "restarted since it was made)");
}

}  // namespace

void RemoveLeftoverBackups(const std::string& data_dir) {
  std::error_code ec;
  const std::string dir = BackupsDir(data_dir);
  if (!fs::exists(dir, ec)) return;
  const auto removed = fs::remove_all(dir, ec);
  if (ec) {
    spdlog::warn("cannot remove leftover backup checkpoints in {}: {}", dir, ec.message());
  } else {
    spdlog::info("removed {} leftover backup file(s) in {}", removed, dir);
  }
}

void Api::Impl::AdminBackupCreate(Call& call) {
  if (auto bad = CheckParams(call.query, {}))
    return call.respond(BadRequest(call.request, bad->message));
  if (call.request.body().find_first_not_of(" \t\r\n{}") != std::string::npos) {
    return call.respond(BadRequest(call.request, "body: this route takes none (or {})"));
  }
  {
    std::lock_guard<std::mutex> lock(backups_mu_);
    if (backups_.size() >= kMaxCheckpoints) {
      return call.respond(ErrorResponse(
          call.request, beast_http::status::conflict, "conflict",
          std::to_string(backups_.size()) +
              " backups are already open on this server; DELETE /v1/admin/backups/{id} the "
              "finished ones (or restart the server, which removes them)"));
    }
  }
  auto job = std::make_shared<Call>(std::move(call));
  operations_.Post([this, job] {
    Call& c = *job;
    {
      std::lock_guard<std::mutex> lock(backups_mu_);
      if (backups_.size() >= kMaxCheckpoints) {  // filled up while this request waited
        return c.respond(ErrorResponse(c.request, beast_http::status::conflict, "conflict",
                                       "too many backups are open on this server; DELETE the "
                                       "finished ones"));
      }
    }
    const std::string parent = BackupsDir(deps_.ledger.data_dir());
    const std::string id = NewBackupId();
    const std::string dir = parent + "/" + id;
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) {
      return c.respond(ErrorResponse(c.request, beast_http::status::internal_server_error,
                                     "internal", "cannot create " + parent + ": " + ec.message()));
    }
    auto head = deps_.ledger.CreateCheckpoint(dir);
    if (!head.ok()) {
      return c.respond(ErrorResponse(c.request, beast_http::status::internal_server_error,
                                     "internal", head.status().ToString()));
    }
    std::vector<std::pair<std::string, std::uint64_t>> files;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      files.emplace_back(it->path().filename().string(), it->file_size());
    }
    if (ec) {
      fs::remove_all(dir, ec);
      return c.respond(ErrorResponse(c.request, beast_http::status::internal_server_error,
                                     "internal", "cannot list checkpoint " + dir));
    }
    std::sort(files.begin(), files.end());
    std::string body = "{\"id\":\"" + id + "\",\"head\":{\"seq\":" + std::to_string(head->seq) +
                       ",\"hash\":\"" + ToHex(head->hash) + "\",\"recorded_at\":";
    body += head->seq == 0 ? std::string("null") : "\"" + FormatUtc(head->recorded_at) + "\"";
    body += "},\"format_version\":" + std::to_string(ledger::kFormatVersion) + ",\"files\":[";
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < files.size(); ++i) {
      if (i) body.push_back(',');
      body += "{\"name\":";
      AppendJsonString(files[i].first, &body);
      body += ",\"size\":" + std::to_string(files[i].second) + "}";
      bytes += files[i].second;
    }
    body += "]}";
    {
      std::lock_guard<std::mutex> lock(backups_mu_);
      backups_[id] = std::move(files);
    }
    spdlog::info("backup {} by {}: checkpoint at seq {} ({} bytes)", id, c.principal.subject,
                 head->seq, bytes);
    c.respond(JsonResponse(c.request, beast_http::status::ok, std::move(body)));
  });
}

void Api::Impl::AdminBackupFile(Call& call) {
  if (auto bad = CheckParams(call.query, {"offset", "length"})) {
    return call.respond(BadRequest(call.request, bad->message));
  }
  const std::string& id = call.params[0];
  const std::string& name = call.params[1];
  std::uint64_t size = 0;
  {
    std::lock_guard<std::mutex> lock(backups_mu_);
    auto it = backups_.find(id);
    if (it == backups_.end()) return call.respond(NoBackup(call.request, id));
    auto file = std::find_if(it->second.begin(), it->second.end(),
                             [&](const auto& f) { return f.first == name; });
    if (file == it->second.end()) {
      return call.respond(ErrorResponse(
          call.request, beast_http::status::not_found, "not_found",
          "backup " + id + " has no file \"" + name + "\" (only the files POST listed)"));
    }
    size = file->second;
  }
  std::optional<ParamError> error;
  const std::uint64_t offset = ParseUintParam(call.query, "offset", 0, size, &error).value_or(0);
  const std::uint64_t length =
      ParseUintParam(call.query, "length", 1, kMaxChunkBytes, &error).value_or(kMaxChunkBytes);
  if (error) return call.respond(BadRequest(call.request, error->message));
  const std::string path = BackupsDir(deps_.ledger.data_dir()) + "/" + id + "/" + name;
  auto job = std::make_shared<Call>(std::move(call));
  backup_reads_.Post([job, path, offset, length = std::min(length, size - offset)] {
    Call& c = *job;
    std::string data(length, '\0');
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    std::size_t got = 0;
    int err = fd < 0 ? errno : 0;
    while (fd >= 0 && got < length) {
      const ssize_t n =
          ::pread(fd, data.data() + got, length - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        err = n < 0 ? errno : EIO;  // a checkpoint's files never shrink
        break;
      }
      got += static_cast<std::size_t>(n);
    }
    if (fd >= 0) ::close(fd);
    if (err == ENOENT) return c.respond(NoBackup(c.request, c.params[0]));
    if (err != 0) {
      return c.respond(ErrorResponse(c.request, beast_http::status::internal_server_error,
                                     "internal", "reading " + path + ": " + std::strerror(err)));
    }
    http::Response res{beast_http::status::ok, c.request.version()};
    res.set(beast_http::field::content_type, "application/octet-stream");
    res.keep_alive(c.request.keep_alive());
    res.body() = std::move(data);
    c.respond(std::move(res));
  });
}

void Api::Impl::AdminBackupDelete(Call& call) {
  if (auto bad = CheckParams(call.query, {}))
    return call.respond(BadRequest(call.request, bad->message));
  const std::string id = call.params[0];
  {
    std::lock_guard<std::mutex> lock(backups_mu_);
    if (backups_.erase(id) == 0) return call.respond(NoBackup(call.request, id));
  }
  // Reads already queued for it fail cleanly (404): the files are gone or still open.
  std::error_code ec;
  fs::remove_all(BackupsDir(deps_.ledger.data_dir()) + "/" + id, ec);
  if (ec) {
    return call.respond(ErrorResponse(call.request, beast_http::status::internal_server_error,
                                      "internal", "removing backup " + id + ": " + ec.message()));
  }
  call.respond(JsonResponse(call.request, beast_http::status::ok, "{\"deleted\":\"" + id + "\"}"));
}

}  // namespace waybill::server::api
