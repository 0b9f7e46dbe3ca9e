// The backup directory `waybill backup` writes and `waybill restore` reads, and the file
// plumbing both share.
//
// A backup directory holds the files of one RocksDB checkpoint of the ledger, byte for byte,
// plus BACKUP.json, written last (its presence means the backup is complete):
//
//   {"format_version": 1,                      the ledger format (ledger/key_layout.h)
//    "head": {"seq": 41, "hash": "<64 hex>", "recorded_at": "2026-..Z" | null},
//    "created_at": "2026-11-28T01:02:03.000000000Z",
//    "source": "http://127.0.0.1:8080" | "/var/lib/waybill",
//    "files": [{"name": "000012.sst", "size": 1234, "sha256": "<64 hex>"}, ...]}
//
// `head` is the head stored in the checkpoint: the restored ledger must end exactly there.
// File names are plain names (no directory part); BACKUP.json itself is never listed.
// Thread-safety: pure functions and values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/result.h"

namespace waybill::cli {

inline constexpr const char* kBackupManifestName = "BACKUP.json";

struct BackupFileEntry {
  std::string name;
  std::uint64_t size = 0;
  std::string sha256;  // lower-case hex
};

struct BackupManifest {
  std::uint32_t format_version = 0;
  std::uint64_t head_seq = 0;
  std::string head_hash;         // lower-case hex, 64 characters
  std::string head_recorded_at;  // RFC 3339; "" for an empty ledger (null in JSON)
  std::string created_at;
  std::string source;
  std::vector<BackupFileEntry> files;
};

// BACKUP.json's text (one object, pretty enough to read, ends with a newline).
std::string BackupManifestJson(const BackupManifest& manifest);

// Parses and checks BACKUP.json. InvalidArgument naming the field and the reason for JSON
// that is not a manifest: a missing field, a hash that is not 64 hex digits, a file name with
// a '/' or "..", a name listed twice.
[[nodiscard]] Result<BackupManifest> ParseBackupManifest(std::string_view json);

// Whether `name` may be a file of a backup: a plain file name, not "." or "..", no '/', no
// NUL, not BACKUP.json.
bool IsPlainBackupFileName(std::string_view name);

// fsyncs a file or a directory by path. IoError naming the path.
[[nodiscard]] Status SyncPath(const std::string& path);

// Writes `data` to `path` through a temporary file in the same directory, fsynced and
// renamed into place, then fsyncs the directory: `path` is either absent or whole.
[[nodiscard]] Status WriteFileAtomically(const std::string& path, std::string_view data);

// Whether `dir` is absent or an empty directory (what backup --to and restore --data-dir
// accept). IoError when it cannot be examined.
[[nodiscard]] Result<bool> IsAbsentOrEmptyDir(const std::string& dir);

}  // namespace waybill::cli
