#include "ingest/x12/x12_envelope.h"

#include <unordered_set>

namespace waybill::ingest::x12 {
namespace {

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Digits without leading zeros ("000123" -> "123", "0" -> "0"): control numbers of type N0
// are compared by value.
std::string_view NumericValue(std::string_view s) {
  while (s.size() > 1 && s.front() == '0') s.remove_prefix(1);
  return s;
}

std::string Two(std::size_t pos) {
  return pos < 10 ? "0" + std::to_string(pos) : std::to_string(pos);
}

// "GE (interchange segment 40) element 02: " for envelope segments.
std::string AtInterchange(const SegmentList& segs, std::size_t index, std::size_t pos) {
  std::string s(segs[index].id);
  s += " (interchange segment ";
  s += std::to_string(index + 1);
  s += ')';
  if (pos > 0) {
    s += " element ";
    s += Two(pos);
  }
  s += ": ";
  return s;
}

// "SE (segment 14) element 01: " for segments of a set (ST is segment 1).
std::string AtSet(const SegmentList& segs, std::size_t st, std::size_t index, std::size_t pos) {
  std::string s(segs[index].id);
  s += " (segment ";
  s += std::to_string(index - st + 1);
  s += ')';
  if (pos > 0) {
    s += " element ";
    s += Two(pos);
  }
  s += ": ";
  return s;
}

class EnvelopeParser {
 public:
  EnvelopeParser(const SegmentList& segs, Interchange* out) : segs_(segs), out_(*out) {}

  void Run(bool saw_iea) {
    CheckIsa();
    for (std::size_t i = 1; i < segs_.size(); ++i) Step(i);
    const std::size_t end = segs_.size();
    if (in_set_) {
      AddError(&Set().errors, AtSet(segs_, Set().first, Set().first, 0) +
                                  "transaction set has no SE trailer before the end of the "
                                  "interchange");
      CloseSet(end - 1);
    }
    if (in_group_) {
      AddError(&out_.groups.back().errors,
               AtInterchange(segs_, out_.groups.back().gs, 0) +
                   "functional group has no GE trailer before the end of the interchange");
      in_group_ = false;
    }
    if (!saw_iea) {
      AddError(&out_.errors, "ISA (interchange segment 1): interchange " + Quote(out_.isa13) +
                                 " has no IEA trailer");
    }
    AddHolders();
  }

 private:
  MessageSpan& Set() { return out_.messages.back(); }

  void CheckIsa() {
    out_.isa06 = segs_.Element(0, 6);
    out_.isa13 = segs_.Element(0, 13);
    if (segs_[0].count != 16) {
      AddError(&out_.errors, AtInterchange(segs_, 0, 0) + "has " + std::to_string(segs_[0].count) +
                                 " elements, 16 expected");
    }
    if (out_.isa06.empty()) {
      AddError(&out_.errors, AtInterchange(segs_, 0, 6) + "sender id is missing");
    }
    const std::string_view isa13 = segs_.RawElement(0, 13);
    if (isa13.size() != 9 || !AllDigits(isa13)) {
      AddError(&out_.errors, AtInterchange(segs_, 0, 13) + Quote(isa13) +
                                 " is not a 9-digit interchange control number");
    }
  }

  void Step(std::size_t i) {
    const std::string_view id = segs_[i].id;
    if (in_set_) {
      if (id == "SE") {
        CheckSe(i);
        CloseSet(i);
        return;
      }
      if (id != "ST" && id != "GE" && id != "GS" && id != "IEA") {
        if (!IsSegmentId(id)) {
          AddError(&Set().errors, "segment " + std::to_string(i - Set().first + 1) + ": " +
                                      Quote(id) +
                                      " is not a segment id (2-3 upper-case letters or digits)");
        }
        return;  // part of the set
      }
      AddError(&Set().errors, AtSet(segs_, Set().first, Set().first, 0) + "transaction set " +
                                  Quote(Set().st02) + " has no SE trailer before " +
                                  std::string(id) + " (interchange segment " +
                                  std::to_string(i + 1) + ")");
      CloseSet(i - 1);
    }
    if (in_group_) {
      if (id == "ST") {
        OpenSet(i);
        return;
      }
      if (id == "GE") {
        CheckGe(i);
        in_group_ = false;
        return;
      }
      if (id == "GS" || id == "IEA") {
        AddError(&out_.groups.back().errors,
                 AtInterchange(segs_, out_.groups.back().gs, 0) + "functional group " +
                     Quote(out_.groups.back().gs06) + " has no GE trailer before " +
                     std::string(id) + " (interchange segment " + std::to_string(i + 1) + ")");
        in_group_ = false;
      } else {
        Stray(i);
        return;
      }
    }
    if (id == "GS") {
      OpenGroup(i);
    } else if (id == "IEA") {
      CheckIea(i);
    } else {
      Stray(i);
    }
  }

