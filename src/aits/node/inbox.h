// Inbox<Event>: the one door into the kernel thread. Market data, execution reports, operator
// commands and timers are pushed into it from any thread; the kernel thread alone pops them, in
// the order their pushes were accepted.
//
// Threads: any number of producers may call TryPush, Push and Close concurrently; exactly one
// consumer thread (the kernel's) may call TryPop, WaitPop and Drain, never two at once. The
// observers (capacity, closed, SizeApprox, the counters) may be called from any thread. The
// destructor must not race with anything.
//
// Why this design. A bounded ring of capacity 2^k slots, each with a sequence number, after
// Dmitry Vyukov's bounded MPMC queue, used here with one consumer:
//   - Bounded: memory is fixed at construction and a slow kernel shows up as back-pressure on its
//     producers (kFull, Push waiting, full_count()) instead of as an unbounded backlog.
//   - No allocation per event: events are constructed in place in their slot.
//   - Lock-free push and pop: a producer claims a slot with one compare-and-swap on the shared
//     enqueue position and publishes it with a release store of the slot's sequence; the consumer
//     reads the slot with an acquire load. No mutex on either path.
//   - Global FIFO: the ring hands out slots in one order, the order of the successful
//     compare-and-swaps, and the consumer pops in slot order. So events of one producer arrive in
//     the order it pushed them, and an event whose push returned before another push began arrives
//     first. A list of per-producer queues (moodycamel::ConcurrentQueue, Debian's
//     libconcurrentqueue-dev) is faster under heavy contention but gives no order across
//     producers, and the kernel must see, say, a fill before the operator's "flatten" sent after
//     it.
//   The price of the ring: a producer preempted between claiming its slot and publishing it holds
//   back the events behind it until it runs again (the consumer cannot skip a slot). The window
//   is a few instructions (a nothrow move of the event).
//
// Waiting. WaitPop spins for a bounded number of iterations (low hand-off latency while the
// kernel is busy), then parks on a futex so that an idle kernel does not burn a core. A producer
// that publishes an event checks, after its publication, whether the consumer announced that it is
// parking, and wakes it if so; the consumer checks, after its announcement, whether an event was
// published. Both sides use sequentially consistent operations for this, so at least one of them
// sees the other and no wake-up is lost. A producer never parks: Push on a full inbox spins, then
// yields, until the consumer makes room.
//
// Time. Deadlines are std::chrono::steady_clock time points. The kernel itself never reads a clock
// other than its injected Clock, but waiting for the next event or the next timer is the event
// loop's business, and the wait needs a monotonic clock the operating system can sleep on (the
// futex waits on CLOCK_MONOTONIC, which is steady_clock on Linux). In a backtest the event loop
// does not wait at all: it pops with TryPop and Drain.
//
// Events: Event must be nothrow move constructible (a slot, once claimed, is always filled) and
// nothrow destructible. Events are owned by the inbox from an accepted push until they are popped;
// events still inside when the inbox is destroyed are destroyed with it.
//
// Linux only (futex).
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <thread>
#include <type_traits>
#include <utility>

namespace aits::node {

enum class PushResult : uint8_t {
  kAccepted,  // the event is in the inbox; the consumer will pop it, even after a Close()
  kFull,      // TryPush only: no free slot; the caller's event was left untouched
  kClosed,    // Close() was called: the event was refused and left untouched
};

enum class PopResult : uint8_t {
  kEvent,     // an event was moved into the output argument
  kTimedOut,  // the deadline passed and no event arrived
  kClosed,    // Close() was called and every accepted event has been popped
};

namespace internal {

// One pause of a spin loop: tells the core this is a spin (frees resources for the sibling
// hyperthread, avoids the memory-order mis-speculation when the awaited line changes).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Sleeps while *word == expected, until FutexWakeOne on word, the deadline (absolute, on
// steady_clock; time_point::max() means none), a signal, or a spurious wake-up. Callers re-check
// their condition after it returns.
void FutexWait(uint32_t* word, uint32_t expected, std::chrono::steady_clock::time_point deadline);
// Wakes at most one thread sleeping in FutexWait on word.
void FutexWakeOne(uint32_t* word);

}  // namespace internal

template <typename Event>
class Inbox {
  static_assert(std::is_nothrow_move_constructible_v<Event>,
                "a claimed slot must always be filled: Event's move constructor must not throw");
  static_assert(std::is_nothrow_destructible_v<Event>);

 public:
  using Deadline = std::chrono::steady_clock::time_point;

