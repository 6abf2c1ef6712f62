#include "aits/trading/decision_scenario_test_util.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "aits/trading/decision_engine.h"
#include "aits/trading/text_util.h"

namespace aits::decision::testing {
namespace {

using internal::ParseFiniteDouble;
using internal::Trim;

struct Token {
  std::string key;    // empty for a bare word
  std::string value;  // the word, or the value after '='
};

// Splits on whitespace; a double-quoted part may hold spaces; '#' outside quotes ends the line.
bool Tokenize(std::string_view line, std::vector<Token>* tokens) {
  tokens->clear();
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && std::isspace(static_cast<unsigned char>(line[pos]))) ++pos;
    if (pos >= line.size() || line[pos] == '#') break;
    const bool bare_quoted = line[pos] == '"';  // "strong buy" is a name even if it holds '='
    std::string word;
    bool quoted = false;
    while (pos < line.size() && (quoted || !std::isspace(static_cast<unsigned char>(line[pos])))) {
      if (line[pos] == '"') {
        quoted = !quoted;
      } else {
        word += line[pos];
      }
      ++pos;
    }
    if (quoted) return false;
    Token token;
    const size_t eq = word.find('=');
    if (eq != std::string::npos && !bare_quoted) {
      token.key = word.substr(0, eq);
      token.value = word.substr(eq + 1);
    } else {
      token.value = word;
    }
    tokens->push_back(std::move(token));
  }
  return true;
}

std::string JoinPath(const std::string& base_dir, std::string_view path) {
  if (path.empty() || path.front() == '/' || base_dir.empty()) return std::string(path);
  return base_dir + "/" + std::string(path);
}

std::string Num(double value) {
  std::ostringstream out;
  out.precision(10);
  out << value;
  return out.str();
}

class Runner {
 public:
  Runner(std::string name, std::string base_dir)
      : name_(std::move(name)), base_dir_(std::move(base_dir)) {
    instrument_ = Instrument::Infer("EURUSD");
  }

  Result<ScenarioResult> Run(std::string_view text) {
    size_t pos = 0;
    std::vector<Token> tokens;
    while (pos < text.size()) {
      const size_t newline = text.find('\n', pos);
      const std::string_view line = text.substr(
          pos, newline == std::string_view::npos ? std::string_view::npos : newline - pos);
      pos = newline == std::string_view::npos ? text.size() : newline + 1;
      ++line_;
      if (in_calendar_) {
        if (Trim(line) == "end") {
          AITS_RETURN_IF_ERROR(FinishCalendar());
        } else {
          calendar_text_ += std::string(line) + "\n";
        }
        continue;
      }
      if (!Tokenize(line, &tokens)) return Error("unterminated quote");
      if (tokens.empty()) continue;
      AITS_RETURN_IF_ERROR(Command(tokens));
    }
    if (in_calendar_) return Error("calendar block without 'end'");
    return result_;
  }

 private:
  Status Error(const std::string& message) const {
    return InvalidArgument(name_ + ":" + std::to_string(line_) + ": " + message);
  }
  Status BadValue(std::string_view key, std::string_view value) const {
    return Error(std::string(key) + ": bad value '" + std::string(value) + "'");
  }

  void Fail(const std::string& field, const std::string& expected, const std::string& actual) {
    result_.failures.push_back({line_, name_ + ":" + std::to_string(line_) + ": case \"" +
                                           case_name_ + "\": " + field + ": expected " + expected +
                                           ", actual " + actual});
  }

