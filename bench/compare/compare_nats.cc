// NATS JetStream driver of the side-by-side benchmark (libnats).
//
//   compare_nats publish URL SUBJECT FILE [--msg-id yes|no] [--stream NAME]
//                [--max-pending N] [--lines L]
//     Publishes FILE's lines, L per message (default 1; NDJSON), to SUBJECT with
//     js_PublishMsgAsync (header Nats-Msg-Id = the event id unless --msg-id no, which L > 1
//     requires), at most N (default 4096) unacked, and
//     waits for every PubAck. With --stream NAME it first creates NAME (file storage,
//     subjects = SUBJECT, duplicate window 10 minutes) if missing; otherwise the stream must
//     already exist (it waits up to 30 s for it, e.g. for `waybill serve` to create its own).
//     Prints {"events":N,"messages":N,"acked":N,"duplicates":N,"errors":N,"seconds":X,"p50_ms":X,
//     "p99_ms":X}; latency is publish-to-PubAck per message.
//
//   compare_nats replay URL STREAM
//     Reads every message of STREAM back with a pull consumer (no acks) in batches of 1,000.
//     Prints {"replay_events":N,"replay_seconds":X}.
#include <nats/nats.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/bench_util.h"
#include "bench/compare/stats.h"
#include "bench/compare/workload.h"

namespace {

using waybill::bench::Clock;
using waybill::bench::Seconds;

[[noreturn]] void Fail(const std::string& what, natsStatus s) {
  std::fprintf(stderr, "compare_nats: %s: %s (%s)\n", what.c_str(), natsStatus_GetText(s),
               nats_GetLastError(nullptr) ? nats_GetLastError(nullptr) : "");
  std::exit(1);
}

struct Acks {
  std::mutex mu;
  std::unordered_map<natsMsg*, Clock::time_point> sent;
  std::vector<double> latency_ms;
  std::uint64_t acked = 0, duplicates = 0, errors = 0;
  std::string first_error;
};

void OnAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* acks = static_cast<Acks*>(closure);
  const auto now = Clock::now();
  {
    std::lock_guard lock(acks->mu);
    if (auto it = acks->sent.find(msg); it != acks->sent.end()) {
      acks->latency_ms.push_back(
          std::chrono::duration<double, std::milli>(now - it->second).count());
      acks->sent.erase(it);
    }
    if (pa != nullptr) {
      ++acks->acked;
      acks->duplicates += pa->Duplicate;
    } else {
      ++acks->errors;
      if (acks->first_error.empty() && pae != nullptr) {
        acks->first_error = pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err);
      }
    }
  }
  natsMsg_Destroy(msg);
}

struct Conn {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  ~Conn() {
    if (js) jsCtx_Destroy(js);
    if (nc) natsConnection_Destroy(nc);
  }
};

void Connect(const std::string& url, jsOptions* jo, Conn* c) {
  if (auto s = natsConnection_ConnectTo(&c->nc, url.c_str()); s != NATS_OK)
    Fail("connect " + url, s);
  if (auto s = natsConnection_JetStream(&c->js, c->nc, jo); s != NATS_OK) Fail("jetstream", s);
}

int Publish(const std::string& url, const std::string& subject, const std::string& file,
            bool msg_id, const std::string& stream, int max_pending, int lines_per_msg) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "compare_nats: cannot read %s\n", file.c_str());
    return 1;
  }
  Acks acks;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = max_pending;
  jo.PublishAsync.AckHandler = OnAck;
  jo.PublishAsync.AckHandlerClosure = &acks;
  // With MaxPending unacked, a publish waits for room; NATS.c's default 200 ms fails the
  // publish on a busy machine, so wait as long as a PubAck may take.
  jo.PublishAsync.StallWait = 60'000;
  Conn c;
  Connect(url, &jo, &c);
  if (!stream.empty()) {
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, c.js, stream.c_str(), nullptr, nullptr) == NATS_OK) {
      jsStreamInfo_Destroy(si);
    } else {
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      cfg.Name = stream.c_str();
      const char* subjects[] = {subject.c_str()};
      cfg.Subjects = subjects;
      cfg.SubjectsLen = 1;
      cfg.Storage = js_FileStorage;
      cfg.Duplicates = 600LL * 1000 * 1000 * 1000;  // nanoseconds
      if (auto s = js_AddStream(&si, c.js, &cfg, nullptr, nullptr); s != NATS_OK)
        Fail("add stream", s);
      jsStreamInfo_Destroy(si);
    }
  } else {
    // Wait for the stream that will capture SUBJECT (the server under test creates it).
    bool found = false;
    for (int i = 0; i < 300 && !found; ++i) {
      jsStreamInfo* si = nullptr;
      found = js_GetStreamInfo(&si, c.js, "WAYBILL_INGEST", nullptr, nullptr) == NATS_OK;
      if (si) jsStreamInfo_Destroy(si);
      if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!found) {
      std::fprintf(stderr, "compare_nats: stream WAYBILL_INGEST did not appear in 30 s\n");
      return 1;
    }
  }
  std::uint64_t events = 0;
  std::string line;
  std::vector<std::string> batch;
  const auto start = Clock::now();
  while (waybill::bench::ReadLines(in, static_cast<std::size_t>(lines_per_msg), &batch) > 0) {
    events += batch.size();
    line.clear();
    for (const auto& l : batch) (line += l) += '\n';
    if (lines_per_msg == 1) line.pop_back();
    natsMsg* m = nullptr;
    if (auto s = natsMsg_Create(&m, subject.c_str(), nullptr, line.data(),
                                static_cast<int>(line.size()));
        s != NATS_OK) {
      Fail("message", s);
    }
    if (msg_id) {
      const std::string id(waybill::bench::WorkloadGenerator::EventId(line));
      natsMsgHeader_Set(m, "Nats-Msg-Id", id.c_str());
    }
    {
      std::lock_guard lock(acks.mu);
      acks.sent[m] = Clock::now();
    }
    natsMsg* owned = m;
    if (auto s = js_PublishMsgAsync(c.js, &owned, nullptr); s != NATS_OK) {
      Fail("publish", s);
    }
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 300'000;
  if (auto s = js_PublishAsyncComplete(c.js, &po); s != NATS_OK) Fail("waiting for acks", s);
  const double seconds = Seconds(start);
  std::lock_guard lock(acks.mu);
  if (!acks.first_error.empty()) {
    std::fprintf(stderr, "compare_nats: first publish error: %s\n", acks.first_error.c_str());
  }
  const double p50 = waybill::bench::Percentile(acks.latency_ms, 50);
  const double p99 = waybill::bench::Percentile(acks.latency_ms, 99);
  std::printf(
      "{\"events\":%llu,\"messages\":%llu,\"acked\":%llu,\"duplicates\":%llu,\"errors\":%llu,"
      "\"seconds\":%.3f,"
      "\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n",
      static_cast<unsigned long long>(events),
      static_cast<unsigned long long>(acks.latency_ms.size()),
      static_cast<unsigned long long>(acks.acked), static_cast<unsigned long long>(acks.duplicates),
      static_cast<unsigned long long>(acks.errors), seconds, p50, p99);
  return acks.errors == 0 ? 0 : 1;
}

