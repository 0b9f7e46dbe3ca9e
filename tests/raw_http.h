// Raw HTTP/1.1 over a loopback socket, for tests that must send what no well-behaved client
// would (malformed request lines, bad framing, slow-loris bytes, half-closed sockets) and see
// exactly what the server answers or whether it closes.
// Thread-safety: free functions; each Exchange uses its own socket.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <vector>

namespace waybill::testing {

struct RawCase {
  std::string name;
  std::string bytes;
  std::set<int> expect;                        // statuses that are a right answer
  bool close_ok = false;                       // closing without an answer is also right
  bool half_close = false;                     // shutdown(SHUT_WR) once everything is sent
  std::chrono::milliseconds byte_interval{0};  // > 0: slow-loris, one byte per interval
  int expect_responses = 1;                    // pipelining: answers expected before the close
};

struct RawOutcome {
  std::vector<int> statuses;  // of every complete response, in order
  bool closed = false;        // EOF or reset seen
  bool hung = false;          // neither answered nor closed within `hang_after`
  std::string received;
};

// Parses complete responses off the front of `buf` (status line, headers, Content-Length
// body); returns their statuses (100 Continue left out) and leaves the rest.
std::vector<int> TakeResponses(std::string* buf);

// A non-blocking socket connected to 127.0.0.1:`port` (fails the test when it cannot).
int Connect(int port);

// Sends the case's bytes while reading, and reads until the server closes, the expected
// answers are complete, or `hang_after` passes.
RawOutcome Exchange(int port, const RawCase& c, std::chrono::milliseconds hang_after);

// "METHOD TARGET HTTP/1.1", a Host header, `headers` (each ending in CRLF), a blank line and
// `body`.
std::string Request(const std::string& method, const std::string& target,
                    const std::string& headers = "", const std::string& body = "");

}  // namespace waybill::testing
