#include "tuner/interrupt.hpp"

#include <csignal>

namespace batchtune {
namespace {
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
struct sigaction g_old_int {}, g_old_term {};

extern "C" void on_signal(int sig) {
  g_signal.store(sig);
  g_stop.store(true);
}
}  // namespace

InterruptGuard::InterruptGuard() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

const std::atomic<bool>& InterruptGuard::flag() { return g_stop; }
int InterruptGuard::signal_number() { return g_signal.load(); }
void InterruptGuard::raise_for_test() {
  g_signal.store(SIGINT);
  g_stop.store(true);
}
void InterruptGuard::reset() {
  g_stop.store(false);
  g_signal.store(0);
}

}  // namespace batchtune
