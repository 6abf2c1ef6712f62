// StaticFiles: the web dashboard's files (web/, built into the build tree; docs/api.md,
// "Dashboard"), served by `aits api serve` at `/` beside the API.
//
// Every regular file under the root is read once, at Open, into memory: a request is a lookup
// of its decoded path among those names, so no request can reach a file outside the root,
// whatever it spells (`..`, `%2e%2e`, `%2f`, a backslash, a NUL). A symbolic link is served only
// when its target lies inside the root; one that points out is left out. The dashboard is a few
// hundred KiB; rebuilding it takes a restart of the server to show.
//
// Answers: GET and HEAD only (405 with Allow otherwise); `/` is `/index.html`; an unknown name is
// 404. Each answer carries its Content-Type, `Cache-Control: no-cache` with an ETag (a rebuilt
// bundle shows at the next load; an unchanged one costs a 304), a Content-Security-Policy that
// allows this origin only (no CDN, no inline script), `X-Content-Type-Options: nosniff`,
// `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer`.
//
// Thread-safety: Serve is const and may run on many threads at once.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "aits/api/http_server.h"
#include "aits/core/status.h"

namespace aits::api {

class StaticFiles {
 public:
  // Bounds on what Open reads into memory: one file, and all of them together.
  static constexpr size_t kMaxFileBytes = 16u << 20;
  static constexpr size_t kMaxTotalBytes = 64u << 20;

  // Reads every file under `root`. InvalidArgument naming the root when it is no directory or
  // holds no index.html, naming the file when one is over the bounds; IoError naming a file that
  // cannot be read.
  static Result<StaticFiles> Open(const std::string& root);

  HttpResponse Serve(const HttpRequest& request) const;

  // The names served ("/index.html", "/app.js"), for the log line at start.
  size_t size() const { return files_.size(); }
  const std::string& root() const { return root_; }

  // The policy every answer carries (also used by tests).
  static constexpr std::string_view kContentSecurityPolicy =
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
      "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
      "form-action 'self'; frame-ancestors 'none'";

 private:
  struct File {
    std::string content;
    std::string content_type;
    std::string etag;
  };
  std::string root_;
  std::map<std::string, File, std::less<>> files_;  // by "/relative/path"
};

// True for the paths the API answers (`/api/...` and `/.well-known/...`); `aits api serve`
// gives every other path to the dashboard's files when it has them.
bool IsApiPath(std::string_view path);

// The handler of `aits api serve`: the API's paths to `api`; every other path to `files`, or to
// `api` when there are none (which answers it 404). `files` must outlive the handler.
HttpHandler WithDashboard(const StaticFiles* files, HttpHandler api);

// The MIME type of a file name, by its extension ("application/octet-stream" when unknown).
std::string_view ContentTypeOf(std::string_view name);

}  // namespace aits::api
