// Projection benchmark: how fast the projector folds the log into the status, ETA and
// freight-cost views, and how far behind the ledger it runs under a sustained ingest rate.
// Prints figures; asserts nothing.
//
//   setup    append `events` realistic events (orders, milestones, estimates, charges) over
//            `shipments` shipments to a fresh ledger, in AppendBatches of 8,192.
//   rebuild  on that ledger: open, Projector::Open, CatchUp (the incremental fold as
//            `waybill serve` with NATS does it: outbox references, each update rendered for
//            the publisher, RenderForPublisher), then Rebuild(all views) over every event.
//            Three runs, each in a fresh process on a fresh copy of the setup ledger; the
//            medians are reported. Target: >= 1,000,000 events/s for the rebuild.
//   lag      a fresh ledger; a producer thread appends at a paced rate (1/100 of it every
//            10 ms, AppendAsync) while a Projector with the default options, rendering for
//            the publisher, Runs on its own thread. Lag of an event = wall clock when on_commit
//            fires for its batch minus its ledger recorded_at. Target: p99 < 100 ms. The ledger's
//            own share (recorded_at to the group's head being visible: batch build and synced
//            write) is printed too.
//
// Each phase runs in its own child process, so its peak RSS is its own.
//
// usage: projection_bench [events=1000000] [shipments=50000] [lag_seconds=10]
//                         [lag_rate=100000]
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <new>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "bench/bench_util.h"
#include "ledger/key_layout.h"
#include "ledger/ledger.h"
#include "projections/outbox_resolver.h"
#include "projections/projection_test_util.h"
#include "projections/projector.h"
#include "projections/rendered_outbox.h"
#include "projections/views.h"
#include "schemas/time.h"

