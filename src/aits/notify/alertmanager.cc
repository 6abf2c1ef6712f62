#include "aits/notify/alertmanager.h"

#include <nlohmann/json.hpp>

namespace aits::notify {
namespace {

using Json = nlohmann::json;

Status Bad(const std::string& pointer, const std::string& what) {
  return InvalidArgument(pointer + ": " + what);
}

// A string member; `required` false lets it be absent (then "").
Result<std::string> StringAt(const Json& object, const std::string& pointer, const char* key,
                             bool required = true) {
  const auto found = object.find(key);
  if (found == object.end()) {
    if (!required) return std::string();
    return Bad(pointer + "/" + key, "missing");
  }
  if (!found->is_string()) {
    return Bad(pointer + "/" + key, "must be a string, not " + std::string(found->type_name()));
  }
  return found->get<std::string>();
}

// An object of strings (labels, annotations).
Result<std::map<std::string, std::string>> StringsAt(const Json& object, const std::string& pointer,
                                                     const char* key) {
  std::map<std::string, std::string> out;
  const auto found = object.find(key);
  if (found == object.end()) return Bad(pointer + "/" + key, "missing");
  if (!found->is_object()) {
    return Bad(pointer + "/" + key, "must be an object, not " + std::string(found->type_name()));
  }
  for (const auto& [name, value] : found->items()) {
    if (!value.is_string()) {
      return Bad(pointer + "/" + key + "/" + name,
                 "must be a string, not " + std::string(value.type_name()));
    }
    out.emplace(name, value.get<std::string>());
  }
  return out;
}

Status CheckStatus(const std::string& status, const std::string& pointer) {
  if (status == "firing" || status == "resolved") return Status::Ok();
  return Bad(pointer, "\"" + status + "\" is neither firing nor resolved");
}

}  // namespace

std::string Alert::Label(const std::string& key) const {
  const auto found = labels.find(key);
  return found == labels.end() ? std::string() : found->second;
}

std::string Alert::Annotation(const std::string& key) const {
  const auto found = annotations.find(key);
  return found == annotations.end() ? std::string() : found->second;
}

Result<AlertNotification> ParseAlertmanagerWebhook(std::string_view body) {
  Json root = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return InvalidArgument("the body is not JSON");
  if (!root.is_object()) {
    return InvalidArgument("the body must be a JSON object, not " + std::string(root.type_name()));
  }
  AITS_ASSIGN_OR_RETURN(const std::string version, StringAt(root, "", "version"));
  if (version != "4") {
    return Bad("/version", "\"" + version + "\" is not 4, the only webhook version known here");
  }
  AlertNotification out;
  AITS_ASSIGN_OR_RETURN(out.receiver, StringAt(root, "", "receiver", false));
  AITS_ASSIGN_OR_RETURN(out.status, StringAt(root, "", "status"));
  AITS_RETURN_IF_ERROR(CheckStatus(out.status, "/status"));
  AITS_ASSIGN_OR_RETURN(out.group_key, StringAt(root, "", "groupKey", false));
  if (const auto truncated = root.find("truncatedAlerts"); truncated != root.end()) {
    if (!truncated->is_number_unsigned()) {
      return Bad("/truncatedAlerts", "must be a count (an unsigned integer)");
    }
    out.truncated_alerts = truncated->get<uint64_t>();
  }
  const auto alerts = root.find("alerts");
  if (alerts == root.end()) return Bad("/alerts", "missing");
  if (!alerts->is_array()) {
    return Bad("/alerts", "must be an array, not " + std::string(alerts->type_name()));
  }
  if (alerts->size() > kMaxAlerts) {
    return Bad("/alerts",
               std::to_string(alerts->size()) + " alerts, more than " + std::to_string(kMaxAlerts));
  }
  for (size_t idx = 0; idx < alerts->size(); ++idx) {
    const Json& item = (*alerts)[idx];
    const std::string pointer = "/alerts/" + std::to_string(idx);
    if (!item.is_object()) {
      return Bad(pointer, "must be an object, not " + std::string(item.type_name()));
    }
    Alert alert;
    AITS_ASSIGN_OR_RETURN(alert.status, StringAt(item, pointer, "status"));
    AITS_RETURN_IF_ERROR(CheckStatus(alert.status, pointer + "/status"));
    AITS_ASSIGN_OR_RETURN(alert.labels, StringsAt(item, pointer, "labels"));
    if (alert.Label("alertname").empty()) return Bad(pointer + "/labels/alertname", "missing");
    AITS_ASSIGN_OR_RETURN(alert.annotations, StringsAt(item, pointer, "annotations"));
    AITS_ASSIGN_OR_RETURN(alert.starts_at, StringAt(item, pointer, "startsAt"));
    AITS_ASSIGN_OR_RETURN(alert.ends_at, StringAt(item, pointer, "endsAt", false));
    AITS_ASSIGN_OR_RETURN(alert.fingerprint, StringAt(item, pointer, "fingerprint", false));
    AITS_ASSIGN_OR_RETURN(alert.generator_url, StringAt(item, pointer, "generatorURL", false));
    out.alerts.push_back(std::move(alert));
  }
  return out;
}

}  // namespace aits::notify
