#include "ptrain/run/stop_signal.hpp"

#include <signal.h>

#include <csignal>

namespace ptrain {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void request_stop(int signal) { g_stop_signal = signal; }

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
  sigaction(SIGINT, &sa, &saved_->interrupt);
  sigaction(SIGTERM, &sa, &saved_->terminate);
  sigaction(SIGHUP, &sa, &saved_->hangup);  // a closed terminal or ssh session: stop as on SIGTERM
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
