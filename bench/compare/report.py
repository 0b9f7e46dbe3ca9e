#!/usr/bin/env python3
"""Turns bench/compare.sh's raw results into the printed table, a JSON file and a PNG chart.

  report.py compare RESULTS.jsonl OUT_PREFIX --meta JSON
      one result object per line (system, label, events, seconds, p50_ms, p99_ms,
      replay_events, replay_seconds, disk_bytes, peak_rss_kib, ...); writes OUT_PREFIX.json
      and OUT_PREFIX.png and prints the table with each system's ratio to `waybill import`.
  report.py soak SAMPLES.csv OUT_PREFIX --meta JSON
      the soak's 10-second samples; writes OUT_PREFIX.csv (with the per-interval rate and
      fsync percentiles), OUT_PREFIX.json and OUT_PREFIX.png, prints PASS/FAIL for "RSS grows
      at most 10% after the first 5 minutes".

Standard library only; the chart is drawn by gnuplot (package gnuplot-nox).
"""
import argparse
import csv
import json
import os
import shutil
import subprocess
import sys


def rate(n, s):
    return n / s if n is not None and s else None


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float) and v < 100:
        return f"{v:.2f}{unit}"
    return f"{v:,.0f}{unit}"


def gnuplot(script, out_png):
    if not shutil.which("gnuplot"):
        print(f"gnuplot not found: {out_png} not drawn (deploy/install-deps.sh --bench)",
              file=sys.stderr)
        return
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def compare(args):
    meta = json.loads(args.meta)
    systems = [json.loads(line) for line in open(args.input) if line.strip()]
    for s in systems:
        s["events_per_s"] = rate(s["events"], s["seconds"])
        s["replay_per_s"] = rate(s.get("replay_events"), s.get("replay_seconds"))
    base = next((s for s in systems if s["system"] == "import"), None)
    for s in systems:
        for key in ("events_per_s", "replay_per_s", "disk_bytes", "peak_rss_kib"):
            b = base.get(key) if base else None
            s[f"{key}_ratio_to_import"] = (s[key] / b) if b and s.get(key) is not None else None
    targets = {}
    if base:
        by = {s["system"]: s for s in systems}
        for name, want in (("jetstream", 3.0), ("postgres", 3.0), ("rocksdb", 0.6)):
            if name in by:
                got = base["events_per_s"] / by[name]["events_per_s"]
                targets[f"import_vs_{name}"] = {"ratio": round(got, 3), "target": want,
                                                "met": got >= want}
    out = {"meta": meta, "systems": systems, "targets": targets}
    with open(args.out + ".json", "w") as f:
        json.dump(out, f, indent=2)

    head = ["system", "events/s", "x import", "p50 ms", "p99 ms", "replay ev/s", "disk MiB",
            "peak RSS MiB", "stored"]
    rows = []
    for s in systems:
        rows.append([s["label"], fmt(s["events_per_s"]),
                     fmt(s["events_per_s_ratio_to_import"]), fmt(s.get("p50_ms")),
                     fmt(s.get("p99_ms")), fmt(s["replay_per_s"]),
                     fmt(s["disk_bytes"] / 1048576.0), fmt(s["peak_rss_kib"] / 1024.0),
                     f'{s.get("stored", 0):,}'])
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])
                               for i, c in enumerate(r))
    print()
    print(f"== {meta['workload']['events']:,} events ({meta['workload']['unique']:,} unique), "
          f"{meta['shipments']:,} shipments; {meta['machine']}")
    print(line(head))
    for r in rows:
        print(line(r))
    for s in systems:
        notes = [s.get("latency_note"), s.get("durability")]
        print(f"  {s['label']}: " + "; ".join(n for n in notes if n))
    for k, t in targets.items():
        print(f"target {k}: {t['ratio']:.2f}x (want >= {t['target']}) "
              f"{'MET' if t['met'] else 'NOT MET'}")
    print(f"wrote {args.out}.json and {args.out}.png")

    dat = args.out + ".dat"
    with open(dat, "w") as f:
        for s in systems:
            f.write('"%s" %f %f %f %f\n' % (s["label"].replace(" ", "\\n"), s["events_per_s"],
                                          s["replay_per_s"] or 0, s["disk_bytes"] / 1048576.0,
                                          s["peak_rss_kib"] / 1024.0))
    panels = [(2, "ingest, events/s (higher is better)"),
              (3, "replay, events/s (higher is better)"),
              (4, "disk used, MiB"), (5, "peak RSS, MiB")]
    script = [f'set terminal pngcairo size 1400,1000 font ",9"',
              f'set output "{args.out}.png"',
              'set style fill solid 0.8 border -1', 'set boxwidth 0.7', 'set grid ytics',
              'set yrange [0:*]', 'unset key', 'set xtics font ",8"',
              f'set multiplot layout 2,2 title "Waybill side by side: '
              f'{meta["workload"]["events"]:,} events, {meta["tag"]}"']
    for col, title in panels:
        script += [f'set title "{title}"',
                   f'plot "{dat}" using 0:{col}:xtic(1) with boxes lc rgb "#4477aa", '
                   f'"" using 0:{col}:(sprintf("%.0f", ${col})) with labels offset 0,0.7']
    script.append("unset multiplot")
    gnuplot("\n".join(script) + "\n", args.out + ".png")
    os.remove(dat)


