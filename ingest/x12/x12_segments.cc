#include "ingest/x12/x12_segments.h"

#include <cstring>

#include "schemas/error_text.h"

namespace waybill::ingest::x12 {
namespace {

// ISA has 16 elements; its separators are found by counting element separators rather than
// by fixed offsets, so that an ISA whose fields are not padded to width is still read. A
// real ISA is 106 bytes; this bound keeps a garbage "ISA" from scanning the whole document.
constexpr std::size_t kIsaElements = 16;
constexpr std::size_t kMaxIsaBytes = 512;

bool IsAlnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool IsLineBreak(char c) { return c == '\r' || c == '\n'; }

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::string_view TrimLineBreaks(std::string_view s) {
  while (!s.empty() && (IsLineBreak(s.front()) || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (IsLineBreak(s.back()) || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void AddSegment(std::string_view raw, char element_sep, SegmentList* out) {
  Segment seg;
  const char* p = raw.data();
  const char* end = p + raw.size();
  const void* hit = std::memchr(p, element_sep, raw.size());
  const char* sep = hit ? static_cast<const char*>(hit) : end;
  seg.id = std::string_view(p, static_cast<std::size_t>(sep - p));
  seg.first = static_cast<std::uint32_t>(out->elements.size());
  while (sep != end) {
    p = sep + 1;
    hit = std::memchr(p, element_sep, static_cast<std::size_t>(end - p));
    sep = hit ? static_cast<const char*>(hit) : end;
    out->elements.emplace_back(p, static_cast<std::size_t>(sep - p));
  }
  seg.count = static_cast<std::uint32_t>(out->elements.size() - seg.first);
  out->segments.push_back(seg);
}

}  // namespace

std::string_view SegmentList::RawElement(std::size_t index, std::size_t pos) const {
  if (index >= segments.size()) return {};
  const Segment& s = segments[index];
  if (pos == 0 || pos > s.count) return {};
  return elements[s.first + pos - 1];
}

std::string_view SegmentList::Element(std::size_t index, std::size_t pos) const {
  return TrimSpaces(RawElement(index, pos));
}

bool IsaAt(std::string_view doc, std::size_t pos) {
  if (pos + 4 > doc.size() || doc.compare(pos, 3, "ISA") != 0) return false;
  const char sep = doc[pos + 3];
  return !IsAlnum(sep) && sep != ' ' && !IsLineBreak(sep);
}

std::size_t FindIsa(std::string_view doc, std::size_t from) {
  while (from < doc.size()) {
    const std::size_t at = doc.find("ISA", from);
    if (at == std::string_view::npos) return doc.size();
    if (IsaAt(doc, at)) return at;
    from = at + 1;
  }
  return doc.size();
}

std::string ReadSeparators(std::string_view doc, std::size_t isa_pos, Separators* seps,
                           std::size_t* terminator_pos) {
  const char element = doc[isa_pos + 3];
  std::size_t seen = 0;
  std::size_t i = isa_pos + 3;
  const std::size_t limit = std::min(doc.size(), isa_pos + kMaxIsaBytes);
  for (; i < limit; ++i) {
    if (doc[i] == element && ++seen == kIsaElements) break;
  }
  if (seen != kIsaElements) {
    return "ISA segment: found " + std::to_string(seen) +
           " of its 16 elements (element separator " +
           Quote(std::string_view(&doc[isa_pos + 3], 1)) + ")";
  }
  // doc[i] is the 16th element separator: ISA16 follows, then the segment terminator.
  if (i + 2 >= doc.size()) return "ISA segment: the document ends before ISA16 and the terminator";
  const char component = doc[i + 1];
  const char terminator = doc[i + 2];
  if (IsAlnum(component) || component == element) {
    return "ISA16: component separator " + Quote(std::string_view(&doc[i + 1], 1)) +
           " must be a special character distinct from the element separator";
  }
  if (IsAlnum(terminator) || terminator == ' ' || terminator == element ||
      terminator == component) {
    return "ISA segment terminator " + Quote(std::string_view(&doc[i + 2], 1)) +
           " (the byte after ISA16) must be a special character distinct from the separators";
  }
  seps->element = element;
  seps->component = component;
  seps->segment = terminator;
  *terminator_pos = i + 2;
  return {};
}

std::size_t SplitInterchange(std::string_view doc, std::size_t isa_pos, std::size_t isa_terminator,
                             const Separators& seps, SegmentList* out, bool* saw_iea) {
  out->clear();
  *saw_iea = false;
  // The ISA is taken up to its known terminator: its fixed-width fields may contain bytes
  // that a later segment would not.
  AddSegment(doc.substr(isa_pos, isa_terminator - isa_pos), seps.element, out);
  std::size_t p = isa_terminator + 1;
  while (p < doc.size()) {
    const void* hit = std::memchr(doc.data() + p, seps.segment, doc.size() - p);
    const std::size_t t =
        hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - doc.data()) : doc.size();
    std::string_view raw = TrimLineBreaks(doc.substr(p, t - p));
    const std::size_t next = t < doc.size() ? t + 1 : doc.size();
    if (raw.empty()) {
      p = next;
      continue;
    }
    const std::size_t raw_pos = static_cast<std::size_t>(raw.data() - doc.data());
    if (IsaAt(doc, raw_pos)) {
      // A new interchange begins: this one had no IEA. Stop where that ISA starts.
      return raw_pos;
    }
    AddSegment(raw, seps.element, out);
    p = next;
    if (out->segments.back().id == "IEA") {
      *saw_iea = true;
      return p;
    }
  }
  return doc.size();
}

bool IsSegmentId(std::string_view id) {
  if (id.size() < 2 || id.size() > 3) return false;
  if (!(id[0] >= 'A' && id[0] <= 'Z')) return false;
  for (char c : id) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::string Quote(std::string_view s) { return QuoteForMessage(s); }

}  // namespace waybill::ingest::x12
