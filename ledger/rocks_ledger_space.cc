// Full disk: a free-space guard in front of every write, the write state readers see, and
// the writer's recovery once space returns.
//
// What Debian's RocksDB 7.8 (built with assertions) does on ENOSPC, measured on a tmpfs:
// - A flush or compaction that runs out of space sets a background error; writes fail with
//   it until RocksDB's SstFileManager sees free space again and resumes, or DB::Resume()
//   succeeds. Nothing written before is touched.
// - A failed write-ahead-log append leaves RocksDB's log writer in an error state that no
//   Resume() clears: the memtable switch that would retire it flushes the broken writer and
//   fails, and once the background error is cleared the next write trips an assertion
//   (abort). Only reopening the database recovers. So the ledger refuses writes while the
//   filesystem has less than min_free_bytes free, before RocksDB can meet a full disk, and
//   should a log write fail anyway, the listener below makes that error permanent: writes
//   fail with a message asking for a restart, reads keep working, and RocksDB never resumes
//   onto the broken writer.
// - RocksDB's own info LOG writer in the data dir asserts on the next line after an ENOSPC;
//   the ledger's LOG writer drops the lines it cannot write instead.
#include <fcntl.h>
#include <rocksdb/listener.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "ledger/rocks_ledger.h"

namespace waybill::ledger {
namespace {

constexpr std::uint64_t kMiB = 1 << 20;
constexpr std::uint64_t kDefaultMaxReserve = 256 * kMiB;
constexpr auto kFirstRetry = std::chrono::milliseconds(100);
constexpr auto kMaxRetry = std::chrono::milliseconds(2000);

// RocksDB's info log as plain appends to <data dir>/LOG; a line that cannot be written (a
// full disk) is dropped, and the next one tries again.
class DroppingLogger final : public rocksdb::Logger {
 public:
  explicit DroppingLogger(int fd) : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), fd_(fd) {}
  ~DroppingLogger() override {
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[4096];
    struct timeval now;
    gettimeofday(&now, nullptr);
    struct tm t;
    localtime_r(&now.tv_sec, &t);
    int n = std::snprintf(line, sizeof(line), "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ",
                          t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                          static_cast<long>(now.tv_usec));
    va_list copy;
    va_copy(copy, ap);
    const int body = std::vsnprintf(line + n, sizeof(line) - n, format, copy);
    va_end(copy);
    n = body < 0 ? n : std::min<int>(n + body, sizeof(line) - 2);
    if (line[n - 1] != '\n') line[n++] = '\n';
    // A failed or short write is the full disk this logger exists for: drop the line.
    [[maybe_unused]] const ssize_t written = ::write(fd_, line, static_cast<std::size_t>(n));
  }

 protected:
  rocksdb::Status CloseImpl() override { return rocksdb::Status::OK(); }

 private:
  const int fd_;
};

Result<std::uint64_t> FreeBytes(const std::string& dir, std::uint64_t* fs_size = nullptr) {
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) {
    return Status::IoError("cannot read the free space of " + dir + ": " + std::strerror(errno));
  }
  if (fs_size != nullptr) *fs_size = std::uint64_t{st.f_blocks} * st.f_frsize;
  return std::uint64_t{st.f_bavail} * st.f_frsize;
}

std::string Mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / kMiB);
  return buf;
}

}  // namespace

// Marks write-ahead-log failures fatal (see the top of this file) and keeps RocksDB from
// resuming onto the broken log writer; every other background error (flush, compaction)
// keeps RocksDB's own recovery.
class RocksLedger::StorageListener final : public rocksdb::EventListener {
 public:
  explicit StorageListener(std::atomic<bool>* wal_failed) : wal_failed_(wal_failed) {}

  void OnBackgroundError(rocksdb::BackgroundErrorReason reason, rocksdb::Status* error) override {
    if (reason == rocksdb::BackgroundErrorReason::kWriteCallback ||
        reason == rocksdb::BackgroundErrorReason::kMemTable) {
      wal_failed_->store(true);
      *error = rocksdb::Status(*error, rocksdb::Status::Severity::kFatalError);
    }
  }

  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    if (wal_failed_->load()) *auto_recovery = false;
  }

 private:
  std::atomic<bool>* const wal_failed_;
};

