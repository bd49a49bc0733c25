// `edgeforge certs`: the command-line face of certs/pki.h.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace edgeforge::certs {

/// Runs `edgeforge certs <args...>` (args exclude "edgeforge certs").
/// Exit codes: 0 success (and --help), 1 the operation failed
/// ("edgeforge certs: <message>" on `err`), 2 usage error (one line + hint).
int RunCertsCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace edgeforge::certs
