// The hostile message bodies of tests/hostile_input_test.cc: the static fixtures in
// tests/fixtures/hostile/bodies (FORMAT--NAME), fuzz seeds cut short, and bodies generated
// here (deep JSON, random bytes, X12 with huge element and segment counts, oversize fields).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace waybill::testing {

// A message body for an ingest format, sent over HTTP (real client) and NATS.
struct BodyCase {
  std::string name;
  std::string format;
  std::string body;
  std::set<int> expect;  // HTTP statuses that are right
  bool nats = true;      // also publish it to waybill.ingest.FORMAT (fits max_payload)
};

// `source_dir` is the project's source tree; `body_limit` the server's request body limit.
std::vector<BodyCase> StaticBodies(const std::string& source_dir);
std::vector<BodyCase> TruncatedSeeds(const std::string& source_dir);
std::vector<BodyCase> GeneratedBodies(std::uint64_t body_limit);

// Generators, also used for cases the test builds itself.
std::string RandomBytes(std::size_t n, std::uint32_t seed);
std::string DeepArrays(std::size_t depth);
std::string DeepObjects(std::size_t depth);

}  // namespace waybill::testing
