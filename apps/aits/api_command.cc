#include "api_command.h"

#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/api/alert_routes.h"
#include "aits/api/api_service.h"
#include "aits/api/auth_store.h"
#include "aits/api/backtest_routes.h"
#include "aits/api/http_server.h"
#include "aits/api/model_routes.h"
#include "aits/api/secrets.h"
#include "aits/api/session_jobs.h"
#include "aits/api/session_routes.h"
#include "aits/api/session_view.h"
#include "aits/api/static_files.h"
#include "aits/core/clock.h"
#include "aits/net/socket.h"
#include "cli.h"

namespace aits::app {
namespace {

struct ApiFlags {
  std::string auth = "aits-auth.db";
  std::string master_key;  // a file; else $AITS_MASTER_KEY
  bool json = false;
  bool quiet = false;
  bool no_progress = false;  // accepted for uniformity: nothing here is long enough for a bar
  bool fast_hash = false;    // tests: Argon2id's minimal cost
};

api::PasswordCost CostOf(const ApiFlags& f) {
  return f.fast_hash ? api::PasswordCost::kMinimal : api::PasswordCost::kInteractive;
}

Result<std::unique_ptr<api::AuthStore>> OpenStore(const ApiFlags& f) {
  AITS_ASSIGN_OR_RETURN(api::SecretBox box, api::SecretBox::Load(f.master_key, "AITS_MASTER_KEY"));
  if (!std::filesystem::exists(f.auth)) {
    return NotFound("auth store " + f.auth + " does not exist (aits api init --auth " + f.auth +
                    ")");
  }
  return api::AuthStore::Open(f.auth, std::move(box), CostOf(f));
}

// The password of a new user or a change: $AITS_PASSWORD, else a line of standard input (not
// echoed on a terminal). Never a flag: flags show in `ps` and shell histories.
Result<std::string> ReadPassword(const std::string& user) {
  if (const char* env = std::getenv("AITS_PASSWORD"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  const bool tty = isatty(STDIN_FILENO) != 0;
  termios saved{};
  if (tty) {
    std::fprintf(stderr, "password for %s: ", user.c_str());
    tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fprintf(stderr, "\n");
  }
  if (line.empty()) {
    return InvalidArgument("no password: give it on standard input or in $AITS_PASSWORD");
  }
  return line;
}

void Print(const ApiFlags& f, const nlohmann::json& json, const std::string& text) {
  if (f.json) {
    std::printf("%s\n", json.dump().c_str());
  } else if (!f.quiet) {
    std::printf("%s\n", text.c_str());
  }
}

void AddCommonFlags(CLI::App* cmd, ApiFlags* f) {
  cmd->add_option("--auth", f->auth, "The auth store: users, API keys, signing keys, audit")
      ->capture_default_str();
  cmd->add_option("--master-key", f->master_key,
                  "File with the master key (64 hex digits, mode 600) that seals the signing "
                  "keys; default $AITS_MASTER_KEY");
  cmd->add_flag("--json", f->json, "Print one JSON object");
  cmd->add_flag("--quiet", f->quiet, "Print nothing but errors");
  cmd->add_flag("--no-progress", f->no_progress, "Accepted for uniformity (no progress bars)");
  cmd->add_flag("--fast-hash", f->fast_hash,
                "Argon2id at its minimal cost (tests only: weak against a stolen store)")
      ->group("");
}

int Init(const ApiFlags& f) {
  if (!f.master_key.empty() && !std::filesystem::exists(f.master_key)) {
    // A new key file, readable by its owner only, written before anything is sealed with it.
    const mode_t old = ::umask(077);
    std::ofstream(f.master_key) << api::SecretBox::NewKeyText() << "\n";
    ::umask(old);
    if (!std::filesystem::exists(f.master_key)) {
      return Fail(IoError("master key file " + f.master_key + " cannot be written"));
    }
  }
  Result<api::SecretBox> box = api::SecretBox::Load(f.master_key, "AITS_MASTER_KEY");
  if (!box.ok()) {
    return Fail(box.status().WithContext(
        "aits api init needs a master key: --master-key FILE (made when missing) or "
        "$AITS_MASTER_KEY"));
  }
  auto store = api::AuthStore::Open(f.auth, std::move(box).value(), CostOf(f));
  if (!store.ok()) return Fail(store.status());
  const WallClock clock;
  if (Status s = (*store)->EnsureSigningKey(clock.Now()); !s.ok()) return Fail(s);
  auto ring = (*store)->LoadKeyRing();
  if (!ring.ok()) return Fail(ring.status());
  Print(f, {{"auth", f.auth}, {"signing_key", ring->signer().kid()}},
        "auth store " + f.auth + " ready; signing key " + ring->signer().kid());
  return 0;
}

Result<std::unique_ptr<api::AuthStore>> OpenServerStore(const ApiServerFlags& s) {
  ApiFlags f;
  f.auth = s.auth;
  f.master_key = s.master_key;
  f.fast_hash = s.fast_hash;
  return OpenStore(f);
}

// The dashboard's files: --web's directory; the build tree's bundle when it is there; none with
// --no-web or when neither is.
Result<std::optional<api::StaticFiles>> OpenDashboard(const ApiServerFlags& s) {
  if (s.no_web || s.web.empty() || (!s.web_given && !std::filesystem::exists(s.web))) {
    return std::optional<api::StaticFiles>();
  }
  AITS_ASSIGN_OR_RETURN(api::StaticFiles files, api::StaticFiles::Open(s.web));
  return std::optional<api::StaticFiles>(std::move(files));
}

}  // namespace

int RunApiServer(const ApiServerFlags& s, bool quiet, bool json,
                 const std::function<void(Status)>& ready) {
  auto store = OpenServerStore(s);
  if (!store.ok()) return Fail(store.status());
  auto ring = (*store)->LoadKeyRing();
  if (!ring.ok()) return Fail(ring.status());
  auto view = api::SessionView::Open(s.state);
  if (!view.ok()) return Fail(view.status().WithContext("--state"));
  api::StreamHub hub;
  (*view)->PublishTo(&hub);
  if (Status polled = (*view)->Poll(); !polled.ok()) return Fail(polled.WithContext("--state"));
  (*view)->Start();
  const WallClock clock;
  api::ApiOptions options;
  options.rate_per_minute = s.rate_limit;
  options.cors_origins = s.cors;
  // A client refreshes its token some time before the end (the dashboard: a minute); a life
  // shorter than that would have it refresh on every request.
  if (s.access_ttl_s < 60 || s.access_ttl_s > 24 * 3600) {
    return Fail(InvalidArgument("--access-ttl " + std::to_string(s.access_ttl_s) +
                                ": expected 60 to 86400 seconds"));
  }
  options.access_ttl = Duration::Seconds(s.access_ttl_s);
  // Before the service, which holds its routes: the routes must not outlive it.
  auto alerts = api::AlertBoard::Create(&hub);
  if (!alerts.ok()) return Fail(alerts.status());
  api::ApiService service(**store, std::move(ring).value(), clock, options);
  api::AddSessionRoutes(service, **view);
  auto catalog = std::make_unique<api::ModelCatalog>();
  if (!s.registry.empty()) {
    auto registry = ml::ModelRegistry::Open(s.registry, /*create=*/false);
    if (!registry.ok()) return Fail(registry.status().WithContext("--registry"));
    catalog = std::make_unique<api::ModelCatalog>(std::move(registry).value());
  }
  api::AddModelRoutes(service, *catalog);
  api::AddAlertRoutes(service, **alerts);
  std::unique_ptr<api::JobRunner> jobs;
  api::BacktestOptions backtests;
  if (!s.jobs.empty() && !s.data_dir.empty()) {
    std::error_code ec;
    backtests.aits = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec)
      return Fail(IoError("the aits binary cannot be found (/proc/self/exe): " + ec.message()));
    if (!std::filesystem::is_directory(s.data_dir)) {
      return Fail(NotFound("--data-dir " + s.data_dir + ": no such directory"));
    }
    backtests.data_dir = s.data_dir;
    backtests.registry = s.registry;
    api::JobRunnerOptions job_options;
    job_options.max_running = s.max_backtests;
    auto opened = api::JobRunner::Open(s.jobs, clock, job_options);
    if (!opened.ok()) return Fail(opened.status().WithContext("--jobs"));
    jobs = std::move(opened).value();
  } else if (!s.jobs.empty() || !s.data_dir.empty()) {
    return Fail(InvalidArgument("--jobs and --data-dir: backtests need both"));
  }
  api::AddBacktestRoutes(service, jobs.get(), backtests);
  std::unique_ptr<api::JobRunner> sessions;
  api::SessionJobOptions session_options;
  session_options.aits = backtests.aits.empty()
                             ? std::filesystem::read_symlink("/proc/self/exe").string()
                             : backtests.aits;
  session_options.data_dir = s.data_dir;
  session_options.registry = s.registry;
  if (!s.sessions.empty()) {
    api::JobRunnerOptions session_runner;
    session_runner.max_running = s.max_sessions;
    session_runner.max_queued = 0;
    // A session's directory holds its event log: never pruned by count.
    session_runner.max_kept = std::numeric_limits<size_t>::max();
    auto opened = api::JobRunner::Open(s.sessions, clock, session_runner);
    if (!opened.ok()) return Fail(opened.status().WithContext("--sessions"));
    sessions = std::move(opened).value();
  }
  api::SessionView* served = view->get();
  api::AddSessionJobRoutes(service, sessions.get(), session_options,
                           [served] { return served->Summary(); });
  Result<std::optional<api::StaticFiles>> dashboard = OpenDashboard(s);
  if (!dashboard.ok()) return Fail(dashboard.status().WithContext("--web"));
  Result<net::Endpoint> at = net::ParseEndpoint(s.listen);
  if (!at.ok()) return Fail(at.status().WithContext(s.listen_flag));
  api::HttpServerOptions http;
  http.host = at->host;
  http.port = at->port;
  http.threads = s.threads;
  http.certificate_file = s.tls_cert;
  http.private_key_file = s.tls_key;
  http.body_limit = s.body_limit;
  http.idle_timeout = Duration::Nanos(static_cast<int64_t>(s.idle_timeout_s * 1e9));
  http.max_connections_per_client = s.max_connections_per_client;
  auto server = api::HttpServer::Start(
      http,
      api::WithDashboard(dashboard->has_value() ? &**dashboard : nullptr,
                         [&service](const api::HttpRequest& r) { return service.Handle(r); }),
      api::MakeStreamHandler(service, hub));
  if (!server.ok()) return Fail(server.status());
  const std::string url = std::string((*server)->tls() ? "https" : "http") + "://" + at->host +
                          ":" + std::to_string((*server)->port());
  const nlohmann::json web =
      dashboard->has_value() ? nlohmann::json((*dashboard)->root()) : nlohmann::json(nullptr);
  // Ready before the line that says so: whoever reads it may ask /readyz at once.
  if (ready) ready(Status::Ok());
  ApiFlags out;
  out.quiet = quiet;
  out.json = json;
  Print(out,
        {{"listening", url},
         {"state", s.state},
         {"session", (*view)->Summary()["id"]},
         {"dashboard", web}},
        "aits api: " + url + "/api/v1 for session " + s.state +
            (dashboard->has_value() ? "; the dashboard at " + url + "/" : std::string()) +
            " (Ctrl-C stops)");
  std::fflush(stdout);
  while (!StopSignals::stopped()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (ready) ready(Unavailable("stopping"));
  (*server)->Stop();
  (*view)->Stop();
  const api::HttpServerStats stats = (*server)->stats();
  if (!quiet && !json) {
    std::fprintf(stderr, "aits api: stopped by signal after %llu requests on %llu connections\n",
                 static_cast<unsigned long long>(stats.requests),
                 static_cast<unsigned long long>(stats.connections_accepted));
  }
  return 0;
}

void AddApiServerFlags(CLI::App* cmd, ApiServerFlags* s, bool in_serve) {
  const std::string group = in_serve ? "The api role (docs/api.md)" : "Options";
#ifdef AITS_WEB_DIR
  s->web = AITS_WEB_DIR;
#endif
  if (in_serve) {
    // `aits serve` has its own --state, --registry, --json and --quiet; --listen and
    // --idle-timeout are the gateway's and the roles', so the api role's take a prefix.
    s->listen_flag = "--api-listen";
    cmd->add_option("--auth", s->auth, "The api role's auth store (aits api init)")
        ->capture_default_str()
        ->group(group);
    cmd->add_option("--master-key", s->master_key,
                    "File with the auth store's master key (mode 600); default $AITS_MASTER_KEY")
        ->group(group);
    cmd->add_flag("--fast-hash", s->fast_hash, "Argon2id at its minimal cost (tests only)")
        ->group("");
  } else {
    cmd->add_option("--state", s->state,
                    "The session: its state directory, events file or PostgreSQL location")
        ->required();
    cmd->add_option("--registry", s->registry,
                    "Model registry the models routes show: a directory or "
                    "postgresql://user@host:port/db (none: those routes answer 503)");
  }
  cmd->add_option("--jobs", s->jobs,
                  "Directory of the backtest jobs (with --data-dir; none: the backtest routes "
                  "answer 503)")
      ->group(group);
  cmd->add_option("--data-dir", s->data_dir,
                  "The only directory backtests may read data files from (by relative name)")
      ->group(group);
  cmd->add_option("--max-backtests", s->max_backtests, "Backtests running at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 16))
      ->group(group);
  cmd->add_option("--sessions", s->sessions,
                  "Directory of the paper sessions started through the API (none: starting "
                  "them answers 503)")
      ->group(group);
  cmd->add_option("--max-sessions", s->max_sessions, "Started sessions running at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 64))
      ->group(group);
  cmd->add_option(s->listen_flag, s->listen, "HOST:PORT to listen on (port 0: any free one)")
      ->capture_default_str()
      ->group(group);
  cmd->add_option("--tls-cert", s->tls_cert, "PEM certificate chain: serve TLS 1.3 only")
      ->group(group);
  cmd->add_option("--tls-key", s->tls_key, "PEM private key of --tls-cert")->group(group);
  cmd->add_option(in_serve ? "--api-threads" : "--threads", s->threads, "I/O threads")
      ->capture_default_str()
      ->group(group);
  cmd->add_option("--rate-limit", s->rate_limit, "Requests a minute per client")
      ->capture_default_str()
      ->group(group);
  cmd->add_option("--cors", s->cors, "Origins a browser may call from (repeat; * for any)")
      ->group(group);
  cmd->add_option("--body-limit", s->body_limit, "Largest request body, bytes")
      ->capture_default_str()
      ->group(group);
  cmd->add_option(in_serve ? "--api-idle-timeout" : "--idle-timeout", s->idle_timeout_s,
                  "Seconds a silent connection is kept")
      ->capture_default_str()
      ->group(group);
  cmd->add_option("--max-connections-per-client", s->max_connections_per_client,
                  "Open connections one address may hold")
      ->capture_default_str()
      ->group(group);
  cmd->add_option("--access-ttl", s->access_ttl_s, "Seconds an access token lives")
      ->capture_default_str()
      ->group(group);
  CLI::Option* web = cmd->add_option("--web", s->web,
                                     "The dashboard's built files, served at / (default: the "
                                     "build tree's, when it was built)")
                         ->capture_default_str()
                         ->group(group);
  web->each([s](const std::string&) { s->web_given = true; });
  cmd->add_flag("--no-web", s->no_web, "Serve the API only, no dashboard")
      ->excludes(web)
      ->group(group);
}

namespace {}  // namespace

void AddApiCommand(CLI::App& app) {
  CLI::App* api = app.add_subcommand(
      "api", "The REST API: its users, API keys and signing keys, and its server (docs/api.md)");
  api->require_subcommand(1);
  auto flags = std::make_shared<ApiFlags>();

  CLI::App* init = api->add_subcommand(
      "init", "Create the auth store and its first signing key (and the master key file)");
  AddCommonFlags(init, flags.get());
  init->callback([flags] { ExitOnFailure(Init(*flags)); });

  CLI::App* user = api->add_subcommand("user", "Add, list, change or disable users");
  user->require_subcommand(1);
  auto name = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>("viewer");
  CLI::App* add =
      user->add_subcommand("add", "Add a user; the password from $AITS_PASSWORD or standard input");
  AddCommonFlags(add, flags.get());
  add->add_option("name", *name, "User name")->required();
  add->add_option("--role", *role, "viewer, trader or admin")->capture_default_str();
  add->callback([flags, name, role] {
    auto store = OpenStore(*flags);
    if (!store.ok()) ExitOnFailure(Fail(store.status()));
    auto r = api::ParseRole(*role);
    if (!r.ok()) ExitOnFailure(Fail(r.status().WithContext("--role")));
    auto password = ReadPassword(*name);
    if (!password.ok()) ExitOnFailure(Fail(password.status()));
    const WallClock clock;
    if (Status s = (*store)->AddUser(*name, *r, *password, clock.Now()); !s.ok()) {
      ExitOnFailure(Fail(s));
    }
    Print(*flags, {{"user", *name}, {"role", *role}}, "user " + *name + " added (" + *role + ")");
  });
  CLI::App* list = user->add_subcommand("list", "List the users");
  AddCommonFlags(list, flags.get());
  list->callback([flags] {
    auto store = OpenStore(*flags);
    if (!store.ok()) ExitOnFailure(Fail(store.status()));
    auto users = (*store)->Users();
    if (!users.ok()) ExitOnFailure(Fail(users.status()));
    nlohmann::json items = nlohmann::json::array();
    std::string text;
    for (const api::UserRecord& u : *users) {
      items.push_back({{"name", u.name},
                       {"role", api::RoleName(u.role)},
                       {"created", FormatIso8601(u.created)},
                       {"disabled", u.disabled}});
      text += u.name + "  " + std::string(api::RoleName(u.role)) +
              (u.disabled ? "  (disabled)" : "") + "\n";
    }
    Print(*flags, {{"users", items}}, text.empty() ? "no users" : text.substr(0, text.size() - 1));
  });
  const auto change = [&](const char* verb, const char* help,
                          std::function<Status(api::AuthStore&, const std::string&)> act) {
    // One user named, one store call.
    CLI::App* cmd = user->add_subcommand(verb, help);
    AddCommonFlags(cmd, flags.get());
    auto target = std::make_shared<std::string>();
    cmd->add_option("name", *target, "User name")->required();
    cmd->callback([flags, target, act, verb] {
      auto store = OpenStore(*flags);
      if (!store.ok()) ExitOnFailure(Fail(store.status()));
      if (Status s = act(**store, *target); !s.ok()) ExitOnFailure(Fail(s));
      Print(*flags, {{"user", *target}, {"done", verb}}, std::string(verb) + ": " + *target);
    });
    return cmd;
  };
  CLI::App* set_role = user->add_subcommand("role", "Change a user's role");
  AddCommonFlags(set_role, flags.get());
  auto role_user = std::make_shared<std::string>();
  auto new_role = std::make_shared<std::string>();
  set_role->add_option("name", *role_user, "User name")->required();
  set_role->add_option("--to", *new_role, "viewer, trader or admin")->required();
  set_role->callback([flags, role_user, new_role] {
    auto store = OpenStore(*flags);
    if (!store.ok()) ExitOnFailure(Fail(store.status()));
    auto r = api::ParseRole(*new_role);
    if (!r.ok()) ExitOnFailure(Fail(r.status().WithContext("--to")));
    if (Status s = (*store)->SetUserRole(*role_user, *r); !s.ok()) ExitOnFailure(Fail(s));
    Print(*flags, {{"user", *role_user}, {"role", *new_role}},
          "user " + *role_user + " is " + *new_role);
  });
  change("disable", "Disable a user and end their refresh tokens",
         [](api::AuthStore& store, const std::string& who) {
           AITS_RETURN_IF_ERROR(store.SetUserDisabled(who, true));
           return store.RevokeRefreshTokens(who);
         });
  change("enable", "Enable a disabled user", [](api::AuthStore& store, const std::string& who) {
    return store.SetUserDisabled(who, false);
  });
  change("passwd", "Set a user's password ($AITS_PASSWORD or standard input)",
         [](api::AuthStore& store, const std::string& who) {
           AITS_ASSIGN_OR_RETURN(const std::string password, ReadPassword(who));
           AITS_RETURN_IF_ERROR(store.SetPassword(who, password));
           return store.RevokeRefreshTokens(who);
         });

  CLI::App* key = api->add_subcommand("key", "API keys for programs: create, list, revoke");
  key->require_subcommand(1);
  CLI::App* create = key->add_subcommand("create", "Create a key; its secret is shown once");
  AddCommonFlags(create, flags.get());
  auto key_name = std::make_shared<std::string>();
  auto key_role = std::make_shared<std::string>("viewer");
  create->add_option("name", *key_name, "What the key is for")->required();
  create
      ->add_option("--role", *key_role,
                   "viewer, trader, admin, or notifier (posts alerts, nothing else)")
      ->capture_default_str();
  create->callback([flags, key_name, key_role] {
    auto store = OpenStore(*flags);
    if (!store.ok()) ExitOnFailure(Fail(store.status()));
    auto r = api::ParseRole(*key_role);
    if (!r.ok()) ExitOnFailure(Fail(r.status().WithContext("--role")));
    const WallClock clock;
    auto made = (*store)->CreateApiKey(*key_name, *r, clock.Now());
    if (!made.ok()) ExitOnFailure(Fail(made.status()));
    Print(*flags, {{"id", made->first.id}, {"role", *key_role}, {"secret", made->second}},
          "API key " + made->first.id + " (" + *key_role + "): " + made->second +
              "\n(shown once: only its hash is kept)");
  });
  CLI::App* keys = key->add_subcommand("list", "List the keys (never their secrets)");
  AddCommonFlags(keys, flags.get());
  keys->callback([flags] {
    auto store = OpenStore(*flags);
    if (!store.ok()) ExitOnFailure(Fail(store.status()));
    auto all = (*store)->ApiKeys();
    if (!all.ok()) ExitOnFailure(Fail(all.status()));
    nlohmann::json items = nlohmann::json::array();
    std::string text;
    for (const api::ApiKeyRecord& k : *all) {
      items.push_back({{"id", k.id},
                       {"name", k.name},
                       {"role", api::RoleName(k.role)},
                       {"created", FormatIso8601(k.created)},
                       {"revoked", k.revoked}});
      text += k.id + "  " + std::string(api::RoleName(k.role)) + "  " + k.name +
              (k.revoked ? "  (revoked)" : "") + "\n";
    }
    Print(*flags, {{"keys", items}}, text.empty() ? "no keys" : text.substr(0, text.size() - 1));
  });
  CLI::App* revoke = key->add_subcommand("revoke", "Revoke a key at once");
  AddCommonFlags(revoke, flags.get());
  auto key_id = std::make_shared<std::string>();
  revoke->add_option("id", *key_id, "The key's id (ak_...)")->required();
  revoke->callback([flags, key_id] {
    auto store = OpenStore(*flags);
    if (!store.ok()) ExitOnFailure(Fail(store.status()));
    if (Status s = (*store)->RevokeApiKey(*key_id); !s.ok()) ExitOnFailure(Fail(s));
    Print(*flags, {{"revoked", *key_id}}, "API key " + *key_id + " revoked");
  });

  CLI::App* rotate = api->add_subcommand(
      "rotate-key", "Sign new tokens with a new key; retire keys older than --keep");
  AddCommonFlags(rotate, flags.get());
  auto keep_hours = std::make_shared<double>(24);
  rotate
      ->add_option("--keep-hours", *keep_hours,
                   "Keys younger than this still verify (longer than a refresh token's life "
                   "keeps logins alive)")
      ->capture_default_str();
  rotate->callback([flags, keep_hours] {
    auto store = OpenStore(*flags);
    if (!store.ok()) ExitOnFailure(Fail(store.status()));
    const WallClock clock;
    auto kid = (*store)->RotateSigningKey(
        clock.Now(), Duration::Nanos(static_cast<int64_t>(*keep_hours * 3600e9)));
    if (!kid.ok()) ExitOnFailure(Fail(kid.status()));
    Print(*flags, {{"signing_key", *kid}},
          "new signing key " + *kid + "; restart the API to use it");
  });

  CLI::App* serve = api->add_subcommand(
      "serve",
      "Serve the REST API over a session's log: account, positions, orders, trades, decisions, "
      "risk, market data and operator commands");
  AddCommonFlags(serve, flags.get());
  auto s = std::make_shared<ApiServerFlags>();
  AddApiServerFlags(serve, s.get(), /*in_serve=*/false);
  serve->callback([flags, s] {
    s->auth = flags->auth;
    s->master_key = flags->master_key;
    s->fast_hash = flags->fast_hash;
    const StopSignals signals;
    ExitOnFailure(RunApiServer(*s, flags->quiet, flags->json, {}));
  });
}

}  // namespace aits::app