  static constexpr size_t kMaxCapacity = size_t{1} << 30;
  // Spin iterations of WaitPop before it parks. Each is one look at the next slot and one CPU
  // pause; 4,096 of them take roughly 20-100 us depending on the CPU's pause length, enough to
  // cover the gap between events of a busy feed (bench/inbox_bench.cc, docs/performance.md).
  static constexpr uint32_t kDefaultSpinIterations = 4096;

  // An empty, open inbox with room for `capacity` events, rounded up to a power of two (at least
  // 2). Precondition: capacity <= kMaxCapacity (a node configuration is validated before an inbox
  // is built). spin_iterations: how long WaitPop spins before parking (0: park at once).
  // Allocates every slot here; nothing is allocated afterwards.
  explicit Inbox(size_t capacity, uint32_t spin_iterations = kDefaultSpinIterations)
      : capacity_(std::bit_ceil(std::clamp<size_t>(capacity, 2, kMaxCapacity))),
        mask_(capacity_ - 1),
        spin_iterations_(spin_iterations),
        cells_(std::make_unique<Cell[]>(capacity_)) {
    assert(capacity <= kMaxCapacity);
    for (size_t idx = 0; idx < capacity_; ++idx) {
      cells_[idx].sequence.store(idx, std::memory_order_relaxed);
    }
  }

  // Destroys the events still inside. Requires that no thread is using the inbox.
  ~Inbox() {
    Event* event = nullptr;
    uint64_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    while ((event = ReadySlot(pos)) != nullptr) {
      event->~Event();
      ++pos;
    }
  }

  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // ---- Producers (any thread) ----

  // Puts the event into the inbox without waiting. kAccepted: the event was moved in (the caller's
  // object is moved-from). kFull: no room, counted in full_count(). kClosed: refused, counted in
  // refused_count(). On kFull and kClosed the caller's event is untouched, so it may retry.
  [[nodiscard]] PushResult TryPush(Event&& event) { return TryPushCounted(std::move(event)); }
  // The same, copying the event in (only for events whose copy cannot throw).
  [[nodiscard]] PushResult TryPush(
      const Event& event) requires std::is_nothrow_copy_constructible_v<Event> {
    return TryPushCounted(event);
  }

  // Puts the event into the inbox, waiting (spin, then yield) while it is full: never drops.
  // Returns kAccepted, or kClosed if the inbox is or becomes closed before there is room (the
  // event is then untouched and counted in refused_count()). A call that found the inbox full
  // adds one to full_count(), however long it waited.
  [[nodiscard]] PushResult Push(Event&& event) { return PushWaiting(std::move(event)); }
  [[nodiscard]] PushResult Push(
      const Event& event) requires std::is_nothrow_copy_constructible_v<Event> {
    return PushWaiting(event);
  }

  // Refuses every later push and releases a consumer parked in WaitPop. Events accepted before
  // still reach the consumer: WaitPop returns kClosed only once they have all been popped.
  // Idempotent; any thread.
  void Close() {
    enqueue_pos_.fetch_or(kClosedBit, std::memory_order_seq_cst);
    WakeConsumer();
  }

  // ---- The consumer (one thread) ----

  // Moves the oldest event into `out` and returns true; returns false at once if there is none
  // (or the oldest accepted one is still being written by its producer).
  [[nodiscard]] bool TryPop(Event& out) requires std::is_nothrow_move_assignable_v<Event> {
    const uint64_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    Event* event = ReadySlot(pos);
    if (event == nullptr) return false;
    out = std::move(*event);
    Release(pos, event);
    return true;
  }

  // Moves the oldest event into `out`, waiting for one until `deadline` (steady_clock; a time in
  // the past means "do not park"; Deadline::max() means no deadline). Spins first, then parks.
  // Returns kEvent, kTimedOut (no event by the deadline; out untouched) or kClosed (closed and
  // drained; out untouched). The deadline is checked every 64 spins, so a deadline that falls in
  // the spin phase is overshot by at most that many spins. May return kEvent after the deadline
  // if an event arrived meanwhile.
  [[nodiscard]] PopResult WaitPop(
      Event& out, Deadline deadline) requires std::is_nothrow_move_assignable_v<Event> {
    for (uint32_t spin = 0; spin < spin_iterations_; ++spin) {
      if (TryPop(out)) return PopResult::kEvent;
      if ((spin & 63) == 63 && std::chrono::steady_clock::now() >= deadline) break;
      internal::CpuRelax();
    }
    for (;;) {
      if (TryPop(out)) return PopResult::kEvent;
      if (ClosedAndDrained()) return PopResult::kClosed;
      if (std::chrono::steady_clock::now() >= deadline) return PopResult::kTimedOut;
      Park(deadline);
    }
  }

