#include "cli/common/signals.h"

#include <csignal>
#include <initializer_list>

namespace edgeforge::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_reload = 0;

void OnStopSignal(int) { g_stop = 1; }
void OnReloadSignal(int) { g_reload = 1; }

void Install(int signal, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  // Restart interrupted reads and sleeps: the loops poll the flags.
  sa.sa_flags = SA_RESTART;
  sigaction(signal, &sa, nullptr);
}

}  // namespace

void InstallStopSignals() {
  for (int s : {SIGINT, SIGTERM, SIGHUP}) Install(s, OnStopSignal);
}

void InstallDaemonSignals() {
  Install(SIGINT, OnStopSignal);
  Install(SIGTERM, OnStopSignal);
  Install(SIGHUP, OnReloadSignal);
}

bool StopRequested() { return g_stop != 0; }

bool TakeReloadRequest() {
  if (g_reload == 0) return false;
  g_reload = 0;
  return true;
}

}  // namespace edgeforge::cli
