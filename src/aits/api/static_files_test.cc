#include "aits/api/static_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>

namespace aits::api {
namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view kSecret = "TOP-SECRET-OUTSIDE-THE-ROOT";

// A throwaway tree: <dir>/web is the root (index.html, app.js, css/site.css, a link inside and a
// link out), <dir>/secret.txt lies beside it, outside.
class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("aits_static_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    root_ = dir_ / "web";
    fs::create_directories(root_ / "css");
    Write(root_ / "index.html", "<!doctype html><title>AITS</title>");
    Write(root_ / "app.js", "console.log('aits');");
    Write(root_ / "css" / "site.css", "body{margin:0}");
    Write(dir_ / "secret.txt", std::string(kSecret));
    fs::create_symlink(dir_ / "secret.txt", root_ / "leak.txt");
    fs::create_symlink(root_ / "app.js", root_ / "alias.js");
    fs::create_directory_symlink(dir_, root_ / "up");
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void Write(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }

  StaticFiles Open() {
    Result<StaticFiles> files = StaticFiles::Open(root_.string());
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    return files.ok() ? std::move(files).value() : StaticFiles{};
  }

  static HttpRequest Request(std::string method, std::string path) {
    HttpRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    return r;
  }

  static std::string HeaderOf(const HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  fs::path dir_;
  fs::path root_;
};

TEST_F(StaticFilesTest, ServesIndexAtRootWithTypeCachingAndSecurityHeaders) {
  const StaticFiles files = Open();
  for (const char* path : {"/", "/index.html"}) {
    const HttpResponse r = files.Serve(Request("GET", path));
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, "<!doctype html><title>AITS</title>") << path;
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-cache");
    EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(HeaderOf(r, "X-Frame-Options"), "DENY");
    const std::string csp = HeaderOf(r, "Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("script-src 'self';"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("http"), std::string::npos) << "no outside origin: " << csp;
  }
}

TEST_F(StaticFilesTest, AssetsCarryTheirTypes) {
  const StaticFiles files = Open();
  HttpResponse js = files.Serve(Request("GET", "/app.js"));
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js.body, "console.log('aits');");
  HttpResponse css = files.Serve(Request("GET", "/css/site.css"));
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.content_type, "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeOf("a.json"), "application/json");
  EXPECT_EQ(ContentTypeOf("a.woff2"), "font/woff2");
  EXPECT_EQ(ContentTypeOf("a.exe"), "application/octet-stream");
  EXPECT_EQ(ContentTypeOf("html"), "application/octet-stream");
}

TEST_F(StaticFilesTest, EtagRevalidatesWith304AndHeadHasNoBody) {
  const StaticFiles files = Open();
  const HttpResponse first = files.Serve(Request("GET", "/app.js"));
  const std::string etag = HeaderOf(first, "ETag");
  ASSERT_EQ(etag.size(), 18u) << etag;
  HttpRequest again = Request("GET", "/app.js");
  again.headers.emplace_back("if-none-match", etag);
  const HttpResponse not_modified = files.Serve(again);
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_TRUE(not_modified.body.empty());
  HttpRequest stale = Request("GET", "/app.js");
  stale.headers.emplace_back("if-none-match", "\"0000000000000000\"");
  EXPECT_EQ(files.Serve(stale).status, 200);
  EXPECT_NE(HeaderOf(files.Serve(Request("GET", "/index.html")), "ETag"), etag);

  const HttpResponse head = files.Serve(Request("HEAD", "/app.js"));
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.content_type, "text/javascript; charset=utf-8");
}

TEST_F(StaticFilesTest, OnlyGetAndHead) {
  const StaticFiles files = Open();
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"}) {
    const HttpResponse r = files.Serve(Request(method, "/index.html"));
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(HeaderOf(r, "Allow"), "GET, HEAD") << method;
    EXPECT_EQ(r.body.find("AITS</title>"), std::string::npos) << method;
  }
}

