// waybill export [--data-dir DIR] [--from SEQ] [--to SEQ] [--out FILE]
//
// Writes a range of the ledger as canonical NDJSON, one event a line with every ledger field
// (seq, recorded_at, prev_hash, hash) and everything its content digest covers (raw_hash,
// source.principal, ...): the input of a chain restore (`waybill import --format canonical`
// on a ledger whose head is the range's predecessor). Read-only: works while serve runs.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "schemas/event_json.h"

namespace waybill::cli {
namespace {

std::string ErrnoText() { return std::strerror(errno); }

// Where the NDJSON goes: stdout, or FILE written atomically (a temporary file next to it,
// fsynced, renamed over FILE, and the directory fsynced), so a reader never sees half an
// export under FILE's name and a crash leaves either the old FILE or the whole new one.
class ExportSink {
 public:
  // Empty `path`: stdout.
  static Result<std::unique_ptr<ExportSink>> Open(const std::string& path) {
    auto sink = std::unique_ptr<ExportSink>(new ExportSink(path));
    if (path.empty()) {
      sink->fd_ = STDOUT_FILENO;
      return sink;
    }
    sink->tmp_ = path + ".tmp." + std::to_string(::getpid());
    sink->fd_ = ::open(sink->tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (sink->fd_ < 0) {
      return Status::IoError("cannot create " + sink->tmp_ + " (for --out " + path +
                             "): " + ErrnoText());
    }
    return sink;
  }

  ~ExportSink() {
    if (!path_.empty() && fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmp_.c_str());  // not committed: leave nothing behind
    }
  }

  // Buffers `line`; writes when the buffer is large.
  [[nodiscard]] Status Add(std::string_view line) {
    buf_.append(line);
    return buf_.size() >= kFlushBytes ? Drain() : Status::Ok();
  }

  // Writes what is buffered and, for a file, makes it durable under its final name.
  [[nodiscard]] Status Commit() {
    WAYBILL_RETURN_IF_ERROR(Drain());
    if (path_.empty()) return Status::Ok();
    if (::fsync(fd_) != 0) return Status::IoError(tmp_ + ": fsync: " + ErrnoText());
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
      ::unlink(tmp_.c_str());
      return Status::IoError(tmp_ + ": close: " + ErrnoText());
    }
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const std::string why = ErrnoText();
      ::unlink(tmp_.c_str());
      return Status::IoError("cannot rename " + tmp_ + " to " + path_ + ": " + why);
    }
    std::string dir = std::filesystem::path(path_).parent_path().string();
    if (dir.empty()) dir = ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return Status::IoError(dir + ": open for fsync: " + ErrnoText());
    const bool synced = ::fsync(dfd) == 0;
    const std::string why = synced ? "" : ErrnoText();
    ::close(dfd);
    if (!synced) return Status::IoError(dir + ": fsync: " + why);
    return Status::Ok();
  }

 private:
  static constexpr std::size_t kFlushBytes = 1 << 20;

  explicit ExportSink(std::string path) : path_(std::move(path)) {}

  Status Drain() {
    std::size_t done = 0;
    while (done < buf_.size()) {
      const ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IoError((path_.empty() ? std::string("stdout") : tmp_) +
                               ": write: " + ErrnoText());
      }
      done += static_cast<std::size_t>(n);
    }
    buf_.clear();
    return Status::Ok();
  }

  const std::string path_;
  std::string tmp_;
  int fd_ = -1;
  std::string buf_;
};

}  // namespace

