// Checks for numeric options whose messages say what is wanted: CLI11's NonNegativeNumber and PositiveNumber print
// "Value -5 not in range 0.000000 to 179769313486231570814527423731704356798070567525844996598917476803157..."
// for a negative number and for a word alike.
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "commands.hpp"

namespace bitnet::cli {
namespace {

std::string bound_text(double bound) {
  if (bound == std::floor(bound) && std::fabs(bound) < 1e15) return std::to_string(static_cast<long long>(bound));
  std::string s = std::to_string(bound);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  return s;
}

CLI::Validator number_check(double bound, bool inclusive) {
  const std::string wanted = (inclusive ? "at least " : "more than ") + bound_text(bound);
  return CLI::Validator(
      [bound, inclusive, wanted](std::string& text) -> std::string {
        const char* begin = text.c_str();
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(begin, &end);
        if (end == begin || *end != '\0' || errno == ERANGE || std::isnan(v)) return "'" + text + "' is not a number";
        if (inclusive ? v < bound : v <= bound) return "must be " + wanted + " (got " + text + ")";
        return {};
      },
      // The help's type column, as CLI11's own checks name themselves.
      (inclusive && bound == 0)               ? "NONNEGATIVE"
      : (inclusive ? bound == 1 : bound == 0) ? "POSITIVE"
                                              : wanted);
}

}  // namespace

CLI::Validator at_least(double min) { return number_check(min, true); }
CLI::Validator above(double min) { return number_check(min, false); }

}  // namespace bitnet::cli
