// Online mode of the `waybill` commands: with --server URL a command sends its work to a
// running `waybill serve --http` (docs/http-api.md) instead of opening --data-dir.
//
// The bearer token is the first of:
//   1. --token TOKEN
//   2. the environment variable WAYBILL_TOKEN
//   3. DATA_DIR/admin.token, DATA_DIR being --data-dir (default $WAYBILL_DATA_DIR, else
//      ./waybill-data): the local admin token a server without a JWT key writes there
//      (mode 0600), usable by whoever may read the server's data dir.
// With none of them no Authorization header is sent, and the server answers 401.
//
// Server answers map to exit codes (cli_common.h): 401/403 -> 1 with the server's message
// ("waybill view: server refused: 401 unauthenticated: token expired at ..."), 404 -> 5
// (commands for which "not found" means something else say so), 422 -> 3, 400 -> 2, a
// connection failure or timeout -> 1.
//
// Thread-safety: a ServerSession is used by one thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "cli/cli_common.h"
#include "server/client/http_client.h"

namespace waybill::cli {

struct OnlineOptions {
  std::string server;  // --server URL; empty: offline
  std::string token;   // --token
  int timeout_seconds = 30;
  std::string ca_file;    // --ca-file (https)
  bool insecure = false;  // --insecure: https without certificate verification
  bool enabled() const { return !server.empty(); }
};

// Adds --server, --token, --timeout (default `default_timeout_seconds`), --ca-file and
// --insecure to `options`.
void AddOnlineOptions(po::options_description& options, OnlineOptions* online,
                      int default_timeout_seconds = 30);

// Where the bearer token comes from, following the order above.
struct TokenChoice {
  std::string token;   // "" when none was found
  std::string source;  // "--token", "WAYBILL_TOKEN", "DIR/admin.token", or "" when none
};
TokenChoice ResolveToken(const OnlineOptions& online, const std::string& data_dir);

// The error object of an API answer ({"error":{"code","message"}}); for a body of another
// shape, code is "" and message is the body's start.
struct ApiError {
  std::string code;
  std::string message;
};
ApiError ParseApiError(const client::HttpReply& reply);

// The exit code for a non-2xx status (see above).
int ExitCodeForStatus(int status);

// `json` on one line: whitespace outside strings removed, every token kept byte for byte.
// Text that is not JSON comes back with its surrounding whitespace trimmed.
std::string MinifyJson(std::string_view json);

// The connection to the server for one command run.
class ServerSession {
 public:
  // Resolves the token and creates the client. Prints the error and returns nullptr, with
  // *exit_code kExitUsage for a malformed URL or kExitIoError for an unreadable CA file.
  static std::unique_ptr<ServerSession> Open(std::string command, const OnlineOptions& online,
                                             const std::string& data_dir, int* exit_code);

  // Sends one request. A 429 answer is retried after its Retry-After (at most 5 times, at
  // most 30 s each): the server did not act on it. Any other answer is returned as is.
  // `timeout_seconds` > 0 overrides --timeout for this request.
  [[nodiscard]] Result<client::HttpReply> Call(std::string_view method, std::string_view target,
                                               std::string_view body = {},
                                               const client::HeaderList& headers = {},
                                               int timeout_seconds = 0);

  // Prints "waybill CMD: server refused: STATUS CODE: MESSAGE" (with a hint on 401 when no
  // token was found) and returns ExitCodeForStatus(reply.status).
  int Refused(const client::HttpReply& reply) const;
  // Prints a transport failure (connection refused, timeout) and returns kExitIoError.
  int Failed(const Status& status) const;

  const std::string& command() const { return command_; }

 private:
  ServerSession(std::string command, TokenChoice token, std::unique_ptr<client::HttpClient> c)
      : command_(std::move(command)), token_(std::move(token)), client_(std::move(c)) {}

  std::string command_;
  TokenChoice token_;
  std::unique_ptr<client::HttpClient> client_;
};

// Whether `status` is 2xx.
inline bool IsSuccess(int status) { return status >= 200 && status < 300; }

}  // namespace waybill::cli
