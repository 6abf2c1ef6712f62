#include "mt5_flags.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "aits/api/secrets.h"

namespace aits::app {

Result<std::string> ReadToken(const std::string& path) {
  std::string token;
  if (!path.empty()) {
    std::ifstream file(path, std::ios::binary);
    if (!file) return NotFound("--token-file " + path + " cannot be read");
    std::stringstream in;
    in << file.rdbuf();
    if (api::SecretBox::IsSealedStream(in.str())) {
      // Sealed at rest (aits secret seal): opened with the master key, kept in memory only.
      const char* key_file = std::getenv("AITS_MASTER_KEY_FILE");
      Result<api::SecretBox> box =
          api::SecretBox::Load(key_file != nullptr ? key_file : "", "AITS_MASTER_KEY");
      if (!box.ok()) {
        return box.status().WithContext("--token-file " + path +
                                        " is sealed: its master key comes from "
                                        "$AITS_MASTER_KEY_FILE or $AITS_MASTER_KEY");
      }
      std::stringstream opened;
      AITS_RETURN_IF_ERROR(box->OpenStream(in, opened, "--token-file " + path));
      in.str(opened.str());
      in.clear();
    }
    std::getline(in, token);
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
      token.pop_back();
    }
    if (token.empty()) return InvalidArgument("--token-file " + path + ": its first line is empty");
    return token;
  }
  if (const char* env = std::getenv("AITS_MT5_TOKEN"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  return InvalidArgument(
      "the EA's shared secret is missing: give --token-file FILE or set AITS_MT5_TOKEN (the "
      "same secret as the EA's InpToken; docs/metatrader.md, \"Authentication\")");
}

Result<std::vector<std::pair<std::string, std::string>>> ParseNames(
    const std::vector<std::string>& items) {
  std::vector<std::pair<std::string, std::string>> names;
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    if (eq == 0 || eq == std::string::npos || eq + 1 == item.size()) {
      return InvalidArgument("--mt5-name '" + item +
                             "' is not SYMBOL=TERMINAL_NAME (EURUSD=EURUSD.m)");
    }
    names.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return names;
}

Result<std::vector<std::string>> SymbolList(const std::vector<std::string>& given) {
  std::vector<std::string> symbols;
  for (const std::string& item : given) {
    std::stringstream parts(item);
    std::string symbol;
    while (std::getline(parts, symbol, ',')) {
      std::transform(symbol.begin(), symbol.end(), symbol.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
      if (symbol.empty()) return InvalidArgument("--symbol '" + item + "' has an empty symbol");
      if (std::find(symbols.begin(), symbols.end(), symbol) != symbols.end()) {
        return InvalidArgument("--symbol " + symbol + " is given twice");
      }
      symbols.push_back(symbol);
    }
  }
  if (symbols.empty()) symbols.push_back("EURUSD");
  return symbols;
}

}  // namespace aits::app
