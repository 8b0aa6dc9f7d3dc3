// StopText: the earliest stop sequence wins; the hold-back is the longest tail that is a proper prefix of a stop.
#include "stop_text.hpp"

#include <algorithm>

namespace bitnet::server {

std::string StopText::push(std::string_view piece, bool& stopped) {
  stopped = stopped_;
  if (stopped_) return std::string();
  held_.append(piece);
  size_t first = std::string::npos;
  for (const std::string& s : stops_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    stopped_ = stopped = true;
    std::string out = held_.substr(0, first);
    held_.clear();
    return out;
  }
  // Keep the longest tail of held_ that some stop sequence starts with (a stop is valid UTF-8 and its prefix
  // starts at a character boundary, so the cut never splits a character).
  size_t keep = 0;
  for (const std::string& s : stops_) {
    const size_t max = std::min(s.size() - 1, held_.size());
    for (size_t k = max; k > keep; --k)
      if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
        keep = k;
        break;
      }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopText::flush() {
  std::string out;
  out.swap(held_);
  return stopped_ ? std::string() : out;
}

}  // namespace bitnet::server
