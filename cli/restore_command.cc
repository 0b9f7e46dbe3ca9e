// waybill restore --from DIR --data-dir DIR
//
// Checks a backup (backup_manifest.h) and turns it into a data dir: every listed file is
// copied into a temporary dir next to the target while its size and SHA-256 are checked,
// everything is fsynced, the ledger is opened there, its whole chain verified and its head
// compared with the one BACKUP.json recorded; only then is the dir renamed into place. A
// failure at any step leaves the target as it was (absent or empty).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "cli/backup_manifest.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "ledger/key_layout.h"
#include "schemas/event_json.h"
#include "schemas/sha256.h"

namespace waybill::cli {
namespace fs = std::filesystem;
namespace {

// A step's failure: its exit code and message.
struct Failure {
  int code = kExitIoError;
  std::string message;
};

// Copies `from` to `to` (created, must not exist), checking size and SHA-256 on the way.
std::optional<Failure> CopyChecked(const std::string& from, const std::string& to,
                                   const BackupFileEntry& entry) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Failure{kExitIoError, "cannot read " + from + ": " + std::strerror(errno)};
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    ::close(in);
    return Failure{kExitIoError, "cannot create " + to + ": " + std::strerror(errno)};
  }
  std::optional<Failure> failure;
  Sha256Hasher hasher;
  std::uint64_t total = 0;
  std::string buf(1 << 20, '\0');
  for (;;) {
    const ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failure = Failure{kExitIoError, "reading " + from + ": " + std::strerror(errno)};
      break;
    }
    if (n == 0) break;
    const std::string_view piece(buf.data(), static_cast<std::size_t>(n));
    hasher.Update(piece);
    total += piece.size();
    for (std::size_t done = 0; done < piece.size();) {
      const ssize_t w = ::write(out, piece.data() + done, piece.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        failure = Failure{kExitIoError, "writing " + to + ": " + std::strerror(errno)};
        break;
      }
      done += static_cast<std::size_t>(w);
    }
    if (failure) break;
  }
  if (!failure && ::fsync(out) != 0) {
    failure = Failure{kExitIoError, "fsync " + to + ": " + std::strerror(errno)};
  }
  ::close(in);
  ::close(out);
  if (failure) return failure;
  if (total != entry.size) {
    return Failure{kExitVerifyFailed, "backup file " + entry.name + " is " + std::to_string(total) +
                                          " bytes, BACKUP.json says " + std::to_string(entry.size) +
                                          "; the backup is damaged or incomplete"};
  }
  if (ToHex(hasher.Finish()) != entry.sha256) {
    return Failure{kExitVerifyFailed, "backup file " + entry.name +
                                          " does not match its SHA-256 in BACKUP.json; the "
                                          "backup is damaged"};
  }
  return std::nullopt;
}

// Opens the copied ledger, verifies the whole chain and compares its head with the manifest.
// Fills *events with the events checked.
std::optional<Failure> VerifyRestored(const std::string& dir, const BackupManifest& m,
                                      std::uint64_t* events) {
  ledger::LedgerOptions lo;
  lo.create_if_missing = false;
  lo.holder = "waybill restore";
  auto ledger = ledger::Ledger::Open(dir, lo);
  if (!ledger.ok()) {
    const bool damaged = ledger.status().code() == ErrorCode::kCorruption;
    return Failure{damaged ? kExitVerifyFailed : kExitIoError,
                   "the restored ledger does not open: " + ledger.status().ToString()};
  }
  auto report = (*ledger)->Verify();
  if (!report.ok()) {
    return Failure{
        report.status().code() == ErrorCode::kCorruption ? kExitVerifyFailed : kExitIoError,
        "verifying the restored ledger: " + report.status().ToString()};
  }
  *events = report->events;
  if (!report->intact) {
    return Failure{kExitVerifyFailed, "the restored chain breaks at sequence " +
                                          std::to_string(report->first_broken_seq) + ": " +
                                          report->reason};
  }
  const ledger::LedgerHead head = (*ledger)->Head();
  if (head.seq != m.head_seq || ToHex(head.hash) != m.head_hash || report->head.seq != m.head_seq ||
      ToHex(report->head.hash) != m.head_hash) {
    return Failure{kExitVerifyFailed, "the restored ledger ends at sequence " +
                                          std::to_string(head.seq) + " hash " + ToHex(head.hash) +
                                          ", but BACKUP.json recorded sequence " +
                                          std::to_string(m.head_seq) + " hash " + m.head_hash};
  }
  if (m.head_seq > 0) {
    auto last = (*ledger)->Get(m.head_seq);
    if (!last.ok() || ToHex(last->ledger.hash) != m.head_hash) {
      return Failure{kExitVerifyFailed, "the restored event at sequence " +
                                            std::to_string(m.head_seq) +
                                            " does not carry the hash BACKUP.json recorded"};
    }
  }
  return std::nullopt;
}

}  // namespace

