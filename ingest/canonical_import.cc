#include "ingest/canonical_import.h"

#include <simdjson.h>

#include <cstring>

#include "ingest/chain_restore.h"
#include "schemas/event_json.h"
#include "schemas/time.h"

namespace waybill::ingest {
namespace {

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

// Turns lines into batches. One per import: owns the parser and the batch being filled.
//
// The lines of one batch, byte for byte as read (newlines included), form one raw message:
// a piece of the delivered file made of whole lines, kept once by content hash. Its events
// all reference it; a rejected line is also kept whole in its own dead letter. Keeping a
// raw record per batch rather than per line saves the ledger a random-key insert per event.
class CanonicalBatcher {
 public:
  CanonicalBatcher(const ImportContext& ctx, AppendPipeline& pipeline)
      : ctx_(ctx), pipeline_(pipeline) {}

  // `line` excludes the newline; `terminated` says whether one followed in the input.
  void Line(std::string_view line, bool terminated, std::uint64_t line_no) {
    if (first_line_ == 0) first_line_ = line_no;
    last_line_ = line_no;
    chunk_.append(line);
    if (terminated) chunk_.push_back('\n');
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!IsBlank(line)) {
      if (line.size() > kMaxCanonicalLineBytes) {
        Reject(line, line_no,
               "message is " + std::to_string(line.size()) + " bytes, more than the " +
                   std::to_string(kMaxCanonicalLineBytes) + "-byte limit");
      } else if (ctx_.refuse_ledger_fields && MayCarryLedgerFields(line) &&
                 CarriesLedgerFields(line)) {
        Reject(line, line_no,
               "carries ledger fields (seq, hash) but the file's first line does not: a plain "
               "import leaves them to the ledger, and a chain restore needs them on every "
               "line (see `waybill export`)");
      } else if (Result<Event> parsed = parser_.Parse(line); !parsed.ok()) {
        Reject(line, line_no, parsed.status().message());
      } else {
        parsed->source.principal = ctx_.principal;
        events_.push_back(std::move(parsed).value());
      }
    }
    if (events_.size() + batch_.dead_letters.size() >= ctx_.batch_events ||
        chunk_.size() >= kMaxChunkBytes) {
      Flush();
    }
  }

  void Flush() {
    if (!events_.empty()) {
      const std::string origin =
          ctx_.origin + ":" + std::to_string(first_line_) + "-" + std::to_string(last_line_);
      batch_.raws.push_back(
          ledger::PrepareRaw(chunk_, "canonical", ctx_.partner, origin, received_at_));
      const Sha256 raw_hash = batch_.raws.back().hash;
      batch_.events.reserve(events_.size());
      for (Event& e : events_) {
        e.raw_hash = raw_hash;
        batch_.events.push_back(ledger::PrepareEvent(e, 0));
      }
    }
    if (!batch_.events.empty() || !batch_.dead_letters.empty()) {
      pipeline_.Submit(std::move(batch_), std::move(origins_));
    }
    batch_ = {};
    origins_ = {};
    events_.clear();
    chunk_.clear();
    first_line_ = last_line_ = 0;
    received_at_ = NowUnixNanos();
  }

 private:
  static constexpr std::size_t kMaxChunkBytes = 4 << 20;

  void Reject(std::string_view line, std::uint64_t line_no, std::string reason) {
    ledger::DeadLetter dl;
    dl.received_at = received_at_;
    dl.format = "canonical";
    dl.partner = ctx_.partner;
    dl.principal = ctx_.principal;
    dl.raw = std::string(line);
    dl.reasons = {"line " + std::to_string(line_no) + ": " + reason};
    dl.origin = ctx_.origin + ":" + std::to_string(line_no);
    batch_.dead_letters.push_back(std::move(dl));
    origins_.dead_letters.push_back(ingest::Reject{ctx_.origin, line_no, std::move(reason), 0, ""});
  }

  const ImportContext& ctx_;
  AppendPipeline& pipeline_;
  EventJsonParser parser_;
  std::vector<Event> events_;  // parsed, waiting for their raw message's hash
  std::string chunk_;          // the batch's lines as read
  std::uint64_t first_line_ = 0, last_line_ = 0;
  UnixNanos received_at_ = NowUnixNanos();
  ledger::AppendBatch batch_;
  BatchOrigins origins_;
};

// Whether `data` is exactly one JSON object (whitespace around it allowed). Structure only:
// the event parser still validates it.
bool IsOneJsonObject(std::string_view data) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  return parser.parse(data.data(), data.size()).get(root) == simdjson::SUCCESS && root.is_object();
}

}  // namespace

Status ImportCanonicalBuffer(std::string_view data, const ImportContext& ctx,
                             AppendPipeline& pipeline) {
  CanonicalBatcher batcher(ctx, pipeline);
  // A message body (NATS, HTTP) holding one event pretty-printed over several lines is one
  // event, kept byte for byte as its raw message, not a line-by-line series of rejects. (A
  // body of one line, with or without its newline, reads the same either way: it skips the
  // extra parse.)
  const std::size_t last_content = data.find_last_not_of(" \t\r\n");
  const bool several_lines =
      last_content != std::string_view::npos && data.find('\n') < last_content;
  if (several_lines && data.size() <= kMaxCanonicalLineBytes && IsOneJsonObject(data)) {
    std::string_view body = data;
    const bool terminated = body.back() == '\n';
    if (terminated) body.remove_suffix(1);
    batcher.Line(body, terminated, 1);
    batcher.Flush();
    return Status::Ok();
  }
  std::uint64_t line_no = 0;
  while (!data.empty()) {
    const std::size_t nl = data.find('\n');
    const std::string_view line = data.substr(0, nl);
    batcher.Line(line, nl != std::string_view::npos, ++line_no);
    if (nl == std::string_view::npos) break;
    data.remove_prefix(nl + 1);
  }
  batcher.Flush();
  return Status::Ok();
}

Status ImportCanonicalStream(std::istream& in, const ImportContext& ctx, AppendPipeline& pipeline) {
  CanonicalBatcher batcher(ctx, pipeline);
  // Read in large blocks and split lines ourselves: getline's per-line overhead shows up
  // at a million lines.
  constexpr std::size_t kBlock = 4 << 20;
  std::string buf;
  std::size_t start = 0;  // first unconsumed byte in buf
  std::uint64_t line_no = 0;
  for (;;) {
    if (start > 0) {
      buf.erase(0, start);
      start = 0;
    }
    const std::size_t old = buf.size();
    buf.resize(old + kBlock);
    in.read(buf.data() + old, static_cast<std::streamsize>(kBlock));
    const std::size_t got = static_cast<std::size_t>(in.gcount());
    buf.resize(old + got);
    if (in.bad()) return Status::IoError(ctx.origin + ": read failed: " + std::strerror(errno));
    const bool eof = got == 0;
    std::size_t pos = 0;
    for (;;) {
      const std::size_t nl = buf.find('\n', pos);
      if (nl == std::string::npos) break;
      batcher.Line(std::string_view(buf).substr(pos, nl - pos), true, ++line_no);
      pos = nl + 1;
    }
    start = pos;
    if (eof) {
      if (start < buf.size()) {
        batcher.Line(std::string_view(buf).substr(start), false, ++line_no);
      }
      break;
    }
  }
  batcher.Flush();
  return Status::Ok();
}

}  // namespace waybill::ingest
