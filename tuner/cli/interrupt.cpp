#include "tuner/cli/interrupt.hpp"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "reports/util/atomic_file.hpp"

namespace batchtune {
namespace {
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
std::atomic<bool> g_watching{false};
bool g_final_written = false;  // under g_checkpoint_mutex
struct sigaction g_old_int {}, g_old_term {}, g_old_hup {};

std::mutex g_checkpoint_mutex;  // held while the checkpoint changes or the final report is written
std::string g_checkpoint_path, g_checkpoint_text, g_checkpoint_what;
std::thread g_watchdog;

extern "C" void on_signal(int sig) {
  g_signal.store(sig);
  g_stop.store(true);
}

void say(const std::string& line) {
  const std::string text = line + "\n";
  (void)!write(STDERR_FILENO, text.data(), text.size());
}

void watch(double grace_seconds) {
  using namespace std::chrono;
  while (g_watching.load()) {
    if (!g_stop.load()) {
      std::this_thread::sleep_for(milliseconds(20));
      continue;
    }
    const auto deadline = steady_clock::now() + duration<double>(grace_seconds);
    while (g_watching.load() && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(10));
    if (!g_watching.load()) return;  // the work stopped by itself
    // The work is still inside a long step: write what it last checkpointed
    // and end the process here.
    std::unique_lock<std::mutex> lock(g_checkpoint_mutex);
    if (g_final_written) return;  // the work wrote its own report; it ends the command
    const std::string sig = InterruptGuard::signal_name();
    if (!g_checkpoint_path.empty()) {
      try {
        write_file_atomically(g_checkpoint_path, g_checkpoint_text);
        say("batchtune: error: interrupted by " + sig + " during " + g_checkpoint_what + "; the report in " +
            g_checkpoint_path + " holds what was measured and is marked incomplete");
      } catch (const std::exception& e) {
        say("batchtune: error: interrupted by " + sig + "; writing " + g_checkpoint_path + " failed: " + e.what());
      }
    } else {
      say("batchtune: error: interrupted by " + sig + "; nothing was written");
    }
    _exit(7);
  }
}
}  // namespace

InterruptGuard::InterruptGuard(double grace_seconds) {
  if (g_watching.load()) throw std::logic_error("one InterruptGuard per process at a time");
  reset();
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;  // a read from an isolated trial's pipe goes on
  sigemptyset(&sa.sa_mask);
  // A signal the process was started to ignore (nohup's SIGHUP, SIGINT for a
  // background job of a non-interactive shell) stays ignored.
  auto install = [&](int sig, struct sigaction* old) {
    sigaction(sig, nullptr, old);
    if (old->sa_handler != SIG_IGN) sigaction(sig, &sa, nullptr);
  };
  install(SIGINT, &g_old_int);
  install(SIGTERM, &g_old_term);
  install(SIGHUP, &g_old_hup);
  g_watching.store(true);
  g_final_written = false;
  g_watchdog = std::thread(watch, grace_seconds);
}

InterruptGuard::~InterruptGuard() {
  g_watching.store(false);
  if (g_watchdog.joinable()) g_watchdog.join();
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  sigaction(SIGHUP, &g_old_hup, nullptr);
  clear_checkpoint();
}

const std::atomic<bool>& InterruptGuard::flag() { return g_stop; }
int InterruptGuard::signal_number() { return g_signal.load(); }
std::string InterruptGuard::signal_name() {
  switch (g_signal.load()) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    case 0: return "a signal";
    default: return "signal " + std::to_string(g_signal.load());
  }
}

void InterruptGuard::checkpoint(const std::string& path, const std::string& text, const std::string& what) {
  std::lock_guard<std::mutex> lock(g_checkpoint_mutex);
  g_checkpoint_path = path;
  g_checkpoint_text = text;
  g_checkpoint_what = what;
}

void InterruptGuard::clear_checkpoint() {
  std::lock_guard<std::mutex> lock(g_checkpoint_mutex);
  g_checkpoint_path.clear();
  g_checkpoint_text.clear();
  g_checkpoint_what.clear();
}

void InterruptGuard::begin_final_write() { g_checkpoint_mutex.lock(); }
void InterruptGuard::end_final_write() {
  g_final_written = true;
  g_checkpoint_mutex.unlock();
}

void InterruptGuard::raise_for_test() {
  g_signal.store(SIGINT);
  g_stop.store(true);
}
void InterruptGuard::reset() {
  g_stop.store(false);
  g_signal.store(0);
}

}  // namespace batchtune
