#include "ingest/chain_restore.h"

#include <simdjson.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <unordered_set>

#include "ingest/append_pipeline.h"
#include "ingest/canonical_import.h"
#include "ledger/record_format.h"
#include "schemas/event_codec.h"
#include "schemas/event_json.h"
#include "schemas/sha256.h"
#include "schemas/time.h"

namespace waybill::ingest {
namespace {

constexpr std::string_view kNothingRestored = "; nothing was restored";

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// Lines of a stream read in large blocks. A returned line is valid until the next call.
class LineReader {
 public:
  LineReader(std::istream& in, std::string origin) : in_(in), origin_(std::move(origin)) {}

  // The next line without its newline; false at the end or on a read error (status()).
  bool Next(std::string_view* line, bool* terminated) {
    for (;;) {
      const std::size_t nl = buf_.find('\n', scan_);
      if (nl != std::string::npos) {
        *line = std::string_view(buf_).substr(pos_, nl - pos_);
        *terminated = true;
        pos_ = scan_ = nl + 1;
        return true;
      }
      scan_ = buf_.size();
      if (eof_) {
        if (pos_ == buf_.size()) return false;
        *line = std::string_view(buf_).substr(pos_);
        *terminated = false;
        pos_ = scan_ = buf_.size();
        return true;
      }
      buf_.erase(0, pos_);
      scan_ -= pos_;
      pos_ = 0;
      const std::size_t old = buf_.size();
      buf_.resize(old + kBlock);
      in_.read(buf_.data() + old, static_cast<std::streamsize>(kBlock));
      const auto got = static_cast<std::size_t>(in_.gcount());
      buf_.resize(old + got);
      if (in_.bad()) {
        status_ = Status::IoError(origin_ + ": read failed: " + std::strerror(errno));
        return false;
      }
      if (got == 0) eof_ = true;
    }
  }

  const Status& status() const { return status_; }

 private:
  static constexpr std::size_t kBlock = 4 << 20;
  std::istream& in_;
  const std::string origin_;
  std::string buf_;
  std::size_t pos_ = 0;   // start of the next line
  std::size_t scan_ = 0;  // where to look for the next newline
  bool eof_ = false;
  Status status_;
};

std::string Where(const RestoreContext& ctx, std::uint64_t line_no) {
  return ctx.origin + ":" + std::to_string(line_no);
}

std::string SeqText(std::uint64_t seq) { return "seq " + std::to_string(seq); }

// Pass 1: the whole file is a valid continuation of `head`, or the first reason it is not.
Status CheckPass(const std::string& path, const RestoreContext& ctx,
                 const ledger::LedgerHead& head) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  LineReader reader(in, ctx.origin);
  EventJsonParser parser;
  std::unordered_set<std::string> ids;
  ledger::LedgerHead prev = head;
  std::uint64_t line_no = 0, first_line = 0;
  std::string_view line;
  bool terminated = false;
  std::string content;
  while (reader.Next(&line, &terminated)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) continue;
    const std::string at = Where(ctx, line_no);
    if (line.size() > kMaxCanonicalLineBytes) {
      return Status::Invalid(at + ": the line is " + std::to_string(line.size()) +
                             " bytes, more than the " + std::to_string(kMaxCanonicalLineBytes) +
                             "-byte limit" + std::string(kNothingRestored));
    }
    Result<Event> ev = parser.ParseExported(line);
    if (!ev.ok()) {
      return Status::Invalid(at + ": " + ev.status().message() + std::string(kNothingRestored));
    }
    const LedgerFields& lf = ev->ledger;
    if (lf.seq == 0) {
      return Status::Invalid(at + ": carries no ledger fields (seq, recorded_at, prev_hash, " +
                             "hash) but line " + std::to_string(first_line) +
                             " does: a ledger export carries them on every line, mixed input " +
                             "is refused whole" + std::string(kNothingRestored));
    }
    const std::string seq_at = at + " (" + SeqText(lf.seq) + ")";
    if (first_line == 0) {
      first_line = line_no;
      if (lf.seq != head.seq + 1 || lf.prev_hash != head.hash) {
        return Status::Invalid(
            at + ": the export starts at " + SeqText(lf.seq) + " with prev_hash " +
            ToHex(lf.prev_hash) + ", but this ledger's head is " + SeqText(head.seq) +
            (head.seq == 0 ? " (empty)" : "") + " with hash " + ToHex(head.hash) +
            ": a restore must continue the head, with " + SeqText(head.seq + 1) +
            " and prev_hash " + ToHex(head.hash) +
            " (restore into an empty data dir, or restore the range before it first)" +
            std::string(kNothingRestored));
      }
    } else if (lf.seq != prev.seq + 1) {
      return Status::Invalid(at + ": " + SeqText(lf.seq) + " follows " + SeqText(prev.seq) +
                             ": an export's sequences are consecutive" +
                             std::string(kNothingRestored));
    } else if (lf.prev_hash != prev.hash) {
      return Status::Invalid(seq_at + ": prev_hash " + ToHex(lf.prev_hash) +
                             " is not the hash of " + SeqText(prev.seq) + " (" + ToHex(prev.hash) +
                             ")" + std::string(kNothingRestored));
    }
    if (lf.recorded_at < prev.recorded_at) {
      return Status::Invalid(seq_at + ": recorded_at " + FormatUtc(lf.recorded_at) +
                             " is before that of " + SeqText(prev.seq) + " (" +
                             FormatUtc(prev.recorded_at) + ")" + std::string(kNothingRestored));
    }
    content.clear();
    EncodeEventContent(*ev, &content);
    const Sha256 computed =
        ledger::ChainHash(lf.seq, lf.recorded_at, lf.prev_hash, Sha256Of(content));
    if (computed != lf.hash) {
      return Status::Invalid(seq_at + ": the line does not match its hash: it hashes to " +
                             ToHex(computed) + ", not " + ToHex(lf.hash) +
                             " (its content, recorded_at or prev_hash was changed)" +
                             std::string(kNothingRestored));
    }
    if (!ids.insert(ev->event_id).second) {
      return Status::Invalid(seq_at + ": event id \"" + ev->event_id +
                             "\" appears earlier in the file" + std::string(kNothingRestored));
    }
    prev = {lf.seq, lf.hash, lf.recorded_at};
  }
  return reader.status();
}

