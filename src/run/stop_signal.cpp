#include "ptrain/run/stop_signal.hpp"

#include <signal.h>

#include <csignal>

namespace ptrain {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void request_stop(int signal) { g_stop_signal = signal; }

// Catches `signal` unless the process inherited it ignored (nohup, a shell's `trap '' INT`):
// what the user set stays set. `saved` gets what was there, to put back.
void catch_unless_ignored(int signal, const struct sigaction& catcher, struct sigaction* saved) {
  sigaction(signal, nullptr, saved);
  if (!(saved->sa_flags & SA_SIGINFO) && saved->sa_handler == SIG_IGN) return;
  sigaction(signal, &catcher, nullptr);
}

}  // namespace

struct StopOnSignal::Saved {
  struct sigaction interrupt {
  }, terminate{}, hangup{};
};

StopOnSignal::StopOnSignal() : saved_(std::make_unique<Saved>()) {
  g_stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = request_stop;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  catch_unless_ignored(SIGINT, sa, &saved_->interrupt);
  catch_unless_ignored(SIGTERM, sa, &saved_->terminate);
  catch_unless_ignored(SIGHUP, sa, &saved_->hangup);  // a closed terminal or ssh session: stop as on SIGTERM
}

StopOnSignal::~StopOnSignal() {
  sigaction(SIGINT, &saved_->interrupt, nullptr);
  sigaction(SIGTERM, &saved_->terminate, nullptr);
  sigaction(SIGHUP, &saved_->hangup, nullptr);
}

int StopOnSignal::requested() { return g_stop_signal; }

const char* signal_name(int s) {
  return s == SIGINT ? "SIGINT" : s == SIGTERM ? "SIGTERM" : s == SIGHUP ? "SIGHUP" : "a signal";
}

}  // namespace ptrain
