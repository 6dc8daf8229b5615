#pragma once
// SIGINT, SIGTERM and SIGHUP ask a training run to stop after the step in progress, so it can keep a
// checkpoint and say how to resume.
#include <memory>

namespace ptrain {

// Catches SIGINT, SIGTERM and SIGHUP while alive; a second signal gets the default action (the run has
// then been asked twice), which the atomic writes make safe.
class StopOnSignal {
 public:
  StopOnSignal();
  ~StopOnSignal();
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  // The signal caught since construction, or 0.
  static int requested();

 private:
  struct Saved;
  std::unique_ptr<Saved> saved_;  // the actions before ours, put back at the end
};

// "SIGINT", "SIGTERM", "SIGHUP" or "a signal".
const char* signal_name(int signal);

}  // namespace ptrain
