#include "ingest/canonical_import.h"

#include <cstring>

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
class CanonicalBatcher {
 public:
  CanonicalBatcher(const ImportContext& ctx, AppendPipeline& pipeline)
      : ctx_(ctx), pipeline_(pipeline) {}

  void Line(std::string_view line, std::uint64_t line_no) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) return;
    const UnixNanos now = NowUnixNanos();
    if (line.size() > kMaxCanonicalLineBytes) {
      Reject(line, line_no, now,
             "message is " + std::to_string(line.size()) + " bytes, more than the " +
                 std::to_string(kMaxCanonicalLineBytes) + "-byte limit");
    } else if (Result<Event> parsed = parser_.Parse(line); !parsed.ok()) {
      Reject(line, line_no, now, parsed.status().message());
    } else {
      Event& event = parsed.value();
      event.source.principal = ctx_.principal;
      batch_.raws.push_back(
          ledger::PrepareRaw(line, event.source.format, event.source.partner, now));
      event.raw_hash = batch_.raws.back().hash;
      batch_.events.push_back(
          ledger::PrepareEvent(event, static_cast<int>(batch_.raws.size() - 1)));
    }
    if (batch_.events.size() + batch_.dead_letters.size() >= ctx_.batch_events) Flush();
  }

  void Flush() {
    if (batch_.events.empty() && batch_.dead_letters.empty()) return;
    pipeline_.Submit(std::move(batch_), std::move(origins_));
    batch_ = {};
    origins_ = {};
  }

 private:
  void Reject(std::string_view line, std::uint64_t line_no, UnixNanos now, std::string reason) {
    ledger::DeadLetter dl;
    dl.received_at = now;
    dl.format = "canonical";
    dl.partner = ctx_.partner;
    dl.principal = ctx_.principal;
    dl.raw = std::string(line);
    dl.reasons = {"line " + std::to_string(line_no) + ": " + reason};
    dl.origin = ctx_.origin + ":" + std::to_string(line_no);
    batch_.dead_letters.push_back(std::move(dl));
    origins_.dead_letters.push_back(ingest::Reject{ctx_.origin, line_no, std::move(reason), 0});
  }

  const ImportContext& ctx_;
  AppendPipeline& pipeline_;
  EventJsonParser parser_;
  ledger::AppendBatch batch_;
  BatchOrigins origins_;
};

}  // namespace

Status ImportCanonicalBuffer(std::string_view data, const ImportContext& ctx,
                             AppendPipeline& pipeline) {
  CanonicalBatcher batcher(ctx, pipeline);
  std::uint64_t line_no = 0;
  while (!data.empty()) {
    const std::size_t nl = data.find('\n');
    const std::string_view line = data.substr(0, nl);
    batcher.Line(line, ++line_no);
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
      batcher.Line(std::string_view(buf).substr(pos, nl - pos), ++line_no);
      pos = nl + 1;
    }
    start = pos;
    if (eof) {
      if (start < buf.size()) batcher.Line(std::string_view(buf).substr(start), ++line_no);
      break;
    }
  }
  batcher.Flush();
  return Status::Ok();
}

}  // namespace waybill::ingest
