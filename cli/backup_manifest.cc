#include "cli/backup_manifest.h"

#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "schemas/event_json.h"

namespace waybill::cli {
namespace fs = std::filesystem;
namespace {

bool IsHex64(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

bool IsPlainBackupFileName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name != kBackupManifestName &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

std::string BackupManifestJson(const BackupManifest& m) {
  std::string out = "{\"format_version\":" + std::to_string(m.format_version) +
                    ",\n \"head\":{\"seq\":" + std::to_string(m.head_seq) + ",\"hash\":";
  AppendJsonString(m.head_hash, &out);
  out += ",\"recorded_at\":";
  if (m.head_recorded_at.empty()) {
    out += "null";
  } else {
    AppendJsonString(m.head_recorded_at, &out);
  }
  out += "},\n \"created_at\":";
  AppendJsonString(m.created_at, &out);
  out += ",\n \"source\":";
  AppendJsonString(m.source, &out);
  out += ",\n \"files\":[";
  for (std::size_t i = 0; i < m.files.size(); ++i) {
    out += i ? ",\n  " : "\n  ";
    out += "{\"name\":";
    AppendJsonString(m.files[i].name, &out);
    out += ",\"size\":" + std::to_string(m.files[i].size) + ",\"sha256\":";
    AppendJsonString(m.files[i].sha256, &out);
    out += "}";
  }
  out += "]}\n";
  return out;
}

Result<BackupManifest> ParseBackupManifest(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto e = parser.parse(json.data(), json.size()).get(doc); e != simdjson::SUCCESS) {
    return Status::Invalid(std::string("not JSON: ") + simdjson::error_message(e));
  }
  BackupManifest m;
  std::uint64_t version = 0;
  if (doc["format_version"].get(version) != simdjson::SUCCESS || version == 0 ||
      version > UINT32_MAX) {
    return Status::Invalid("format_version: missing or not a positive whole number");
  }
  m.format_version = static_cast<std::uint32_t>(version);
  std::string_view s;
  if (doc["head"]["seq"].get(m.head_seq) != simdjson::SUCCESS) {
    return Status::Invalid("head.seq: missing or not a whole number");
  }
  if (doc["head"]["hash"].get(s) != simdjson::SUCCESS || !IsHex64(s)) {
    return Status::Invalid("head.hash: missing or not 64 lower-case hex digits");
  }
  m.head_hash = std::string(s);
  simdjson::dom::element recorded;
  if (doc["head"]["recorded_at"].get(recorded) == simdjson::SUCCESS && !recorded.is_null()) {
    if (recorded.get(s) != simdjson::SUCCESS) {
      return Status::Invalid("head.recorded_at: must be a time string or null");
    }
    m.head_recorded_at = std::string(s);
  }
  if (doc["created_at"].get(s) == simdjson::SUCCESS) m.created_at = std::string(s);
  if (doc["source"].get(s) == simdjson::SUCCESS) m.source = std::string(s);
  simdjson::dom::array files;
  if (doc["files"].get(files) != simdjson::SUCCESS) {
    return Status::Invalid("files: missing or not an array");
  }
  std::set<std::string> seen;
  std::size_t index = 0;
  for (auto f : files) {
    const std::string where = "files[" + std::to_string(index++) + "]";
    BackupFileEntry entry;
    if (f["name"].get(s) != simdjson::SUCCESS || !IsPlainBackupFileName(s)) {
      return Status::Invalid(where + ".name: missing or not a plain file name");
    }
    entry.name = std::string(s);
    if (!seen.insert(entry.name).second) {
      return Status::Invalid(where + ".name: \"" + entry.name + "\" is listed twice");
    }
    if (f["size"].get(entry.size) != simdjson::SUCCESS) {
      return Status::Invalid(where + ".size: missing or not a whole number");
    }
    if (f["sha256"].get(s) != simdjson::SUCCESS || !IsHex64(s)) {
      return Status::Invalid(where + ".sha256: missing or not 64 lower-case hex digits");
    }
    entry.sha256 = std::string(s);
    m.files.push_back(std::move(entry));
  }
  if (m.files.empty()) return Status::Invalid("files: empty; a checkpoint has files");
  return m;
}

Status SyncPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IoError("fsync " + path + ": " + std::strerror(err));
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("cannot create " + tmp + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Status::IoError("writing " + tmp + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::IoError("fsync " + tmp + ": " + std::strerror(err));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IoError("renaming " + tmp + " to " + path + ": " + std::strerror(errno));
  }
  return SyncPath(fs::path(path).parent_path().string());
}

Result<bool> IsAbsentOrEmptyDir(const std::string& dir) {
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  if (ec && st.type() != fs::file_type::not_found) {
    return Status::IoError("cannot examine " + dir + ": " + ec.message());
  }
  if (st.type() == fs::file_type::not_found) return true;
  if (st.type() != fs::file_type::directory) return false;
  const bool empty = fs::is_empty(dir, ec);
  if (ec) return Status::IoError("cannot list " + dir + ": " + ec.message());
  return empty;
}

}  // namespace waybill::cli