  Status Command(const std::vector<Token>& tokens) {
    const std::string& command = tokens[0].value;
    if (tokens[0].key == "calendar_file" && tokens.size() == 1) {  // calendar_file=PATH
      Status status = config_.Set("calendar", JoinPath(base_dir_, tokens[0].value));
      if (!status.ok()) return Error(status.message());
      return Status::Ok();
    }
    if (!tokens[0].key.empty()) return Error("expected a command, got '" + tokens[0].key + "='");
    if (command == "instrument") return InstrumentCommand(tokens);
    if (command == "account") {
      if (tokens.size() != 2) return Error("usage: account CCY");
      account_ = Currency::Of(tokens[1].value);
      return Status::Ok();
    }
    if (command == "config") {
      for (size_t idx = 1; idx < tokens.size(); ++idx) {
        const Token& token = tokens[idx];
        if (token.key.empty())
          return Error("config: expected KEY=VALUE, got '" + token.value + "'");
        const std::string value =
            token.key == "calendar" ? JoinPath(base_dir_, token.value) : token.value;
        Status status = config_.Set(token.key, value);
        if (!status.ok()) return Error(status.message());
      }
      return Status::Ok();
    }
    if (command == "calendar") {
      if (tokens.size() != 1) return Error("usage: calendar (CSV lines follow, then 'end')");
      in_calendar_ = true;
      calendar_text_.clear();
      calendar_line_ = line_;
      return Status::Ok();
    }
    if (command == "calendar_file") {
      if (tokens.size() != 2) return Error("usage: calendar_file PATH");
      Status status = config_.Set("calendar", JoinPath(base_dir_, tokens[1].value));
      if (!status.ok()) return Error(status.message());
      return Status::Ok();
    }
    if (command == "case") return CaseCommand(tokens);
    if (command == "expect") return ExpectCommand(tokens);
    if (command == "expect_filter") return ExpectFilterCommand(tokens);
    if (command == "expect_config_error") return ExpectConfigError(tokens);
    if (command == "expect_invalid") return ExpectInvalid(tokens);
    return Error("unknown command '" + command + "'");
  }

  Status FinishCalendar() {
    in_calendar_ = false;
    auto calendar = BlackoutCalendar::Parse(
        calendar_text_, name_ + "(calendar at line " + std::to_string(calendar_line_) + ")",
        config_.blackout_before, config_.blackout_after);
    if (!calendar.ok()) return Error(calendar.status().message());
    config_.calendar = std::move(calendar).value();
    return Status::Ok();
  }

  Status InstrumentCommand(const std::vector<Token>& tokens) {
    if (tokens.size() < 2 || !tokens[1].key.empty()) return Error("usage: instrument SYMBOL ...");
    Instrument inst = Instrument::Infer(tokens[1].value);
    for (size_t idx = 2; idx < tokens.size(); ++idx) {
      const Token& token = tokens[idx];
      if (token.key == "digits") {
        const auto digits = internal::ParseInt(token.value);
        if (!digits || *digits < 0 || *digits > 9) return BadValue(token.key, token.value);
        inst.digits = static_cast<int>(*digits);
        inst.tick_size = Price::FromRaw(Pow10(kFixedDigits - inst.digits), inst.digits);
      } else if (token.key == "tick") {
        auto tick = Price::Parse(token.value, kFixedDigits);
        if (!tick.ok()) return BadValue(token.key, token.value);
        inst.tick_size = Price::FromRaw(tick->raw(), inst.digits);
      } else if (token.key == "contract") {
        const auto contract = internal::ParseInt(token.value);
        if (!contract) return BadValue(token.key, token.value);
        inst.contract_size = *contract;
      } else if (token.key == "lot_step" || token.key == "min_lots" || token.key == "max_lots") {
        auto lots = Quantity::Parse(token.value, kFixedDigits);
        if (!lots.ok()) return BadValue(token.key, token.value);
        (token.key == "lot_step"   ? inst.lot_step
         : token.key == "min_lots" ? inst.min_lots
                                   : inst.max_lots) = *lots;
      } else {
        return Error("instrument: unknown option '" + token.key + token.value + "'");
      }
    }
    Status status = inst.Validate();
    if (!status.ok()) return Error(status.message());
    instrument_ = std::move(inst);
    return Status::Ok();
  }

