// The local control socket of `waybill serve`: how offline-style commands (`waybill
// rebuild`, `waybill republish`) reach the running server that holds the data dir's lock.
//
// A Unix stream socket at DATA_DIR/control.sock, mode 0600: only the data dir's owner (who
// could edit the data dir anyway) may use it. Protocol: the client sends one JSON object
// on one line; the server answers one JSON object on one line, {"ok":true,...} or
// {"ok":false,"error":"..."}, and closes.
// Thread-safety: ControlServer serves requests one at a time on its own thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "schemas/result.h"

namespace waybill::server {

inline constexpr const char* kControlSocketName = "control.sock";

std::string ControlSocketPath(const std::string& data_dir);

class ControlServer {
 public:
  using Handler = std::function<std::string(std::string_view request)>;
  // Binds `path` (replacing a stale socket file) and serves until destroyed.
  [[nodiscard]] static Result<std::unique_ptr<ControlServer>> Start(const std::string& path,
                                                                    Handler handler);
  ~ControlServer();  // stops, joins and removes the socket file

 private:
  ControlServer(std::string path, int listen_fd, Handler handler);
  void Serve();

  const std::string path_;
  const int listen_fd_;
  int wake_pipe_[2] = {-1, -1};
  Handler handler_;
  std::thread thread_;
};

// Sends `request` (one line of JSON, no newline) and returns the response line. NotFound
// when no server listens at `path`.
[[nodiscard]] Result<std::string> ControlRequest(const std::string& path,
                                                 const std::string& request);

}  // namespace waybill::server
