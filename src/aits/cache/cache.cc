#include "aits/cache/cache.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "aits/core/instance_tag.h"

namespace aits::cache {
namespace {

timeval ToTimeval(Duration duration) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(duration.ns / 1'000'000'000);
  tv.tv_usec = static_cast<suseconds_t>((duration.ns % 1'000'000'000) / 1000);
  return tv;
}

std::string Hex(uint64_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int idx = 15; idx >= 0; --idx, value >>= 4)
    out[static_cast<size_t>(idx)] = kDigits[value & 15];
  return out;
}

// Connects with the options' timeout for the connect and for every command after it.
Result<redisContext*> OpenContext(const RedisOptions& options, const std::string& where) {
  redisContext* context =
      redisConnectWithTimeout(options.host.c_str(), options.port, ToTimeval(options.timeout));
  if (context == nullptr) return Unavailable("Redis " + where + ": out of memory");
  if (context->err != 0) {
    std::string message = "Redis " + where + " cannot be reached: " + context->errstr;
    redisFree(context);
    return Unavailable(std::move(message));
  }
  redisSetTimeout(context, ToTimeval(options.timeout));
  return context;
}

}  // namespace

std::string FeatureKey(std::string_view symbol, Timestamp ts) {
  return "feature:" + std::string(symbol) + ":" + std::to_string(ts.ns);
}

std::string PredictionKey(std::string_view model, uint64_t feature_hash) {
  return "prediction:" + std::string(model) + ":" + Hex(feature_hash);
}

std::string DecisionKey(std::string_view market, std::string_view symbol) {
  return "decision:" + std::string(market) + ":" + std::string(symbol);
}

std::string SessionKey(std::string_view market) { return "session:" + std::string(market); }

struct RedisClient::Reply {
  int type = 0;
  std::string text;
  int64_t integer = 0;
};

Result<std::unique_ptr<RedisClient>> RedisClient::Connect(const RedisOptions& options) {
  // hiredis writes with send(2) without MSG_NOSIGNAL: a Redis that dies while a command is being
  // written would kill the process with SIGPIPE. Ignored, unless the program chose a handler.
  static const bool ignored = [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      ::signal(SIGPIPE, SIG_IGN);
    }
    return true;
  }();
  (void)ignored;
  std::unique_ptr<RedisClient> client(new RedisClient(options));
  AITS_RETURN_IF_ERROR(client->EnsureConnected());
  return client;
}

RedisClient::~RedisClient() {
  if (context_ != nullptr) redisFree(context_);
}

Status RedisClient::EnsureConnected() {
  if (context_ != nullptr && context_->err == 0) return Status::Ok();
  if (context_ != nullptr) {
    redisFree(context_);
    context_ = nullptr;
  }
  AITS_ASSIGN_OR_RETURN(context_, OpenContext(options_, where()));
  return Status::Ok();
}

Result<RedisClient::Reply> RedisClient::Command(std::initializer_list<std::string_view> args,
                                                std::string_view what) {
  AITS_RETURN_IF_ERROR(EnsureConnected());
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (std::string_view arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  if (raw == nullptr) {
    // The connection is unusable now; the next call reconnects.
    return Unavailable("Redis " + where() + ": " + std::string(what) + ": " +
                       (context_->err != 0 ? context_->errstr : "no reply"));
  }
  Reply reply;
  reply.type = raw->type;
  if (raw->type == REDIS_REPLY_STRING || raw->type == REDIS_REPLY_STATUS ||
      raw->type == REDIS_REPLY_ERROR) {
    reply.text.assign(raw->str, raw->len);
  }
  if (raw->type == REDIS_REPLY_INTEGER) reply.integer = raw->integer;
  freeReplyObject(raw);
  if (reply.type == REDIS_REPLY_ERROR) {
    return Internal("Redis " + where() + ": " + std::string(what) + ": " + reply.text);
  }
  return reply;
}

Result<std::optional<std::string>> RedisClient::Get(std::string_view key) {
  AITS_ASSIGN_OR_RETURN(Reply reply, Command({"GET", key}, "GET"));
  if (reply.type == REDIS_REPLY_NIL) return std::optional<std::string>();
  return std::optional<std::string>(std::move(reply.text));
}

Status RedisClient::Set(std::string_view key, std::string_view value, Duration ttl) {
  const std::string millis = std::to_string(std::max<int64_t>(1, ttl.ns / 1'000'000));
  return Command({"SET", key, value, "PX", millis}, "SET").status();
}

Status RedisClient::Delete(std::string_view key) { return Command({"DEL", key}, "DEL").status(); }

Status RedisClient::Publish(std::string_view channel, std::string_view message) {
  return Command({"PUBLISH", channel, message}, "PUBLISH").status();
}

Result<int64_t> RedisClient::TtlMillis(std::string_view key) {
  AITS_ASSIGN_OR_RETURN(Reply reply, Command({"PTTL", key}, "PTTL"));
  return reply.integer;
}

TieredCache::TieredCache(const CacheOptions& options) : options_(options) {
  instance_ = NewInstanceTag();
}

Result<std::unique_ptr<TieredCache>> TieredCache::Open(const CacheOptions& options) {
  if (options.l1_capacity < 1) return InvalidArgument("cache: l1_capacity must be >= 1");
  std::unique_ptr<TieredCache> cache(new TieredCache(options));
  AITS_ASSIGN_OR_RETURN(cache->redis_, RedisClient::Connect(options.redis));
  cache->listener_ = std::thread([raw = cache.get()] { raw->Listen(); });
  return cache;
}

TieredCache::~TieredCache() {
  stop_.store(true);
  if (listener_.joinable()) listener_.join();
}

void TieredCache::Listen() {
  const std::string where = options_.redis.host + ":" + std::to_string(options_.redis.port);
  while (!stop_.load()) {
    Result<redisContext*> opened = OpenContext(options_.redis, where);
    if (!opened.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    redisContext* context = *opened;
    auto* reply = static_cast<redisReply*>(
        redisCommand(context, "SUBSCRIBE %b", options_.channel.data(), options_.channel.size()));
    if (reply != nullptr) {
      freeReplyObject(reply);
      {
        // What L1 took while nobody listened may have missed invalidations: start clean.
        std::lock_guard<std::mutex> lock(mutex_);
        l1_.clear();
        lru_.clear();
        subscribed_.store(true);
      }
      // Messages wait in the socket; a poll with a short timeout keeps stop_ in view.
      while (!stop_.load() && context->err == 0) {
        pollfd item{context->fd, POLLIN, 0};
        if (::poll(&item, 1, 100) <= 0) continue;
        if (redisBufferRead(context) != REDIS_OK) break;
        void* raw = nullptr;
        while (redisGetReplyFromReader(context, &raw) == REDIS_OK && raw != nullptr) {
          auto* message = static_cast<redisReply*>(raw);
          // ["message", channel, "<instance> <key>"]
          if (message->type == REDIS_REPLY_ARRAY && message->elements == 3 &&
              message->element[2]->type == REDIS_REPLY_STRING) {
            const std::string_view text(message->element[2]->str, message->element[2]->len);
            const size_t space = text.find(' ');
            if (space != std::string_view::npos && text.substr(0, space) != instance_) {
              Drop(std::string(text.substr(space + 1)), /*counted=*/true);
            }
          }
          freeReplyObject(message);
          raw = nullptr;
        }
      }
    }
    subscribed_.store(false);
    redisFree(context);
    // A lost subscription may have missed invalidations: the L1 copies are no longer known to
    // be fresh.
    {
      std::lock_guard<std::mutex> lock(mutex_);
      l1_.clear();
      lru_.clear();
    }
    if (!stop_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void TieredCache::Drop(const std::string& key, bool counted) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = l1_.find(key);
  if (found == l1_.end()) return;
  lru_.erase(found->second.lru);
  l1_.erase(found);
  if (counted) ++stats_.invalidations;
}

void TieredCache::KeepInL1(const std::string& key, std::string_view value, Duration ttl) {
  // Called with mutex_ held. Without the subscription a copy could miss its invalidation.
  if (!subscribed_.load()) return;
  const Duration keep = ttl.ns < options_.l1_ttl.ns ? ttl : options_.l1_ttl;
  const Clock::time_point expires = Clock::now() + std::chrono::nanoseconds(keep.ns);
  auto found = l1_.find(key);
  if (found != l1_.end()) {
    found->second.value.assign(value);
    found->second.expires = expires;
    lru_.splice(lru_.begin(), lru_, found->second.lru);
    return;
  }
  if (l1_.size() >= options_.l1_capacity) {
    l1_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  l1_.emplace(key, Entry{std::string(value), expires, lru_.begin()});
}

Result<std::optional<std::string>> TieredCache::Get(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = l1_.find(key);
  if (found != l1_.end()) {
    if (Clock::now() < found->second.expires && subscribed_.load()) {
      ++stats_.l1_hits;
      lru_.splice(lru_.begin(), lru_, found->second.lru);
      return std::optional<std::string>(found->second.value);
    }
    lru_.erase(found->second.lru);
    l1_.erase(found);
  }
  Result<std::optional<std::string>> stored = redis_->Get(key);
  if (!stored.ok()) {
    ++stats_.l2_errors;
    return stored.status();
  }
  if (!stored->has_value()) {
    ++stats_.misses;
    return stored;
  }
  ++stats_.l2_hits;
  // The time Redis keeps it is unknown here; the L1 bound applies.
  KeepInL1(key, **stored, options_.l1_ttl);
  return stored;
}

Status TieredCache::Put(const std::string& key, std::string_view value, Duration ttl) {
  std::lock_guard<std::mutex> lock(mutex_);
  KeepInL1(key, value, ttl);
  Status status = redis_->Set(key, value, ttl);
  if (status.ok()) status = redis_->Publish(options_.channel, instance_ + " " + key);
  if (!status.ok()) ++stats_.l2_errors;
  return status;
}

Status TieredCache::Invalidate(const std::string& key) {
  Drop(key, /*counted=*/false);
  std::lock_guard<std::mutex> lock(mutex_);
  Status status = redis_->Delete(key);
  if (status.ok()) status = redis_->Publish(options_.channel, instance_ + " " + key);
  if (!status.ok()) ++stats_.l2_errors;
  return status;
}

CacheStats TieredCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

size_t TieredCache::l1_size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return l1_.size();
}

}  // namespace aits::cache
