#include "tests/hostile_corpus.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>

#include "tests/serve_process.h"

namespace waybill::testing {

namespace fs = std::filesystem;

std::string RandomBytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string DeepArrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::string DeepObjects(std::size_t depth) {
  std::string s;
  s.reserve(depth * 6 + 1);
  for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s += '1';
  s.append(depth, '}');
  return s;
}

namespace {

std::string IsaGs() {
  return "ISA*00*          *00*          *ZZ*HOSTILE        *ZZ*WAYBILL        *250310*1500*U*"
         "00401*000000777*0*P*>~GS*QM*HOSTILE*WAYBILL*20250310*1500*777*X*004010~";
}

// One 214 whose N9 segment has `elements` elements.
std::string X12HugeSegment(std::size_t elements) {
  std::string s = IsaGs() + "ST*214*0001~B10*PRO1*SHIP-H1*ACME~N9";
  s.reserve(s.size() + elements * 2 + 64);
  for (std::size_t i = 0; i < elements; ++i) s += "*A";
  s += "~SE*3*0001~GE*1*777~IEA*1*000000777~";
  return s;
}

// One 214 with `segments` LX segments.
std::string X12ManySegments(std::size_t segments) {
  std::string s = IsaGs() + "ST*214*0001~B10*PRO1*SHIP-H2*ACME~";
  s.reserve(s.size() + segments * 5 + 64);
  for (std::size_t i = 0; i < segments; ++i) s += "LX*1~";
  s += "SE*" + std::to_string(segments + 3) + "*0001~GE*1*777~IEA*1*000000777~";
  return s;
}

// One interchange of `sets` transaction sets that are all rejected (no B10), padded to about
// `bytes` by an ignorable note in the first set: each rejected set keeps a copy of its unit.
std::string X12ManyRejectedSets(std::size_t sets, std::size_t bytes) {
  std::string s = IsaGs();
  char st[64];
  for (std::size_t i = 1; i <= sets; ++i) {
    std::snprintf(st, sizeof st, "ST*214*%06zu~LX*1~SE*3*%06zu~", i, i);
    s += st;
  }
  s += "GE*" + std::to_string(sets) + "*777~IEA*1*000000777~";
  if (s.size() < bytes) s.insert(IsaGs().size(), "NTE*" + std::string(bytes - s.size(), 'Z') + "~");
  return s;
}

}  // namespace

std::vector<BodyCase> StaticBodies(const std::string& source_dir) {
  std::vector<BodyCase> out;
  const fs::path dir = fs::path(source_dir) / "tests/fixtures/hostile/bodies";
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    const std::size_t sep = file.find("--");
    REQUIRE_MESSAGE(sep != std::string::npos, "fixture " << file << " is not FORMAT--NAME");
    out.push_back(
        {"fixture " + file, file.substr(0, sep), ReadWholeFile(entry.path().string()), {400, 422}});
  }
  REQUIRE(out.size() >= 20);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

// Fuzz seeds cut short: JSON documents in half, X12 just before the first IEA (a complete
// interchange before the cut would rightly be accepted).
std::vector<BodyCase> TruncatedSeeds(const std::string& source_dir) {
  std::vector<BodyCase> out;
  const std::map<std::string, std::string> formats = {
      {"x12", "x12"}, {"dcsa", "dcsa-tnt"}, {"epcis", "epcis"}};
  for (const auto& [dir, format] : formats) {
    for (const auto& entry :
         fs::directory_iterator(fs::path(source_dir) / "tests/fuzz/corpus" / dir)) {
      std::string text = ReadWholeFile(entry.path().string());
      const std::size_t iea = text.find("IEA");
      text.resize(format == "x12" && iea != std::string::npos ? iea : text.size() / 2);
      if (text.empty()) continue;
      out.push_back({"truncated seed " + dir + "/" + entry.path().filename().string(),
                     format,
                     std::move(text),
                     {400, 422}});
    }
  }
  return out;
}

std::vector<BodyCase> GeneratedBodies(std::uint64_t body_limit) {
  std::vector<BodyCase> out;
  const std::vector<std::string> json_formats = {"canonical", "dcsa-tnt", "epcis",
                                                 "sap-s4-delivery"};
  for (const auto& f : json_formats) {
    // Refused before any parser sees them (the JSON depth limit).
    out.push_back({"100k-deep arrays to " + f, f, DeepArrays(100'000), {400}, false});
    out.push_back({"100k-deep objects to " + f, f, DeepObjects(100'000), {400}, false});
    out.push_back(
        {"deep second NDJSON line to " + f, f, "{}\n" + DeepArrays(100'000), {400}, false});
    // Not JSON-looking at the first byte, so past the cheap check: the parsers' own limits.
    out.push_back(
        {"BOM then 100k-deep arrays to " + f, f, "\xEF\xBB\xBF" + DeepArrays(100'000), {400, 422}});
    out.push_back(
        {"form feed then 100k-deep objects to " + f, f, "\f" + DeepObjects(100'000), {400, 422}});
    out.push_back({"1 MiB random bytes to " + f, f, RandomBytes(1 << 20, 7), {400, 422}, false});
    out.push_back({"900 KiB random bytes to " + f, f, RandomBytes(900 << 10, 8), {400, 422}});
  }
  out.push_back({"900 KiB random bytes to x12", "x12", RandomBytes(900 << 10, 9), {422}});
  out.push_back({"900 KiB random bytes to an unknown format",
                 "no-such-format",
                 RandomBytes(900 << 10, 10),
                 {422}});
  out.push_back({"16 MiB (the limit) of random bytes to x12",
                 "x12",
                 RandomBytes(body_limit, 11),
                 {422},
                 false});
  out.push_back({"X12 segment with 10^6 elements", "x12", X12HugeSegment(1'000'000), {422}, false});
  out.push_back({"X12 set with 200k segments", "x12", X12ManySegments(200'000), {422}, false});
  out.push_back(
      {"X12 set with 100k-element segment (NATS size)", "x12", X12HugeSegment(100'000), {422}});
  out.push_back({"X12 interchange of 4 MiB with 20k rejected sets",
                 "x12",
                 X12ManyRejectedSets(20'000, 4 << 20),
                 {422},
                 false});
  // Huge strings and numbers in canonical events.
  out.push_back(
      {"canonical event with a 900 KiB shipment_id",
       "canonical",
       R"({"event_id":"h-big","kind":"milestone","occurred_at":"2025-03-02T10:00:00Z","source":{"system":"carrier"},"shipment_id":")" +
           std::string(900 << 10, 'S') + R"(","carrier":"ACME","status":"IN_TRANSIT"})",
       {422}});
  out.push_back({"canonical line over the 1 MiB line limit",
                 "canonical",
                 "{\"event_id\":\"" + std::string((1 << 20) + 10, 'L') + "\"}",
                 {422},
                 false});
  {
    std::string many = R"({"event_id":"h-fields","kind":"milestone")";
    for (int i = 0; i < 50'000; ++i) many += ",\"x" + std::to_string(i) + "\":1";
    many += "}";
    out.push_back(
        {"canonical event with 50k unknown fields and no shipment", "canonical", many, {422}});
  }
  out.push_back({"canonical number with 500k digits",
                 "canonical",
                 R"({"event_id":"h-digits","quantity":)" + std::string(500'000, '9') + "}",
                 {422}});
  // Many rejected lines in one body: every line is a dead letter of its own.
  {
    std::string lines;
    for (int i = 0; i < 20'000; ++i) lines += "x\n";
    out.push_back({"20k garbage NDJSON lines", "canonical", lines, {422}});
  }
  return out;
}

}  // namespace waybill::testing