  void OpenGroup(std::size_t i) {
    Group g;
    g.gs = i;
    g.gs06 = segs_.Element(i, 6);
    const std::string_view gs06 = g.gs06;
    if (gs06.empty() || gs06.size() > 9 || !AllDigits(gs06)) {
      AddError(&g.errors, AtInterchange(segs_, i, 6) + Quote(gs06) +
                              " is not a group control number (1-9 digits)");
    }
    out_.groups.push_back(std::move(g));
    in_group_ = true;
    sets_in_group_ = 0;
    st02_seen_.clear();
  }

  void CheckGe(std::size_t i) {
    Group& g = out_.groups.back();
    const std::string_view ge01 = segs_.Element(i, 1);
    const std::string_view ge02 = segs_.Element(i, 2);
    if (!AllDigits(ge01) || NumericValue(ge01) != std::to_string(sets_in_group_)) {
      AddError(&g.errors, AtInterchange(segs_, i, 1) + "number of transaction sets " + Quote(ge01) +
                              " does not match the " + std::to_string(sets_in_group_) +
                              " sets in group " + Quote(g.gs06));
    }
    if (!AllDigits(ge02) || NumericValue(ge02) != NumericValue(g.gs06)) {
      AddError(&g.errors, AtInterchange(segs_, i, 2) + "control number " + Quote(ge02) +
                              " does not match GS06 " + Quote(g.gs06));
    }
  }

  void CheckIea(std::size_t i) {
    const std::string_view iea01 = segs_.Element(i, 1);
    const std::string_view iea02 = segs_.Element(i, 2);
    if (!AllDigits(iea01) || NumericValue(iea01) != std::to_string(out_.groups.size())) {
      AddError(&out_.errors, AtInterchange(segs_, i, 1) + "number of functional groups " +
                                 Quote(iea01) + " does not match the " +
                                 std::to_string(out_.groups.size()) + " groups in interchange " +
                                 Quote(out_.isa13));
    }
    if (iea02 != out_.isa13) {
      AddError(&out_.errors, AtInterchange(segs_, i, 2) + "control number " + Quote(iea02) +
                                 " does not match ISA13 " + Quote(out_.isa13));
    }
  }

  void OpenSet(std::size_t i) {
    MessageSpan m;
    m.kind = MessageSpan::Kind::kSet;
    m.group = static_cast<int>(out_.groups.size()) - 1;
    m.first = m.last = i;
    m.st01 = segs_.Element(i, 1);
    m.st02 = segs_.Element(i, 2);
    if (m.st01.size() != 3 || !AllDigits(m.st01)) {
      AddError(&m.errors, AtSet(segs_, i, i, 1) + Quote(m.st01) +
                              " is not a transaction set identifier (3 digits)");
    }
    if (m.st02.size() < 4 || m.st02.size() > 9) {
      AddError(&m.errors, AtSet(segs_, i, i, 2) + "control number " + Quote(m.st02) +
                              " must be 4-9 characters");
    } else if (!st02_seen_.insert(m.st02).second) {
      AddError(&m.errors, AtSet(segs_, i, i, 2) + "control number " + Quote(m.st02) +
                              " is used by an earlier set of group " +
                              Quote(out_.groups.back().gs06));
    }
    ++sets_in_group_;
    out_.messages.push_back(std::move(m));
    in_set_ = true;
  }

