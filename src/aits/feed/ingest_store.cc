#include "aits/feed/ingest_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "aits/core/text.h"
#include "aits/core/time.h"
#include "aits/data/tick_store.h"

namespace aits::feed {
namespace {

constexpr char kStateName[] = "ingest.state";
constexpr char kCsvHeader[] = "timestamp,bid,ask,bid_volume,ask_volume\n";
constexpr size_t kStoreHeaderBytes = 128;  // data/tick_store.h
constexpr size_t kStoreRecordBytes = 32;
constexpr size_t kMaxFileSymbol = 31;  // the tick store's header holds at most 31 characters
constexpr int kUnresolved = -2;
constexpr int kRefused = -1;

// A name that is safe as a file name in the directory: no separators, no "..", no hidden files.
bool FileSafe(const std::string& name) {
  if (name.empty() || name.size() > kMaxFileSymbol || name[0] == '.') return false;
  for (const char ch : name) {
    const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t done = ::write(fd, bytes.data(), bytes.size());
    if (done < 0) {
      if (errno == EINTR) continue;
      return IoError(path + ": write failed: " + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<size_t>(done));
  }
  return Status::Ok();
}

std::string FormatVolume(float volume) {
  char buffer[32];
  const auto done = std::to_chars(buffer, buffer + sizeof(buffer), volume);
  return std::string(buffer, done.ptr);
}

}  // namespace

std::string_view ToString(IngestFormat format) {
  return format == IngestFormat::kBinary ? "bin" : "csv";
}

struct IngestStore::Symbol {
  std::string name;
  int digits = 5;
  uint64_t records = 0;  // committed
  uint64_t bytes = 0;    // committed size of the file
  int64_t last_ns = 0;   // the watermark (valid when records > 0)
  uint64_t last_sequence = 0;
  uint64_t stored = 0;
  uint64_t stale = 0;
  std::unique_ptr<data::TickStoreAppender> store;  // kBinary
  int fd = -1;                                     // kCsv
  std::vector<Tick> pending;                       // this commit's ticks
  std::vector<uint64_t> pending_sequences;

