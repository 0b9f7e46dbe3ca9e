// HTTP driver of the side-by-side benchmark: NDJSON posts to `waybill serve`'s
// POST /v1/ingest/canonical over keep-alive connections (plain sockets, HTTP/1.1).
//
//   compare_http post URL TOKEN_FILE FILE [--batch N] [--conns C]
//     Cuts FILE into bodies of N lines (default 1,000; cut before the clock starts) and posts
//     them over C connections (default 4), each taking the next body. Prints
//     {"events":N,"accepted":N,"duplicates":N,"requests":N,"non200":N,"seconds":X,
//      "p50_ms":X,"p99_ms":X}; latency is per request (a whole body, acked once durable).
//
//   compare_http soak URL TOKEN_FILE --rate R --seconds S [--batch N] [--conns C]
//                [--shipments N] [--dup-percent P] [--events-per-shipment E]
//     Generates the workload as it goes (bench/compare/workload.h, ids unique to this run:
//     N shipments in flight, each retired after E events, default 20; 0 keeps the same N) and
//     sends R events/s for S seconds: body k is due at k*N/R s; a body is never sent early,
//     and when the server falls behind the producer waits (the backlog is bounded) rather
//     than piling up. It stops producing after S seconds either way (a server that fell
//     behind gets fewer events, not more time). Prints the same JSON plus "target_rate" and
//     "late_bodies" (bodies sent more than one second after they were due).
//
// URL is http://HOST:PORT. Exit 0 when every answer was 200, else 1.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "bench/compare/stats.h"
#include "bench/compare/workload.h"

namespace {

using waybill::bench::Clock;
using waybill::bench::Seconds;

struct Target {
  std::string host, port, token;
};

// One keep-alive connection; reconnects when the server closed it.
class Connection {
 public:
  explicit Connection(const Target& t) : t_(t) {}
  ~Connection() { Close(); }

  // Posts `body`; returns the status (0 on a transport failure) and the response body.
  int Post(const std::string& body, std::string* response) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0 && !Open()) return 0;
      std::string req = "POST /v1/ingest/canonical HTTP/1.1\r\nHost: " + t_.host + ":" + t_.port +
                        "\r\nAuthorization: Bearer " + t_.token +
                        "\r\nContent-Type: application/x-ndjson\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n";
      if (SendAll(req) && SendAll(body)) {
        const int status = ReadResponse(response);
        if (status > 0) return status;
      }
      Close();  // a closed keep-alive connection: reconnect once (ingest is idempotent)
    }
    return 0;
  }

 private:
  bool Open() {
    addrinfo hints{}, *res = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(t_.host.c_str(), t_.port.c_str(), &hints, &res) != 0) return false;
    fd_ = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    const bool ok = fd_ >= 0 && connect(fd_, res->ai_addr, res->ai_addrlen) == 0;
    freeaddrinfo(res);
    if (!ok) {
      Close();
      return false;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    buf_.clear();
    return true;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool SendAll(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  bool Fill() {
    char tmp[65536];
    const ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  int ReadResponse(std::string* body) {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return 0;
    }
    const std::string head = buf_.substr(0, end);
    int status = 0;
    if (std::sscanf(head.c_str(), "HTTP/1.%*d %d", &status) != 1) return 0;
    std::size_t length = 0;
    std::string lower = head;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (auto at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
      length = std::stoull(lower.substr(at + 17));
    }
    buf_.erase(0, end + 4);
    while (buf_.size() < length) {
      if (!Fill()) return 0;
    }
    body->assign(buf_, 0, length);
    buf_.erase(0, length);
    if (lower.find("\r\nconnection: close") != std::string::npos) Close();
    return status;
  }

  const Target& t_;
  int fd_ = -1;
  std::string buf_;
};

std::uint64_t Field(const std::string& body, const char* name) {
  const std::string key = std::string("\"") + name + "\":";
  const auto at = body.find(key);
  return at == std::string::npos ? 0 : std::strtoull(body.c_str() + at + key.size(), nullptr, 10);
}

struct Totals {
  std::mutex mu;
  std::vector<double> latency_ms;
  std::uint64_t events = 0, accepted = 0, duplicates = 0, requests = 0, non200 = 0;
  std::string first_error;

  void Add(int status, const std::string& response, std::size_t lines, double ms) {
    std::lock_guard lock(mu);
    latency_ms.push_back(ms);
    ++requests;
    events += lines;
    if (status != 200) {
      ++non200;
      if (first_error.empty()) first_error = std::to_string(status) + " " + response.substr(0, 300);
      return;
    }
    accepted += Field(response, "accepted");
    duplicates += Field(response, "duplicates");
  }
  void Print(double seconds, const std::string& extra) {
    std::lock_guard lock(mu);
    if (!first_error.empty())
      std::fprintf(stderr, "compare_http: first error: %s\n", first_error.c_str());
    const double p50 = waybill::bench::Percentile(latency_ms, 50);
    const double p99 = waybill::bench::Percentile(latency_ms, 99);
    std::printf(
        "{\"events\":%llu,\"accepted\":%llu,\"duplicates\":%llu,\"requests\":%llu,"
        "\"non200\":%llu,\"seconds\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f%s}\n",
        static_cast<unsigned long long>(events), static_cast<unsigned long long>(accepted),
        static_cast<unsigned long long>(duplicates), static_cast<unsigned long long>(requests),
        static_cast<unsigned long long>(non200), seconds, p50, p99, extra.c_str());
  }
};

struct Body {
  std::string text;
  std::size_t lines = 0;
};

bool ParseUrl(const std::string& url, Target* t) {
  if (url.rfind("http://", 0) != 0) return false;
  std::string rest = url.substr(7);
  if (auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) return false;
  t->host = rest.substr(0, colon);
  t->port = rest.substr(colon + 1);
  return true;
}

int Post(const Target& t, const std::string& file, std::size_t batch, int conns) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "compare_http: cannot read %s\n", file.c_str());
    return 1;
  }
  std::vector<Body> bodies;
  std::vector<std::string> lines;
  while (waybill::bench::ReadLines(in, batch, &lines) > 0) {
    Body b;
    b.lines = lines.size();
    for (const auto& l : lines) (b.text += l) += '\n';
    bodies.push_back(std::move(b));
  }
  Totals totals;
  std::atomic<std::size_t> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < conns; ++c) {
    threads.emplace_back([&] {
      Connection conn(t);
      std::string response;
      for (std::size_t i; (i = next.fetch_add(1)) < bodies.size();) {
        const auto t0 = Clock::now();
        const int status = conn.Post(bodies[i].text, &response);
        totals.Add(status, response, bodies[i].lines, Seconds(t0) * 1000);
      }
    });
  }
  for (auto& th : threads) th.join();
  totals.Print(Seconds(start), "");
  return totals.non200 == 0 ? 0 : 1;
}

