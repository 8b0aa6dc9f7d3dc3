// Work over a tensor's rows split across threads, for the one-off repacking done at load.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/thread_pool.hpp"

namespace bitnet::quant {

// fn(row_begin, row_end) over [0, n_rows) in contiguous ranges, on one thread per 4 M weights (rows of ne0 columns)
// up to the CPUs this process may use.
template <typename F>
void for_row_ranges(int64_t n_rows, int64_t ne0, F&& fn) {
  const int64_t n_threads =
      std::clamp<int64_t>(n_rows * ne0 / (int64_t{1} << 22), 1, int64_t{ThreadPool::default_threads()});
  const int64_t per = (n_rows + n_threads - 1) / n_threads;
  run_on_threads(n_threads, [&](int64_t i) { fn(std::min(n_rows, i * per), std::min(n_rows, (i + 1) * per)); });
}

}  // namespace bitnet::quant
