#include "ingest/x12/x12_adapter.h"

#include <exception>
#include <string>
#include <vector>

#include "ingest/x12/x12_elements.h"
#include "ingest/x12/x12_envelope.h"
#include "ingest/x12/x12_segments.h"
#include "ingest/x12/x12_sets.h"
#include "ingest/x12/x12_tables.h"
#include "ingest/x12/x12_time.h"
#include "schemas/event_validate.h"

namespace waybill::ingest {
namespace {

using x12::Interchange;
using x12::MessageSpan;
using x12::SegmentList;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

class X12Adapter final : public Adapter {
 public:
  std::string_view format() const override { return x12::kFormat; }

  void Map(std::string_view document, const AdapterContext& ctx, const MessageSink& sink) override {
    try {
      MapDocument(document, ctx, sink);
    } catch (const std::exception& e) {
      // Only allocation failure can get here; report it rather than lose the document.
      Reject(document, "document", std::string("internal error while mapping X12: ") + e.what(),
             sink);
    }
  }

 private:
  void MapDocument(std::string_view doc, const AdapterContext& ctx, const MessageSink& sink) {
    std::size_t pos = 0;
    if (doc.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // a UTF-8 byte order mark some editors add
    bool any = false;
    while (true) {
      while (pos < doc.size() && IsSpace(doc[pos])) ++pos;
      if (pos >= doc.size()) break;
      any = true;
      if (!x12::IsaAt(doc, pos)) {
        const std::size_t next = x12::FindIsa(doc, pos + 1);
        Reject(doc.substr(pos, next - pos), "byte " + std::to_string(pos),
               "byte " + std::to_string(pos) + ": expected an ISA segment, found " +
                   x12::Quote(doc.substr(pos, 16)),
               sink);
        pos = next;
        continue;
      }
      x12::Separators seps;
      std::size_t isa_terminator = 0;
      std::string problem = x12::ReadSeparators(doc, pos, &seps, &isa_terminator);
      if (!problem.empty()) {
        const std::size_t next = x12::FindIsa(doc, pos + 3);
        Reject(doc.substr(pos, next - pos), "byte " + std::to_string(pos),
               "byte " + std::to_string(pos) + ": " + problem, sink);
        pos = next;
        continue;
      }
      bool saw_iea = false;
      const std::size_t end =
          x12::SplitInterchange(doc, pos, isa_terminator, seps, &segments_, &saw_iea);
      MapInterchange(doc.substr(pos, end - pos), saw_iea, ctx, sink);
      pos = end;
    }
    if (!any) Reject(doc, "document", "document: no X12 interchange (ISA segment) found", sink);
  }

  static void Reject(std::string_view unit, std::string position, std::string error,
                     const MessageSink& sink) {
    MappedMessage m;
    m.position = std::move(position);
    m.unit = unit;
    m.errors.push_back(std::move(error));
    sink(std::move(m));
  }

  void MapInterchange(std::string_view unit, bool saw_iea, const AdapterContext& ctx,
                      const MessageSink& sink) {
    x12::ParseEnvelope(segments_, saw_iea, &interchange_);
    const Interchange& ic = interchange_;
    const auto& tables = x12::BuiltinTables();

    // Per group: the envelope facts every set of it shares.
    std::vector<GroupEnv> groups(ic.groups.size());
    for (std::size_t g = 0; g < ic.groups.size(); ++g) {
      groups[g] = PrepareGroup(ic, ic.groups[g], ctx);
    }

    for (const MessageSpan& span : ic.messages) {
      MappedMessage m;
      m.position = x12::PositionOf(ic, span);
      m.unit = unit;
      for (const std::string& e : ic.errors) x12::AddError(&m.errors, e);
      const GroupEnv* group =
          span.group >= 0 ? &groups[static_cast<std::size_t>(span.group)] : nullptr;
      if (group != nullptr) {
        for (const std::string& e : ic.groups[static_cast<std::size_t>(span.group)].errors) {
          x12::AddError(&m.errors, e);
        }
        for (const std::string& e : group->errors) x12::AddError(&m.errors, e);
      }
      for (const std::string& e : span.errors) x12::AddError(&m.errors, e);
      if (span.kind == MessageSpan::Kind::kSet && group != nullptr) {
        if (!tables.ok()) {
          x12::AddError(&m.errors, tables.status().message());
        } else {
          MapSet(span, *group, &m);
        }
      }
      if (m.errors.empty() && m.events.empty() && span.kind != MessageSpan::Kind::kSet) {
        m.errors.push_back(m.position + ": no transaction set");
      }
      if (!m.errors.empty()) m.events.clear();
      messages_.push_back(std::move(m));
    }
    EmitInterchange(unit, ic, sink);
  }

  // Every rejected message of an interchange keeps the whole interchange as its unit (what a
  // retry re-maps), so N rejected sets would store N copies of it: a 4 MiB interchange of
  // 20,000 broken sets, 80 GB. Past kMaxRejectCopyBytes the rejected messages are kept as
  // one dead letter at the interchange's position instead, its reasons naming each set (a
  // retry of it re-maps every set of the interchange). Accepted sets are not affected.
  void EmitInterchange(std::string_view unit, const Interchange& ic, const MessageSink& sink) {
    std::size_t rejected = 0;
    for (const MappedMessage& m : messages_) rejected += m.rejected() ? 1 : 0;
    const bool collapse = rejected > 1 && rejected * unit.size() > kMaxRejectCopyBytes;
    bool collapsed_sent = false;
    for (MappedMessage& m : messages_) {
      if (!collapse || !m.rejected()) {
        sink(std::move(m));
        continue;
      }
      if (collapsed_sent) continue;
      collapsed_sent = true;
      MappedMessage all;
      all.position = "ISA " + std::string(ic.isa13);
      all.unit = unit;
      all.errors.push_back(all.position + ": " + std::to_string(rejected) +
                           " messages rejected, kept as this one dead letter of the interchange "
                           "(a retry maps all of them again); the first ones:");
      for (const MappedMessage& r : messages_) {
        if (!r.rejected()) continue;
        if (all.errors.size() >= x12::kMaxErrorsPerMessage) {
          all.errors.push_back("further errors omitted");
          break;
        }
        all.errors.push_back(r.position + ": " + r.errors.front());
      }
      sink(std::move(all));
    }
    messages_.clear();
  }

  static constexpr std::size_t kMaxRejectCopyBytes = 64 << 20;

  struct GroupEnv {
    x12::SetEnv env;
    std::vector<std::string> errors;  // GS date/time problems
  };

  GroupEnv PrepareGroup(const Interchange& ic, const x12::Group& group,
                        const AdapterContext& ctx) const {
    GroupEnv out;
    const std::string_view gs02 = segments_.Element(group.gs, 2);
    std::string partner;
    if (ctx.partner && !ctx.partner->empty()) {
      partner = *ctx.partner;
    } else if (!ic.isa06.empty()) {
      partner = std::string(ic.isa06);
    } else {
      partner = std::string(gs02);
    }
    if (!partner.empty()) out.env.partner = partner;
    const PartnerProfile* profile = nullptr;
    if (ctx.profiles != nullptr) {
      profile = ctx.profiles->Find(partner);
      if (profile == nullptr && !ic.isa06.empty()) profile = ctx.profiles->Find(ic.isa06);
      if (profile == nullptr && !gs02.empty()) profile = ctx.profiles->Find(gs02);
    }
    out.env.clock = x12::PartnerClock{partner, profile};
    const auto& tables = x12::BuiltinTables();
    out.env.tables = tables.ok() ? &*tables : nullptr;

    auto where = [&](std::size_t pos) {
      return "GS (interchange segment " + std::to_string(group.gs + 1) + ") element 0" +
             std::to_string(pos) + ": ";
    };
    const std::string_view gs04 = segments_.Element(group.gs, 4);
    const std::string_view gs05 = segments_.Element(group.gs, 5);
    const auto date = x12::ParseDate8(gs04);
    const auto time = x12::ParseTime(gs05);
    if (!date) out.errors.push_back(where(4) + x12::Quote(gs04) + " is not a date CCYYMMDD");
    if (!time) {
      out.errors.push_back(where(5) + x12::Quote(gs05) + " is not a time HHMM, HHMMSS or HHMMSSdd");
    }
    if (date && time) {
      auto t = x12::ApplyRule(x12::EnvelopeRule(out.env.clock), *date, *time);
      if (!t.ok()) {
        out.errors.push_back(where(4) + t.status().message());
      } else {
        out.env.gs_time = *t;
        out.env.gs_clock = *time;
      }
    }
    return out;
  }

  // Maps one set whose envelope is `group` (whose env.tables are loaded).
  void MapSet(const MessageSpan& span, const GroupEnv& group, MappedMessage* m) {
    mapped_.clear();
    // Even a set already known to be broken is read, so that its mapping errors are reported
    // too (a dead letter should list every reason).
    const x12::SetEnv& env = group.env;
    x12::SetReader reader(segments_, span.first, span.last, &m->errors);
    const std::string_view st01 = span.st01;
    if (st01 == "214") {
      x12::Map214(env, reader, &mapped_);
    } else if (st01 == "204") {
      x12::Map204(env, reader, &mapped_);
    } else if (st01 == "990") {
      x12::Map990(env, reader, &mapped_);
    } else if (st01 == "210") {
      x12::Map210(env, reader, &mapped_);
    } else {
      reader.Error(
          span.first, 1,
          "transaction set " + x12::Quote(st01) + " is not supported (204, 210, 214 and 990 are)");
    }
    if (!m->errors.empty()) return;
    m->events.reserve(mapped_.size());
    for (x12::MappedEvent& me : mapped_) {
      Event& e = me.event;
      FillCorrelationId(&e);
      e.event_id = DeriveEventId(e);
      Status st = ValidateEvent(e);
      if (!st.ok()) {
        reader.Error(me.segment, 0, "the event it maps to is invalid: " + st.message());
        continue;
      }
      m->events.push_back(std::move(e));
    }
  }

  SegmentList segments_;
  Interchange interchange_;
  std::vector<MappedMessage> messages_;  // one interchange's messages, before they are sent
  std::vector<x12::MappedEvent> mapped_;
};

}  // namespace

std::unique_ptr<Adapter> MakeX12Adapter() { return std::make_unique<X12Adapter>(); }

}  // namespace waybill::ingest
