// Small helpers for report JSON: optionals and non-finite numbers become
// null (never NaN or Infinity in a file), and back.
#pragma once

#include <cmath>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

namespace batchtune::json_util {

inline nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

inline double read_number(const nlohmann::json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}

template <typename T>
nlohmann::json optional(const std::optional<T>& v) {
  if (!v) return nullptr;
  if constexpr (std::is_floating_point_v<T>) return number(*v);
  return nlohmann::json(*v);
}

template <typename T>
std::optional<T> read_optional(const nlohmann::json& j, const char* key) {
  const auto& v = j.at(key);
  if (v.is_null()) return std::nullopt;
  return v.get<T>();
}

}  // namespace batchtune::json_util
