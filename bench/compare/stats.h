// Small helpers shared by the side-by-side benchmark's drivers: percentiles of latency
// samples and reading a file's lines in batches. Each driver prints one JSON object on
// stdout, which bench/compare.sh reads.
// Thread-safety: free functions over caller-owned data; none keeps state.
#pragma once

#include <algorithm>
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace waybill::bench {

// The p-th percentile (0..100, nearest rank) of `v` in the units of its values, 0 when
// empty. Reorders `v`.
inline double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::size_t rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()));
  if (rank >= v.size()) rank = v.size() - 1;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(rank), v.end());
  return v[rank];
}

// Reads up to `n` lines from `in` into `out` (cleared first); returns how many it read.
inline std::size_t ReadLines(std::istream& in, std::size_t n, std::vector<std::string>* out) {
  out->clear();
  std::string line;
  while (out->size() < n && std::getline(in, line)) {
    if (!line.empty()) out->push_back(std::move(line));
  }
  return out->size();
}

}  // namespace waybill::bench
