#pragma once
// Threads that train or predict without the GIL, and the interpreter's exit. A thread that asks
// for the GIL once finalisation has begun is ended by CPython with pthread_exit; unwinding that
// through a C++ destructor (pybind11's gil_scoped_release) aborts the process. So no ptrain
// thread asks for the GIL then: an atexit handler (run before finalisation, GIL held) shuts the
// gate and waits, without the GIL, until every thread outside Python has come back in or parked.
// A fit parks at its next step; a parked thread sleeps, touching nothing, until the process ends.
#include <Python.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace ptrain_python {

// Thrown inside a fit when the gate has shut: it unwinds the training, then the thread parks.
struct InterpreterExiting {};

class ExitGate {
 public:
  // Never destroyed: parked threads outlive static destruction.
  static ExitGate& instance() {
    static ExitGate* gate = new ExitGate;
    return *gate;
  }

  // With the GIL: counts this thread outside Python and releases the GIL. A RuntimeError once
  // the interpreter is exiting.
  PyThreadState* leave() {
    {
      std::lock_guard lock(mutex_);
      if (shut_) throw std::runtime_error("the interpreter is exiting; ptrain starts no more work");
      ++outside_;
    }
    return PyEval_SaveThread();
  }

  // Without the GIL: back into Python for good, or parked when the interpreter is exiting.
  void enter(PyThreadState* saved) {
    {
      std::unique_lock lock(mutex_);
      if (shut_) park(lock);
    }
    PyEval_RestoreThread(saved);  // the atexit handler waits for this thread: no finalisation yet
    std::lock_guard lock(mutex_);
    --outside_;
    changed_.notify_all();
  }

  // A brief visit into Python from outside (signals, a callback), as a scope; InterpreterExiting
  // instead once the gate has shut.
  class Visit {
   public:
    explicit Visit(PyThreadState* saved) {
      if (instance().shut()) throw InterpreterExiting{};
      PyEval_RestoreThread(saved);  // counted outside: the atexit handler waits for its return
    }
    ~Visit() { PyEval_SaveThread(); }
    Visit(const Visit&) = delete;
    Visit& operator=(const Visit&) = delete;
  };

  bool shut() {
    std::lock_guard lock(mutex_);
    return shut_;
  }

  // After InterpreterExiting has unwound a fit: never returns, never touches Python.
  [[noreturn]] void park() {
    std::unique_lock lock(mutex_);
    park(lock);
  }

  // The atexit handler, with the GIL.
  void shut_and_wait() {
    std::unique_lock lock(mutex_);
    shut_ = true;
    PyThreadState* main = PyEval_SaveThread();
    changed_.wait(lock, [&] { return outside_ == 0; });
    lock.unlock();
    PyEval_RestoreThread(main);
  }

 private:
  ExitGate() = default;
  [[noreturn]] void park(std::unique_lock<std::mutex>& lock) {
    --outside_;
    changed_.notify_all();
    lock.unlock();
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  bool shut_ = false;
  int outside_ = 0;  // threads that released the GIL in ptrain and have neither come back nor parked
};

}  // namespace ptrain_python
