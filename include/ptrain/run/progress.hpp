#pragma once
// What a person watching a run sees: on a terminal, a progress line redrawn in place (examples/s,
// time left) that each epoch's summary line replaces; elsewhere only the plain lines, with no
// carriage returns. `quiet` keeps only the final result.
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>

#include "ptrain/core/profile.hpp"

namespace ptrain {

// v with `digits` digits after the point, as the epoch lines print numbers.
std::string fixed(double v, int digits);

class Progress {
 public:
  Progress(std::ostream& out, bool bar, bool quiet) : out_(out), bar_(bar && !quiet), quiet_(quiet) {}

  void start_epoch(int epoch, int epochs, std::size_t first, std::size_t total);
  void step(std::size_t done);           // redraws at most ten times a second
  void line(const std::string& text);    // a summary or notice line; nothing when quiet
  void result(const std::string& text);  // the final result: always
  void clear_bar();                      // before a message on another stream
  // A data file being read: drawn once it has taken a second, at most ten times a second.
  void reading(const std::string& path, std::uint64_t done, std::uint64_t total);

 private:
  std::ostream& out_;
  bool bar_, quiet_;
  bool drawn_ = false;
  int epoch_ = 0, epochs_ = 0;
  std::size_t first_ = 0, total_ = 0;
  ProfileClock::time_point start_, last_draw_;
  std::string reading_;  // the file being read, since start_
};

}  // namespace ptrain
