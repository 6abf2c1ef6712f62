// `aits train`, `aits evaluate` and `aits retrain`: the commands that train, and so the only ones
// that load LibTorch. They live in the binary aits-train, which `aits train ARGS` (and the others)
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

inline constexpr const char* kRetrainDescription =
    "Retrain a registered ensemble on the last --rows labelled rows of the data (issue 13):\n"
    "--mode update continues the boosting of its XGBoost member, the other parts kept;\n"
    "--mode full trains every stage anew. The result is registered as a candidate of the\n"
    "same name, parent the model, scored with the model on a holdout at the window's end\n"
    "(metrics.validation, metrics.baseline); it is never promoted here.\n"
    "Example: aits retrain --config ml.yaml --model gbpusd_M1 --mode update --rows 20000";

// Registers `train`, `evaluate` and `retrain` with their options (in aits-train).
void AddTrainCommands(CLI::App& app);

}  // namespace aits::app
