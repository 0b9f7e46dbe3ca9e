// The ISA/GS/ST structure of one interchange and its control checks.
//
// An interchange (ISA..IEA) holds functional groups (GS..GE) that hold transaction sets
// (ST..SE). Checked here: ISA13 = IEA02 and IEA01 = number of groups; GS06 = GE02 and GE01 =
// number of sets; ST02 = SE02, SE01 = number of segments from ST to SE inclusive, ST02 unique
// in its group; every trailer present. Errors are kept at the level they break: an
// interchange error rejects every set in it, a group error every set in the group, a set
// error that set alone. Segments outside any set are collected as "stray" messages so that
// nothing in the document goes unreported.
//
// Thread-safety: plain values.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/x12/x12_segments.h"

namespace waybill::ingest::x12 {

// At most this many errors are kept per message; a last line says how many were left out.
inline constexpr std::size_t kMaxErrorsPerMessage = 50;

// Appends `error` to `errors` unless the cap is reached.
void AddError(std::vector<std::string>* errors, std::string error);

// One message the adapter reports: a transaction set, a run of stray segments, or (when a
// group or interchange holds no set but is broken) the group or interchange itself.
struct MessageSpan {
  enum class Kind { kSet, kStray, kGroup, kInterchange };
  Kind kind = Kind::kSet;
  int group = -1;         // index into Interchange::groups; -1 outside any group
  std::size_t first = 0;  // segment indices into the SegmentList, inclusive
  std::size_t last = 0;
  std::string_view st01;  // for sets (trimmed)
  std::string_view st02;
  std::vector<std::string> errors;  // this message's own errors
};

struct Group {
  std::size_t gs = 0;  // segment index of GS
  std::string_view gs06;
  std::vector<std::string> errors;
};

struct Interchange {
  std::string_view isa06;  // sender id, trimmed
  std::string_view isa13;  // control number, trimmed
  std::vector<std::string> errors;
  std::vector<Group> groups;
  std::vector<MessageSpan> messages;  // in document order
};

// Builds the structure of `segs` (segs[0] is the ISA; `saw_iea` from SplitInterchange).
void ParseEnvelope(const SegmentList& segs, bool saw_iea, Interchange* out);

// "ISA 000000905/GS 1/ST 0001" (or "ISA 000000905/GS 1/segment 7" for strays).
std::string PositionOf(const Interchange& ic, const MessageSpan& m);

}  // namespace waybill::ingest::x12
