// HistoryRing<T>: a first-in first-out sequence for histories that grow at the back and are
// trimmed at the front (the kernel's orders and fills). Unlike std::deque, which allocates a
// block for every element or two of a large T (libstdc++ blocks are 512 bytes) and frees it when
// the front is trimmed, the ring keeps one power-of-two array and reuses its slots: once it has
// grown to a history's working size, pushing and trimming never allocate, and a reused slot keeps
// the capacity of the strings it held.
//
// Elements are addressed by position from the front, as in a deque. References stay valid until
// the element is popped or the ring grows (a push_back when full); code that pushes while it
// holds a reference must copy what it needs first. Single-threaded.
#pragma once

#include <cstddef>
#include <iterator>
#include <utility>
#include <vector>

namespace aits {

template <typename T>
class HistoryRing {
 public:
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
  T& operator[](size_t index) { return slots_[(head_ + index) & mask_]; }
  const T& operator[](size_t index) const { return slots_[(head_ + index) & mask_]; }
  T& front() { return (*this)[0]; }
  const T& front() const { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return (*this)[size_ - 1]; }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, size_); }

  // Appends `value` (assigned into a reused slot) and returns the new back.
  template <typename U>
  T& push_back(U&& value) {
    if (size_ == slots_.size()) Grow();
    T& slot = slots_[(head_ + size_) & mask_];
    slot = std::forward<U>(value);
    ++size_;
    return slot;
  }
  // Appends a slot as it is (an old value, or T() if never used) and returns it: the caller
  // assigns every field. Saves the copy of a whole T, and reuses the slot's string capacity.
  T& push_back_slot() {
    if (size_ == slots_.size()) Grow();
    T& slot = slots_[(head_ + size_) & mask_];
    ++size_;
    return slot;
  }
  // Drops the front element; its slot keeps its value until reused.
  void pop_front() {
    head_ = (head_ + 1) & mask_;
    --size_;
  }
  // Grows the ring (never shrinks) so that it holds `count` elements without growing again.
  void resize(size_t count) {
    while (slots_.size() < count) Grow();
    for (size_t index = size_; index < count; ++index) slots_[(head_ + index) & mask_] = T();
    size_ = count;
  }

 private:
  void Grow() {
    const size_t capacity = slots_.empty() ? 16 : slots_.size() * 2;
    std::vector<T> grown(capacity);
    for (size_t index = 0; index < size_; ++index) grown[index] = std::move((*this)[index]);
    slots_ = std::move(grown);
    head_ = 0;
    mask_ = capacity - 1;
  }

  std::vector<T> slots_;
  size_t head_ = 0;
  size_t size_ = 0;
  size_t mask_ = 0;
};

}  // namespace aits
