// The API boundary's exception guard: runs a callable returning Result<T> (or Status) and turns anything it
// throws (allocation failure, a library exception) into a Status, so no exception crosses the public API.
#pragma once

#include <exception>
#include <new>
#include <string>

#include "bitnet/status.hpp"

namespace bitnet {

template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return out_of_range("out of memory");
  } catch (const std::exception& e) {
    return internal_error(std::string("unexpected exception: ") + e.what());
  }
}

}  // namespace bitnet
