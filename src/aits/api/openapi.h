// The JSON schemas of the API's answers (OpenAPI 3.0), for the document at /api/v1/openapi.json.
// A route names its success answer's schema (Route::response_schema), mostly by a Ref to one of
// ComponentSchemas(); tests/e2e/api_test.py checks the live answers against them, so a schema
// here says what the handler really sends: the fields always there are required, a field that
// may be null is Nullable.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace aits::api::schema {

nlohmann::json String();
nlohmann::json Integer();
nlohmann::json Number();
nlohmann::json Boolean();
// An object whose fields are not described here (a report, a request as it was given).
nlohmann::json AnyObject();
// An object of string values under any names (labels, annotations).
nlohmann::json StringMap();
nlohmann::json Enum(std::initializer_list<std::string_view> values);
// `schema` or null. A $ref is wrapped in allOf: OpenAPI 3.0 ignores what stands beside one.
nlohmann::json Nullable(nlohmann::json schema);
nlohmann::json ArrayOf(nlohmann::json items);
// {"$ref": "#/components/schemas/<name>"}: `name` one of ComponentSchemas().
nlohmann::json Ref(std::string_view name);
// An object with `required` fields (name: schema), always there, and `optional` ones.
nlohmann::json Object(const nlohmann::json& required,
                      const nlohmann::json& optional = nlohmann::json::object());
// `base` (a Ref) and more fields: what a handler adds to a shared shape.
nlohmann::json Extend(std::string_view base, const nlohmann::json& required,
                      const nlohmann::json& optional = nlohmann::json::object());
// A page of a list, as the list routes answer it: `items` and, when more may follow, the
// `next_before` to ask for them; `also` are further fields always there.
nlohmann::json Page(nlohmann::json item, const nlohmann::json& also = nlohmann::json::object());

// Every component the routes refer to, by name ("Order", "Fill", ...), and the refusal bodies
// "Error" and "OAuthError".
const nlohmann::json& ComponentSchemas();

}  // namespace aits::api::schema
