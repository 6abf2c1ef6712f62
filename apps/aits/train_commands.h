// `aits train` and `aits evaluate`: the commands that train, and so the only ones that load
// LibTorch. They live in the binary aits-train, which `aits train ARGS` and `aits evaluate ARGS`
// run with the same arguments; see ml_commands.h.
#pragma once

#include <CLI/CLI.hpp>

namespace aits::app {

inline constexpr const char* kTrainDescription =
    "Train the hybrid ensemble (regimes, PCA, anomaly, XGBoost, random forest, logistic,\n"
    "LSTM, GRU) on a 70/15/15 time split, register it as a candidate and promote it if it\n"
    "passes its gate. Example: aits train --config ml.yaml";
inline constexpr const char* kEvaluateDescription =
    "Walk-forward out-of-sample evaluation: retrain per fold, score the next window, report\n"
    "accuracy, precision, recall, log-loss, AUC, IC and calibration, and backtest the signal\n"
    "after costs against buy-and-hold, sma_cross and a random signal.\n"
    "Example: aits evaluate --config ml.yaml --out eval/";

// Registers `train` and `evaluate` with their options (in aits-train).
void AddTrainCommands(CLI::App& app);

}  // namespace aits::app
