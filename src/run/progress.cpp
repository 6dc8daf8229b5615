#include "ptrain/run/progress.hpp"

#include <cstdio>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "ptrain/io/name_encoding.hpp"

namespace ptrain {

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

void Progress::start_epoch(int epoch, int epochs, std::size_t first, std::size_t total) {
  epoch_ = epoch;
  epochs_ = epochs;
  first_ = first;
  total_ = total;
  start_ = last_draw_ = ProfileClock::now();
}

void Progress::step(std::size_t done) {
  if (!bar_) return;
  const auto now = ProfileClock::now();
  if (drawn_ && seconds_between(last_draw_, now) < 0.1) return;
  last_draw_ = now;
  const double elapsed = seconds_between(start_, now);
  const double rate = elapsed > 0 ? static_cast<double>(done - first_) / elapsed : 0.0;
  const double left = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
  constexpr int kWidth = 30;
  const int filled = total_ ? static_cast<int>(kWidth * done / total_) : kWidth;
  char text[160];
  std::snprintf(text, sizeof text, "\repoch %d/%d [%.*s%.*s] %3d%%  %.0f examples/s  %.1f s left\033[K", epoch_,
                epochs_, filled, "##############################", kWidth - filled, "..............................",
                total_ ? static_cast<int>(100 * done / total_) : 100, rate, left);
  out_ << text << std::flush;
  drawn_ = true;
}

void Progress::reading(const std::string& path, std::uint64_t done, std::uint64_t total) {
  if (!bar_) return;
  const auto now = ProfileClock::now();
  if (path != reading_) {
    reading_ = path;
    start_ = last_draw_ = now;
  }
  if (seconds_between(start_, now) < 1 || seconds_between(last_draw_, now) < 0.1) return;
  last_draw_ = now;
  char text[120];
  std::snprintf(text, sizeof text, " %.0f of %.0f MB, %.0f MB/s\033[K", static_cast<double>(done) / 1e6,
                static_cast<double>(total) / 1e6, static_cast<double>(done) / 1e6 / seconds_between(start_, now));
  out_ << "\rreading " << terminal_text(path, false) << text << std::flush;
  drawn_ = true;
}

void Progress::clear_bar() {
  if (drawn_) out_ << "\r\033[K";
  drawn_ = false;
}

void Progress::line(const std::string& text) {
  if (quiet_) return;
  clear_bar();
  out_ << terminal_text(text) << std::endl;
}

void Progress::result(const std::string& text) {
  clear_bar();
  out_ << terminal_text(text) << std::endl;
}

}  // namespace ptrain