int RunExport(int argc, char** argv) {
  const CommandSpec spec{
      "export", "waybill export [--data-dir DIR] [--from SEQ] [--to SEQ] [--out FILE]",
      "Writes events FROM..TO (default: 1 to the head) as canonical NDJSON, one event a line "
      "with its ledger fields (seq, recorded_at, prev_hash, hash), to FILE (written "
      "atomically: temporary file, fsync, rename) or stdout. `waybill import --format "
      "canonical` on a ledger whose head is event FROM-1 (an empty one for FROM=1) restores "
      "exactly this chain: same sequences, times and hashes. Raw messages and dead letters are "
      "not exported. Prints {\"from\":N,\"to\":N,\"events\":N,\"head_seq\":N,"
      "\"head_hash\":\"...\"} (the range's last event) to stderr. Works while the server "
      "runs. Exit 0: written; 2: bad range; 1: I/O error.",
      "waybill export --data-dir ./waybill-data --out ledger.ndjson && "
      "waybill import --data-dir ./restored --format canonical ledger.ndjson"};
  std::string data_dir, out;
  std::uint64_t from = 1, to = 0;
  po::options_description options("options");
  AddCommonOptions(options, &data_dir);
  options.add_options()("from", po::value<std::uint64_t>(&from), "first sequence (default 1)")(
      "to", po::value<std::uint64_t>(&to), "last sequence (default: the head)")(
      "out", po::value<std::string>(&out), "file to write (default: stdout)");
  po::variables_map vm;
  if (int rc = ParseCommandLine(argc, argv, spec, options, {}, &vm); rc >= 0) return rc;

  auto ledger = OpenLedgerOrReport(data_dir, ledger::OpenMode::kReadOnly);
  if (!ledger) return kExitIoError;
  const ledger::LedgerHead head = ledger->Head();
  if (vm.count("to") == 0) to = head.seq;
  const std::string head_text = head.seq == 0
                                    ? std::string("the ledger in " + data_dir + " is empty")
                                    : "the head is seq " + std::to_string(head.seq);
  if (from == 0) {
    ReportError("export", "--from 0: sequences start at 1");
    return kExitUsage;
  }
  if (from > head.seq) {
    ReportError("export", "--from " + std::to_string(from) + " is beyond the head: " + head_text);
    return kExitUsage;
  }
  if (to > head.seq) {
    ReportError("export", "--to " + std::to_string(to) + " is beyond the head: " + head_text);
    return kExitUsage;
  }
  if (from > to) {
    ReportError("export", "--from " + std::to_string(from) + " is after --to " +
                              std::to_string(to) + ": nothing to export");
    return kExitUsage;
  }

  auto sink = ExportSink::Open(out);
  if (!sink.ok()) {
    ReportError("export", sink.status().message());
    return kExitIoError;
  }
  ProgressMeter meter("export", to - from + 1, ProgressUnit::kItems);
  std::uint64_t events = 0, expected = from;
  Sha256 last_hash{};
  Status failure;
  std::string line;
  Status read = ledger->ReadRange(from, to, [&](const Event& e) {
    if (e.ledger.seq != expected) {
      failure = Status::Corruption("the ledger has no event at seq " + std::to_string(expected) +
                                   " (next found: " + std::to_string(e.ledger.seq) + ")");
      return false;
    }
    line.clear();
    AppendEventJson(e, &line);
    line.push_back('\n');
    failure = (*sink)->Add(line);
    if (!failure.ok()) return false;
    last_hash = e.ledger.hash;
    ++events;
    ++expected;
    meter.Update(events);
    return true;
  });
  if (failure.ok()) failure = read;
  if (failure.ok() && events != to - from + 1) {
    failure = Status::Corruption("the ledger has no event at seq " + std::to_string(expected));
  }
  if (failure.ok()) failure = (*sink)->Commit();
  meter.Clear();
  if (!failure.ok()) {
    ReportError("export", failure.ToString() + (out.empty() ? "" : "; " + out + " not written"));
    return kExitIoError;
  }
  std::cerr << "{\"from\":" << from << ",\"to\":" << to << ",\"events\":" << events
            << ",\"head_seq\":" << to << ",\"head_hash\":\"" << ToHex(last_hash) << "\"}"
            << std::endl;
  return kExitOk;
}

}  // namespace waybill::cli
