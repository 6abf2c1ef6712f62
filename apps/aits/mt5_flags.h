// The flags shared by the commands that run a MetaTrader 5 gateway (aits live, aits collect):
// the EA's shared secret, the terminal's names of symbols, the symbol list.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "aits/core/status.h"

namespace aits::app {

// The shared secret: the file's first line (trailing blanks cut; NotFound if it cannot be read,
// InvalidArgument if that line is empty), else AITS_MT5_TOKEN; InvalidArgument if neither. Never
// a flag's value, which every user of the machine can read in the process list.
Result<std::string> ReadToken(const std::string& path);

// "SYMBOL=TERMINAL_NAME" items (--mt5-name) as pairs; InvalidArgument naming a malformed item.
Result<std::vector<std::pair<std::string, std::string>>> ParseNames(
    const std::vector<std::string>& items);

// The symbols, upper-cased, from repeated or comma-separated --symbol values (EURUSD when none);
// InvalidArgument for an empty one or one given twice.
Result<std::vector<std::string>> SymbolList(const std::vector<std::string>& given);

}  // namespace aits::app