void RocksLedger::ConfigureWriteErrors(rocksdb::DBOptions* db_options) {
  std::uint64_t fs_size = 0;
  if (!FreeBytes(data_dir(), &fs_size).ok()) fs_size = 0;  // unknown: no default reserve
  min_free_bytes_ = options_.min_free_bytes
                        ? *options_.min_free_bytes
                        : std::min<std::uint64_t>(kDefaultMaxReserve, fs_size / 50);
  listener_ = std::make_shared<StorageListener>(&wal_failed_);
  db_options->listeners.push_back(listener_);
  const std::string log_path = data_dir() + "/LOG";
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    db_options->info_log = std::make_shared<DroppingLogger>(fd);
    db_options->info_log->SetInfoLogLevel(db_options->info_log_level);
  }
}

Status RocksLedger::CheckWritable(std::uint64_t bytes) const {
  if (wal_failed_.load()) {
    std::lock_guard<std::mutex> lock(write_state_mu_);
    if (!write_error_.ok()) return write_error_;
    return Status::IoError("the ledger's write-ahead log in " + data_dir() +
                           " failed; restart waybill to resume writing (reads keep working)");
  }
  if (min_free_bytes_ == 0) return Status::Ok();  // guard off: RocksDB meets the full disk
  auto free = FreeBytes(data_dir());
  if (!free.ok()) return free.status();
  if (*free < min_free_bytes_ + bytes) {
    // The message stays the same while the disk is full, so callers that log a changed
    // message log it once.
    return Status::IoError("no space left on device for the ledger in " + data_dir() +
                           ": it stops writing while less than " + Mib(min_free_bytes_) +
                           " is free, so RocksDB can always flush; writes resume by themselves "
                           "once space is freed");
  }
  return Status::Ok();
}

void RocksLedger::NoteWrite(const Status& st) {
  if (st.ok()) {
    if (writable_.load()) return;
    {
      std::lock_guard<std::mutex> lock(write_state_mu_);
      if (writable_.load()) return;
      writable_.store(true);
      write_error_ = Status::Ok();
    }
    if (options_.on_write_state_change) options_.on_write_state_change(st);
    return;
  }
  write_errors_.fetch_add(1, std::memory_order_relaxed);
  Status error = st;
  if (wal_failed_.load() && st.message().find("restart waybill") == std::string::npos) {
    error = Status(st.code(), st.message() +
                                  "; RocksDB cannot write its log after this error: restart "
                                  "waybill to resume writing (reads keep working, nothing "
                                  "acknowledged is affected)");
  }
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(write_state_mu_);
    changed = writable_.load();
    writable_.store(false);
    write_error_ = error;
  }
  if (!changed) return;
  if (options_.on_write_state_change) options_.on_write_state_change(error);
  // The writer may be idle: wake it so it starts probing for recovery.
  { std::lock_guard<std::mutex> lock(queue_mu_); }
  queue_cv_.notify_all();
}

void RocksLedger::ProbeRecovery(bool force) {
  if (writable_.load()) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now < next_probe_) return;
  Status st = CheckWritable(0);
  if (st.ok()) {
    // Clears a flush or compaction error once there is room (Busy while RocksDB's own
    // recovery runs; a later probe sees its outcome). Never reached after a log failure.
    rocksdb::Status s = db_->Resume();
    if (!s.ok()) st = Status::IoError("ledger storage is still failing: " + s.ToString());
  }
  if (st.ok()) {
    retry_delay_ = kFirstRetry;
    NoteWrite(st);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(write_state_mu_);
    if (!writable_.load()) write_error_ = st;
  }
  next_probe_ = now + retry_delay_;
  retry_delay_ = std::min<std::chrono::milliseconds>(retry_delay_ * 2, kMaxRetry);
}

Status RocksLedger::WriteState() const {
  std::lock_guard<std::mutex> lock(write_state_mu_);
  return write_error_;
}

}  // namespace waybill::ledger
