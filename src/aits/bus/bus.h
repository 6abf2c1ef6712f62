// Typed in-process message bus: the kernel's components talk only through it.
//
// Publish<T>(msg) calls every handler subscribed to T, synchronously, in subscription order, on
// the caller's thread — so delivery order is deterministic and a backtest replays exactly.
// Not thread-safe: the kernel is single-threaded by design; other threads hand messages to the
// kernel through its inbox (paper and live modes). Handlers must not subscribe while a message of
// the same type is being delivered.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

namespace aits {

class Bus {
 public:
  template <typename T>
  using Handler = std::function<void(const T&)>;

  Bus() = default;
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  template <typename T>
  void Subscribe(Handler<T> handler) {
    Channel<T>& channel = ChannelFor<T>();
    channel.handlers.push_back(std::move(handler));
  }

  template <typename T>
  void Publish(const T& message) {
    const size_t index = TypeIndex<T>();
    if (index >= channels_.size() || !channels_[index]) return;
    auto& channel = static_cast<Channel<T>&>(*channels_[index]);
    ++channel.published;
    for (auto& handler : channel.handlers) handler(message);
  }

  // Messages of type T published so far (for tests and run statistics).
  template <typename T>
  size_t PublishedCount() const {
    const size_t index = TypeIndex<T>();
    if (index >= channels_.size() || !channels_[index]) return 0;
    return static_cast<const Channel<T>&>(*channels_[index]).published;
  }

 private:
  struct ChannelBase {
    virtual ~ChannelBase() = default;
  };
  template <typename T>
  struct Channel final : ChannelBase {
    std::vector<Handler<T>> handlers;
    size_t published = 0;
  };

  static size_t NextTypeIndex() {
    static size_t next = 0;
    return next++;
  }
  template <typename T>
  static size_t TypeIndex() {
    static const size_t index = NextTypeIndex();
    return index;
  }
  template <typename T>
  Channel<T>& ChannelFor() {
    const size_t index = TypeIndex<T>();
    if (index >= channels_.size()) channels_.resize(index + 1);
    if (!channels_[index]) channels_[index] = std::make_unique<Channel<T>>();
    return static_cast<Channel<T>&>(*channels_[index]);
  }

  std::vector<std::unique_ptr<ChannelBase>> channels_;
};

}  // namespace aits
