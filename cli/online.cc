#include "cli/online.h"

#include <simdjson.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace waybill::cli {
namespace {

constexpr int kMaxRateLimitRetries = 5;
constexpr int kMaxRetryAfterSeconds = 30;

std::string Trim(std::string_view s) {
  const std::size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const std::size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return Trim(s.str());
}

}  // namespace

void AddOnlineOptions(po::options_description& options, OnlineOptions* online,
                      int default_timeout_seconds) {
  online->timeout_seconds = default_timeout_seconds;
  options.add_options()(
      "server", po::value<std::string>(&online->server),
      "send the command to a running `waybill serve --http` at URL (http://HOST:PORT or "
      "https://HOST:PORT) instead of opening --data-dir")(
      "token", po::value<std::string>(&online->token),
      "with --server: bearer token (default: $WAYBILL_TOKEN, else DIR/admin.token, the "
      "local admin token a server without a JWT key writes into its data dir)")(
      "timeout", po::value<int>(&online->timeout_seconds)->default_value(default_timeout_seconds),
      "with --server: seconds to wait for each answer (0: no limit)")(
      "ca-file", po::value<std::string>(&online->ca_file),
      "with an https --server: PEM file of the CAs to trust (default: the system's)")(
      "insecure", po::bool_switch(&online->insecure),
      "with an https --server: do not verify the server's certificate");
}

TokenChoice ResolveToken(const OnlineOptions& online, const std::string& data_dir) {
  if (!online.token.empty()) return {online.token, "--token"};
  if (const char* env = std::getenv("WAYBILL_TOKEN"); env != nullptr && *env != '\0') {
    return {Trim(env), "WAYBILL_TOKEN"};
  }
  const std::string path = data_dir + "/admin.token";
  if (std::string t = ReadTokenFile(path); !t.empty()) return {std::move(t), path};
  return {};
}

ApiError ParseApiError(const client::HttpReply& reply) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object error;
  if (parser.parse(reply.body).get(doc) == simdjson::SUCCESS &&
      doc["error"].get(error) == simdjson::SUCCESS) {
    ApiError out;
    std::string_view s;
    if (error["code"].get(s) == simdjson::SUCCESS) out.code = std::string(s);
    if (error["message"].get(s) == simdjson::SUCCESS) out.message = std::string(s);
    return out;
  }
  std::string body = Trim(reply.body);
  if (body.size() > 300) body = body.substr(0, 300) + "...";
  return {"", std::move(body)};
}

int ExitCodeForStatus(int status) {
  switch (status) {
    case 400:
      return kExitUsage;
    case 404:
      return kExitNotFound;
    case 422:
      return kExitRejected;
    default:
      return kExitIoError;  // 401, 403, 409, 413, 429, 5xx, ...
  }
}

std::string MinifyJson(std::string_view json) {
  std::string out(json.size() + simdjson::SIMDJSON_PADDING, '\0');
  std::size_t len = 0;
  if (simdjson::minify(json.data(), json.size(), out.data(), len) != simdjson::SUCCESS) {
    return Trim(json);
  }
  out.resize(len);
  return out;
}

std::unique_ptr<ServerSession> ServerSession::Open(std::string command, const OnlineOptions& online,
                                                   const std::string& data_dir, int* exit_code) {
  client::ClientOptions o;
  o.base_url = online.server;
  TokenChoice token = ResolveToken(online, data_dir);
  o.bearer_token = token.token;
  o.timeout = online.timeout_seconds > 0
                  ? std::chrono::milliseconds(online.timeout_seconds * 1000LL)
                  : std::chrono::hours(24 * 365);
  o.tls_verify = !online.insecure;
  o.ca_file = online.ca_file;
  auto c = client::HttpClient::Create(std::move(o));
  if (!c.ok()) {
    ReportError(command, c.status().message());
    *exit_code = c.status().code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitIoError;
    return nullptr;
  }
  return std::unique_ptr<ServerSession>(
      new ServerSession(std::move(command), std::move(token), std::move(c).value()));
}

Result<client::HttpReply> ServerSession::Call(std::string_view method, std::string_view target,
                                              std::string_view body,
                                              const client::HeaderList& headers,
                                              int timeout_seconds) {
  for (int attempt = 0;; ++attempt) {
    auto reply = client_->Request(method, target, body, headers,
                                  std::chrono::milliseconds(timeout_seconds * 1000LL));
    if (!reply.ok() || reply->status != 429 || attempt == kMaxRateLimitRetries) return reply;
    int wait = 1;
    const std::string retry_after = reply->header("Retry-After");
    if (!retry_after.empty() && retry_after.find_first_not_of("0123456789") == std::string::npos &&
        retry_after.size() < 6) {
      wait = std::max(1, std::min(std::atoi(retry_after.c_str()), kMaxRetryAfterSeconds));
    }
    std::this_thread::sleep_for(std::chrono::seconds(wait));
  }
}

int ServerSession::Refused(const client::HttpReply& reply) const {
  const ApiError e = ParseApiError(reply);
  std::string msg = "server refused: " + std::to_string(reply.status);
  if (!e.code.empty()) msg += " " + e.code;
  if (!e.message.empty()) msg += ": " + e.message;
  if (reply.status == 401 && token_.source.empty()) {
    msg +=
        " (no token: give --token, set WAYBILL_TOKEN, or point --data-dir at the server's data "
        "dir to use its admin.token)";
  } else if (reply.status == 401 || reply.status == 403) {
    msg += " (token from " + token_.source + ")";
  }
  ReportError(command_, msg);
  return ExitCodeForStatus(reply.status);
}

int ServerSession::Failed(const Status& status) const {
  ReportError(command_, status.message());
  return kExitIoError;
}

}  // namespace waybill::cli
