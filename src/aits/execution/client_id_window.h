// ClientIdWindow: the order manager's memory of client order ids, so that a retried order is
// refused instead of trading twice. It remembers the most recent `capacity` ids and forgets the
// oldest one when a new id would exceed that, so memory is bounded however long a session runs:
// an id is guaranteed unique among the last `capacity` accepted orders (docs/execution.md).
//
// Ids are kept as 64-bit hashes (two distinct ids collide with probability about n / 2^64, which
// would refuse a fresh order, never accept a duplicate). The table grows by doubling up to twice
// the capacity, so a session that uses few ids uses little memory; lookups, inserts and
// evictions do not allocate once it has reached its size.
//
// Thread-compatible: the kernel thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace aits::execution {

class ClientIdWindow {
 public:
  // Precondition: capacity >= 1.
  explicit ClientIdWindow(size_t capacity);

  // The key an id is kept under: computed once per order, then checked and inserted. Never 0.
  static uint64_t KeyOf(std::string_view id);

  // True if the id with this key is among the remembered ids.
  bool Contains(uint64_t key) const;
  // Remembers the id with this key (forgetting the oldest if the window is full). Returns false,
  // changing nothing, if it is already remembered.
  bool Insert(uint64_t key);

  // The same by id. The empty id is never remembered: Contains is false and Insert refuses it.
  bool Contains(std::string_view id) const { return !id.empty() && Contains(KeyOf(id)); }
  bool Insert(std::string_view id) { return !id.empty() && Insert(KeyOf(id)); }

  size_t size() const { return count_; }
  size_t capacity() const { return capacity_; }

 private:
  size_t Find(uint64_t hash) const;  // slot of `hash`, or the empty slot where it would go
  void Grow();
  void Erase(uint64_t hash);

  size_t capacity_;
  std::vector<uint64_t> slots_;  // open addressing, linear probing, 0 = empty, load <= 1/2
  std::vector<uint64_t> fifo_;   // remembered hashes, oldest at head_ (a ring once full)
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace aits::execution
