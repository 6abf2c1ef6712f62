#include "secret_command.h"

#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "aits/api/secrets.h"
#include "cli.h"

namespace aits::app {
namespace {

struct SecretFlags {
  std::string in = "-";
  std::string out = "-";
  std::string master_key;
  bool json = false;
  bool quiet = false;
  bool no_progress = false;
};

// Seals or opens `in` into `out`. A file is written to OUT.partial and renamed only when whole,
// so that a refused input (another key, changed or cut bytes) leaves no partial plaintext.
int Run(const SecretFlags& f, bool seal) {
  Result<api::SecretBox> box = api::SecretBox::Load(f.master_key, "AITS_MASTER_KEY");
  if (!box.ok()) return Fail(box.status().WithContext("--master-key"));
  std::ifstream file_in;
  if (f.in != "-") {
    file_in.open(f.in, std::ios::binary);
    if (!file_in) return Fail(NotFound("--in " + f.in + " cannot be read"));
  }
  std::istream& in = f.in == "-" ? std::cin : file_in;
  const std::string partial = f.out + ".partial";
  std::ofstream file_out;
  if (f.out != "-") {
    // Private from its first byte: made under umask 077, not narrowed after it is open.
    const mode_t old_mask = ::umask(077);
    std::filesystem::remove(partial);
    file_out.open(partial, std::ios::binary | std::ios::trunc);
    ::umask(old_mask);
    if (!file_out) return Fail(IoError("--out " + partial + " cannot be written"));
  }
  std::ostream& out = f.out == "-" ? std::cout : file_out;
  const std::string what = f.in == "-" ? "standard input" : f.in;
  const Status done = seal ? box->SealStream(in, out) : box->OpenStream(in, out, what);
  if (!done.ok()) {
    if (f.out != "-") std::filesystem::remove(partial);
    return Fail(done);
  }
  if (f.out != "-") {
    file_out.close();
    std::error_code ec;
    std::filesystem::rename(partial, f.out, ec);
    if (ec) return Fail(IoError("--out " + f.out + " cannot be written: " + ec.message()));
    const auto bytes = std::filesystem::file_size(f.out);
    if (f.json) {
      std::printf(
          "%s\n",
          nlohmann::json{{seal ? "sealed" : "opened", f.out}, {"bytes", bytes}}.dump().c_str());
    } else if (!f.quiet) {
      std::fprintf(stderr, "aits secret: %s %s (%llu bytes)\n", seal ? "sealed" : "opened",
                   f.out.c_str(), static_cast<unsigned long long>(bytes));
    }
  }
  return 0;
}

void AddFlags(CLI::App* cmd, SecretFlags* f) {
  cmd->add_option("--in", f->in, "The file to read (- for standard input)")->capture_default_str();
  cmd->add_option("--out", f->out, "The file to write, mode 600 (- for standard output)")
      ->capture_default_str();
  cmd->add_option("--master-key", f->master_key,
                  "File with the master key (64 hex digits, mode 600; aits api init makes one); "
                  "default $AITS_MASTER_KEY");
  cmd->add_flag("--json", f->json, "Print one JSON object");
  cmd->add_flag("--quiet", f->quiet, "Print nothing but errors");
  cmd->add_flag("--no-progress", f->no_progress, "Accepted for uniformity (no progress bars)");
}

}  // namespace

void AddSecretCommand(CLI::App& app) {
  CLI::App* secret = app.add_subcommand(
      "secret",
      "Files encrypted at rest under the master key: backups, the EA's secret (docs/api.md, "
      "\"Secrets at rest\")");
  secret->require_subcommand(1);
  auto flags = std::make_shared<SecretFlags>();
  CLI::App* seal = secret->add_subcommand(
      "seal",
      "Encrypt a file (XChaCha20-Poly1305 in authenticated 64 KiB chunks).\n"
      "Example: deploy/backup-postgres.sh URI db.dump && aits secret seal --in db.dump --out "
      "db.dump.sealed --master-key /etc/aits/master.key");
  AddFlags(seal, flags.get());
  seal->callback([flags] { ExitOnFailure(Run(*flags, true)); });
  CLI::App* unseal = secret->add_subcommand(
      "unseal", "Decrypt a sealed file; another key, a changed or a cut file is refused whole");
  AddFlags(unseal, flags.get());
  unseal->callback([flags] { ExitOnFailure(Run(*flags, false)); });
}

}  // namespace aits::app
