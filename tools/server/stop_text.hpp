// Stop sequences over streamed text: pieces go in, text that can safely be sent comes out. Text that might be
// the start of a stop sequence spanning later tokens is held back until it is decided; a stop sequence found
// ends the stream and is not emitted (OpenAI's rule).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bitnet::server {

class StopText {
 public:
  explicit StopText(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Appends a piece; returns the text now safe to emit. Sets `stopped` when a stop sequence was found (the
  // returned text is everything before it; later pushes return nothing).
  std::string push(std::string_view piece, bool& stopped);
  // The held-back text at the end of generation (empty after a stop).
  std::string flush();

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace bitnet::server
