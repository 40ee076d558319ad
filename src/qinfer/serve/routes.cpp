#include "qinfer/serve/routes.h"

#include <httplib.h>

#include "qinfer/serve/api_error.h"

namespace qinfer::serve {

std::vector<Route> all_routes() {
  std::vector<Route> routes;
  for (auto group : {openai_routes, health_routes, ops_routes})
    for (Route& r : group()) routes.push_back(std::move(r));
  return routes;
}

void set_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(error_body(status, message), "application/json");
}

}  // namespace qinfer::serve
