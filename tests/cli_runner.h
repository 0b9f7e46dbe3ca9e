// Runs the real `waybill` binary for end-to-end tests. WAYBILL_CLI_PATH is set by CMake.
#pragma once

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace waybill::testing {

struct CliRun {
  int code = -1;    // the process's exit code
  std::string out;  // its standard output
};

// Runs `waybill ARGS` through the shell with stderr discarded.
inline CliRun Waybill(const std::string& args) {
  const std::string cmd = std::string(WAYBILL_CLI_PATH) + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  CliRun r;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  r.code = WEXITSTATUS(pclose(p));
  return r;
}

// The path of tests/fixtures/NAME in the source tree (WAYBILL_SOURCE_DIR is set by CTest).
inline std::string Fixture(const std::string& name) {
  return std::string(std::getenv("WAYBILL_SOURCE_DIR")) + "/tests/fixtures/" + name;
}

}  // namespace waybill::testing
