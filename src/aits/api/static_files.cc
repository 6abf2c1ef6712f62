#include "aits/api/static_files.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "aits/api/api_service.h"
#include "aits/core/hash.h"

namespace aits::api {

namespace fs = std::filesystem;

namespace {

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Inside `root` (both canonical): root itself or below it.
bool Within(const fs::path& root, const fs::path& path) {
  return std::mismatch(root.begin(), root.end(), path.begin(), path.end()).first == root.end();
}

HttpResponse Plain(int status, std::string_view message) {
  // The refusals carry the API's error body, so a client reads every 4xx the same way.
  return ErrorResponse(status, status == 404 ? "not_found" : "method_not_allowed", message);
}

void AddSecurityHeaders(HttpResponse& r) {
  r.headers.emplace_back("Content-Security-Policy",
                         std::string(StaticFiles::kContentSecurityPolicy));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
}

}  // namespace

bool IsApiPath(std::string_view path) {
  return path == "/api" || path.rfind("/api/", 0) == 0 || path.rfind("/.well-known/", 0) == 0;
}

HttpHandler WithDashboard(const StaticFiles* files, HttpHandler api) {
  return [files, api = std::move(api)](const HttpRequest& request) {
    return files == nullptr || IsApiPath(request.path) ? api(request) : files->Serve(request);
  };
}

std::string_view ContentTypeOf(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"}};
  for (const auto& [extension, type] : kTypes) {
    if (EndsWith(name, extension)) return type;
  }
  return "application/octet-stream";
}

Result<StaticFiles> StaticFiles::Open(const std::string& root) {
  std::error_code ec;
  const fs::path canonical_root = fs::canonical(root, ec);
  if (ec || !fs::is_directory(canonical_root)) {
    return InvalidArgument("web root " + root + ": not a directory" +
                           (ec ? " (" + ec.message() + ")" : std::string()));
  }
  StaticFiles out;
  out.root_ = canonical_root.string();
  size_t total = 0;
  for (fs::recursive_directory_iterator it(canonical_root, ec), end; !ec && it != end;
       it.increment(ec)) {
    const fs::path& path = it->path();
    // A link is followed only to a target inside the root: a link that points out (planted or
    // careless) must not publish what it points at.
    const fs::path target = fs::canonical(path, ec);
    if (ec) {
      ec.clear();  // a dangling link: nothing to serve
      continue;
    }
    if (!Within(canonical_root, target) || !fs::is_regular_file(target)) continue;
    const uintmax_t bytes = fs::file_size(target, ec);
    if (ec) return IoError("web root: " + path.string() + ": " + ec.message());
    if (bytes > kMaxFileBytes) {
      return InvalidArgument("web root: " + path.string() + " has " + std::to_string(bytes) +
                             " bytes, more than the " + std::to_string(kMaxFileBytes) +
                             " a dashboard file may have");
    }
    total += bytes;
    if (total > kMaxTotalBytes) {
      return InvalidArgument("web root " + root + ": more than " + std::to_string(kMaxTotalBytes) +
                             " bytes of files (is it the dashboard's build directory?)");
    }
    std::ifstream in(target, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    if (!in.good() && !in.eof()) return IoError("web root: " + path.string() + " cannot be read");
    File file;
    file.content = std::move(content).str();
    file.content_type = std::string(ContentTypeOf(path.filename().string()));
    char etag[24];
    std::snprintf(etag, sizeof etag, "\"%016llx\"",
                  static_cast<unsigned long long>(Fnv1a64(file.content)));
    file.etag = etag;
    // Lexically: fs::relative would resolve a link to its target's name.
    out.files_.emplace("/" + path.lexically_relative(canonical_root).generic_string(),
                       std::move(file));
  }
  if (ec) return IoError("web root " + root + ": " + ec.message());
  if (!out.files_.contains("/index.html")) {
    return InvalidArgument("web root " + root +
                           ": no index.html (build the dashboard: cmake --build --preset release "
                           "--target web)");
  }
  return out;
}

HttpResponse StaticFiles::Serve(const HttpRequest& request) const {
  HttpResponse r;
  if (request.method != "GET" && request.method != "HEAD") {
    r = Plain(405, request.method.substr(0, 20) + " is not allowed here; GET, HEAD is");
    r.headers.emplace_back("Allow", "GET, HEAD");
    AddSecurityHeaders(r);
    return r;
  }
  const std::optional<std::string> decoded = PercentDecode(request.path, false);
  // Names are looked up, never joined to the root: anything not among them is 404, and the
  // message does not echo what was asked (it may be an attack's payload).
  const File* file = nullptr;
  if (decoded) {
    const auto it = files_.find(*decoded == "/" ? std::string_view("/index.html") : *decoded);
    if (it != files_.end()) file = &it->second;
  }
  if (file == nullptr) {
    r = Plain(404, "no such file in the dashboard");
    AddSecurityHeaders(r);
    return r;
  }
  r.content_type = file->content_type;
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("ETag", file->etag);
  AddSecurityHeaders(r);
  if (request.Header("if-none-match") == file->etag) {
    r.status = 304;
  } else if (request.method == "GET") {
    r.body = file->content;
  }
  return r;
}

}  // namespace aits::api
