#include "aits/core/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>
#include <set>
#include <system_error>
#include <utility>

namespace aits {
namespace {

bool IsLetterOrUnderscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Go's strconv.ParseFloat, which Prometheus uses, reads the shortest round-trip form that
// std::to_chars writes ("0.001", "1e-05", "42"), and the spellings below for the rest.
void AppendDouble(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    char buffer[32];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
    out.append(buffer, ec == std::errc() ? end : buffer);
  }
}

void AppendUint(std::string& out, uint64_t value) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, ec == std::errc() ? end : buffer);
}

// Format 0.0.4: help text escapes backslash and line feed; label values also the double quote.
void AppendEscaped(std::string& out, std::string_view text, bool escape_quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && escape_quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// name{a="x",b="y"<extra>} ; `extra` is the histogram's le pair, already formatted.
void AppendSeries(std::string& out, std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, std::string_view extra) {
  out += name;
  out += suffix;
  if (label_names.empty() && extra.empty()) return;
  out += '{';
  for (size_t label_idx = 0; label_idx < label_names.size(); ++label_idx) {
    if (label_idx > 0) out += ',';
    out += label_names[label_idx];
    out += "=\"";
    AppendEscaped(out, label_values[label_idx], /*escape_quote=*/true);
    out += '"';
  }
  if (!extra.empty()) {
    if (!label_names.empty()) out += ',';
    out += extra;
  }
  out += '}';
}

template <typename Metric>
constexpr MetricType TypeOf();
template <>
constexpr MetricType TypeOf<Counter>() {
  return MetricType::kCounter;
}
template <>
constexpr MetricType TypeOf<Gauge>() {
  return MetricType::kGauge;
}
template <>
constexpr MetricType TypeOf<Histogram>() {
  return MetricType::kHistogram;
}

std::vector<std::string> SeriesNames(MetricType type, std::string_view name) {
  if (type != MetricType::kHistogram) return {std::string(name)};
  return {std::string(name) + "_bucket", std::string(name) + "_sum", std::string(name) + "_count"};
}

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  if (!IsLetterOrUnderscore(name[0]) && name[0] != ':') return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [](char c) { return IsLetterOrUnderscore(c) || IsDigit(c) || c == ':'; });
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || !IsLetterOrUnderscore(name[0]) || name.starts_with("__")) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [](char c) { return IsLetterOrUnderscore(c) || IsDigit(c); });
}

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "unknown";
}

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {}

