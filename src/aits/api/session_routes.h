// The API's routes over one session (docs/api.md, "Endpoints"): account, positions, orders,
// trades, decisions with their explanations, risk, market data, and the operator commands
// (breaker, pause, resume, flatten), each with the role it needs.
#pragma once

#include "aits/api/api_service.h"
#include "aits/api/session_view.h"
#include "aits/api/stream_hub.h"

namespace aits::api {

// Adds the routes to `service`; `view` must outlive it.
void AddSessionRoutes(ApiService& service, SessionView& view);

// The WebSocket streams at /api/v1/stream (docs/api.md, "Streams"): authenticated as requests
// are (and by the access_token or api_key query parameter), any role may subscribe. `service`
// and `hub` must outlive the server that uses the handler.
WebSocketHandler MakeStreamHandler(ApiService& service, StreamHub& hub);

// The list parameters of a request: limit (1..1000, default 100), before, symbol, from, to
// (UTC times as `aits` reads them). InvalidArgument naming the parameter and its value.
Result<ListQuery> ParseListQuery(const std::map<std::string, std::string>& query);

}  // namespace aits::api
