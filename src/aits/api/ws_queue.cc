#include "aits/api/ws_queue.h"

#include <algorithm>

namespace aits::api {

bool WsQueue::Push(std::shared_ptr<const std::string> text, uint64_t key) {
  Entry* older = nullptr;
  if (key != 0) {
    if (auto it = waiting_.find(key); it != waiting_.end()) older = &entries_[it->second - front_];
  }
  if (older == nullptr && live_ >= limit_) return false;
  if (older != nullptr) {
    older->text.reset();
    ++dead_;
    ++superseded_;
  } else {
    ++live_;
  }
  if (key != 0) waiting_[key] = front_ + entries_.size();
  entries_.push_back({std::move(text), key});
  // A client that lags on a few symbols would otherwise pile up superseded entries without
  // bound; compacting once they outnumber the live ones keeps the cost per push constant.
  if (dead_ > 64 && dead_ > live_) Compact();
  return true;
}

size_t WsQueue::TakeFrame(std::string* frame, size_t max_bytes) {
  frame->clear();
  size_t taken = 0;
  while (!entries_.empty()) {
    Entry& entry = entries_.front();
    if (entry.text != nullptr) {
      if (taken > 0 && frame->size() + entry.text->size() >= max_bytes) break;
      if (taken > 0) frame->push_back('\n');
      frame->append(*entry.text);
      ++taken;
      --live_;
      if (entry.key != 0) waiting_.erase(entry.key);
    } else {
      --dead_;
    }
    entries_.pop_front();
    ++front_;
  }
  return taken;
}

void WsQueue::Compact() {
  std::erase_if(entries_, [](const Entry& e) { return e.text == nullptr; });
  dead_ = 0;
  for (size_t idx = 0; idx < entries_.size(); ++idx) {
    if (entries_[idx].key != 0) waiting_[entries_[idx].key] = front_ + idx;
  }
}

}  // namespace aits::api