  void CheckSe(std::size_t i) {
    MessageSpan& m = Set();
    const std::string_view se01 = segs_.Element(i, 1);
    const std::string_view se02 = segs_.Element(i, 2);
    const std::size_t count = i - m.first + 1;
    if (!AllDigits(se01) || NumericValue(se01) != std::to_string(count)) {
      AddError(&m.errors, AtSet(segs_, m.first, i, 1) + "segment count " + Quote(se01) +
                              " does not match the " + std::to_string(count) +
                              " segments from ST to SE");
    }
    if (se02 != m.st02) {
      AddError(&m.errors, AtSet(segs_, m.first, i, 2) + "control number " + Quote(se02) +
                              " does not match ST02 " + Quote(m.st02));
    }
  }

  void CloseSet(std::size_t last) {
    Set().last = last;
    in_set_ = false;
  }

  // A segment outside any set: joins the stray run just before it, or starts one.
  void Stray(std::size_t i) {
    const int group = in_group_ ? static_cast<int>(out_.groups.size()) - 1 : -1;
    if (!out_.messages.empty()) {
      MessageSpan& prev = out_.messages.back();
      if (prev.kind == MessageSpan::Kind::kStray && prev.group == group && prev.last + 1 == i) {
        prev.last = i;
        AddError(&prev.errors, AtInterchange(segs_, i, 0) + "segment outside a transaction set");
        return;
      }
    }
    MessageSpan m;
    m.kind = MessageSpan::Kind::kStray;
    m.group = group;
    m.first = m.last = i;
    AddError(&m.errors, AtInterchange(segs_, i, 0) + (IsSegmentId(segs_[i].id)
                                                          ? "segment outside a transaction set"
                                                          : "not a segment (garbage outside a "
                                                            "transaction set)"));
    out_.messages.push_back(std::move(m));
  }

  // A broken group or interchange without any message of its own still gets reported.
  void AddHolders() {
    std::vector<bool> group_has(out_.groups.size(), false);
    for (const MessageSpan& m : out_.messages) {
      if (m.group >= 0) group_has[static_cast<std::size_t>(m.group)] = true;
    }
    std::vector<MessageSpan> extra;
    for (std::size_t g = 0; g < out_.groups.size(); ++g) {
      if (group_has[g] || out_.groups[g].errors.empty()) continue;
      MessageSpan m;
      m.kind = MessageSpan::Kind::kGroup;
      m.group = static_cast<int>(g);
      m.first = m.last = out_.groups[g].gs;
      extra.push_back(std::move(m));
    }
    for (MessageSpan& m : extra) out_.messages.push_back(std::move(m));
    if (out_.messages.empty() && !out_.errors.empty()) {
      MessageSpan m;
      m.kind = MessageSpan::Kind::kInterchange;
      out_.messages.push_back(std::move(m));
    }
  }

  const SegmentList& segs_;
  Interchange& out_;
  bool in_group_ = false;
  bool in_set_ = false;
  std::size_t sets_in_group_ = 0;
  std::unordered_set<std::string_view> st02_seen_;
};

}  // namespace

void AddError(std::vector<std::string>* errors, std::string error) {
  if (errors->size() < kMaxErrorsPerMessage) {
    errors->push_back(std::move(error));
  } else if (errors->size() == kMaxErrorsPerMessage) {
    errors->push_back("further errors omitted");
  }
}

void ParseEnvelope(const SegmentList& segs, bool saw_iea, Interchange* out) {
  *out = Interchange{};
  if (segs.size() == 0) return;
  EnvelopeParser(segs, out).Run(saw_iea);
}

std::string PositionOf(const Interchange& ic, const MessageSpan& m) {
  std::string s = "ISA ";
  s += ic.isa13;
  if (m.kind == MessageSpan::Kind::kInterchange) return s;
  if (m.group >= 0) {
    s += "/GS ";
    s += ic.groups[static_cast<std::size_t>(m.group)].gs06;
  }
  switch (m.kind) {
    case MessageSpan::Kind::kSet:
      s += "/ST ";
      s += m.st02;
      break;
    case MessageSpan::Kind::kStray:
      s += "/segment ";
      s += std::to_string(m.first + 1);
      break;
    case MessageSpan::Kind::kGroup:
    case MessageSpan::Kind::kInterchange:
      break;
  }
  return s;
}

}  // namespace waybill::ingest::x12
