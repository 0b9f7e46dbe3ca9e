#include "server/logging.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

#include "schemas/event_json.h"

namespace waybill::server {
namespace {

// The value of "key=" in a tag ("order=SO-1 shipment=SHP-1"), up to the next space.
std::string_view TagValue(std::string_view text, std::string_view key) {
  std::size_t at = 0;
  while ((at = text.find(key, at)) != std::string_view::npos) {
    if (at == 0 || text[at - 1] == ' ') {
      const std::size_t begin = at + key.size();
      const std::size_t end = text.find(' ', begin);
      return text.substr(begin, end == std::string_view::npos ? end : end - begin);
    }
    at += key.size();
  }
  return {};
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string out;
    out.reserve(msg.payload.size() + 96);
    const auto since_epoch = msg.time.time_since_epoch();
    const std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char ts[96];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(millis));
    out += "{\"ts\":\"";
    out += ts;
    out += "\",\"level\":";
    const auto level = spdlog::level::to_string_view(msg.level);
    AppendJsonString(std::string_view(level.data(), level.size()), &out);
    const std::string_view text(msg.payload.data(), msg.payload.size());
    out += ",\"msg\":";
    AppendJsonString(text, &out);
    for (std::string_view key : {"order", "shipment"}) {
      const std::string_view value = TagValue(text, std::string(key) + "=");
      if (value.empty() || value == "-") continue;
      out += ",\"";
      out += key;
      out += "\":";
      AppendJsonString(value, &out);
    }
    out += "}\n";
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

std::unique_ptr<spdlog::formatter> MakeJsonFormatter() { return std::make_unique<JsonFormatter>(); }

Status ConfigureLogging(std::string_view format, std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return Status::Invalid("--log-level: \"" + std::string(level) +
                           "\" is not trace, debug, info, warn, error or off");
  }
  spdlog::set_level(parsed);
  if (format == "json") {
    spdlog::set_formatter(MakeJsonFormatter());
  } else if (format == "text") {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  } else {
    return Status::Invalid("--log-format: \"" + std::string(format) + "\" is not text or json");
  }
  return Status::Ok();
}

}  // namespace waybill::server
