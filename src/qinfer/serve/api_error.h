// The one error type of the server: an HTTP status and an OpenAI-style error
// object ({"error": {"message", "type", "param", "code"}}), thrown anywhere
// below a route handler and answered by the server, which keeps serving.
#pragma once
#include <stdexcept>
#include <string>

namespace qinfer::serve {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = "", std::string type = "", std::string code = "");
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  // Seconds a client should wait before trying again (429, 503); 0: no Retry-After.
  int retry_after_s = 0;

 private:
  int status_;
  std::string param_, type_, code_;
};

// 400 invalid_request_error naming the request field at fault.
ApiError bad_field(const std::string& param, const std::string& message);

// The JSON body for an error (the type from the status when not given).
std::string error_body(const ApiError& e);
std::string error_body(int status, const std::string& message);
// OpenAI's error type for a status: invalid_request_error, authentication_error, ...
const char* error_type_for_status(int status);

}  // namespace qinfer::serve