int Replay(const std::string& url, const std::string& stream) {
  Conn c;
  Connect(url, nullptr, &c);
  jsStreamInfo* si = nullptr;
  if (auto s = js_GetStreamInfo(&si, c.js, stream.c_str(), nullptr, nullptr); s != NATS_OK) {
    Fail("stream info " + stream, s);
  }
  const std::uint64_t total = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Config.AckPolicy = js_AckNone;
  so.Config.MaxRequestBatch = 1000;
  natsSubscription* sub = nullptr;
  if (auto s = js_PullSubscribe(&sub, c.js, ">", "compare_replay", nullptr, &so, nullptr);
      s != NATS_OK) {
    Fail("pull subscribe", s);
  }
  std::uint64_t got = 0;
  std::size_t bytes = 0;
  const auto start = Clock::now();
  while (got < total) {
    natsMsgList list{};
    const natsStatus s = natsSubscription_Fetch(&list, sub, 1000, 5000, nullptr);
    if (s == NATS_TIMEOUT) break;
    if (s != NATS_OK) Fail("fetch", s);
    for (int i = 0; i < list.Count; ++i) bytes += natsMsg_GetDataLength(list.Msgs[i]);
    got += static_cast<std::uint64_t>(list.Count);
    natsMsgList_Destroy(&list);
  }
  const double seconds = Seconds(start);
  natsSubscription_Destroy(sub);
  if (got < total) {
    std::fprintf(stderr, "compare_nats: replay read %llu of %llu messages\n",
                 static_cast<unsigned long long>(got), static_cast<unsigned long long>(total));
    return 1;
  }
  std::printf("{\"replay_events\":%llu,\"replay_seconds\":%.3f,\"replay_bytes\":%zu}\n",
              static_cast<unsigned long long>(got), seconds, bytes);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage =
      "usage: compare_nats publish URL SUBJECT FILE [--msg-id yes|no] [--stream NAME] "
      "[--max-pending N] [--lines L]\n       compare_nats replay URL STREAM\n";
  if (argc >= 4 && std::strcmp(argv[1], "replay") == 0 && argc == 4) {
    return Replay(argv[2], argv[3]);
  }
  if (argc < 5 || std::strcmp(argv[1], "publish") != 0 || (argc - 5) % 2 != 0) {
    std::fputs(usage.c_str(), stderr);
    return 2;
  }
  bool msg_id = true;
  std::string stream;
  int max_pending = 4096, lines = 1;
  for (int i = 5; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--msg-id") {
      msg_id = value == "yes";
    } else if (flag == "--stream") {
      stream = value;
    } else if (flag == "--lines") {
      lines = std::stoi(value);
    } else if (flag == "--max-pending") {
      max_pending = std::stoi(value);
    } else {
      std::fputs(usage.c_str(), stderr);
      return 2;
    }
  }
  if (lines < 1 || (lines > 1 && msg_id)) {
    std::fprintf(stderr, "compare_nats: --lines must be >= 1, and > 1 only with --msg-id no\n");
    return 2;
  }
  const int rc = Publish(argv[2], argv[3], argv[4], msg_id, stream, max_pending, lines);
  nats_Close();
  return rc;
}
