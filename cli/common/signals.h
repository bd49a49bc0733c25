// Process signals for the long-running commands: the one mutable global the
// house style allows (a flag a handler sets and the main loop polls).
#pragma once

namespace edgeforge::cli {

/// sim, verify, broker: SIGINT, SIGTERM and SIGHUP (the terminal went away)
/// all ask the run to stop; it drains and still prints its report.
void InstallStopSignals();

/// edgeforge-device, a daemon: SIGINT and SIGTERM ask it to stop; SIGHUP, by
/// the daemon convention, asks it to reload its configuration (see
/// TakeReloadRequest) and never stops it.
void InstallDaemonSignals();

/// True once a stop signal arrived.
bool StopRequested();

/// True if SIGHUP arrived since the last call (the request is consumed).
bool TakeReloadRequest();

}  // namespace edgeforge::cli
