#include "aits/execution/client_id_window.h"

#include <algorithm>
#include <cassert>

#include "aits/core/hash.h"

namespace aits::execution {
namespace {

constexpr size_t kInitialSlots = 1024;

}  // namespace

ClientIdWindow::ClientIdWindow(size_t capacity) : capacity_(capacity) {
  assert(capacity >= 1);
  slots_.assign(kInitialSlots, 0);
}

uint64_t ClientIdWindow::KeyOf(std::string_view id) {
  const uint64_t hash = Mix64(Fnv1a64(id));
  return hash == 0 ? 1 : hash;
}

size_t ClientIdWindow::Find(uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  size_t pos = hash & mask;
  while (slots_[pos] != 0 && slots_[pos] != hash) pos = (pos + 1) & mask;
  return pos;
}

bool ClientIdWindow::Contains(uint64_t hash) const {
  if (count_ == capacity_) {
    // The Insert that usually follows (after the risk check) erases the oldest id, whose slot is
    // cold: fetching it now overlaps that miss with the work in between.
    __builtin_prefetch(&slots_[fifo_[head_] & (slots_.size() - 1)]);
  }
  return slots_[Find(hash)] == hash;
}

bool ClientIdWindow::Insert(uint64_t hash) {
  if (slots_[Find(hash)] == hash) return false;
  if (count_ == capacity_) {
    // Full: the oldest id leaves, and its ring cell takes the new one.
    Erase(fifo_[head_]);
    fifo_[head_] = hash;
    head_ = (head_ + 1) % capacity_;
  } else {
    if ((count_ + 1) * 2 > slots_.size()) Grow();
    fifo_.push_back(hash);
    ++count_;
  }
  slots_[Find(hash)] = hash;
  return true;
}

void ClientIdWindow::Grow() {
  std::vector<uint64_t> old = std::move(slots_);
  slots_.assign(old.size() * 2, 0);
  for (uint64_t hash : old) {
    if (hash != 0) slots_[Find(hash)] = hash;
  }
}

void ClientIdWindow::Erase(uint64_t hash) {
  // Backward-shift deletion keeps every probe chain unbroken without tombstones.
  const size_t mask = slots_.size() - 1;
  size_t hole = Find(hash);
  if (slots_[hole] != hash) return;
  slots_[hole] = 0;
  for (size_t pos = (hole + 1) & mask; slots_[pos] != 0; pos = (pos + 1) & mask) {
    const size_t home = slots_[pos] & mask;
    // The entry at pos may move into the hole unless its home lies cyclically in (hole, pos].
    const bool home_after_hole =
        hole <= pos ? (home > hole && home <= pos) : (home > hole || home <= pos);
    if (home_after_hole) continue;
    slots_[hole] = slots_[pos];
    slots_[pos] = 0;
    hole = pos;
  }
}

}  // namespace aits::execution
