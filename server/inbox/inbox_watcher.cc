#include "server/inbox/inbox_watcher.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <tuple>
#include <utility>
#include <vector>

#include "schemas/event_json.h"

namespace waybill::inbox {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDone = "done";
constexpr std::string_view kFailed = "failed";
constexpr std::string_view kNoteSuffix = ".dead-letters.json";
// Past this many suffixes (NAME.1 ... NAME.N) something is wrong; stop rather than spin.
constexpr int kMaxSuffix = 100000;

std::string Errno(int err) { return std::strerror(err); }

// Taken only once complete: gateways write under a temporary name and rename into place.
bool IsComplete(const std::string& name) {
  if (name.empty() || name.front() == '.') return false;
  return !(name.size() >= 4 && name.compare(name.size() - 4, 4, ".tmp") == 0);
}

struct PendingFile {
  fs::file_time_type mtime;
  std::string format;
  std::string name;
};

Status FsyncDir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("inbox: cannot open " + dir.string() + ": " + Errno(errno));
  Status st;
  if (::fsync(fd) != 0) {
    st = Status::IoError("inbox: fsync " + dir.string() + ": " + Errno(errno));
  }
  ::close(fd);
  return st;
}

// Creates `dir` (and parents) when missing; on creation, syncs its parent so the new
// directory survives a crash together with what is moved into it.
Status EnsureDir(const fs::path& dir) {
  std::error_code ec;
  const bool created = fs::create_directories(dir, ec);
  if (ec) return Status::IoError("inbox: cannot create " + dir.string() + ": " + ec.message());
  if (created && dir.has_parent_path()) return FsyncDir(dir.parent_path());
  return Status::Ok();
}

struct FileContents {
  std::string bytes;
  std::uint64_t size = 0;
  bool too_large = false;  // size > the limit: bytes left empty
  bool vanished = false;   // gone since the listing
};

Result<FileContents> ReadWhole(const fs::path& path, std::size_t max_bytes) {
  FileContents out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      out.vanished = true;
      return out;
    }
    return Status::IoError("inbox: cannot read " + path.string() + ": " + Errno(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::IoError("inbox: cannot stat " + path.string() + ": " + Errno(err));
  }
  out.size = static_cast<std::uint64_t>(st.st_size);
  if (out.size > max_bytes) {
    ::close(fd);
    out.too_large = true;
    return out;
  }
  out.bytes.resize(out.size);
  std::size_t got = 0;
  while (got < out.bytes.size()) {
    const ssize_t n = ::read(fd, out.bytes.data() + got, out.bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Status::IoError("inbox: reading " + path.string() + ": " + Errno(err));
    }
    if (n == 0) break;  // shrank since fstat: take what is there
    got += static_cast<std::size_t>(n);
  }
  out.bytes.resize(got);
  ::close(fd);
  return out;
}

// rename(2) that refuses to replace an existing `to` (EEXIST), so a concurrent or leftover
// file in done/ or failed/ is never overwritten. Falls back to plain rename on filesystems
// without RENAME_NOREPLACE; the caller has checked the name is free.
int RenameNoReplace(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  return ::rename(from.c_str(), to.c_str());
}

