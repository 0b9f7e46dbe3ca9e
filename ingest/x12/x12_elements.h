// Reading the elements of one transaction set, with 004010 syntax checks and errors that
// name the place: `AT7 (segment 12) element 05: "20251301" is not a date CCYYMMDD`.
// Segments are numbered within the set, ST being segment 1 (as SE01 counts them).
//
// Thread-safety: a SetReader is used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/x12/x12_segments.h"

namespace waybill::ingest::x12 {

struct CivilDate {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
};

struct ClockTime {
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
  std::uint32_t nanos = 0;  // from the decimal seconds of an 8-digit time (HHMMSSdd)
};

// "YYYY-MM-DD".
std::string FormatDate(const CivilDate& d);

// Parses a DT element of 8 digits CCYYMMDD that is a real date; nullopt otherwise.
std::optional<CivilDate> ParseDate8(std::string_view s);
// Parses a TM element: HHMM, HHMMSS, HHMMSSd or HHMMSSdd; nullopt otherwise.
std::optional<ClockTime> ParseTime(std::string_view s);

class SetReader {
 public:
  // `st` and `se` are the indices of the set's ST and SE (or last) segments in `segs`.
  SetReader(const SegmentList& segs, std::size_t st, std::size_t se,
            std::vector<std::string>* errors)
      : segs_(segs), st_(st), se_(se), errors_(errors) {}

  // The body segments are [begin(), end()): everything between ST and SE.
  std::size_t begin() const { return st_ + 1; }
  std::size_t end() const { return se_; }
  std::string_view Id(std::size_t seg) const { return segs_[seg].id; }
  // Element `pos` (1-based), spaces trimmed; "" when absent.
  std::string_view Get(std::size_t seg, std::size_t pos) const { return segs_.Element(seg, pos); }
  bool ok() const { return errors_->empty(); }
  std::size_t error_count() const { return errors_->size(); }

  // "AT7 (segment 12)" and, with pos > 0, " element 05".
  std::string Where(std::size_t seg, std::size_t pos = 0) const;
  // Adds "<Where>: <reason>".
  void Error(std::size_t seg, std::size_t pos, std::string_view reason);
  // Adds "<id>: required segment (<what>) is missing".
  void MissingSegment(std::string_view id, std::string_view what);
  // Adds an error not tied to one element ("AT7: ...").
  void Error(std::string error);

  // An element of `min`..`max` characters without control bytes. When absent: "" and, when
  // `required`, an error naming `what`. When invalid: "" and an error.
  std::string_view Text(std::size_t seg, std::size_t pos, std::size_t min, std::size_t max,
                        bool required, std::string_view what);
  // A DT element CCYYMMDD.
  std::optional<CivilDate> Date(std::size_t seg, std::size_t pos, bool required,
                                std::string_view what);
  // A TM element HHMM[SS[d[d]]].
  std::optional<ClockTime> Time(std::size_t seg, std::size_t pos, bool required,
                                std::string_view what);
  // An N2 element (implied two decimals, optional leading '-', 1-12 digits): hundredths.
  std::optional<std::int64_t> N2(std::size_t seg, std::size_t pos, bool required,
                                 std::string_view what);

 private:
  const SegmentList& segs_;
  std::size_t st_;
  std::size_t se_;
  std::vector<std::string>* errors_;
};

}  // namespace waybill::ingest::x12
