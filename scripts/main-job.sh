#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what is missing, build, obtain real sample
# data from Debian's R packages (USD/CHF half-hourly prices, 1996-2001, r-cran-timeseries), and run
# a backtest whose report opens offline in a browser.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --sample
# Only the command-line tool: the tests and benchmarks are scripts/test.sh's to build.
scripts/build.sh release --target aits

mkdir -p sample-data
sample=sample-data/usdchf-30min-1996-2001.csv
if [[ ! -s "$sample" ]]; then
  echo "main-job: exporting USD/CHF from r-cran-timeseries to $sample"
  Rscript -e 'suppressMessages(library(timeSeries)); data(USDCHF);
    write.csv(data.frame(DateTime=format(time(USDCHF)), USDCHF=as.numeric(USDCHF)),
              "'"$sample"'", row.names=FALSE)'
fi

out=results/sample
# Single-price data: a 2-pip spread (20 points at 5 digits) and 7 USD per lot commission make the
# costs honest; H4 bars from the half-hourly quotes for a 20/50 SMA crossover.
build/release/apps/aits/aits backtest \
  --data "$sample" --symbol USDCHF --spread 20 --commission per_lot:7 \
  --bar H4 --strategy sma_cross --param fast=20 --param slow=50 --param lots=1 \
  --cash 100000 --leverage 50 --out "$out"
echo
echo "Open the report: file://$(pwd)/$out/report.html"