// Writes `contents` to dir/name durably and atomically (temp file, fsync, rename), never
// replacing an existing file: when dir/name exists, writes nothing and sets *exists.
Status WriteNote(const fs::path& dir, const std::string& name, const std::string& contents,
                 bool* exists) {
  *exists = false;
  const fs::path tmp = dir / ("." + name + ".tmp");
  const fs::path final_path = dir / name;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("inbox: cannot write " + tmp.string() + ": " + Errno(errno));
  std::size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::IoError("inbox: writing " + tmp.string() + ": " + Errno(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::IoError("inbox: fsync " + tmp.string() + ": " + Errno(err));
  }
  ::close(fd);
  if (RenameNoReplace(tmp, final_path) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    if (err == EEXIST) {
      *exists = true;
      return Status::Ok();
    }
    return Status::IoError("inbox: cannot rename " + tmp.string() + " to " + final_path.string() +
                           ": " + Errno(err));
  }
  return Status::Ok();
}

// The note beside a file in failed/: the import summary, keyed by what an operator needs
// to find each dead letter (`waybill dlq show ID`).
std::string NoteJson(const std::string& file, const ingest::ImportSummary& s) {
  std::string out = "{\"file\":";
  AppendJsonString(file, &out);
  out += ",\"accepted\":" + std::to_string(s.accepted) +
         ",\"duplicates\":" + std::to_string(s.duplicates) +
         ",\"rejected\":" + std::to_string(s.rejected) + ",\"dead_letters\":[";
  for (std::size_t i = 0; i < s.rejects.size(); ++i) {
    const ingest::Reject& r = s.rejects[i];
    if (i) out += ',';
    out += "{\"dead_letter_id\":" + std::to_string(r.dead_letter_id) + ",\"reason\":";
    AppendJsonString(r.reason, &out);
    out += ",\"position\":";
    AppendJsonString(r.position, &out);
    out += ",\"line\":" + std::to_string(r.line) + "}";
  }
  out += "]}\n";
  return out;
}

// Moves `from` into `dir` as `name`, or NAME.1, NAME.2, ... the first free name, with the
// note (when given) as <final name>.dead-letters.json written first, so a file in failed/
// always has its note. Syncs both directories so the move survives a crash. Returns the
// final name.
Result<std::string> MoveInto(const fs::path& from, const fs::path& dir, const std::string& name,
                             const ingest::ImportSummary* note) {
  for (int k = 0; k <= kMaxSuffix; ++k) {
    const std::string candidate = k == 0 ? name : name + "." + std::to_string(k);
    const std::string note_name = candidate + std::string(kNoteSuffix);
    std::error_code ec;
    if (fs::exists(dir / candidate, ec) || (note != nullptr && fs::exists(dir / note_name, ec))) {
      continue;
    }
    if (note != nullptr) {
      bool taken = false;
      WAYBILL_RETURN_IF_ERROR(WriteNote(dir, note_name, NoteJson(candidate, *note), &taken));
      if (taken) continue;
    }
    if (RenameNoReplace(from, dir / candidate) != 0) {
      const int err = errno;
      if (note != nullptr) ::unlink((dir / note_name).c_str());
      if (err == EEXIST) continue;
      return Status::IoError("inbox: cannot move " + from.string() + " to " +
                             (dir / candidate).string() + ": " + Errno(err));
    }
    WAYBILL_RETURN_IF_ERROR(FsyncDir(dir));
    WAYBILL_RETURN_IF_ERROR(FsyncDir(from.parent_path()));
    return candidate;
  }
  return Status::IoError("inbox: no free name for " + from.string() + " in " + dir.string() +
                         " (tried " + name + " to " + name + "." + std::to_string(kMaxSuffix) +
                         ")");
}

}  // namespace

InboxWatcher::InboxWatcher(ledger::Ledger& ledger, const ingest::IntakeConfig& config,
                           InboxOptions options)
    : ledger_(ledger), intake_(config), options_(std::move(options)) {}

Result<std::size_t> InboxWatcher::ScanOnce() { return Scan(std::stop_token()); }

