// HistoryRing<T>: a first-in first-out sequence for histories that grow at the back and are
// trimmed at the front (the kernel's orders and fills). Like std::deque it stores elements in
// fixed blocks, so growing never moves an element and wastes at most a block; unlike libstdc++'s
// deque, whose blocks are 512 bytes (one or two large elements each, allocated on push and freed
// on pop), its blocks hold kBlock elements and a block emptied at the front is kept for reuse at
// the back. Once a bounded history has reached its working size, pushing and trimming never
// allocate, and a reused slot keeps the capacity of the strings it held.
//
// Elements are addressed by position from the front, as in a deque. References stay valid until
// the element is popped (never moved by a push). Single-threaded.
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

namespace aits {

template <typename T>
class HistoryRing {
 public:
  static constexpr size_t kBlock = 64;

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;

    const_iterator() = default;
    reference operator*() const { return (*ring_)[index_]; }
    pointer operator->() const { return &(*ring_)[index_]; }
    const_iterator& operator++() {
      ++index_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator copy = *this;
      ++index_;
      return copy;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.index_ == b.index_;
    }

   private:
    friend class HistoryRing;
    const_iterator(const HistoryRing* ring, size_t index) : ring_(ring), index_(index) {}
    const HistoryRing* ring_ = nullptr;
    size_t index_ = 0;
  };

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Precondition for the accessors: index < size() (front/back: !empty()).
  T& operator[](size_t index) {
    const size_t at = first_ + index;
    return blocks_[at / kBlock][at % kBlock];
  }
  const T& operator[](size_t index) const {
    const size_t at = first_ + index;
    return blocks_[at / kBlock][at % kBlock];
  }
  T& front() { return (*this)[0]; }
  const T& front() const { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return (*this)[size_ - 1]; }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, size_); }

  // Appends `value` (assigned into a reused slot) and returns the new back.
  template <typename U>
  T& push_back(U&& value) {
    T& slot = push_back_slot();
    slot = std::forward<U>(value);
    return slot;
  }
  // Appends a slot as it is (an old value, or T() if never used) and returns it: the caller
  // assigns every field. Saves the copy of a whole T, and reuses the slot's string capacity.
  T& push_back_slot() {
    if (first_ + size_ == blocks_.size() * kBlock) AddBlock();
    ++size_;
    return back();
  }
  // Drops the front element; its slot keeps its value until reused.
  void pop_front() {
    ++first_;
    --size_;
    if (first_ == kBlock) {
      // The emptied block goes to the spares (the vector shifts a pointer per block: amortised
      // one pointer move per kBlock pops).
      spare_.push_back(std::move(blocks_.front()));
      blocks_.erase(blocks_.begin());
      first_ = 0;
    }
  }
  // Grows or shrinks to `count` elements; new ones are T().
  void resize(size_t count) {
    if (count < size_) size_ = count;
    while (size_ < count) push_back_slot() = T();
  }

 private:
  void AddBlock() {
    if (!spare_.empty()) {
      blocks_.push_back(std::move(spare_.back()));
      spare_.pop_back();
    } else {
      blocks_.push_back(std::make_unique<T[]>(kBlock));
    }
  }

  std::vector<std::unique_ptr<T[]>> blocks_;
  std::vector<std::unique_ptr<T[]>> spare_;
  size_t first_ = 0;  // position of the front element in blocks_.front()
  size_t size_ = 0;
};

}  // namespace aits
