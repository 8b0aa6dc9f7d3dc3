// Dispatch for attention kernels that keep up to 8 queries' sums in registers: the query count becomes a compile-time
// constant, so each count's loops unroll.
#pragma once

#include <algorithm>
#include <type_traits>

namespace bitnet::kernels {

// fn(first, std::integral_constant<int, N>{}) for queries [0, n_q) in groups of N = 8, the last 1 to 8.
template <class Fn>
void for_query_groups(int n_q, Fn&& fn) {
  for (int first = 0; first < n_q; first += 8) {
    switch (std::min(8, n_q - first)) {
      case 8: fn(first, std::integral_constant<int, 8>{}); break;
      case 7: fn(first, std::integral_constant<int, 7>{}); break;
      case 6: fn(first, std::integral_constant<int, 6>{}); break;
      case 5: fn(first, std::integral_constant<int, 5>{}); break;
      case 4: fn(first, std::integral_constant<int, 4>{}); break;
      case 3: fn(first, std::integral_constant<int, 3>{}); break;
      case 2: fn(first, std::integral_constant<int, 2>{}); break;
      default: fn(first, std::integral_constant<int, 1>{}); break;
    }
  }
}

}  // namespace bitnet::kernels
