// Declarative decision scenarios: a text file of an instrument, a config, market states and the
// decisions expected from them, run through the real DecisionEngine. Test support only.
//
// Grammar (one command per line; '#' starts a comment outside quotes; values with spaces are
// double-quoted: key="a b"):
//   instrument SYMBOL [digits=N] [tick=X] [contract=N] [lot_step=X] [min_lots=X] [max_lots=X]
//   account CCY                         account currency for the default value per price unit
//   config KEY=VALUE ...                DecisionConfig::Set; calendar=PATH is relative to the file
//   calendar                            inline calendar CSV (header first) up to a line 'end'
//   calendar_file PATH                  same, from a file relative to this one (or
//   calendar_file=PATH) case "NAME" bid=X ask=X [time=ISO] [atr=X|nan] [position=LOTS]
//   [pending=LOTS]
//        [equity=X] [s=X|nan] [conf=X] [anomaly=X] [vppu=X]
//   expect [action=HOLD|BUY|SELL|CLOSE] [side=buy|sell] [lots=X] [sl=X|none] [tp=X|none]
//          [reason=TEXT] [raw_lots=X] [scaled_lots=X] [filters=N] [blackout=TITLE|none]
//   expect_filter NAME=pass|fail ...    outcome of a filter in the last case's decision
//   expect_config_error KEY=VALUE [message=TEXT]   Set on a copy fails (message is a substring)
//   expect_invalid [message=TEXT]       the config so far fails Validate
// Case defaults: time 2024-03-04T12:00Z (a Monday), atr 0, position/pending 0, equity 100000,
// s 0, conf 1, anomaly 0, vppu = contract size when the quote currency is the account currency,
// contract size / mid when the base is (USDJPY on a USD account), else 0.
// expect lines check the decision of the case above them; lots, sl and tp compare exactly at
// fixed point, raw_lots and scaled_lots within 1e-6 relative.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aits/core/status.h"

namespace aits::decision::testing {

struct ScenarioFailure {
  int line = 0;
  std::string message;  // "FILE:LINE: case "NAME": FIELD: expected X, actual Y"
};

struct ScenarioResult {
  int cases = 0;
  int expectations = 0;  // individual checks made
  std::vector<ScenarioFailure> failures;
};

// A malformed file (unknown command, bad value, expect before any case, config that does not
// validate at a case) is an error Status naming FILE:LINE.
Result<ScenarioResult> RunScenarioFile(const std::string& path);
// `name` is used in messages; relative paths resolve against `base_dir`.
Result<ScenarioResult> RunScenarioText(std::string_view text, const std::string& name,
                                       const std::string& base_dir);

}  // namespace aits::decision::testing
