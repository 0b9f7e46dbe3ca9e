// Mapping of the supported transaction sets (204, 210, 214, 990) to canonical events.
//
// Each mapper reads one set's segments through a SetReader (which collects errors naming
// the segment and element) and appends events with the segment they came from. It sets
// everything but event_id and correlation_id, which the adapter fills (DeriveEventId,
// FillCorrelationId) before validating. A set with any error yields no event.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/x12/x12_elements.h"
#include "ingest/x12/x12_tables.h"
#include "ingest/x12/x12_time.h"
#include "schemas/event.h"
#include "schemas/time.h"

namespace waybill::ingest::x12 {

inline constexpr std::string_view kFormat = "x12";

// What a set mapper knows about the set's envelope.
struct SetEnv {
  std::optional<std::string> partner;  // ctx.partner, else ISA06, else GS02
  PartnerClock clock;
  const Tables* tables = nullptr;
  ParsedTime gs_time;  // GS04 date + GS05 time in the envelope zone
  ClockTime gs_clock;  // GS05 as written
};

struct MappedEvent {
  Event event;
  std::size_t segment = 0;  // index of the segment the event came from (for messages)
};

void Map214(const SetEnv& env, SetReader& r, std::vector<MappedEvent>* out);
void Map204(const SetEnv& env, SetReader& r, std::vector<MappedEvent>* out);
void Map990(const SetEnv& env, SetReader& r, std::vector<MappedEvent>* out);
void Map210(const SetEnv& env, SetReader& r, std::vector<MappedEvent>* out);

// Shared pieces of the mappers (x12_sets_common.cc).

// An event with source {system, "x12", partner} and the given kind.
Event NewEvent(const SetEnv& env, EventKind kind, SourceSystem system);

// Appends {type, value} unless an equal reference is already there.
void AddReference(std::vector<Reference>* refs, std::string_view type, std::string_view value);

// Reads an L11 (value 01, qualifier 02) or N9 (qualifier 01, value 02) reference into refs;
// one of the pair without the other is an error.
void ReadL11(SetReader& r, std::size_t seg, std::vector<Reference>* refs);
void ReadN9(SetReader& r, std::size_t seg, std::vector<Reference>* refs);

// An X12 country code (element 26: ISO 3166 alpha-2, or USA/CAN/MEX) as alpha-2; reports an
// error and returns "" otherwise.
std::string CountryAlpha2(SetReader& r, std::size_t seg, std::size_t pos);

// `hundredths` of an N2 amount in minor units of `currency` (exact: JPY 1500.00 -> 1500;
// JPY 1500.50 is an error). Reports the error at seg/pos and returns nullopt on failure.
std::optional<std::int64_t> N2ToMinor(SetReader& r, std::size_t seg, std::size_t pos,
                                      std::int64_t hundredths, std::string_view currency);

// The currency of the partner's profile, else "USD".
std::string DefaultCurrency(const SetEnv& env);

// date + time under time code `code` (an element at code_pos; "" = envelope zone); reports
// a code problem at code_pos and a range problem at date_pos.
std::optional<ParsedTime> ResolveTime(const SetEnv& env, SetReader& r, std::size_t seg,
                                      std::size_t date_pos, std::size_t code_pos,
                                      const CivilDate& date, const ClockTime& time,
                                      std::string_view code);

}  // namespace waybill::ingest::x12