Result<std::size_t> InboxWatcher::Scan(const std::stop_token& stop) {
  const fs::path root(options_.dir);
  WAYBILL_RETURN_IF_ERROR(EnsureDir(root));
  WAYBILL_RETURN_IF_ERROR(EnsureDir(root / kDone));
  WAYBILL_RETURN_IF_ERROR(EnsureDir(root / kFailed));

  // A file that cannot be read or moved must not hold up the others: remember the first
  // error (Run logs it) and count the rest.
  Status first_error;
  std::size_t more_errors = 0;
  auto note_error = [&](Status st) {
    if (first_error.ok()) {
      first_error = std::move(st);
    } else {
      ++more_errors;
    }
  };

  // Everything complete now present, oldest first across formats, so a backlog drains in
  // arrival order whatever the format.
  std::vector<PendingFile> files;
  std::error_code ec;
  for (fs::directory_iterator formats(root, ec), end; !ec && formats != end;
       formats.increment(ec)) {
    const std::string format = formats->path().filename().string();
    std::error_code type_ec;
    if (format == kDone || format == kFailed || format.front() == '.' ||
        !formats->is_directory(type_ec)) {
      continue;
    }
    std::error_code list_ec;
    for (fs::directory_iterator it(formats->path(), list_ec); !list_ec && it != end;
         it.increment(list_ec)) {
      const std::string name = it->path().filename().string();
      std::error_code file_ec;
      if (!IsComplete(name) || !it->is_regular_file(file_ec)) continue;
      const auto mtime = it->last_write_time(file_ec);
      if (file_ec) continue;  // vanished since listed
      files.push_back(PendingFile{mtime, format, name});
    }
    if (list_ec) {
      note_error(Status::IoError("inbox: cannot list " + formats->path().string() + ": " +
                                 list_ec.message()));
    }
  }
  if (ec) return Status::IoError("inbox: cannot list " + root.string() + ": " + ec.message());
  std::sort(files.begin(), files.end(), [](const PendingFile& a, const PendingFile& b) {
    return std::tie(a.mtime, a.format, a.name) < std::tie(b.mtime, b.format, b.name);
  });

  std::size_t processed = 0;
  for (const PendingFile& f : files) {
    if (stop.stop_requested()) break;
    const fs::path path = root / f.format / f.name;
    const std::string origin = "inbox/" + f.format + "/" + f.name;
    auto contents = ReadWhole(path, options_.max_file_bytes);
    if (!contents.ok()) {
      note_error(contents.status());
      continue;
    }
    if (contents->vanished) continue;

    ingest::ImportSummary summary;
    if (contents->too_large) {
      // Not read, so not in the ledger: the file in failed/ is the only copy, and the
      // note says why (dead_letter_id 0: none).
      summary.rejected = 1;
      summary.rejects.push_back(ingest::Reject{
          origin, 0,
          "file is " + std::to_string(contents->size) + " bytes, more than the inbox limit of " +
              std::to_string(options_.max_file_bytes) + " bytes; not ingested, split it",
          0, ""});
    } else {
      const ingest::MessageOrigin mo{origin, std::nullopt, options_.principal};
      auto ingested = ingest::IngestOne(intake_, ledger_, f.format, contents->bytes, mo);
      if (!ingested.ok()) {
        // The ledger could not take it: leave the file for the next scan (what did land
        // comes back as duplicates then), and stop, since the next files would fail too.
        return Status(ingested.status().code(),
                      "inbox: " + path.string() +
                          " left in place, ledger append failed: " + ingested.status().message());
      }
      summary = std::move(ingested).value();
    }

    const bool failed = summary.rejected > 0;
    const fs::path dest_dir = root / (failed ? kFailed : kDone) / f.format;
    if (Status st = EnsureDir(dest_dir); !st.ok()) {
      note_error(std::move(st));
      continue;
    }
    auto moved = MoveInto(path, dest_dir, f.name, failed ? &summary : nullptr);
    if (!moved.ok()) {
      // Durable in the ledger but not moved: the next scan re-ingests it (duplicates).
      note_error(moved.status());
      continue;
    }
    ++processed;
    const fs::path moved_to = dest_dir / *moved;
    if (failed) {
      spdlog::warn("inbox: {}: accepted {}, duplicates {}, rejected {} -> {} (dead letters in {})",
                   origin, summary.accepted, summary.duplicates, summary.rejected,
                   moved_to.string(), *moved + std::string(kNoteSuffix));
    } else {
      spdlog::info("inbox: {}: accepted {}, duplicates {} -> {}", origin, summary.accepted,
                   summary.duplicates, moved_to.string());
    }
    if (options_.on_file) {
      options_.on_file(InboxFileResult{origin, moved_to.string(), failed, std::move(summary)});
    }
  }
  if (!first_error.ok()) {
    if (more_errors == 0) return first_error;
    return Status(first_error.code(),
                  first_error.message() + " (and " + std::to_string(more_errors) + " more errors)");
  }
  return processed;
}

void InboxWatcher::Run(std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  // The same error every poll interval (a full disk, an unreadable file) is logged once a
  // minute, not five times a second.
  constexpr auto kRepeatEvery = std::chrono::minutes(1);
  std::string last_error;
  auto last_logged = std::chrono::steady_clock::time_point();
  spdlog::info("inbox: watching {} every {} ms", options_.dir, options_.poll_interval.count());
  while (!stop.stop_requested()) {
    auto scanned = Scan(stop);
    const auto now = std::chrono::steady_clock::now();
    if (!scanned.ok()) {
      const std::string& msg = scanned.status().message();
      if (msg != last_error || now - last_logged >= kRepeatEvery) {
        spdlog::error("inbox: scan of {} failed: {}", options_.dir, msg);
        last_error = msg;
        last_logged = now;
      }
    } else if (!last_error.empty()) {
      spdlog::info("inbox: scan of {} succeeded again", options_.dir);
      last_error.clear();
    }
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, stop, options_.poll_interval, [] { return false; });
  }
  spdlog::info("inbox: stopped watching {}", options_.dir);
}

}  // namespace waybill::inbox