int Soak(const Target& t, double rate, double seconds, std::size_t batch, int conns,
         std::size_t shipments, unsigned dup, std::size_t events_per_shipment) {
  waybill::bench::WorkloadGenerator gen(static_cast<std::uint64_t>(time(nullptr)), shipments, dup,
                                        "soak" + std::to_string(time(nullptr)) + "-",
                                        events_per_shipment);
  const std::size_t total_bodies =
      static_cast<std::size_t>(rate * seconds / static_cast<double>(batch));
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Body> queue;
  bool done = false;
  constexpr std::size_t kMaxQueued = 16;
  Totals totals;
  std::atomic<std::uint64_t> late{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < conns; ++c) {
    threads.emplace_back([&] {
      Connection conn(t);
      std::string response;
      for (;;) {
        Body b;
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return done || !queue.empty(); });
          if (queue.empty()) return;
          b = std::move(queue.front());
          queue.pop_front();
        }
        cv.notify_all();
        const auto t0 = Clock::now();
        const int status = conn.Post(b.text, &response);
        totals.Add(status, response, b.lines, Seconds(t0) * 1000);
      }
    });
  }
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (std::size_t k = 0; k < total_bodies && Clock::now() < deadline; ++k) {
    Body b;
    b.lines = batch;
    bool dup_line = false;
    for (std::size_t i = 0; i < batch; ++i) (b.text += gen.Next(&dup_line)) += '\n';
    const auto due =
        start + std::chrono::duration_cast<Clock::duration>(
                    std::chrono::duration<double>(static_cast<double>(k * batch) / rate));
    std::this_thread::sleep_until(due);
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return queue.size() < kMaxQueued; });
    if (Clock::now() - due > std::chrono::seconds(1)) late.fetch_add(1);
    queue.push_back(std::move(b));
    lock.unlock();
    cv.notify_all();
  }
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  for (auto& th : threads) th.join();
  totals.Print(Seconds(start), ",\"target_rate\":" + std::to_string(static_cast<long long>(rate)) +
                                   ",\"late_bodies\":" + std::to_string(late.load()));
  return totals.non200 == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const char* usage =
      "usage: compare_http post URL TOKEN_FILE FILE [--batch N] [--conns C]\n"
      "       compare_http soak URL TOKEN_FILE --rate R --seconds S [--batch N] [--conns C]\n"
      "                         [--shipments N] [--dup-percent P] [--events-per-shipment E]\n";
  if (argc < 4) {
    std::fputs(usage, stderr);
    return 2;
  }
  const std::string mode = argv[1];
  Target t;
  if (!ParseUrl(argv[2], &t)) {
    std::fprintf(stderr, "compare_http: URL must be http://HOST:PORT, not %s\n", argv[2]);
    return 2;
  }
  {
    std::ifstream tf(argv[3]);
    std::getline(tf, t.token);
    if (t.token.empty()) {
      std::fprintf(stderr, "compare_http: no token in %s\n", argv[3]);
      return 2;
    }
  }
  int first_flag = mode == "post" ? 5 : 4;
  if ((mode != "post" && mode != "soak") || argc < first_flag || (argc - first_flag) % 2 != 0) {
    std::fputs(usage, stderr);
    return 2;
  }
  std::size_t batch = 1000, shipments = 50'000, events_per_shipment = 20;
  int conns = 4;
  unsigned dup = 5;
  double rate = 0, seconds = 0;
  for (int i = first_flag; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--batch")
      batch = std::stoull(value);
    else if (flag == "--conns")
      conns = std::stoi(value);
    else if (flag == "--rate")
      rate = std::stod(value);
    else if (flag == "--seconds")
      seconds = std::stod(value);
    else if (flag == "--shipments")
      shipments = std::stoull(value);
    else if (flag == "--events-per-shipment")
      events_per_shipment = std::stoull(value);
    else if (flag == "--dup-percent")
      dup = static_cast<unsigned>(std::stoul(value));
    else {
      std::fputs(usage, stderr);
      return 2;
    }
  }
  if (batch == 0 || conns < 1) {
    std::fputs(usage, stderr);
    return 2;
  }
  if (mode == "post") return Post(t, argv[4], batch, conns);
  if (rate <= 0 || seconds <= 0) {
    std::fprintf(stderr, "compare_http soak: --rate and --seconds are required\n");
    return 2;
  }
  return Soak(t, rate, seconds, batch, conns, shipments, dup, events_per_shipment);
}
