// Checked access to the fields of a JSON object: the first problem is recorded as an Error with
// the protocol's code, later reads return defaults, and nothing throws.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "stagelink/result.hpp"

namespace stagelink::detail {

class FieldReader {
 public:
  FieldReader(const nlohmann::json& object, std::string_view context)
      : object_(object), context_(context) {
    if (!object.is_object()) fail(errc::invalid_field, "expected a JSON object");
  }

  bool ok() const { return !error_.has_value(); }
  const Error& error() const { return *error_; }

  std::string str(const char* key) { return opt_str_impl(key, true).value_or(std::string()); }
  std::optional<std::string> opt_str(const char* key) { return opt_str_impl(key, false); }

  std::uint64_t u64(const char* key) { return opt_u64_impl(key, true).value_or(0); }
  std::optional<std::uint64_t> opt_u64(const char* key) { return opt_u64_impl(key, false); }

  std::int64_t i64(const char* key) { return opt_i64_impl(key, true).value_or(0); }
  std::optional<std::int64_t> opt_i64(const char* key) { return opt_i64_impl(key, false); }

  double num(const char* key) { return opt_num_impl(key, true).value_or(0.0); }
  std::optional<double> opt_num(const char* key) { return opt_num_impl(key, false); }

  bool boolean(const char* key) { return opt_bool_impl(key, true).value_or(false); }
  std::optional<bool> opt_bool(const char* key) { return opt_bool_impl(key, false); }

  /// Any JSON value (null when absent and not required).
  nlohmann::json any(const char* key, bool required) {
    const nlohmann::json* v = find(key, required);
    return v != nullptr ? *v : nlohmann::json();
  }

  const nlohmann::json* array(const char* key, bool required) {
    const nlohmann::json* v = find(key, required);
    if (v != nullptr && !v->is_array()) return wrong(key, "an array");
    return v;
  }

  const nlohmann::json* object(const char* key, bool required) {
    const nlohmann::json* v = find(key, required);
    if (v != nullptr && !v->is_object()) return wrong(key, "an object");
    return v;
  }

  std::optional<std::vector<std::string>> str_array(const char* key, bool required) {
    const nlohmann::json* v = array(key, required);
    if (v == nullptr) return std::nullopt;
    std::vector<std::string> out;
    out.reserve(v->size());
    for (const auto& item : *v) {
      if (!item.is_string()) {
        wrong(key, "an array of strings");
        return std::nullopt;
      }
      out.push_back(item.get_ref<const std::string&>());
    }
    return out;
  }

  void fail(const char* code, const std::string& message) {
    if (!error_) error_ = make_error(code, std::string(context_) + ": " + message);
  }

 private:
  /// The value of `key`; absent and null are the same (nullptr), and record missing_field when
  /// required.
  const nlohmann::json* find(const char* key, bool required) {
    if (!ok()) return nullptr;
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) {
      if (required) fail(errc::missing_field, std::string("missing field '") + key + "'");
      return nullptr;
    }
    return &*it;
  }

  std::nullptr_t wrong(const char* key, const char* expected) {
    fail(errc::invalid_field, std::string("field '") + key + "' must be " + expected);
    return nullptr;
  }

  std::optional<std::string> opt_str_impl(const char* key, bool required) {
    const nlohmann::json* v = find(key, required);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) return wrong(key, "a string"), std::nullopt;
    return v->get_ref<const std::string&>();
  }

  std::optional<std::uint64_t> opt_u64_impl(const char* key, bool required) {
    const nlohmann::json* v = find(key, required);
    if (v == nullptr) return std::nullopt;
    if (v->is_number_unsigned()) return v->get<std::uint64_t>();
    if (v->is_number_integer() && v->get<std::int64_t>() >= 0) {
      return static_cast<std::uint64_t>(v->get<std::int64_t>());
    }
    return wrong(key, "a non-negative integer"), std::nullopt;
  }

  std::optional<std::int64_t> opt_i64_impl(const char* key, bool required) {
    const nlohmann::json* v = find(key, required);
    if (v == nullptr) return std::nullopt;
    if (v->is_number_unsigned()) {
      const auto u = v->get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return wrong(key, "an integer in range"), std::nullopt;
      }
      return static_cast<std::int64_t>(u);
    }
    if (v->is_number_integer()) return v->get<std::int64_t>();
    return wrong(key, "an integer"), std::nullopt;
  }

  std::optional<double> opt_num_impl(const char* key, bool required) {
    const nlohmann::json* v = find(key, required);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number()) return wrong(key, "a number"), std::nullopt;
    return v->get<double>();
  }

  std::optional<bool> opt_bool_impl(const char* key, bool required) {
    const nlohmann::json* v = find(key, required);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) return wrong(key, "a boolean"), std::nullopt;
    return v->get<bool>();
  }

  const nlohmann::json& object_;
  std::string_view context_;
  std::optional<Error> error_;
};

}  // namespace stagelink::detail
