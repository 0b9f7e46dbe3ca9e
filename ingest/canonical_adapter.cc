#include "ingest/canonical_adapter.h"

#include "ingest/canonical_import.h"
#include "schemas/event_json.h"

namespace waybill::ingest {
namespace {

class CanonicalAdapter final : public Adapter {
 public:
  std::string_view format() const override { return "canonical"; }

  void Map(std::string_view document, const AdapterContext& /*ctx*/,
           const MessageSink& sink) override {
    std::uint64_t line_no = 0;
    while (!document.empty()) {
      const std::size_t nl = document.find('\n');
      std::string_view line = document.substr(0, nl);
      document.remove_prefix(nl == std::string_view::npos ? document.size() : nl + 1);
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
      MappedMessage m;
      m.position = "line " + std::to_string(line_no);
      m.unit = line;
      if (line.size() > kMaxCanonicalLineBytes) {
        m.errors.push_back(m.position + ": message is " + std::to_string(line.size()) +
                           " bytes, more than the " + std::to_string(kMaxCanonicalLineBytes) +
                           "-byte limit");
      } else if (Result<Event> parsed = parser_.Parse(line); parsed.ok()) {
        m.events.push_back(std::move(parsed).value());
      } else {
        m.errors.push_back(m.position + ": " + parsed.status().message());
      }
      sink(std::move(m));
    }
  }

 private:
  EventJsonParser parser_;
};

}  // namespace

std::unique_ptr<Adapter> MakeCanonicalAdapter() { return std::make_unique<CanonicalAdapter>(); }

}  // namespace waybill::ingest
