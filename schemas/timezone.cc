#include "schemas/timezone.h"

#include <date/tz.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace waybill {
namespace {

namespace chr = std::chrono;

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
constexpr int kMaxOffsetMinutes = 23 * 60 + 59;

// Process-wide cache of zone lookups by name (nullptr = unknown zone). Names come from
// partner profiles and the X12 time-code table, so the map stays small; it is capped anyway
// so that a stream of made-up names cannot grow it without bound.
class ZoneCache {
 public:
  const date::time_zone* Find(std::string_view name) {
    // The last zone this thread used: the common case of one zone for a whole file.
    thread_local std::string last_name;
    thread_local const date::time_zone* last_zone = nullptr;
    thread_local bool last_valid = false;
    if (last_valid && last_name == name) return last_zone;

    const date::time_zone* zone = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = zones_.find(name);
      if (it != zones_.end()) {
        zone = it->second;
      } else {
        zone = Locate(name);
        if (zones_.size() < kMaxEntries) zones_.emplace(std::string(name), zone);
      }
    }
    last_name.assign(name);
    last_zone = zone;
    last_valid = true;
    return zone;
  }

 private:
  static constexpr std::size_t kMaxEntries = 4096;

  static const date::time_zone* Locate(std::string_view name) {
    if (name.empty()) return nullptr;
    try {
      return date::locate_zone(name);
    } catch (...) {  // unknown name, or no tz database on this machine
      return nullptr;
    }
  }

  std::mutex mu_;
  std::map<std::string, const date::time_zone*, std::less<>> zones_;
};

ZoneCache& Cache() {
  static ZoneCache* cache = new ZoneCache();  // never destroyed: usable during shutdown
  return *cache;
}

std::string Two(unsigned v) {
  std::string s = std::to_string(v);
  return s.size() < 2 ? "0" + s : s;
}

std::string CivilText(int y, unsigned m, unsigned d, unsigned hh, unsigned mi, unsigned ss) {
  std::string y4 = std::to_string(y);
  while (y4.size() < 4) y4.insert(y4.begin(), '0');
  return y4 + "-" + Two(m) + "-" + Two(d) + " " + Two(hh) + ":" + Two(mi) + ":" + Two(ss);
}

// Checks the civil fields; on success stores the local time as seconds since the epoch.
Status CheckCivil(int y, unsigned m, unsigned d, unsigned hh, unsigned mi, unsigned ss,
                  date::local_seconds* out) {
  // The text is only built for an error: this runs once per converted time.
  auto fail = [&](const std::string& why) {
    return Status::Invalid("\"" + CivilText(y, m, d, hh, mi, ss) + "\": " + why);
  };
  // Years outside 1677-2262 cannot be a UnixNanos whatever the offset; checking early keeps
  // the tz library away from absurd years.
  if (y < 1677 || y > 2262) {
    return fail("year " + std::to_string(y) +
                " is outside the range a UnixNanos can hold (1677-2262)");
  }
  if (m < 1 || m > 12) return fail("month " + std::to_string(m) + " is not 1-12");
  const date::year_month_day ymd{date::year{y}, date::month{m}, date::day{d}};
  if (!ymd.ok()) return fail("the date does not exist");
  if (hh > 23) return fail("hour " + std::to_string(hh) + " > 23");
  if (mi > 59) return fail("minute " + std::to_string(mi) + " > 59");
  if (ss > 59) return fail("second " + std::to_string(ss) + " > 59");
  *out = date::local_days{ymd} + chr::hours{hh} + chr::minutes{mi} + chr::seconds{ss};
  return Status::Ok();
}

// UTC = local - offset, as UnixNanos, when it fits.
Result<ParsedTime> Finish(date::local_seconds local, int offset_minutes, int y, unsigned m,
                          unsigned d, unsigned hh, unsigned mi, unsigned ss) {
  const std::int64_t utc_s =
      local.time_since_epoch().count() - static_cast<std::int64_t>(offset_minutes) * 60;
  std::int64_t ns = 0;
  if (__builtin_mul_overflow(utc_s, kNanosPerSecond, &ns)) {
    return Status::Invalid("\"" + CivilText(y, m, d, hh, mi, ss) + "\" at offset " +
                           FormatOffset(offset_minutes) +
                           " is outside the range a UnixNanos can hold (1677-09-21 to "
                           "2262-04-11)");
  }
  return ParsedTime{ns, offset_minutes};
}

}  // namespace

bool IsKnownTimeZone(std::string_view iana_zone) { return Cache().Find(iana_zone) != nullptr; }

Result<ParsedTime> LocalToUtc(std::string_view iana_zone, int year, unsigned month, unsigned day,
                              unsigned hour, unsigned minute, unsigned second) {
  const date::time_zone* zone = Cache().Find(iana_zone);
  if (zone == nullptr) {
    return Status::Invalid("time zone \"" + std::string(iana_zone) +
                           "\" is not in the tz database");
  }
  date::local_seconds local;
  WAYBILL_RETURN_IF_ERROR(CheckCivil(year, month, day, hour, minute, second, &local));
  date::local_info info;
  try {
    info = zone->get_info(local);
  } catch (const std::exception& e) {
    return Status::Invalid("time zone \"" + std::string(iana_zone) + "\": " + e.what());
  }
  // unique: first is the one offset; ambiguous: first is the earlier instant (the offset
  // before the clocks fell back, date::choose::earliest); nonexistent: first is the offset in
  // force before the gap (see timezone.h).
  const auto offset = chr::duration_cast<chr::minutes>(info.first.offset).count();
  return Finish(local, static_cast<int>(offset), year, month, day, hour, minute, second);
}

Result<ParsedTime> FixedOffsetToUtc(int offset_minutes, int year, unsigned month, unsigned day,
                                    unsigned hour, unsigned minute, unsigned second) {
  if (offset_minutes < -kMaxOffsetMinutes || offset_minutes > kMaxOffsetMinutes) {
    return Status::Invalid("offset " + std::to_string(offset_minutes) +
                           " minutes is beyond +-23:59");
  }
  date::local_seconds local;
  WAYBILL_RETURN_IF_ERROR(CheckCivil(year, month, day, hour, minute, second, &local));
  return Finish(local, offset_minutes, year, month, day, hour, minute, second);
}

}  // namespace waybill