  // Pops up to max_events events without waiting, calling handler(Event&&) for each, oldest
  // first. Each slot is freed before its handler runs, so producers get the room back at once and
  // a handler that throws loses only its own event. Returns the number handled.
  template <typename Handler>
  size_t Drain(Handler&& handler, size_t max_events) {
    size_t handled = 0;
    while (handled < max_events) {
      const uint64_t pos = dequeue_pos_.load(std::memory_order_relaxed);
      Event* event = ReadySlot(pos);
      if (event == nullptr) break;
      Event local(std::move(*event));
      Release(pos, event);
      ++handled;
      handler(std::move(local));
    }
    return handled;
  }

  // ---- Observers (any thread) ----

  // The number of slots: a power of two, fixed at construction.
  size_t capacity() const { return capacity_; }
  // True once Close() has been called.
  bool closed() const { return (enqueue_pos_.load(std::memory_order_acquire) & kClosedBit) != 0; }
  // Events accepted and not yet popped (including any still being written). Exact only when no
  // other thread is using the inbox; a queue-depth gauge otherwise.
  size_t SizeApprox() const {
    const uint64_t tail = dequeue_pos_.load(std::memory_order_acquire);
    const uint64_t head = enqueue_pos_.load(std::memory_order_acquire) & ~kClosedBit;
    return head > tail ? static_cast<size_t>(head - tail) : 0;
  }
  // Pushes that found the inbox full: each TryPush that returned kFull, and each Push that had to
  // wait (once per call). Monotonic; for metrics.
  uint64_t full_count() const { return full_count_.load(std::memory_order_relaxed); }
  // Pushes refused because the inbox was closed. Monotonic; for metrics.
  uint64_t refused_count() const { return refused_count_.load(std::memory_order_relaxed); }
  // Times the consumer went to sleep in WaitPop. Monotonic; for metrics and tests.
  uint64_t park_count() const { return park_count_.load(std::memory_order_relaxed); }
  // True while the consumer has announced that it is parking (it may not be asleep yet).
  bool consumer_parked() const { return ParkedWord().load(std::memory_order_acquire) != 0; }

 private:
  // The enqueue position's top bit: set by Close(). A producer's compare-and-swap fails once it is
  // set, so after Close() the set of claimed slots is final, and the consumer can tell when it has
  // popped them all. 2^63 pushes do not happen.
  static constexpr uint64_t kClosedBit = uint64_t{1} << 63;
  // Producers on a full inbox spin this many times before they start yielding.
  static constexpr uint32_t kPushSpinIterations = 256;
  // Two lines: adjacent-line prefetchers pair 64-byte lines.
  static constexpr size_t kLine = 128;

  struct Cell {
    // pos: free for the producer of position pos; pos + 1: holds the event of position pos;
    // pos + capacity: freed by the consumer, free for position pos + capacity.
    std::atomic<uint64_t> sequence;
    alignas(Event) std::byte storage[sizeof(Event)];
  };

  template <typename Arg>
  PushResult TryPushCounted(Arg&& arg) {
    const PushResult result = TryEmplace(std::forward<Arg>(arg));
    if (result == PushResult::kFull) full_count_.fetch_add(1, std::memory_order_relaxed);
    return result;
  }

  template <typename Arg>
  PushResult PushWaiting(Arg&& arg) {
    // TryEmplace forwards `arg` only when it accepts, so retrying with it is safe.
    PushResult result = TryEmplace(std::forward<Arg>(arg));
    if (result != PushResult::kFull) return result;
    full_count_.fetch_add(1, std::memory_order_relaxed);
    for (uint32_t attempt = 0;; ++attempt) {
      if (attempt < kPushSpinIterations) {
        internal::CpuRelax();
      } else {
        std::this_thread::yield();
      }
      result = TryEmplace(std::forward<Arg>(arg));
      if (result != PushResult::kFull) return result;
    }
  }

