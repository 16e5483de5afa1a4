// Ctrl-C, SIGTERM and SIGHUP during long work. The handler only sets a flag;
// the work checks it between steps and trials, stops, and writes what it
// measured (exit 7). A step can be long (a large batch on a CPU), so a
// watchdog thread also waits: if the work has not finished stopping within
// the grace period, it writes the last checkpoint the work left (a complete
// report marked incomplete), prints the error line and exits 7 itself. A
// command that never checks the flag (`show`, `info`) is thus ended by the
// watchdog too, never killed half-way through a write.
#pragma once

#include <atomic>
#include <string>

namespace batchtune {

class InterruptGuard {
 public:
  // Installs the handlers and starts the watchdog (one guard per process).
  explicit InterruptGuard(double grace_seconds = 0.6);
  ~InterruptGuard();  // stops the watchdog, restores the previous handlers
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  static const std::atomic<bool>& flag();
  static int signal_number();
  static std::string signal_name();
  // What the watchdog writes if the work does not stop in time: the whole
  // text of a valid report (marked incomplete) for `path`. Replaces the last.
  static void checkpoint(const std::string& path, const std::string& text, const std::string& what);
  static void clear_checkpoint();
  // The final report is being written: the watchdog waits for it instead of
  // racing it (a signal now still ends the command with exit 7 afterwards).
  static void begin_final_write();
  static void end_final_write();
  // begin_final_write() for a scope.
  struct FinalWrite {
    FinalWrite() { begin_final_write(); }
    ~FinalWrite() { end_final_write(); }
    FinalWrite(const FinalWrite&) = delete;
    FinalWrite& operator=(const FinalWrite&) = delete;
  };
  // For tests: as if a signal had arrived.
  static void raise_for_test();
  static void reset();
};

}  // namespace batchtune