int RunRestore(int argc, char** argv) {
  const CommandSpec spec{
      "restore", "waybill restore --from DIR --data-dir DIR",
      "Makes a data dir from a backup written by `waybill backup`: checks every file's size "
      "and SHA-256 against DIR/BACKUP.json, copies them next to the target, verifies the whole "
      "hash chain and that it ends exactly at the head BACKUP.json recorded, then moves the "
      "result to --data-dir, which must not exist or be empty (no server may be using it). "
      "Exit 0 and {\"data_dir\":DIR,\"head\":{\"seq\",\"hash\"},\"events\":N,\"files\":N,"
      "\"bytes\":N}; 4 when a file or the chain does not match the backup (the message names "
      "it); 1 when a file cannot be read or written; 2 for a non-empty target. Configuration "
      "files of the old data dir (partners.json, tokens) are not part of a backup.",
      "waybill restore --from /backups/waybill-2026-11-28 --data-dir /var/lib/waybill"};
  std::string data_dir, from;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  options.add_options()("from", po::value<std::string>(&from)->required(),
                        "the backup directory (with BACKUP.json)");
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, {}, &vm); rc >= 0) return rc;

  auto usable = IsAbsentOrEmptyDir(data_dir);
  if (!usable.ok()) {
    ReportError("restore", usable.status().message());
    return kExitIoError;
  }
  if (!*usable) {
    ReportError("restore", "--data-dir " + data_dir +
                               ": exists and is not empty; restore into a new or empty directory "
                               "(move the old data dir away first)");
    return kExitUsage;
  }
  const std::string manifest_path = from + "/" + kBackupManifestName;
  auto text = ReadDocument(manifest_path);
  if (!text.ok()) {
    ReportError("restore", text.status().message() +
                               " (a backup without BACKUP.json is incomplete: `waybill backup` "
                               "writes it last)");
    return kExitIoError;
  }
  auto manifest = ParseBackupManifest(*text);
  if (!manifest.ok()) {
    ReportError("restore", manifest_path + ": " + manifest.status().message());
    return kExitIoError;
  }
  if (manifest->format_version > ledger::kFormatVersion) {
    ReportError("restore", manifest_path + ": the backup has ledger format " +
                               std::to_string(manifest->format_version) +
                               ", newer than this binary's " +
                               std::to_string(ledger::kFormatVersion) + "; use a newer waybill");
    return kExitIoError;
  }

  // The copy is made next to the target, so the final rename stays on one filesystem.
  fs::path target = fs::absolute(data_dir).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();  // "restored/"
  const fs::path parent = target.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  std::string pattern = (parent / (target.filename().string() + ".restore-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    ReportError("restore", "cannot create a temporary dir in " + parent.string() + ": " +
                               std::strerror(errno));
    return kExitIoError;
  }
  const std::string tmp = pattern;
  auto fail = [&](const Failure& f) {
    fs::remove_all(tmp, ec);
    ReportError("restore", f.message);
    return f.code;
  };
  std::uint64_t bytes = 0;
  for (const auto& entry : manifest->files) {
    if (auto f = CopyChecked(from + "/" + entry.name, tmp + "/" + entry.name, entry)) {
      return fail(*f);
    }
    bytes += entry.size;
  }
  if (Status st = SyncPath(tmp); !st.ok()) return fail({kExitIoError, st.message()});
  std::uint64_t events = 0;
  if (auto f = VerifyRestored(tmp, *manifest, &events)) return fail(*f);
  // rename(2) replaces an empty directory, and only an empty one: a target that filled up
  // meanwhile makes it fail rather than be overwritten.
  fs::rename(tmp, target, ec);
  if (ec) {
    return fail({kExitIoError, "moving " + tmp + " to " + target.string() + ": " + ec.message()});
  }
  if (Status st = SyncPath(parent.string()); !st.ok()) {
    ReportError("restore", "warning: " + st.message());
  }
  std::string out = "{\"data_dir\":";
  AppendJsonString(target.string(), &out);
  out += ",\"head\":{\"seq\":" + std::to_string(manifest->head_seq) + ",\"hash\":\"" +
         manifest->head_hash + "\"},\"events\":" + std::to_string(events) +
         ",\"files\":" + std::to_string(manifest->files.size()) +
         ",\"bytes\":" + std::to_string(bytes) + "}";
  std::cout << out << std::endl;
  return kExitOk;
}

}  // namespace waybill::cli