  template <typename Arg>
  PushResult TryEmplace(Arg&& arg) {
    uint64_t pos = enqueue_pos_.load(std::memory_order_relaxed);
    Cell* cell = nullptr;
    for (;;) {
      if ((pos & kClosedBit) != 0) {
        refused_count_.fetch_add(1, std::memory_order_relaxed);
        return PushResult::kClosed;
      }
      cell = &cells_[pos & mask_];
      // Acquire: pairs with the consumer's release in Release(), so its read of the old event
      // happens before we overwrite the slot.
      const uint64_t sequence = cell->sequence.load(std::memory_order_acquire);
      const auto lag = static_cast<int64_t>(sequence - pos);
      if (lag == 0) {
        // The slot is free for pos: claim it. Relaxed is enough, the slot's sequence orders the
        // data; on failure pos is reloaded (another producer won it, or Close() set its bit).
        if (enqueue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
      } else if (lag < 0) {
        // The slot still holds the event of pos - capacity: the ring is full.
        return PushResult::kFull;
      } else {
        pos = enqueue_pos_.load(std::memory_order_relaxed);  // another producer took pos
      }
    }
    ::new (static_cast<void*>(cell->storage)) Event(std::forward<Arg>(arg));
    // Sequentially consistent rather than release: this store and WakeConsumer's load of the
    // parked word form one side of the lost-wake-up handshake (see Park()).
    cell->sequence.store(pos + 1, std::memory_order_seq_cst);
    WakeConsumer();
    return PushResult::kAccepted;
  }

  // The event of position pos if its producer has published it, else nullptr. Consumer only.
  Event* ReadySlot(uint64_t pos) const {
    Cell& cell = cells_[pos & mask_];
    if (cell.sequence.load(std::memory_order_acquire) != pos + 1) return nullptr;
    return std::launder(reinterpret_cast<Event*>(cell.storage));
  }

  // Destroys the popped event and hands its slot to the producer of pos + capacity.
  void Release(uint64_t pos, Event* event) {
    event->~Event();
    cells_[pos & mask_].sequence.store(pos + capacity_, std::memory_order_release);
    dequeue_pos_.store(pos + 1, std::memory_order_release);
  }

  bool ClosedAndDrained() const {
    const uint64_t head = enqueue_pos_.load(std::memory_order_acquire);
    return (head & kClosedBit) != 0 &&
           (head & ~kClosedBit) == dequeue_pos_.load(std::memory_order_relaxed);
  }

  // The consumer's side of the handshake. It announces that it parks (seq_cst store), then looks
  // again for a published event or a close (seq_cst loads). A producer publishes (seq_cst store),
  // then looks at the announcement (seq_cst load). In the single total order of these operations
  // one side comes second and sees the other's store: either the consumer finds the event and
  // does not sleep, or the producer finds the announcement and wakes it. The futex sleeps only if
  // the word is still 1, so a wake-up that comes before the sleep cancels it.
  void Park(Deadline deadline) {
    std::atomic_ref<uint32_t> parked = ParkedWord();
    parked.store(1, std::memory_order_seq_cst);
    const uint64_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    const bool published = cells_[pos & mask_].sequence.load(std::memory_order_seq_cst) == pos + 1;
    const bool closing = (enqueue_pos_.load(std::memory_order_seq_cst) & kClosedBit) != 0;
    if (!published && !closing) {
      park_count_.fetch_add(1, std::memory_order_relaxed);
      internal::FutexWait(&parked_word_, 1, deadline);
    }
    parked.store(0, std::memory_order_relaxed);
  }

  // The producer's side: wakes the consumer if it announced that it parks. The exchange makes one
  // producer (or Close) do the system call when several publish at once.
  void WakeConsumer() {
    std::atomic_ref<uint32_t> parked = ParkedWord();
    if (parked.load(std::memory_order_seq_cst) != 0 &&
        parked.exchange(0, std::memory_order_seq_cst) != 0) {
      internal::FutexWakeOne(&parked_word_);
    }
  }

  std::atomic_ref<uint32_t> ParkedWord() const { return std::atomic_ref<uint32_t>(parked_word_); }

  const size_t capacity_;
  const uint64_t mask_;
  const uint32_t spin_iterations_;
  const std::unique_ptr<Cell[]> cells_;
  // Each hot word on its own lines: producers contend on the enqueue position, the consumer alone
  // writes the dequeue position, and every push reads the parked word (which changes only when
  // the consumer parks), so none of them drags another's line around.
  alignas(kLine) std::atomic<uint64_t> enqueue_pos_{0};
  alignas(kLine) std::atomic<uint64_t> dequeue_pos_{0};
  // 1 while the consumer parks. A plain word reached through atomic_ref because the futex needs
  // its address; never accessed otherwise.
  alignas(kLine) mutable uint32_t parked_word_ = 0;
  alignas(kLine) std::atomic<uint64_t> full_count_{0};
  std::atomic<uint64_t> refused_count_{0};
  std::atomic<uint64_t> park_count_{0};
};

}  // namespace aits::node
