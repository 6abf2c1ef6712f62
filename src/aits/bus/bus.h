// Typed in-process message bus: the kernel's components talk only through it.
//
// Publish<T>(msg) calls every handler subscribed to T, synchronously, in subscription order, on
// the caller's thread — so delivery order is deterministic and a backtest replays exactly.
// Not thread-safe: the kernel is single-threaded by design; other threads hand messages to the
// kernel through its inbox (paper and live modes). Handlers must not subscribe while a message of
// the same type is being delivered.
//
// A message type T declares its stable id as `static constexpr MessageType kMessageType`
// (aits/model/message_type.h); channels are indexed by it, so a type is the same channel in every
// process. Two C++ types declaring the same id are a programming error, caught at the first
// Subscribe or Publish of the second (the process aborts naming the id).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

namespace aits {

template <typename T>
concept BusMessage = requires {
  T::kMessageType;
};

class Bus {
 public:
  template <typename T>
  using Handler = std::function<void(const T&)>;

  Bus() = default;
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;

  template <BusMessage T>
  void Subscribe(Handler<T> handler) {
    ChannelFor<T>().handlers.push_back(std::move(handler));
  }

  template <BusMessage T>
  void Publish(const T& message) {
    Channel<T>* channel = Find<T>();
    if (channel == nullptr) return;
    ++channel->published;
    for (auto& handler : channel->handlers) handler(message);
  }

  // True if a handler listens to T: lets a publisher skip building a message nobody reads.
  template <BusMessage T>
  bool HasSubscribers() const {
    const Channel<T>* channel = Find<T>();
    return channel != nullptr && !channel->handlers.empty();
  }

  // Messages of type T published so far (for tests and run statistics).
  template <BusMessage T>
  size_t PublishedCount() const {
    const Channel<T>* channel = Find<T>();
    return channel == nullptr ? 0 : channel->published;
  }

 private:
  struct ChannelBase {
    explicit ChannelBase(const void* tag) : type_tag(tag) {}
    virtual ~ChannelBase() = default;
    const void* type_tag;  // one address per C++ type: catches two types sharing an id
  };
  template <typename T>
  struct Channel final : ChannelBase {
    Channel() : ChannelBase(&kTag) {}
    static constexpr char kTag = 0;
    std::vector<Handler<T>> handlers;
    size_t published = 0;
  };

  template <BusMessage T>
  static constexpr size_t IndexOf() {
    return static_cast<size_t>(T::kMessageType);
  }
  [[noreturn]] static void DuplicateId(size_t id) {
    std::fprintf(stderr, "aits: bus: two message types declare the stable id %zu\n", id);
    std::abort();
  }
  template <BusMessage T>
  Channel<T>* Find() const {
    constexpr size_t index = IndexOf<T>();
    if (index >= channels_.size() || !channels_[index]) return nullptr;
    ChannelBase* base = channels_[index].get();
    if (base->type_tag != &Channel<T>::kTag) DuplicateId(index);
    return static_cast<Channel<T>*>(base);
  }
  template <BusMessage T>
  Channel<T>& ChannelFor() {
    constexpr size_t index = IndexOf<T>();
    if (index >= channels_.size()) channels_.resize(index + 1);
    if (!channels_[index]) channels_[index] = std::make_unique<Channel<T>>();
    if (Channel<T>* channel = Find<T>()) return *channel;
    DuplicateId(index);
  }

  std::vector<std::unique_ptr<ChannelBase>> channels_;
};

}  // namespace aits
