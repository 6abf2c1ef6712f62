// The API's model registry routes (docs/api.md, "Models"): the registered models with their
// metrics, each one's lineage (the ensemble a member belongs to, its members, the other versions
// of its name, the registry's audit lines), and promotion through the registry's gate.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "aits/api/api_service.h"
#include "aits/ml/registry.h"

namespace aits::api {

// One registry shared by the HTTP threads: ModelRegistry is thread-compatible, so every call
// holds the mutex. A registry call is a SQLite or PostgreSQL query; the routes are not on the
// trading path.
// Without a registry (the server started without one) every call is Unavailable, saying so.
class ModelCatalog {
 public:
  ModelCatalog() = default;
  explicit ModelCatalog(ml::ModelRegistry registry) : registry_(std::move(registry)) {}

  // fn(ModelRegistry&) -> Result<T>.
  template <typename Fn>
  auto With(Fn&& fn) -> decltype(fn(std::declval<ml::ModelRegistry&>())) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!registry_) {
      return Unavailable(
          "no model registry: start the server with --registry DIR|postgresql://...");
    }
    return fn(*registry_);
  }

 private:
  std::mutex mutex_;
  std::optional<ml::ModelRegistry> registry_;
};

// A record as the API shows it (every field of ModelRecord; times in UTC ISO 8601).
nlohmann::json ModelJson(const ml::ModelRecord& record);

// The promote body: {"reason": TEXT, "metric", "threshold", "higher_is_better",
// "min_improvement_over_baseline", "require_baseline"}; what is left out keeps `defaults`.
// InvalidArgument naming the field and what it expected.
Result<ml::PromotionGate> ParsePromoteBody(const std::string& body,
                                           const ml::PromotionGate& defaults, std::string* reason);

// Adds GET /api/v1/models, GET /api/v1/models/{id} and POST /api/v1/models/{id}/promote (admin:
// it changes what trades). `catalog` must outlive the service.
void AddModelRoutes(ApiService& service, ModelCatalog& catalog);

}  // namespace aits::api
