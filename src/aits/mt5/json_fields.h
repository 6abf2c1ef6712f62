// Reading the MT5 messages' fields from JSON (the generated messages_json.cc uses these): each
// helper checks presence and type, and the first failure names the field ("hello.login: missing",
// "ticks.ticks[2]: tick_data.bid: not a number").
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

namespace aits::mt5::json_fields {

inline bool IsObject(const nlohmann::json& in, const char* what, std::string& error) {
  if (in.is_object()) return true;
  error = std::string(what) + ": not a JSON object";
  return false;
}

template <typename T>
bool Scalar(const nlohmann::json& j, const char* label, T& out, std::string& error) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) {
      error = std::string(label) + ": not true or false";
      return false;
    }
    out = j.get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) {
      error = std::string(label) + ": not a string";
      return false;
    }
    out = j.get<std::string>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) {
      error = std::string(label) + ": not a number";
      return false;
    }
    out = j.get<T>();
  } else {
    // Integers: in range of the field's type, no fraction.
    if (!j.is_number_integer()) {
      error = std::string(label) + ": not an integer";
      return false;
    }
    if (j.is_number_unsigned()) {
      const auto v = j.get<uint64_t>();
      if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        error = std::string(label) + ": " + std::to_string(v) + " is out of range";
        return false;
      }
      out = static_cast<T>(v);
    } else {
      const auto v = j.get<int64_t>();
      if (std::is_unsigned_v<T> ? v < 0
                                : (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
                                   v > static_cast<int64_t>(std::numeric_limits<T>::max()))) {
        error = std::string(label) + ": " + std::to_string(v) + " is out of range";
        return false;
      }
      out = static_cast<T>(v);
    }
  }
  return true;
}

template <typename T>
bool Field(const nlohmann::json& in, const char* name, const char* label, T& out,
           std::string& error) {
  const auto it = in.find(name);
  if (it == in.end()) {
    error = std::string(label) + ": missing";
    return false;
  }
  return Scalar(*it, label, out, error);
}

template <typename ReadObject>
bool Object(const nlohmann::json& in, const char* name, const char* label, std::string& error,
            ReadObject read) {
  const auto it = in.find(name);
  if (it == in.end()) {
    error = std::string(label) + ": missing";
    return false;
  }
  return read(*it);
}

template <typename T, typename ReadItem>
bool Array(const nlohmann::json& in, const char* name, const char* label, std::vector<T>& out,
           std::string& error, ReadItem read_item) {
  const auto it = in.find(name);
  if (it == in.end() || !it->is_array()) {
    error = std::string(label) + (it == in.end() ? ": missing" : ": not an array");
    return false;
  }
  out.clear();
  out.resize(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    if (!read_item((*it)[i], out[i], error)) {
      error = std::string(label) + "[" + std::to_string(i) + "]: " + error;
      return false;
    }
  }
  return true;
}

}  // namespace aits::mt5::json_fields