TEST_F(StaticFilesTest, TraversalInEveryEncodingIs404) {
  const StaticFiles files = Open();
  const std::string absolute = (dir_ / "secret.txt").string();
  for (const std::string& path : {std::string("/../secret.txt"),
                                  std::string("/%2e%2e/secret.txt"),
                                  std::string("/%2E%2E/secret.txt"),
                                  std::string("/..%2fsecret.txt"),
                                  std::string("/%2e%2e%2fsecret.txt"),
                                  std::string("/css/../../secret.txt"),
                                  std::string("/css/%2e%2e/%2e%2e/secret.txt"),
                                  std::string("/..\\secret.txt"),
                                  std::string("/%5c..%5csecret.txt"),
                                  std::string("/%252e%252e/secret.txt"),
                                  std::string("//secret.txt"),
                                  std::string("/./index.html/../../secret.txt"),
                                  std::string("/index.html%00"),
                                  std::string("/%00/../secret.txt"),
                                  std::string("/%"),
                                  std::string("/%zz"),
                                  absolute,
                                  "/" + absolute,
                                  std::string("/leak.txt"),
                                  std::string("/up/secret.txt"),
                                  std::string("/up/web/index.html"),
                                  std::string("/css"),
                                  std::string("/css/"),
                                  std::string("/etc/passwd")}) {
    const HttpResponse r = files.Serve(Request("GET", path));
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.body.find(kSecret), std::string::npos) << path;
    EXPECT_EQ(HeaderOf(r, "X-Content-Type-Options"), "nosniff") << path;
  }
  // A link whose target stays inside the root is served.
  const HttpResponse alias = files.Serve(Request("GET", "/alias.js"));
  EXPECT_EQ(alias.status, 200);
  EXPECT_EQ(alias.body, "console.log('aits');");
  EXPECT_EQ(files.size(), 4u) << "index.html, app.js, alias.js, css/site.css";
}

TEST_F(StaticFilesTest, OpenRefusesWhatIsNoDashboard) {
  Result<StaticFiles> missing = StaticFiles::Open((dir_ / "nope").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
  Result<StaticFiles> file = StaticFiles::Open((dir_ / "secret.txt").string());
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("not a directory"), std::string::npos);
  fs::remove(root_ / "index.html");
  Result<StaticFiles> no_index = StaticFiles::Open(root_.string());
  ASSERT_FALSE(no_index.ok());
  EXPECT_NE(no_index.status().message().find("no index.html"), std::string::npos)
      << no_index.status().ToString();
}

TEST(StaticFilesRouting, ApiPathsGoToTheApi) {
  EXPECT_TRUE(IsApiPath("/api/v1/health"));
  EXPECT_TRUE(IsApiPath("/api"));
  EXPECT_TRUE(IsApiPath("/.well-known/jwks.json"));
  EXPECT_FALSE(IsApiPath("/"));
  EXPECT_FALSE(IsApiPath("/apiary.js"));
  EXPECT_FALSE(IsApiPath("/index.html"));
}

// Over a real server: raw request targets, as a client may send them unnormalised, and a HEAD
// on a kept-alive connection that must not leave a body behind for the next answer to trip on.
TEST_F(StaticFilesTest, OverARealServer) {
  const StaticFiles files = Open();
  const HttpHandler api = [](const HttpRequest& r) {
    HttpResponse out;
    out.body = "{\"api\":\"" + r.path + "\"}";
    return out;
  };
  HttpServerOptions options;
  Result<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(options, WithDashboard(&files, api));
  ASSERT_TRUE(server.ok()) << server.status().ToString();

  asio::io_context io;
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), (*server)->port()));
  beast::flat_buffer buffer;
  const auto send = [&](const std::string& method, const std::string& target) {
    const std::string raw = method + " " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
    asio::write(socket, asio::buffer(raw));
    http::response_parser<http::string_body> parser;
    parser.skip(method == "HEAD");
    beast::error_code ec;
    http::read(socket, buffer, parser, ec);
    EXPECT_FALSE(ec) << target << ": " << ec.message();
    return parser.release();
  };
  auto index = send("GET", "/");
  EXPECT_EQ(index.result_int(), 200);
  EXPECT_EQ(index.body(), "<!doctype html><title>AITS</title>");
  EXPECT_EQ(index[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(index["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(send("HEAD", "/app.js").result_int(), 200);
  EXPECT_EQ(send("GET", "/app.js").body(), "console.log('aits');");
  for (const char* target : {"/../secret.txt", "/%2e%2e/secret.txt", "/..%2f..%2fsecret.txt",
                             "/css/../../secret.txt", "/leak.txt"}) {
    auto r = send("GET", target);
    EXPECT_EQ(r.result_int(), 404) << target;
    EXPECT_EQ(r.body().find(kSecret), std::string::npos) << target;
  }
  EXPECT_EQ(send("GET", "/api/v1/health").body(), "{\"api\":\"/api/v1/health\"}");
  EXPECT_EQ(send("GET", "/.well-known/jwks.json").body(), "{\"api\":\"/.well-known/jwks.json\"}");
  EXPECT_EQ(send("POST", "/index.html").result_int(), 405);

  // Without a dashboard every path is the API's (which answers unknown ones 404 itself).
  const HttpHandler bare = WithDashboard(nullptr, api);
  EXPECT_EQ(bare(Request("GET", "/index.html")).body, "{\"api\":\"/index.html\"}");
  (*server)->Stop();
}

}  // namespace
}  // namespace aits::api
