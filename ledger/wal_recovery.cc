#include "ledger/wal_recovery.h"

#include <fcntl.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace waybill::ledger {
namespace {

constexpr std::uint64_t kWalBlockSize = 32768;
constexpr std::uint64_t kWalHeaderSize = 7;  // crc32c (4), length (2), type (1)

std::string BaseName(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

}  // namespace

RecoveryLog::RecoveryLog(std::shared_ptr<rocksdb::Logger> inner)
    : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), inner_(std::move(inner)) {}

void RecoveryLog::Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  char line[2048];
  std::vsnprintf(line, sizeof line, format, copy);
  va_end(copy);
  if (inner_) inner_->Logv(level, format, ap);
  // db_impl_open.cc and db_impl_secondary.h: "[src:line] PATH.log: dropping N bytes; REASON".
  const std::string text(line);
  const std::size_t at = text.find(".log: dropping ");
  if (at == std::string::npos) return;
  const std::size_t start = text.rfind(' ', at) + 1;  // npos + 1 == 0
  WalDamage d;
  d.file = text.substr(start, at + 4 - start);
  const char* bytes = text.c_str() + at + std::strlen(".log: dropping ");
  char* rest = nullptr;
  d.dropped_bytes = std::strtoull(bytes, &rest, 10);
  std::string reason = rest;
  if (reason.rfind(" bytes; ", 0) == 0) reason = reason.substr(8);
  if (reason.rfind("Corruption: ", 0) == 0) reason = reason.substr(12);
  d.reason = reason;
  std::lock_guard<std::mutex> lock(mu_);
  if (!damage_) damage_ = std::move(d);
}

void RecoveryLog::Logv(const char* format, va_list ap) {
  Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
}

std::optional<WalDamage> RecoveryLog::damage() const {
  std::lock_guard<std::mutex> lock(mu_);
  return damage_;
}

rocksdb::WalFilter::WalProcessingOption WalRecordEnds::LogRecordFound(
    unsigned long long /*log_number*/, const std::string& log_file_name,
    const rocksdb::WriteBatch& batch, rocksdb::WriteBatch* /*new_batch*/, bool* /*batch_changed*/) {
  // Replays the log writer's fragmentation (RocksDB's log::Writer::AddRecord).
  std::uint64_t& offset = ends_[BaseName(log_file_name)];
  std::uint64_t left = batch.GetDataSize();
  do {
    std::uint64_t room = kWalBlockSize - offset % kWalBlockSize;
    if (room < kWalHeaderSize) {
      offset += room;  // zero padding up to the next block
      room = kWalBlockSize;
    }
    const std::uint64_t fragment = std::min(left, room - kWalHeaderSize);
    offset += kWalHeaderSize + fragment;
    left -= fragment;
  } while (left > 0);
  return WalProcessingOption::kContinueProcessing;
}

std::uint64_t WalRecordEnds::EndOf(const std::string& file) const {
  auto it = ends_.find(BaseName(file));
  return it == ends_.end() ? 0 : it->second;
}

bool DataDirLocked(const std::string& data_dir) {
  const std::string path = data_dir + "/LOCK";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock probe {};
  probe.l_type = F_WRLCK;  // RocksDB write-locks the whole file (PosixFileSystem::LockFile)
  probe.l_whence = SEEK_SET;
  probe.l_start = 0;
  probe.l_len = 0;
  const bool locked = fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
  ::close(fd);
  return locked;
}

std::string DescribeWalDamage(const WalDamage& d) {
  return "write-ahead log " + d.file + " is " + (d.torn_tail ? "torn" : "damaged") + " at byte " +
         std::to_string(d.offset) + " (" + d.reason + "; " + std::to_string(d.dropped_bytes) +
         " bytes from there cannot be replayed)";
}

std::string TableFileIn(const std::string& message) {
  const std::size_t sst = message.find(".sst");
  if (sst == std::string::npos) return "";
  std::size_t start = message.find_last_of(" \t:", sst);
  start = start == std::string::npos ? 0 : start + 1;
  return message.substr(start, sst + 4 - start);
}

}  // namespace waybill::ledger