namespace waybill {
namespace {

using bench::Clock;
using bench::PhaseResult;
using bench::RunInChild;
using bench::Seconds;
namespace fs = std::filesystem;

constexpr std::uint32_t kSeed = 20250303;
// Share of events that arrive after a later event of their shipment (carrier feeds are
// mostly in time order; some messages come late).
constexpr double kLateFraction = 0.05;
constexpr std::size_t kSetupBatch = 8192;
constexpr int kRebuildRuns = 3;

[[noreturn]] void Die(const char* what, const Status& st) {
  std::fprintf(stderr, "%s: %s\n", what, st.ToString().c_str());
  std::fflush(stderr);
  std::exit(1);
}

std::unique_ptr<ledger::Ledger> OpenLedger(const std::string& dir) {
  auto opened = ledger::Ledger::Open(dir);
  if (!opened.ok()) Die("open ledger", opened.status());
  return std::move(opened).value();
}

// CPU seconds (user + system) this process has used so far, all threads.
double CpuSecondsSelf() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long PeakRssMibSelf() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

// Runs `fn(T*)` in a child process (RunInChild) with a T in memory shared with this
// process, so a phase can hand back more than a PhaseResult. T must be trivially copyable.
template <typename T, typename Fn>
PhaseResult RunInChildWith(T* out, Fn fn) {
  static_assert(std::is_trivially_copyable_v<T>);
  void* mem = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  T* shared = new (mem) T{};
  PhaseResult r = RunInChild([&] { return fn(shared); });
  std::memcpy(static_cast<void*>(out), shared, sizeof(T));
  munmap(mem, sizeof(T));
  return r;
}

// ---------------------------------------------------------------------------------------
// setup

PhaseResult Setup(const std::string& dir, std::size_t events, std::size_t shipments) {
  auto ledger = OpenLedger(dir);
  projections::testing::EventGenerator gen(kSeed, static_cast<int>(shipments), kLateFraction);
  std::mutex mu;
  Status failure;
  std::atomic<std::uint64_t> stored{0}, duplicates{0}, pending{0};
  PhaseResult r;
  const auto start = Clock::now();
  for (std::size_t done = 0; done < events;) {
    const std::size_t n = std::min(kSetupBatch, events - done);
    ledger::AppendBatch batch;
    batch.events.reserve(n);
    for (std::size_t i = 0; i < n; ++i) batch.events.push_back(ledger::PrepareEvent(gen.Next()));
    done += n;
    pending.fetch_add(1);
    // Async, so the next batch is generated and prepared while this one commits.
    ledger->AppendAsync(std::move(batch), [&](Result<ledger::AppendResult> result) {
      if (!result.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        failure = result.status();
      } else {
        for (const auto& o : result->events) (o.duplicate ? duplicates : stored).fetch_add(1);
      }
      pending.fetch_sub(1);
    });
  }
  while (pending.load() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  r.seconds = Seconds(start);
  if (!failure.ok()) Die("setup append", failure);
  r.count = stored.load();
  r.count2 = duplicates.load();
  return r;
}

// ---------------------------------------------------------------------------------------
// rebuild

struct RebuildFigures {
  double catchup_seconds = 0;
  double catchup_cpu_seconds = 0;  // all threads of the process (ledger, RocksDB included)
  double rebuild_cpu_seconds = 0;
  std::uint64_t catchup_events = 0;
  long rss_after_catchup_mib = 0;
  long rss_after_rebuild_mib = 0;  // peak, before RerenderFromLog
  projections::Projector::CacheFigures cache_after_catchup;
  double rebuild_seconds = 0;
  std::uint64_t rebuild_events = 0;
  // A publisher after a restart or a long NATS outage: outbox references rendered from the
  // log (ResolveOutboxEntries without renderings), in batches as the publisher reads them.
  std::uint64_t rerendered = 0;
  double rerender_seconds = 0;
};

// Renders the outbox's last `limit` entries (those of the latest events, whose shipments
// have the longest histories: an outage's backlog) from the log, `batch` at a time.
void RerenderFromLog(const ledger::Ledger& ledger, std::uint64_t next_outbox_seq, std::size_t limit,
                     std::size_t batch, RebuildFigures* f) {
  std::vector<std::uint64_t> seqs;
  std::vector<projections::OutboxEntry> entries;
  Status decode;
  const std::uint64_t first = next_outbox_seq > limit ? next_outbox_seq - limit : 1;
  Status st = ledger.ScanAux(ledger::AuxSpace::kOutbox, projections::EncodeU64(first), "",
                             [&](std::string_view key, std::string_view value) {
                               auto entry = projections::DecodeOutboxEntry(value);
                               if (!entry.ok()) {
                                 decode = entry.status();
                                 return false;
                               }
                               seqs.push_back(ledger::GetU64BE(key.data()));
                               entries.push_back(std::move(entry).value());
                               return entries.size() < limit;
                             });
  if (!st.ok()) Die("read outbox", st);
  if (!decode.ok()) Die("decode outbox", decode);
  const auto start = Clock::now();
  for (std::size_t at = 0; at < entries.size(); at += batch) {
    const std::size_t n = std::min(batch, entries.size() - at);
    std::vector<projections::OutboxEntry> part(
        entries.begin() + static_cast<std::ptrdiff_t>(at),
        entries.begin() + static_cast<std::ptrdiff_t>(at + n));
    auto messages = projections::ResolveOutboxEntries(
        ledger, std::span<const std::uint64_t>(seqs).subspan(at, n), std::move(part), nullptr);
    if (!messages.ok()) Die("render outbox entries from the log", messages.status());
  }
  f->rerender_seconds = Seconds(start);
  f->rerendered = entries.size();
}

// The worker as `waybill serve` runs it with NATS: it queues view updates by reference and
// renders each for the publisher (RenderedOutbox). The publisher here takes every batch's
// renderings as soon as they are committed, as one that keeps up does; sending them to NATS
// is not part of the figure.
void RenderForPublisher(projections::RenderedOutbox* rendered,
                        projections::ProjectorOptions* options) {
  options->rendered_outbox = rendered;
  options->on_commit = [rendered, inner = std::move(options->on_commit)](
                           std::span<const Event> events,
                           std::span<const projections::CommittedViews> views) {
    if (inner) inner(events, views);
    rendered->DropThrough(UINT64_MAX);
  };
}

PhaseResult RebuildRun(const std::string& dir, RebuildFigures* f) {
  auto ledger = OpenLedger(dir);
  projections::RenderedOutbox rendered(std::size_t{64} << 20);
  projections::ProjectorOptions options;
  RenderForPublisher(&rendered, &options);
  auto opened = projections::Projector::Open(*ledger, std::move(options));
  if (!opened.ok()) Die("open projector", opened.status());
  auto projector = std::move(opened).value();
  const std::uint64_t head = ledger->Head().seq;
  const std::uint64_t before = projector->checkpoint().last_seq;

  double cpu = CpuSecondsSelf();
  auto start = Clock::now();
  auto caught_up = projector->CatchUp();
  f->catchup_seconds = Seconds(start);
  f->catchup_cpu_seconds = CpuSecondsSelf() - cpu;
  if (!caught_up.ok()) Die("catch-up", caught_up.status());
  f->catchup_events = *caught_up - before;
  f->rss_after_catchup_mib = PeakRssMibSelf();
  f->cache_after_catchup = projector->cache();

  cpu = CpuSecondsSelf();
  start = Clock::now();
  Status st = projector->Rebuild(projections::kAllViews);
  f->rebuild_seconds = Seconds(start);
  f->rebuild_cpu_seconds = CpuSecondsSelf() - cpu;
  if (!st.ok()) Die("rebuild", st);
  f->rebuild_events = projector->checkpoint().last_seq;
  if (f->rebuild_events != head) {
    std::fprintf(stderr, "rebuild: checkpoint %lu, head %lu\n",
                 static_cast<unsigned long>(f->rebuild_events), static_cast<unsigned long>(head));
    std::exit(1);
  }
  f->rss_after_rebuild_mib = PeakRssMibSelf();
  // Last: its reads fill RocksDB's block cache, which is not the rebuild's memory.
  RerenderFromLog(*ledger, projector->checkpoint().next_outbox_seq, 100000, 512, f);
  PhaseResult r;
  r.seconds = f->rebuild_seconds;
  r.count = f->rebuild_events;
  return r;
}

// ---------------------------------------------------------------------------------------
// lag

struct LagFigures {
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
  // The ledger's share of the lag: recorded_at -> the group's head visible (build, sync
  // write), per group commit, observed by a thread waiting on WaitForHeadAfter.
  double commit_p50_ms = 0, commit_p99_ms = 0, commit_max_ms = 0;
  std::uint64_t groups = 0;
  std::uint64_t folded = 0;           // events seen by on_commit
  std::uint64_t commits = 0;          // projector commits
  std::uint64_t submitted = 0;        // events handed to AppendAsync
  std::uint64_t stored = 0;           // events durable
  double producer_seconds = 0;        // first submit to last submit
  double ingest_seconds = 0;          // first submit to last durable commit
  double max_producer_behind_ms = 0;  // worst lateness of a tick against its schedule
  std::uint64_t max_backlog = 0;      // worst head - checkpoint seen by the producer
  std::uint64_t head = 0, checkpoint = 0;
  double drain_ms = -1;  // last commit -> checkpoint == head; -1: not within the wait
  std::uint64_t append_errors = 0, projector_errors = 0;
};

double Percentile(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  std::size_t rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1e6;
}

PhaseResult LagRun(const std::string& dir, std::size_t shipments, double seconds, std::size_t rate,
                   LagFigures* f) {
  auto ledger = OpenLedger(dir);
  std::vector<std::int64_t> lags;
  lags.reserve(static_cast<std::size_t>(static_cast<double>(rate) * seconds * 1.1) + 4096);
  std::uint64_t commits = 0;
  projections::ProjectorOptions options;  // the defaults, plus the probe
  options.on_commit = [&](std::span<const Event> events,
                          std::span<const projections::CommittedViews>) {
    const UnixNanos now = NowUnixNanos();
    for (const Event& e : events) lags.push_back(now - e.ledger.recorded_at);
    ++commits;
  };
  projections::RenderedOutbox rendered(std::size_t{64} << 20);
  RenderForPublisher(&rendered, &options);
  auto opened = projections::Projector::Open(*ledger, std::move(options));
  if (!opened.ok()) Die("open projector", opened.status());
  auto projector = std::move(opened).value();

  std::atomic<std::uint64_t> projector_errors{0};
  std::jthread worker([&](std::stop_token stop) {
    projector->Run(stop, [&](const Status& st) {
      projector_errors.fetch_add(1);
      std::fprintf(stderr, "projector: %s\n", st.ToString().c_str());
    });
  });

  std::vector<std::int64_t> commit_lags;
  std::atomic<bool> producing{true};
  std::thread head_probe([&] {
    std::uint64_t seen = ledger->Head().seq;
    while (producing.load()) {
      if (!ledger->WaitForHeadAfter(seen, std::chrono::milliseconds(20))) continue;
      const UnixNanos now = NowUnixNanos();
      const ledger::LedgerHead head = ledger->Head();
      commit_lags.push_back(now - head.recorded_at);
      seen = head.seq;
    }
  });

  // The producer: every 10 ms, 1/100 of the rate in one AppendAsync. The schedule is
  // absolute, so it never submits more than rate * elapsed.
  std::atomic<std::uint64_t> stored{0}, pending{0}, append_errors{0};
  std::atomic<std::int64_t> last_durable_ns{0};
  const auto start = Clock::now();
  std::thread producer([&] {
    projections::testing::EventGenerator gen(kSeed + 1, static_cast<int>(shipments), kLateFraction);
    constexpr auto kTick = std::chrono::milliseconds(10);
    const std::size_t per_tick = std::max<std::size_t>(1, rate / 100);
    const auto end =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    auto last_submit = start;
    for (std::uint64_t tick = 0;; ++tick) {
      const auto due = start + tick * kTick;
      if (due >= end) break;
      std::this_thread::sleep_until(due);
      const double behind = std::chrono::duration<double, std::milli>(Clock::now() - due).count();
      f->max_producer_behind_ms = std::max(f->max_producer_behind_ms, behind);
      const std::uint64_t folded = projector->checkpoint().last_seq;  // before the head
      f->max_backlog = std::max(f->max_backlog, ledger->Head().seq - folded);
      ledger::AppendBatch batch;
      batch.events.reserve(per_tick);
      for (std::size_t i = 0; i < per_tick; ++i) {
        batch.events.push_back(ledger::PrepareEvent(gen.Next()));
      }
      pending.fetch_add(1);
      ledger->AppendAsync(std::move(batch), [&](Result<ledger::AppendResult> result) {
        if (!result.ok()) {
          append_errors.fetch_add(1);
        } else {
          stored.fetch_add(result->events.size());
        }
        last_durable_ns.store((Clock::now() - start).count());
        pending.fetch_sub(1);
      });
      f->submitted += per_tick;
      last_submit = Clock::now();
    }
    f->producer_seconds = std::chrono::duration<double>(last_submit - start).count();
  });
  producer.join();
  while (pending.load() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto last_commit = Clock::now();
  producing.store(false);
  head_probe.join();
  f->ingest_seconds =
      std::chrono::duration<double>(Clock::duration(last_durable_ns.load())).count();
  f->head = ledger->Head().seq;
  // Kept up: the checkpoint reaches the head shortly after the producer stops. A worker
  // that fell behind gets a while longer, so the lag figures cover (nearly) every event.
  const auto give_up =
      last_commit + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(std::max(10.0, 6 * seconds)));
  while (Clock::now() < give_up) {
    if (projector->checkpoint().last_seq >= f->head) {
      f->drain_ms = std::chrono::duration<double, std::milli>(Clock::now() - last_commit).count();
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  f->checkpoint = projector->checkpoint().last_seq;
  worker.request_stop();
  worker.join();

  f->stored = stored.load();
  f->append_errors = append_errors.load();
  f->projector_errors = projector_errors.load();
  f->commits = commits;
  f->folded = lags.size();
  if (!lags.empty()) {
    double sum = 0;
    for (std::int64_t l : lags) sum += static_cast<double>(l);
    f->mean_ms = sum / static_cast<double>(lags.size()) / 1e6;
  }
  std::sort(commit_lags.begin(), commit_lags.end());
  f->groups = commit_lags.size();
  f->commit_p50_ms = Percentile(commit_lags, 0.50);
  f->commit_p99_ms = Percentile(commit_lags, 0.99);
  f->commit_max_ms = commit_lags.empty() ? 0 : static_cast<double>(commit_lags.back()) / 1e6;
  std::sort(lags.begin(), lags.end());
  f->p50_ms = Percentile(lags, 0.50);
  f->p90_ms = Percentile(lags, 0.90);
  f->p99_ms = Percentile(lags, 0.99);
  f->p999_ms = Percentile(lags, 0.999);
  f->max_ms = lags.empty() ? 0 : static_cast<double>(lags.back()) / 1e6;
  PhaseResult r;
  r.seconds = f->ingest_seconds;
  r.count = f->folded;
  return r;
}

template <typename T>
T Median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace
}  // namespace waybill

int main(int argc, char** argv) {
  using namespace waybill;
  std::size_t events = 1'000'000, shipments = 50'000, lag_rate = 100'000;
  double lag_seconds = 10;
  try {
    if (argc > 1) events = std::stoull(argv[1]);
    if (argc > 2) shipments = std::stoull(argv[2]);
    if (argc > 3) lag_seconds = std::stod(argv[3]);
    if (argc > 4) lag_rate = std::stoull(argv[4]);
  } catch (const std::exception&) {
    argc = 6;
  }
  if (argc > 5 || events == 0 || shipments == 0 || lag_seconds <= 0 || lag_rate == 0) {
    std::fprintf(stderr,
                 "usage: projection_bench [events=1000000] [shipments=50000] [lag_seconds=10] "
                 "[lag_rate=100000]\n");
    return 2;
  }
  std::string tmpl = (fs::temp_directory_path() / "waybill-projection-bench-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  const std::string setup_dir = dir + "/setup", run_dir = dir + "/run", lag_dir = dir + "/lag";
  std::printf("workload: %zu events over %zu shipments (~%.0f per shipment), data in %s\n", events,
              shipments, static_cast<double>(events) / static_cast<double>(shipments), dir.c_str());
  std::fflush(stdout);

  // 1. setup
  PhaseResult setup = RunInChild([&] { return Setup(setup_dir, events, shipments); });
  std::printf(
      "setup (append):        %6.2f s  %8.0f events/s  (%lu stored, %lu duplicates)  "
      "peak RSS %ld MiB\n",
      setup.seconds, static_cast<double>(setup.count) / setup.seconds,
      static_cast<unsigned long>(setup.count), static_cast<unsigned long>(setup.count2),
      setup.peak_rss_mib);
  std::fflush(stdout);

  // 2. rebuild, on a fresh copy of the setup ledger each run
  std::vector<double> catchup_rates, rebuild_rates;
  std::vector<long> rebuild_rss, catchup_rss;
  for (int run = 1; run <= kRebuildRuns; ++run) {
    fs::remove_all(run_dir);
    fs::copy(setup_dir, run_dir, fs::copy_options::recursive);
    RebuildFigures f;
    // Its peak RSS would include RerenderFromLog's block cache: f has the rebuild's own.
    RunInChildWith(&f, [&](RebuildFigures* out) { return RebuildRun(run_dir, out); });
    const double catchup_rate = static_cast<double>(f.catchup_events) / f.catchup_seconds;
    const double rebuild_rate = static_cast<double>(f.rebuild_events) / f.rebuild_seconds;
    catchup_rates.push_back(catchup_rate);
    rebuild_rates.push_back(rebuild_rate);
    catchup_rss.push_back(f.rss_after_catchup_mib);
    rebuild_rss.push_back(f.rss_after_rebuild_mib);
    std::printf(
        "run %d incremental catch-up: %6.2f s  %8.0f events/s  (%lu events; cpu %.2f s)  "
        "peak RSS %ld MiB; view cache %zu shipments, %.0f MiB encoded\n",
        run, f.catchup_seconds, catchup_rate, static_cast<unsigned long>(f.catchup_events),
        f.catchup_cpu_seconds, f.rss_after_catchup_mib, f.cache_after_catchup.shipments,
        static_cast<double>(f.cache_after_catchup.bytes) / (1 << 20));
    std::printf(
        "run %d publisher rendering from the log: the last %lu outbox entries in %.2f s, %.0f/s "
        "(after a restart or a long NATS outage)\n",
        run, static_cast<unsigned long>(f.rerendered), f.rerender_seconds,
        static_cast<double>(f.rerendered) / f.rerender_seconds);
    std::printf(
        "run %d full rebuild:         %6.2f s  %8.0f events/s  (%lu events, 3 views; "
        "cpu %.2f s)  peak RSS %ld MiB\n",
        run, f.rebuild_seconds, rebuild_rate, static_cast<unsigned long>(f.rebuild_events),
        f.rebuild_cpu_seconds, f.rss_after_rebuild_mib);
    std::fflush(stdout);
  }
  fs::remove_all(run_dir);

  // 3. lag under a sustained ingest rate
  LagFigures lag;
  PhaseResult lr = RunInChildWith(&lag, [&](LagFigures* out) {
    return LagRun(lag_dir, shipments, lag_seconds, lag_rate, out);
  });
  const bool kept_up = lag.checkpoint == lag.head && lag.drain_ms >= 0 && lag.drain_ms <= 1000;
  std::printf(
      "lag: producer at %zu events/s for %.0f s: submitted %lu (%.0f events/s), "
      "durable %lu (%.0f events/s), worst tick %.1f ms late\n",
      lag_rate, lag_seconds, static_cast<unsigned long>(lag.submitted),
      static_cast<double>(lag.submitted) / lag.producer_seconds,
      static_cast<unsigned long>(lag.stored), static_cast<double>(lag.stored) / lag.ingest_seconds,
      lag.max_producer_behind_ms);
  std::printf(
      "lag: recorded_at -> on_commit  p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  "
      "p99.9 %.1f ms  max %.1f ms  (mean %.1f ms)\n",
      lag.p50_ms, lag.p90_ms, lag.p99_ms, lag.p999_ms, lag.max_ms, lag.mean_ms);
  std::printf(
      "lag: of which the ledger's commit (recorded_at -> head visible, %lu groups): "
      "p50 %.1f ms  p99 %.1f ms  max %.1f ms\n",
      static_cast<unsigned long>(lag.groups), lag.commit_p50_ms, lag.commit_p99_ms,
      lag.commit_max_ms);
  std::printf(
      "lag: %lu events folded in %lu commits (%.0f events/commit), worst backlog %lu "
      "events; head %lu, checkpoint %lu, ",
      static_cast<unsigned long>(lag.folded), static_cast<unsigned long>(lag.commits),
      lag.commits ? static_cast<double>(lag.folded) / static_cast<double>(lag.commits) : 0,
      static_cast<unsigned long>(lag.max_backlog), static_cast<unsigned long>(lag.head),
      static_cast<unsigned long>(lag.checkpoint));
  if (lag.drain_ms >= 0) {
    std::printf("caught up %.0f ms after the last commit: %s\n", lag.drain_ms,
                kept_up ? "kept up" : "fell behind");
  } else {
    std::printf(
        "not caught up %.0f s after the last commit: fell behind (the lag figures "
        "cover only the %lu events folded by then: a lower bound)\n",
        std::max(10.0, 6 * lag_seconds), static_cast<unsigned long>(lag.folded));
  }
  std::printf("lag: errors: %lu append, %lu projector; peak RSS %ld MiB\n",
              static_cast<unsigned long>(lag.append_errors),
              static_cast<unsigned long>(lag.projector_errors), lr.peak_rss_mib);

  const double rebuild_median = Median(rebuild_rates);
  std::printf("\nsummary\n");
  std::printf(
      "full rebuild (median of %d):    %10.0f events/s  (target >= 1000000)  %s  "
      "peak RSS %ld MiB\n",
      kRebuildRuns, rebuild_median, rebuild_median >= 1e6 ? "met" : "MISSED", Median(rebuild_rss));
  std::printf("incremental catch-up (median): %10.0f events/s  peak RSS %ld MiB\n",
              Median(catchup_rates), Median(catchup_rss));
  std::printf(
      "lag p99 at %zu events/s:    %10.1f ms        (target < 100 ms)     %s  "
      "p50 %.1f  p99.9 %.1f  max %.1f ms; %s\n",
      lag_rate, lag.p99_ms, lag.p99_ms < 100 ? "met" : "MISSED", lag.p50_ms, lag.p999_ms,
      lag.max_ms, kept_up ? "kept up" : "fell behind");
  fs::remove_all(dir);
  return 0;
}
