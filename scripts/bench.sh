#!/usr/bin/env bash
# Prints every performance figure of docs/performance.md:
#   1. Google Benchmark: CSV and HistData parsing (lines/s), binary replay with validation
#      (ticks/s), the full backtest pipeline over 10M ticks (ticks/s), indicator updates (bars/s);
#      medians of 5 repetitions.
#   2. End-to-end `aits backtest` over 10M- and 100M-tick memory-mapped stores: ticks/s and peak
#      resident memory (it must not grow with the history's length).
#   3. The ML pipeline: feature engine (ticks/s), one row through the ensemble (p50/p99), the
#      LSTM/GRU stateful step, XGBoost batch inference and its 1M x 70 training time.
# Needs about 4 GB free in $AITS_BENCH_DIR (default /tmp/aits-bench) for the 100M-tick store.
#   scripts/bench.sh            everything
#   scripts/bench.sh --quick    skip the 100M-tick run
set -euo pipefail
cd "$(dirname "$0")/.."
export AITS_BENCH_DIR="${AITS_BENCH_DIR:-/tmp/aits-bench}"
mkdir -p "$AITS_BENCH_DIR"

scripts/install-deps.sh
scripts/build.sh release >/dev/null
aits=build/release/apps/aits/aits

echo "== micro and pipeline benchmarks (median of 5)"
build/release/bench/aits_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  2>/dev/null | grep -E "^(Benchmark|BM_.*_median|-)" || true

sizes=(10000000 100000000)
[[ "${1:-}" == "--quick" ]] && sizes=(10000000)
echo
echo "== end-to-end: aits backtest over a memory-mapped binary store (median of 3 runs)"
echo "   M1: sma_cross 10/30 on M1 bars (many orders); H4: the same on H4 bars (few orders)."
echo "   Peak RSS = the history's pages (released as replayed) + the in-memory record of every"
echo "   order, fill and trade kept for orders.csv/trades.csv; the history itself adds nothing."
printf "%-12s %-5s %-14s %-10s %-10s %-12s\n" ticks bars "ticks/s" "wall s" orders "peak RSS MB"
for n in "${sizes[@]}"; do
  store="$AITS_BENCH_DIR/synthetic-$n.aitsbin"
  [[ -s "$store" ]] || "$aits" generate --ticks "$n" --seed 42 --out "$store" --no-progress >/dev/null
  for bar in M1 H4; do
    for run in 1 2 3; do
      "$aits" backtest --data "$store" --bar "$bar" --param fast=10 --param slow=30 --json \
        --no-progress >"$AITS_BENCH_DIR/run-$n-$bar-$run.json"
    done
    python3 - "$n" "$bar" "$AITS_BENCH_DIR"/run-"$n"-"$bar"-*.json <<'PY'
import json, statistics, sys
n, bar = int(sys.argv[1]), sys.argv[2]
runs = [json.load(open(p)) for p in sys.argv[3:]]
rate = statistics.median(r["run"]["events_per_second"] for r in runs)
wall = statistics.median(r["run"]["wall_seconds"] for r in runs)
rss = max(r["run"]["peak_rss_kb"] for r in runs) / 1024
orders = runs[0]["run"]["orders"]
print(f"{n:<12,d} {bar:<5} {rate/1e6:>8.2f} M/s  {wall:>8.2f}   {orders:>8,d}   {rss:>8.1f}")
PY
  done
done

echo
echo "== ML pipeline (docs/performance.md, 'Targets of issue 3')"
run_ml() {
  "$@" 2>/dev/null | grep -E "^(Benchmark|BM_|-)" | grep -vE "_(mean|stddev|cv)( |$)" || true
}
run_ml build/release/bench/aits_features_bench --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true
run_ml build/release/bench/aits_ensemble_bench --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true
run_ml build/release/bench/aits_deep_bench --benchmark_filter='EigenStep|TorchCellStep|Window'
if [[ "${1:-}" == "--quick" ]]; then
  run_ml build/release/bench/aits_ml_bench --benchmark_filter='Batch|PredictRow'
else
  run_ml build/release/bench/aits_ml_bench
fi

echo
echo "== Decision, risk, paper trading, event store (docs/performance.md, 'Targets of issue 4'),"
echo "   the kernel's inbox (docs/performance.md, 'The kernel's inbox (issue 9)')"
run_ml build/release/bench/aits_order_path_bench --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true
run_ml build/release/bench/aits_event_store_bench --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true
run_ml build/release/bench/aits_inbox_bench --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true
echo
echo "== The metrics registry (docs/performance.md, 'The metrics registry (issue 9)')"
run_ml build/release/bench/aits_metrics_bench --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true
echo
echo "== The feed: tick batches, the collector's spill and resend (docs/performance.md, 'The feed')"
run_ml build/release/bench/aits_feed_bench --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true
echo
echo "== The market monitor (docs/performance.md, 'The market monitor (issue 10)')"
run_ml build/release/bench/aits_monitor_bench --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true
echo
echo "== The message bus, in-process and NATS JetStream (docs/performance.md, 'The message bus')"
run_ml build/release/bench/aits_message_bus_bench --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true
if [[ "${1:-}" != "--quick" ]]; then
  # Trains a benchmark ensemble (~1 minute), then 1M-tick paper sessions with and without it.
  bench/paper_latency.sh build/release/apps/aits/aits ../shared/data | sed -n '/^== ml: median/,$p'
fi