  Status CaseCommand(const std::vector<Token>& tokens) {
    if (tokens.size() < 2 || !tokens[1].key.empty()) return Error("usage: case \"NAME\" bid=X ...");
    case_name_ = tokens[1].value;
    Status valid = config_.Validate();
    if (!valid.ok()) return Error("config does not validate: " + valid.message());
    Signal signal;
    signal.instrument = instrument_.id;
    signal.ts = FromCivil(2024, 3, 4, 12, 0);
    MarketState market;
    market.equity = Money::FromRaw(100'000 * kMoneyScale);
    const int lot_precision = instrument_.LotPrecision();
    market.position = Quantity::FromRaw(0, lot_precision);
    market.pending = Quantity::FromRaw(0, lot_precision);
    std::optional<double> vppu;
    bool have_bid = false;
    bool have_ask = false;
    for (size_t idx = 2; idx < tokens.size(); ++idx) {
      const Token& token = tokens[idx];
      const std::string& key = token.key;
      const std::string& value = token.value;
      auto number = [&]() -> std::optional<double> {
        if (internal::Lower(value) == "nan") return std::nan("");
        return ParseFiniteDouble(value);
      };
      if (key == "time") {
        const auto time = internal::ParseUtcTime(value);
        if (!time) return BadValue(key, value);
        signal.ts = *time;
      } else if (key == "bid" || key == "ask") {
        auto price = Price::Parse(value, instrument_.digits);
        if (!price.ok()) return BadValue(key, value);
        (key == "bid" ? market.quote.bid : market.quote.ask) = *price;
        (key == "bid" ? have_bid : have_ask) = true;
      } else if (key == "position" || key == "pending") {
        auto lots = Quantity::Parse(value, lot_precision);
        if (!lots.ok()) return BadValue(key, value);
        (key == "position" ? market.position : market.pending) = *lots;
      } else if (key == "equity") {
        auto equity = Money::Parse(value);
        if (!equity.ok()) return BadValue(key, value);
        market.equity = *equity;
      } else if (key == "atr" || key == "s" || key == "conf" || key == "anomaly" || key == "vppu") {
        const auto parsed = number();
        if (!parsed) return BadValue(key, value);
        if (key == "atr") market.atr = *parsed;
        if (key == "s") signal.strength = *parsed;
        if (key == "conf") signal.confidence = *parsed;
        if (key == "anomaly") signal.anomaly = *parsed;
        if (key == "vppu") vppu = *parsed;
      } else {
        return Error("case: unknown field '" + key + (key.empty() ? value : "") + "'");
      }
    }
    if (!have_bid || !have_ask) return Error("case: bid= and ask= are required");
    market.quote.ts = signal.ts;
    market.quote.instrument = instrument_.id;
    if (vppu) {
      market.value_per_price_unit = *vppu;
    } else if (instrument_.quote == account_) {
      market.value_per_price_unit = static_cast<double>(instrument_.contract_size);
    } else if (instrument_.base == account_) {
      market.value_per_price_unit =
          static_cast<double>(instrument_.contract_size) / market.quote.Mid().AsDouble();
    }
    engine_ = std::make_unique<DecisionEngine>(config_);
    decision_ = engine_->Decide(signal, instrument_, market);
    ++result_.cases;
    return Status::Ok();
  }

  Status ExpectCommand(const std::vector<Token>& tokens) {
    if (!engine_) return Error("expect before any case");
    const Decision& d = decision_;
    for (size_t idx = 1; idx < tokens.size(); ++idx) {
      const std::string& key = tokens[idx].key;
      const std::string& value = tokens[idx].value;
      ++result_.expectations;
      if (key == "action") {
        if (value != "HOLD" && value != "BUY" && value != "SELL" && value != "CLOSE") {
          return BadValue(key, value);
        }
        if (ToString(d.action) != value) Fail(key, value, std::string(ToString(d.action)));
      } else if (key == "side") {
        const std::string actual = d.side == Side::kBuy ? "buy" : "sell";
        if (value != "buy" && value != "sell") return BadValue(key, value);
        if (actual != value) Fail(key, value, actual);
      } else if (key == "lots") {
        auto expected = Quantity::Parse(value, kFixedDigits);
        if (!expected.ok()) return BadValue(key, value);
        if (expected->raw() != d.lots.raw()) Fail(key, value, d.lots.ToString());
      } else if (key == "sl" || key == "tp") {
        const std::optional<Price>& actual = key == "sl" ? d.stop_loss : d.take_profit;
        const std::string actual_text = actual ? actual->ToString() : "none";
        if (value == "none") {
          if (actual) Fail(key, value, actual_text);
        } else {
          auto expected = Price::Parse(value, kFixedDigits);
          if (!expected.ok()) return BadValue(key, value);
          if (!actual || actual->raw() != expected->raw()) Fail(key, value, actual_text);
        }
      } else if (key == "reason") {
        if (d.reason != value) Fail(key, '"' + value + '"', '"' + std::string(d.reason) + '"');
      } else if (key == "raw_lots" || key == "scaled_lots") {
        const auto expected = ParseFiniteDouble(value);
        if (!expected) return BadValue(key, value);
        const double actual = key == "raw_lots" ? d.raw_lots : d.scaled_lots;
        if (!(std::fabs(actual - *expected) <= 1e-6 * std::max(1.0, std::fabs(*expected)))) {
          Fail(key, value, Num(actual));
        }
      } else if (key == "filters") {
        const auto expected = internal::ParseInt(value);
        if (!expected) return BadValue(key, value);
        if (static_cast<size_t>(*expected) != d.filter_count) {
          Fail(key, value, std::to_string(d.filter_count));
        }
      } else if (key == "blackout") {
        const std::string actual = d.blackout ? d.blackout->title : "none";
        if (actual != value) Fail(key, '"' + value + '"', '"' + actual + '"');
      } else {
        return Error("expect: unknown field '" + key + (key.empty() ? value : "") + "'");
      }
    }
    return Status::Ok();
  }

  Status ExpectFilterCommand(const std::vector<Token>& tokens) {
    if (!engine_) return Error("expect_filter before any case");
    for (size_t idx = 1; idx < tokens.size(); ++idx) {
      const std::string& name = tokens[idx].key;
      const std::string& value = tokens[idx].value;
      if (value != "pass" && value != "fail") return BadValue(name, value);
      ++result_.expectations;
      const FilterOutcome* found = nullptr;
      for (size_t f = 0; f < decision_.filter_count; ++f) {
        if (decision_.filters[f].name == name) found = &decision_.filters[f];
      }
      if (found == nullptr) {
        if (name != "confidence" && name != "spread" && name != "anomaly" && name != "session" &&
            name != "blackout") {
          return Error("expect_filter: unknown filter '" + name + "'");
        }
        Fail("filter " + name, value, "not evaluated");
        continue;
      }
      const std::string actual = found->passed ? "pass" : "fail";
      if (actual != value) {
        Fail("filter " + name, value,
             actual + " (value " + Num(found->value) + ", limit " + Num(found->limit) + ")");
      }
    }
    return Status::Ok();
  }

  static std::string MessageOption(const std::vector<Token>& tokens, size_t from) {
    for (size_t idx = from; idx < tokens.size(); ++idx) {
      if (tokens[idx].key == "message") return tokens[idx].value;
    }
    return {};
  }

  Status ExpectConfigError(const std::vector<Token>& tokens) {
    if (tokens.size() < 2 || tokens[1].key.empty()) {
      return Error("usage: expect_config_error KEY=VALUE [message=TEXT]");
    }
    case_name_ = "config " + tokens[1].key + "=" + tokens[1].value;
    const std::string message = MessageOption(tokens, 2);
    DecisionConfig copy = config_;
    const Status status = copy.Set(tokens[1].key, tokens[1].value);
    ++result_.expectations;
    if (status.ok()) {
      Fail("Set", "an error", "OK");
    } else if (status.message().find(message) == std::string::npos) {
      Fail("Set message", "to contain \"" + message + "\"", "\"" + status.message() + "\"");
    }
    return Status::Ok();
  }

  Status ExpectInvalid(const std::vector<Token>& tokens) {
    case_name_ = "validate";
    const std::string message = MessageOption(tokens, 1);
    const Status status = config_.Validate();
    ++result_.expectations;
    if (status.ok()) {
      Fail("Validate", "an error", "OK");
    } else if (status.message().find(message) == std::string::npos) {
      Fail("Validate message", "to contain \"" + message + "\"", "\"" + status.message() + "\"");
    }
    // The config stays invalid on purpose: the file must fix it before its next case.
    return Status::Ok();
  }

  std::string name_;
  std::string base_dir_;
  int line_ = 0;
  Instrument instrument_;
  Currency account_ = Currency::Of("USD");
  DecisionConfig config_;
  bool in_calendar_ = false;
  int calendar_line_ = 0;
  std::string calendar_text_;
  std::string case_name_;
  std::unique_ptr<DecisionEngine> engine_;  // owns the calendar that decision_.blackout points to
  Decision decision_;
  ScenarioResult result_;
};

}  // namespace

Result<ScenarioResult> RunScenarioText(std::string_view text, const std::string& name,
                                       const std::string& base_dir) {
  Runner runner(name, base_dir);
  return runner.Run(text);
}

Result<ScenarioResult> RunScenarioFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open scenario file");
  std::ostringstream text;
  text << in.rdbuf();
  const size_t slash = path.find_last_of('/');
  const std::string base_dir = slash == std::string::npos ? "." : path.substr(0, slash);
  return RunScenarioText(text.str(), path, base_dir);
}

}  // namespace aits::decision::testing