def percentile_from_buckets(bounds, delta, p):
    total = delta[-1]
    if total <= 0:
        return None
    want = p / 100.0 * total
    for b, c in zip(bounds, delta):
        if c >= want:
            return float("inf") if b == "+Inf" else float(b)
    return None


# Memory figures the soak samples from /metrics beside RSS (column NAME_bytes in the raw CSV).
MEMORY_COLUMNS = [
    "cache", "alloc_free", "memtable", "table_reader", "block_cache", "alloc_in_use"]


def soak(args):
    meta = json.loads(args.meta)
    bounds = meta["bucket_bounds"].split(";")
    rows = list(csv.DictReader(open(args.input)))
    samples = []
    prev = None
    for r in rows:
        b = [int(float(x)) for x in r["commit_buckets"].split(";")] if r["commit_buckets"] else []
        s = {"t_s": float(r["t_s"]), "rss_mib": int(r["rss_kib"]) / 1024.0,
             "head_seq": int(r["head_seq"] or 0), "lag_events": int(r["lag_events"] or 0),
             "lag_seconds": float(r["lag_seconds"]) if r["lag_seconds"] else None,
             "disk_free_gib": int(r["disk_free_kib"]) / 1048576.0}
        if r.get("index_shipments"):
            s["index_shipments"] = int(float(r["index_shipments"]))
        for col in MEMORY_COLUMNS:  # absent in soaks recorded before they were sampled
            if r.get(col + "_bytes"):
                s[col + "_mib"] = float(r[col + "_bytes"]) / 1048576.0
        if prev is not None and b and prev["_b"]:
            d = [x - y for x, y in zip(b, prev["_b"])]
            dt = s["t_s"] - prev["t_s"]
            s["events_per_s"] = (s["head_seq"] - prev["head_seq"]) / dt if dt > 0 else None
            s["commits"] = d[-1]
            p50 = percentile_from_buckets(bounds, d, 50)
            p99 = percentile_from_buckets(bounds, d, 99)
            s["fsync_p50_ms"] = p50 * 1000 if p50 is not None else None
            s["fsync_p99_ms"] = p99 * 1000 if p99 is not None else None
        s["_b"] = b
        samples.append(s)
        prev = s
    for s in samples:
        del s["_b"]

    verdict = {"rule": "RSS grows at most 10% after the first 5 minutes"}
    at5 = next((s for s in samples if s["t_s"] >= 300), None)
    later = [s for s in samples if at5 and s["t_s"] > at5["t_s"]]
    if at5 is None or not later:
        verdict.update({"result": "N/A", "why": "the run was shorter than 5 minutes"})
    else:
        top = max(later, key=lambda s: s["rss_mib"])
        peak = top["rss_mib"]
        growth = (peak - at5["rss_mib"]) / at5["rss_mib"] * 100
        verdict.update({"rss_at_5min_mib": round(at5["rss_mib"], 1),
                        "max_rss_after_mib": round(peak, 1), "growth_percent": round(growth, 2),
                        "result": "PASS" if growth <= 10 else "FAIL"})
        # Where the memory was at minute 5 and at the peak, as far as it was sampled.
        parts = [c + "_mib" for c in MEMORY_COLUMNS] + ["index_shipments"]
        verdict["at_5min"] = {k: round(at5[k], 1) for k in parts if k in at5}
        verdict["at_peak"] = {k: round(top[k], 1) for k in parts if k in top}
        verdict["at_peak"]["t_s"] = top["t_s"]
        # The rule reads single 10-second samples, which swing by several percent (transient
        # allocations, memtable flushes); the trend, without that noise, is in these medians.
        minutes = {}
        for s in samples:
            minutes.setdefault(int(s["t_s"] // 60), []).append(s["rss_mib"])
        medians = {m: sorted(v)[len(v) // 2] for m, v in minutes.items()}
        after = [v for m, v in medians.items() if m > 5]
        if 5 in medians and after:
            verdict["per_minute_medians"] = {
                "minute_5_mib": round(medians[5], 1), "max_after_mib": round(max(after), 1),
                "growth_percent": round((max(after) - medians[5]) / medians[5] * 100, 2)}
    with open(args.out + ".json", "w") as f:
        json.dump({"meta": meta, "verdict": verdict, "samples": samples}, f, indent=2)
    keys = ["t_s", "rss_mib", "head_seq", "events_per_s", "lag_events", "lag_seconds", "commits",
            "fsync_p50_ms", "fsync_p99_ms", "disk_free_gib"] + [c + "_mib" for c in MEMORY_COLUMNS] + [
                "index_shipments"]
    with open(args.out + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(keys)
        for s in samples:
            w.writerow(["" if s.get(k) is None else (round(s[k], 3) if isinstance(s[k], float)
                                                     else s[k]) for k in keys])
    rates = [s["events_per_s"] for s in samples if s.get("events_per_s") is not None]
    print(f"soak: {len(samples)} samples over {samples[-1]['t_s'] if samples else 0:.0f} s; "
          f"ingest {sum(rates) / len(rates) if rates else 0:,.0f} events/s mean "
          f"(target {meta['target_rate']:,}); final lag {samples[-1]['lag_events'] if samples else 0:,} events")
    print("RSS rule: " + json.dumps(verdict))
    print(f"wrote {args.out}.csv, {args.out}.json and {args.out}.png")

    dat = args.out + ".dat"
    with open(dat, "w") as f:
        for s in samples:
            f.write("%s\n" % " ".join(str(s.get(k)) if s.get(k) is not None else "NaN"
                                      for k in ("t_s", "rss_mib", "fsync_p50_ms", "fsync_p99_ms",
                                                "lag_events", "events_per_s") +
                                      tuple(c + "_mib" for c in MEMORY_COLUMNS)))
    script = ['set terminal pngcairo size 1200,1100 font ",9"', f'set output "{args.out}.png"',
              'set grid', 'set xlabel "seconds"', 'set datafile missing "NaN"',
              f'set multiplot layout 4,1 title "Waybill soak at {meta["target_rate"]:,} events/s: '
              f'{verdict["result"]} ({meta["tag"]})"',
              'set title "RSS of waybill serve, MiB"',
              f'plot "{dat}" using 1:2 with lines lw 2 title "RSS"' +
              (f', {verdict["rss_at_5min_mib"] * 1.1} with lines dt 2 title "+10% of minute 5"'
               if "rss_at_5min_mib" in verdict else "") +
              "".join(f', "" using 1:{7 + i} with lines title "{c.replace("_", " ")}"'
                      for i, c in enumerate(MEMORY_COLUMNS)
                      if any(c + "_mib" in s for s in samples)),
              'set title "group-commit fsync latency per 10 s interval, ms (histogram buckets)"',
              'set logscale y',
              f'plot "{dat}" using 1:3 with linespoints title "p50", "" using 1:4 with linespoints title "p99"',
              'unset logscale y',
              'set title "projection lag, events"',
              f'plot "{dat}" using 1:5 with lines lw 2 title "lag"',
              'set title "events stored per second"',
              f'plot "{dat}" using 1:6 with lines lw 2 title "stored/s", {meta["target_rate"]} with lines dt 2 title "target"',
              'unset multiplot']
    gnuplot("\n".join(script) + "\n", args.out + ".png")
    os.remove(dat)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["compare", "soak"])
    ap.add_argument("input")
    ap.add_argument("out")
    ap.add_argument("--meta", required=True)
    args = ap.parse_args()
    compare(args) if args.mode == "compare" else soak(args)


if __name__ == "__main__":
    main()