  ~Symbol() {
    if (fd >= 0) ::close(fd);
  }
  bool After(int64_t ns, uint64_t sequence) const {
    return records == 0 || ns > last_ns || (ns == last_ns && sequence > last_sequence);
  }
};

IngestStore::IngestStore(std::string dir, IngestFormat format, bool sync)
    : dir_(std::move(dir)), format_(format), sync_(sync) {}

IngestStore::~IngestStore() = default;

std::string IngestStore::path_of(const std::string& symbol) const {
  return dir_ + "/" + symbol + (format_ == IngestFormat::kBinary ? ".bin" : ".csv");
}

Result<std::unique_ptr<IngestStore>> IngestStore::Open(const std::string& dir, IngestFormat format,
                                                       bool sync) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return IoError(dir + ": cannot create the directory: " + error.message());
  auto store = std::unique_ptr<IngestStore>(new IngestStore(dir, format, sync));
  AITS_RETURN_IF_ERROR(store->LoadState());
  return store;
}

Status IngestStore::LoadState() {
  const std::string path = dir_ + "/" + kStateName;
  std::ifstream in(path);
  if (!in) {
    if (std::filesystem::exists(path)) return IoError(path + ": cannot be read");
    return Status::Ok();
  }
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (Trim(line).empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, format, records, bytes, digits, last_ns, last_sequence, extra;
    fields >> name >> format >> records >> bytes >> digits >> last_ns >> last_sequence;
    const std::string where = path + " line " + std::to_string(line_number);
    if (last_sequence.empty() || (fields >> extra)) {
      return InvalidArgument(where + ": expected 7 fields (SYMBOL FORMAT RECORDS BYTES DIGITS " +
                             "LAST_NS LAST_SEQUENCE), got '" + line + "'");
    }
    if (!FileSafe(name)) {
      return InvalidArgument(where + " field 'symbol' value '" + name + "': not a file name");
    }
    if (format != ToString(format_)) {
      return InvalidArgument(where + " field 'format' value '" + format + "': this directory " +
                             "holds " + format + " files; give --format " + format);
    }
    auto symbol = std::make_unique<Symbol>();
    symbol->name = name;
    const std::pair<const char*, const std::string*> numbers[] = {
        {"records", &records},
        {"bytes", &bytes},
        {"digits", &digits},
        {"last_ns", &last_ns},
        {"last_sequence", &last_sequence}};
    int64_t values[5] = {};
    for (size_t idx = 0; idx < 5; ++idx) {
      const auto value = ParseInt(*numbers[idx].second);
      if (!value || *value < 0) {
        return InvalidArgument(where + " field '" + numbers[idx].first + "' value '" +
                               *numbers[idx].second + "': not a count");
      }
      values[idx] = *value;
    }
    symbol->records = static_cast<uint64_t>(values[0]);
    symbol->bytes = static_cast<uint64_t>(values[1]);
    symbol->digits = static_cast<int>(values[2]);
    symbol->last_ns = values[3];
    symbol->last_sequence = static_cast<uint64_t>(values[4]);
    const std::string file = path_of(name);
    if (format_ == IngestFormat::kBinary) {
      AITS_ASSIGN_OR_RETURN(symbol->store, data::TickStoreAppender::Open(file, name, symbol->digits,
                                                                         nullptr, symbol->records));
    } else {
      symbol->fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
      if (symbol->fd < 0) return IoError(file + ": cannot open: " + std::strerror(errno));
      struct stat st {};
      if (::fstat(symbol->fd, &st) != 0) return IoError(file + ": cannot stat");
      if (static_cast<uint64_t>(st.st_size) < symbol->bytes) {
        return DataLoss(file + ": " + std::to_string(st.st_size) + " bytes, but " + path +
                        " says " + std::to_string(symbol->bytes) + " were committed");
      }
      if (::ftruncate(symbol->fd, static_cast<off_t>(symbol->bytes)) != 0 ||
          ::lseek(symbol->fd, 0, SEEK_END) < 0) {
        return IoError(file + ": cannot cut back to its committed size: " + std::strerror(errno));
      }
    }
    symbols_.push_back(std::move(symbol));
  }
  return Status::Ok();
}

Status IngestStore::WriteState() {
  const std::string path = dir_ + "/" + kStateName;
  const std::string temp = path + ".tmp";
  std::string text = "# aits ingest: SYMBOL FORMAT RECORDS BYTES DIGITS LAST_NS LAST_SEQUENCE\n";
  for (const auto& symbol : symbols_) {
    text += symbol->name + " " + std::string(ToString(format_)) + " " +
            std::to_string(symbol->records) + " " + std::to_string(symbol->bytes) + " " +
            std::to_string(symbol->digits) + " " + std::to_string(symbol->last_ns) + " " +
            std::to_string(symbol->last_sequence) + "\n";
  }
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError(temp + ": cannot create: " + std::strerror(errno));
  Status written = WriteAll(fd, text, temp);
  if (written.ok() && sync_ && ::fsync(fd) != 0) written = IoError(temp + ": fsync failed");
  ::close(fd);
  AITS_RETURN_IF_ERROR(written);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return IoError(path + ": cannot rename " + temp + " over it: " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<int> IngestStore::Find(const std::string& name, int digits) {
  if (!FileSafe(name)) {
    stats_.last_refusal =
        "symbol '" + name + "': not a file name (1..31 of A-Z a-z 0-9 . _ -, not starting with .)";
    return kRefused;
  }
  for (size_t idx = 0; idx < symbols_.size(); ++idx) {
    const Symbol* symbol = symbols_[idx].get();
    if (symbol->name != name) continue;
    if (symbol->digits != digits) {
      return InvalidArgument(path_of(name) + ": holds " + name + " with " +
                             std::to_string(symbol->digits) + " digits, the collector sends " +
                             std::to_string(digits));
    }
    return static_cast<int>(idx);
  }
  const std::string file = path_of(name);
  if (std::filesystem::exists(file)) {
    return InvalidArgument(file + " exists but " + dir_ + "/" + kStateName +
                           " does not name it (not written by aits ingest): move it away or " +
                           "give another --out");
  }
  auto symbol = std::make_unique<Symbol>();
  symbol->name = name;
  symbol->digits = digits;
  symbols_.push_back(std::move(symbol));
  // Named in the state before its file exists, so that a restart finds every file it created.
  AITS_RETURN_IF_ERROR(WriteState());
  Symbol* entry = symbols_.back().get();
  if (format_ == IngestFormat::kBinary) {
    AITS_ASSIGN_OR_RETURN(entry->store,
                          data::TickStoreAppender::Open(file, name, digits, nullptr, 0));
    entry->bytes = kStoreHeaderBytes;
  } else {
    entry->fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (entry->fd < 0) return IoError(file + ": cannot create: " + std::strerror(errno));
  }
  return static_cast<int>(symbols_.size() - 1);
}

Status IngestStore::Commit(std::span<const SequencedTick> ticks,
                           const std::function<const std::string&(uint32_t)>& name) {
  std::vector<Symbol*> touched;
  for (const SequencedTick& st : ticks) {
    const uint32_t id = st.tick.instrument.value;
    if (id >= by_id_.size()) by_id_.resize(id + 1, kUnresolved);
    if (by_id_[id] == kUnresolved) {
      AITS_ASSIGN_OR_RETURN(by_id_[id], Find(name(id), st.tick.bid.precision()));
    }
    if (by_id_[id] == kRefused) {
      ++stats_.refused;
      continue;
    }
    Symbol* symbol = symbols_[static_cast<size_t>(by_id_[id])].get();
    const int64_t ns = st.tick.ts.ns;
    const bool after_pending = symbol->pending.empty()
                                   ? symbol->After(ns, st.sequence)
                                   : (ns > symbol->pending.back().ts.ns ||
                                      (ns == symbol->pending.back().ts.ns &&
                                       st.sequence > symbol->pending_sequences.back()));
    if (!after_pending) {
      ++symbol->stale;
      ++stats_.stale;
      continue;
    }
    if (symbol->pending.empty()) touched.push_back(symbol);
    symbol->pending.push_back(st.tick);
    symbol->pending_sequences.push_back(st.sequence);
  }
  for (Symbol* symbol : touched) {
    const std::string file = path_of(symbol->name);
    if (format_ == IngestFormat::kBinary) {
      AITS_RETURN_IF_ERROR(symbol->store->Append(symbol->pending));
      if (sync_) AITS_RETURN_IF_ERROR(symbol->store->Sync());
      symbol->bytes = kStoreHeaderBytes + symbol->store->info().count * kStoreRecordBytes;
    } else {
      text_.clear();
      if (symbol->bytes == 0) text_ = kCsvHeader;
      for (const Tick& tick : symbol->pending) {
        text_ += FormatIso8601(tick.ts);
        text_ += ',';
        text_ += tick.bid.ToString();
        text_ += ',';
        text_ += tick.ask.ToString();
        text_ += ',';
        text_ += FormatVolume(tick.bid_volume);
        text_ += ',';
        text_ += FormatVolume(tick.ask_volume);
        text_ += '\n';
      }
      AITS_RETURN_IF_ERROR(WriteAll(symbol->fd, text_, file));
      if (sync_ && ::fdatasync(symbol->fd) != 0) return IoError(file + ": fdatasync failed");
      symbol->bytes += text_.size();
    }
    symbol->records += symbol->pending.size();
    symbol->stored += symbol->pending.size();
    stats_.stored += symbol->pending.size();
    symbol->last_ns = symbol->pending.back().ts.ns;
    symbol->last_sequence = symbol->pending_sequences.back();
    symbol->pending.clear();
    symbol->pending_sequences.clear();
  }
  ++stats_.commits;
  if (touched.empty()) return Status::Ok();
  return WriteState();
}

std::vector<IngestSymbolStats> IngestStore::symbol_stats() const {
  std::vector<IngestSymbolStats> out;
  for (const auto& symbol : symbols_) {
    out.push_back({symbol->name, symbol->stored, symbol->stale, symbol->records});
  }
  return out;
}

}  // namespace aits::feed
