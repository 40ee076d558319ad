#include "qinfer/serve/api_error.h"

#include <nlohmann/json.hpp>

namespace qinfer::serve {

ApiError::ApiError(int status, std::string message, std::string param, std::string type, std::string code)
    : std::runtime_error(std::move(message)),
      status_(status),
      param_(std::move(param)),
      type_(type.empty() ? error_type_for_status(status) : std::move(type)),
      code_(std::move(code)) {}

ApiError bad_field(const std::string& param, const std::string& message) {
  return ApiError(400, param + ": " + message, param);
}

const char* error_type_for_status(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: return "service_unavailable";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string error_body(const ApiError& e) {
  nlohmann::ordered_json j = {{"error",
                               {{"message", e.what()},
                                {"type", e.type()},
                                {"param", e.param().empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(e.param())},
                                {"code", e.code().empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(e.code())}}}};
  // Messages may quote client bytes: never fail on invalid UTF-8.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string error_body(int status, const std::string& message) { return error_body(ApiError(status, message)); }

}  // namespace qinfer::serve