// Pass 2: the lines as restore requests, a raw message of export lines per batch.
Result<std::uint64_t> AppendPass(const std::string& path, const RestoreContext& ctx,
                                 ledger::Ledger& ledger) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  LineReader reader(in, ctx.origin);
  EventJsonParser parser;
  AppendPipeline pipeline(ledger);
  ledger::AppendBatch batch;
  std::string chunk;
  std::uint64_t line_no = 0, first = 0, last = 0, events = 0;
  Status failure;
  auto flush = [&] {
    if (!batch.events.empty()) {
      batch.raws.push_back(ledger::PrepareRaw(
          chunk, "canonical", ctx.partner,
          ctx.origin + ":" + std::to_string(first) + "-" + std::to_string(last) + " (restore)",
          NowUnixNanos()));
      pipeline.Submit(std::move(batch), {});
    }
    batch = {};
    chunk.clear();
    first = 0;
  };
  std::string_view line;
  bool terminated = false;
  while (failure.ok() && reader.Next(&line, &terminated)) {
    ++line_no;
    if (first == 0) first = line_no;
    last = line_no;
    chunk.append(line);
    if (terminated) chunk.push_back('\n');
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) continue;
    Result<Event> ev = parser.ParseExported(line);
    if (!ev.ok() || ev->ledger.seq == 0) {
      failure = Status::Invalid(Where(ctx, line_no) + ": the file changed during the restore");
      break;
    }
    ledger::PreparedEvent p = ledger::PrepareEvent(*ev, 0);
    p.expected = ledger::ExpectedPosition{ev->ledger.seq, ev->ledger.recorded_at, ev->ledger.hash};
    batch.events.push_back(std::move(p));
    ++events;
    if (batch.events.size() >= ctx.batch_events) flush();
  }
  if (failure.ok()) failure = reader.status();
  if (failure.ok()) flush();
  auto summary = pipeline.Finish();
  if (failure.ok() && !summary.ok()) failure = summary.status();
  if (!failure.ok()) {
    const std::string m = ctx.origin + ": " + failure.message() + "; the ledger now ends at " +
                          SeqText(ledger.Head().seq);
    return failure.code() == ErrorCode::kInvalidArgument ? Status::Invalid(m) : Status::IoError(m);
  }
  return events;
}

}  // namespace

bool CarriesLedgerFields(std::string_view line) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(line.data(), line.size()).get(obj) != simdjson::SUCCESS) return false;
  return obj["seq"].error() == simdjson::SUCCESS && obj["hash"].error() == simdjson::SUCCESS;
}

Result<bool> StartsWithLedgerExport(std::istream& in, std::string* consumed) {
  constexpr std::size_t kBlock = 64 << 10;
  std::size_t line_start = consumed->size();
  for (;;) {
    // Look at every complete line read so far.
    for (;;) {
      const std::size_t nl = consumed->find('\n', line_start);
      if (nl == std::string::npos) break;
      const std::string_view line = std::string_view(*consumed).substr(line_start, nl - line_start);
      if (!IsBlank(line)) return CarriesLedgerFields(line);
      line_start = nl + 1;
    }
    if (consumed->size() - line_start > kMaxCanonicalLineBytes) return false;  // too long
    const std::size_t old = consumed->size();
    consumed->resize(old + kBlock);
    in.read(consumed->data() + old, static_cast<std::streamsize>(kBlock));
    const auto got = static_cast<std::size_t>(in.gcount());
    consumed->resize(old + got);
    if (in.bad()) return Status::IoError(std::string("read failed: ") + std::strerror(errno));
    if (got == 0) {
      const std::string_view rest = std::string_view(*consumed).substr(line_start);
      return !IsBlank(rest) && CarriesLedgerFields(rest);
    }
  }
}

Result<RestoreSummary> RestoreCanonicalFile(const std::string& path, const RestoreContext& ctx,
                                            ledger::Ledger& ledger) {
  const ledger::LedgerHead head = ledger.Head();
  WAYBILL_RETURN_IF_ERROR(CheckPass(path, ctx, head));
  Result<std::uint64_t> events = AppendPass(path, ctx, ledger);
  if (!events.ok()) return events.status();
  RestoreSummary summary;
  summary.events = *events;
  summary.first_seq = *events == 0 ? 0 : head.seq + 1;
  summary.head = ledger.Head();
  return summary;
}

}  // namespace waybill::ingest
