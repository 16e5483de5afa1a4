// Small helpers for report JSON: optionals and non-finite numbers become
// null (never NaN or Infinity in a file), and back; the words of enums
// declared with NLOHMANN_JSON_SERIALIZE_ENUM, for the CLI and messages.
#pragma once

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

namespace batchtune::json_util {

inline nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

inline double read_number(const nlohmann::json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}

// The word NLOHMANN_JSON_SERIALIZE_ENUM writes for `e`.
template <typename E>
std::string enum_word(E e) {
  static_assert(std::is_enum_v<E>);
  return nlohmann::json(e).template get<std::string>();
}

// The value whose word is `text`; none for any other text. (The macro's own
// from_json maps an unknown word to the first value silently.)
template <typename E>
std::optional<E> parse_enum(std::string_view text) {
  const nlohmann::json word = std::string(text);
  const E e = word.get<E>();
  if (nlohmann::json(e) != word) return std::nullopt;
  return e;
}

// Every word, in the order of the enumerators. The enumerators must be
// 0, 1, 2, ... (none given a value): the macro writes the first word for a
// value it does not list, which is how the end is found.
template <typename E>
std::vector<std::string> enum_words() {
  std::vector<std::string> words;
  for (int i = 0;; ++i) {
    const E e = static_cast<E>(i);
    const nlohmann::json word = e;
    if (i > 0 && word.get<E>() != e) return words;
    words.push_back(word.get<std::string>());
  }
}

// "a, b, c": the words of E for a message.
template <typename E>
std::string enum_word_list() {
  std::string list;
  for (const auto& w : enum_words<E>()) list += (list.empty() ? "" : ", ") + w;
  return list;
}

}  // namespace batchtune::json_util

// std::optional<T> as null or T, so that NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE
// and get_to handle optional members; a non-finite double is written as null
// like json_util::number. nlohmann_json 3.11 has no serializer of its own for
// std::optional (3.12 adds one).
namespace nlohmann {
template <typename T>
struct adl_serializer<std::optional<T>> {
  template <typename Json>
  static void to_json(Json& j, const std::optional<T>& v) {
    if constexpr (std::is_floating_point_v<T>) {
      if (v && !std::isfinite(*v)) {
        j = nullptr;
        return;
      }
    }
    if (v) {
      j = *v;
    } else {
      j = nullptr;
    }
  }
  template <typename Json>
  static void from_json(const Json& j, std::optional<T>& v) {
    if (j.is_null()) {
      v.reset();
    } else {
      v = j.template get<T>();
    }
  }
};
}  // namespace nlohmann
