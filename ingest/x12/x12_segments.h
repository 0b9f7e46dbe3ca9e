// X12 tokenizing: separators from the ISA segment, an interchange split into segments and
// elements. No semantics here; x12_envelope.h checks the ISA/GS/ST structure.
//
// Thread-safety: SegmentList is a plain value; the functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace waybill::ingest::x12 {

// The three delimiters an interchange declares in its ISA segment: the element separator is
// the byte after "ISA", the component separator is ISA16, and the segment terminator is the
// byte after ISA16. (004010 has no repetition separator: ISA11 is the standards id.)
struct Separators {
  char element = '*';
  char component = '>';
  char segment = '~';
};

// One segment: its id and its elements (element 01 is elements[first]).
struct Segment {
  std::string_view id;
  std::uint32_t first = 0;
  std::uint32_t count = 0;
};

// The segments of one interchange, with the elements of all of them in one pool so that
// splitting allocates nothing once the buffers have grown.
struct SegmentList {
  std::vector<Segment> segments;
  std::vector<std::string_view> elements;

  void clear() {
    segments.clear();
    elements.clear();
  }
  // Element `pos` (1-based) of segment `index` with surrounding spaces removed; "" when the
  // segment has fewer elements.
  std::string_view Element(std::size_t index, std::size_t pos) const;
  // The same, untrimmed (for fixed-width ISA fields and exact length checks).
  std::string_view RawElement(std::size_t index, std::size_t pos) const;
  std::size_t size() const { return segments.size(); }
  const Segment& operator[](std::size_t i) const { return segments[i]; }
};

// Whether an ISA segment starts at `pos`: "ISA" followed by a byte that can be an element
// separator (not a letter, digit, space or line break).
bool IsaAt(std::string_view doc, std::size_t pos);

// The first position >= `from` where IsaAt holds, or doc.size().
std::size_t FindIsa(std::string_view doc, std::size_t from);

// Reads the separators of the ISA segment at `isa_pos` (IsaAt must hold). On success stores
// them and the offset of the ISA's segment terminator in *terminator_pos and returns "";
// otherwise returns the reason (too short, separators not distinct, ...).
std::string ReadSeparators(std::string_view doc, std::size_t isa_pos, Separators* seps,
                           std::size_t* terminator_pos);

// Splits the interchange starting with the ISA at `isa_pos` (whose terminator is at
// `isa_terminator`) into `out` (cleared first). Stops after the IEA segment, before the next
// ISA segment, or at the end of `doc`; returns the offset where it stopped. Line breaks
// around segments are ignored, as are empty segments. *saw_iea tells whether an IEA ended it.
std::size_t SplitInterchange(std::string_view doc, std::size_t isa_pos, std::size_t isa_terminator,
                             const Separators& seps, SegmentList* out, bool* saw_iea);

// Whether `id` looks like a segment id: 2 or 3 upper-case letters or digits, starting with a
// letter.
bool IsSegmentId(std::string_view id);

// `s` quoted for an error message: control bytes escaped, long values cut (QuoteForMessage).
std::string Quote(std::string_view s);

}  // namespace waybill::ingest::x12