void Histogram::AddBuckets(std::span<const uint64_t> per_bucket, double sum) {
  for (size_t bucket = 0; bucket <= bounds_.size() && bucket < per_bucket.size(); ++bucket) {
    if (per_bucket[bucket] != 0) {
      buckets_[bucket].fetch_add(per_bucket[bucket], std::memory_order_relaxed);
    }
  }
  sum_.fetch_add(sum, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.cumulative.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t bucket = 0; bucket <= bounds_.size(); ++bucket) {
    running += buckets_[bucket].load(std::memory_order_relaxed);
    snapshot.cumulative[bucket] = running;
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

template <typename Metric>
Family<Metric>::Family(std::mutex& mu, std::string name, std::string help,
                       std::vector<std::string> label_names, std::vector<double> bounds)
    : mu_(mu),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

template <typename Metric>
Metric* Family<Metric>::CreateChildLocked(std::vector<std::string> values) {
  auto [it, inserted] = children_.try_emplace(std::move(values));
  if (inserted) {
    // The metrics' constructors are private to this class, which make_unique cannot reach.
    if constexpr (std::is_same_v<Metric, Histogram>) {
      it->second.reset(new Histogram(bounds_));
    } else {
      it->second.reset(new Metric());
    }
  }
  return it->second.get();
}

template <typename Metric>
Result<Metric*> Family<Metric>::With(std::span<const Label> labels) {
  std::vector<std::string> values(label_names_.size());
  std::vector<bool> seen(label_names_.size(), false);
  for (const Label& label : labels) {
    const auto found = std::find(label_names_.begin(), label_names_.end(), label.name);
    if (found == label_names_.end()) {
      return InvalidArgument("metric " + name_ + ": unknown label '" + std::string(label.name) +
                             "'");
    }
    const size_t label_idx = static_cast<size_t>(found - label_names_.begin());
    if (seen[label_idx]) {
      return InvalidArgument("metric " + name_ + ": label '" + std::string(label.name) +
                             "' given twice");
    }
    seen[label_idx] = true;
    values[label_idx] = std::string(label.value);
  }
  for (size_t label_idx = 0; label_idx < label_names_.size(); ++label_idx) {
    if (!seen[label_idx]) {
      return InvalidArgument("metric " + name_ + ": label '" + label_names_[label_idx] +
                             "' missing");
    }
  }
  std::lock_guard lock(mu_);
  return CreateChildLocked(std::move(values));
}

template <typename Metric>
FamilySnapshot Family<Metric>::Collect() const {
  FamilySnapshot snapshot;
  snapshot.name = name_;
  snapshot.help = help_;
  snapshot.type = TypeOf<Metric>();
  snapshot.label_names = label_names_;
  snapshot.bounds = bounds_;
  snapshot.children.reserve(children_.size());
  for (const auto& [values, child] : children_) {
    FamilySnapshot::Child& copy = snapshot.children.emplace_back();
    copy.label_values = values;
    if constexpr (std::is_same_v<Metric, Counter>) {
      copy.counter = child->value();
    } else if constexpr (std::is_same_v<Metric, Gauge>) {
      copy.gauge = child->value();
    } else {
      copy.histogram = child->Read();
    }
  }
  return snapshot;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <typename Metric>
Result<Family<Metric>*> Registry::Add(MetricType type, std::string_view name, std::string_view help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> bounds) {
  const std::string quoted = "metric '" + std::string(name) + "'";
  if (!IsValidMetricName(name)) {
    return InvalidArgument(quoted + ": not a valid name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
  }
  if (type == MetricType::kCounter && !name.ends_with("_total")) {
    return InvalidArgument(quoted + ": a counter's name must end in _total");
  }
  std::set<std::string_view> distinct;
  for (const std::string& label : label_names) {
    if (!IsValidLabelName(label)) {
      return InvalidArgument(quoted + ": label '" + label +
                             "' is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not __...)");
    }
    if (type == MetricType::kHistogram && label == "le") {
      return InvalidArgument(quoted + ": a histogram cannot have the label 'le'");
    }
    if (!distinct.insert(label).second) {
      return InvalidArgument(quoted + ": label '" + label + "' listed twice");
    }
  }
  for (size_t bound_idx = 0; bound_idx < bounds.size(); ++bound_idx) {
    if (!std::isfinite(bounds[bound_idx])) {
      return InvalidArgument(quoted + ": bucket bounds must be finite (+Inf is implicit)");
    }
    if (bound_idx > 0 && !(bounds[bound_idx - 1] < bounds[bound_idx])) {
      return InvalidArgument(quoted + ": bucket bounds must be strictly increasing");
    }
  }

  std::lock_guard lock(mu_);
  if (const auto found = families_.find(name); found != families_.end()) {
    auto* existing = std::get_if<std::unique_ptr<Family<Metric>>>(&found->second);
    if (existing == nullptr) {
      return InvalidArgument(quoted + ": already registered with another type");
    }
    Family<Metric>& family = **existing;
    if (family.label_names() != label_names) {
      return InvalidArgument(quoted + ": already registered with other label names");
    }
    if (family.help() != help) {
      return InvalidArgument(quoted + ": already registered with other help text");
    }
    if (family.bounds() != bounds) {
      return InvalidArgument(quoted + ": already registered with other bucket bounds");
    }
    return &family;
  }
  const std::vector<std::string> series = SeriesNames(type, name);
  for (const std::string& series_name : series) {
    if (const auto owner = series_owner_.find(series_name); owner != series_owner_.end()) {
      return InvalidArgument(quoted + ": series " + series_name +
                             " is already exposed by metric '" + owner->second + "'");
    }
  }
  // A histogram family's series names differ from its own name, so that name is also reserved:
  // a gauge "x" beside histogram "x" would repeat # TYPE x.
  if (series_owner_.contains(name)) {
    return InvalidArgument(quoted + ": the name is already exposed by metric '" +
                           series_owner_.find(name)->second + "'");
  }
  for (const std::string& series_name : series) series_owner_.emplace(series_name, name);
  series_owner_.emplace(std::string(name), std::string(name));

  const bool unlabelled = label_names.empty();
  std::unique_ptr<Family<Metric>> created(new Family<Metric>(
      mu_, std::string(name), std::string(help), std::move(label_names), std::move(bounds)));
  Family<Metric>* family = created.get();
  // Without labels there is exactly one child: create it so it renders (at 0) from the start.
  if (unlabelled) family->CreateChildLocked({});
  families_.emplace(std::string(name), std::move(created));
  return family;
}

Result<Family<Counter>*> Registry::AddCounter(std::string_view name, std::string_view help,
                                              std::vector<std::string> label_names) {
  return Add<Counter>(MetricType::kCounter, name, help, std::move(label_names), {});
}

Result<Family<Gauge>*> Registry::AddGauge(std::string_view name, std::string_view help,
                                          std::vector<std::string> label_names) {
  return Add<Gauge>(MetricType::kGauge, name, help, std::move(label_names), {});
}

Result<Family<Histogram>*> Registry::AddHistogram(std::string_view name, std::string_view help,
                                                  std::vector<double> bounds,
                                                  std::vector<std::string> label_names) {
  return Add<Histogram>(MetricType::kHistogram, name, help, std::move(label_names),
                        std::move(bounds));
}

std::vector<FamilySnapshot> Registry::Collect() const {
  std::vector<FamilySnapshot> snapshots;
  std::lock_guard lock(mu_);
  snapshots.reserve(families_.size());
  for (const auto& [name, any_family] : families_) {
    snapshots.push_back(
        std::visit([](const auto& family) { return family->Collect(); }, any_family));
  }
  return snapshots;
}

std::string Registry::RenderText() const { return aits::RenderText(Collect()); }

std::string RenderText(std::span<const FamilySnapshot> families) {
  std::string out;
  for (const FamilySnapshot& family : families) {
    out += "# HELP ";
    out += family.name;
    out += ' ';
    AppendEscaped(out, family.help, /*escape_quote=*/false);
    out += "\n# TYPE ";
    out += family.name;
    out += ' ';
    out += MetricTypeName(family.type);
    out += '\n';
    for (const FamilySnapshot::Child& child : family.children) {
      switch (family.type) {
        case MetricType::kCounter:
          AppendSeries(out, family.name, "", family.label_names, child.label_values, "");
          out += ' ';
          AppendUint(out, child.counter);
          out += '\n';
          break;
        case MetricType::kGauge:
          AppendSeries(out, family.name, "", family.label_names, child.label_values, "");
          out += ' ';
          AppendDouble(out, child.gauge);
          out += '\n';
          break;
        case MetricType::kHistogram: {
          const Histogram::Snapshot& histogram = child.histogram;
          std::string le;
          for (size_t bucket = 0; bucket < histogram.cumulative.size(); ++bucket) {
            le = "le=\"";
            if (bucket < family.bounds.size()) {
              AppendDouble(le, family.bounds[bucket]);
            } else {
              le += "+Inf";
            }
            le += '"';
            AppendSeries(out, family.name, "_bucket", family.label_names, child.label_values, le);
            out += ' ';
            AppendUint(out, histogram.cumulative[bucket]);
            out += '\n';
          }
          AppendSeries(out, family.name, "_sum", family.label_names, child.label_values, "");
          out += ' ';
          AppendDouble(out, histogram.sum);
          out += '\n';
          AppendSeries(out, family.name, "_count", family.label_names, child.label_values, "");
          out += ' ';
          AppendUint(out, histogram.count);
          out += '\n';
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace aits
