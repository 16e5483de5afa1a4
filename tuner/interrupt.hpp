// Ctrl-C and SIGTERM during long work: the handler only sets a flag; the
// sweep checks it between steps, stops, and writes what it measured.
#pragma once

#include <atomic>

namespace batchtune {

class InterruptGuard {
 public:
  InterruptGuard();   // installs SIGINT/SIGTERM handlers
  ~InterruptGuard();  // restores the previous ones
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  static const std::atomic<bool>& flag();
  static int signal_number();
  // For tests: as if a signal had arrived.
  static void raise_for_test();
  static void reset();
};

}  // namespace batchtune
