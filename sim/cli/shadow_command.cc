#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "certs/pki.h"
#include "cli/common/command_line.h"
#include "firmware/link/paho/paho_session.h"
#include "sim/broker/local_broker.h"
#include "sim/cli/commands.h"
#include "sim/shadow/shadow_document.h"

namespace edgeforge::cli {
namespace {

using nlohmann::json;

constexpr const char* kUsage = R"(usage: edgeforge shadow get THING [options]
       edgeforge shadow set THING --desired JSON [options]

Reads or changes a thing's classic device shadow through a broker's shadow
service, as an operator would with IoT Core: publishes to
$aws/things/THING/shadow/get (or /update with {"state":{"desired":JSON}}) with
a clientToken, waits for the matching .../accepted or .../rejected and prints
the document. 'edgeforge broker' and 'edgeforge sim' run the service.

It connects with the shadow-service identity (<certs>/shadow.crt), the one
the local broker's ACL lets read and write every thing's shadow topics.

options:
  --broker URI      the broker (ssl://host:port or mqtts://host:port); required
  --certs DIR       PKI directory: ca.crt, shadow.crt, shadow.key
                    (default ./edgeforge-run/pki)
  --desired JSON    set: a JSON object merged into desired (a null deletes a
                    key), e.g. '{"config":{"report_ms":5000}}'
  --timeout D       how long to wait for the connection and the answer
                    (default 10s)
  -h, --help        this text

exit status: 0 accepted (the document is printed), 1 rejected (code and
message printed) or no answer, 2 for a usage error.
)";

struct Reply {
  bool accepted = false;
  json doc;
};

}  // namespace

int RunShadow(const Argv& args, std::ostream& out, std::ostream& err) {
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
    out << kUsage;
    return 0;
  }
  CommandLine cl("edgeforge shadow");
  std::string broker, certs_dir = "edgeforge-run/pki", desired;
  std::chrono::milliseconds timeout{10000};
  cl.BrokerUri("--broker", broker);
  cl.String("--certs", certs_dir);
  cl.String("--desired", desired);
  cl.Duration("--timeout", timeout, "give a timeout above 0");
  const Argv rest(args.size() > 2 ? args.begin() + 2 : args.end(), args.end());
  const Status parsed = cl.Parse(rest);
  if (cl.help()) {
    out << kUsage;
    return 0;
  }
  if (!parsed.ok()) return cl.UsageError(parsed, err);
  if (args.size() < 2 || (args[0] != "get" && args[0] != "set")) {
    return cl.UsageError(InvalidArgument("expected 'get THING' or 'set THING --desired JSON'"), err);
  }
  const std::string op = args[0];
  const std::string thing = args[1];
  if (Status s = certs::ValidateThingName(thing); !s.ok()) return cl.UsageError(s.WithContext("THING"), err);
  if (broker.empty()) return cl.UsageError(InvalidArgument("--broker is required"), err);
  json desired_json;
  if (op == "set") {
    if (desired.empty()) return cl.UsageError(InvalidArgument("set needs --desired JSON"), err);
    desired_json = json::parse(desired, nullptr, false);
    if (desired_json.is_discarded() || !desired_json.is_object()) {
      return cl.UsageError(
          InvalidArgument("--desired: expected a JSON object such as '{\"config\":{\"report_ms\":5000}}', got '" +
                          desired + "'"),
          err);
    }
  } else if (!desired.empty()) {
    return cl.UsageError(InvalidArgument("--desired applies to set only"), err);
  }

  link::SessionConfig c;
  c.server_uri = broker;
  c.client_id = "edgeforge-shadow-cli-" + std::to_string(::getpid());
  c.tls = {certs_dir + "/ca.crt", certs_dir + "/shadow.crt", certs_dir + "/shadow.key"};
  c.connect_timeout = timeout;
  auto session = link::MakePahoSession(c);
  if (!session.ok()) {
    err << "edgeforge shadow: " << session.status().ToString() << "\n";
    return 1;
  }
  SystemClock clock;
  const std::string base = "$aws/things/" + thing + "/shadow/" + (op == "get" ? "get" : "update");
  const std::string token = c.client_id;
  std::optional<Reply> reply;
  auto on_reply = [&](bool accepted) {
    return [&reply, &token, accepted](const link::IncomingMessage& m) {
      json j = json::parse(m.payload, nullptr, false);
      if (j.is_discarded() || !j.is_object() || j.value("clientToken", "") != token) return;  // someone else's
      reply = Reply{accepted, std::move(j)};
    };
  };
  Status s = link::ConnectAndWait(**session, clock, timeout + Millis(4000));  // Paho checks timeouts every 3 s
  if (s.ok()) s = link::SubscribeAndWait(**session, clock, timeout, base + "/accepted", 1, on_reply(true));
  if (s.ok()) s = link::SubscribeAndWait(**session, clock, timeout, base + "/rejected", 1, on_reply(false));
  json request{{"clientToken", token}};
  if (op == "set") request["state"] = json{{"desired", desired_json}};
  if (s.ok()) s = link::PublishAndWait(**session, clock, timeout, link::OutgoingMessage{base, request.dump(), 1, {}});
  if (!s.ok()) {
    err << "edgeforge shadow: " << broker << ": " << s.ToString() << "\n";
    return 1;
  }
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!reply && std::chrono::steady_clock::now() < end) {
    (*session)->Dispatch();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  (*session)->Disconnect();
  (*session)->Dispatch();
  if (!reply) {
    err << "edgeforge shadow: no answer on " << base << "/accepted or /rejected within " << timeout.count()
        << " ms; is the shadow service running beside the broker (edgeforge broker starts it)?\n";
    return 1;
  }
  if (!reply->accepted) {
    err << "edgeforge shadow: " << op << " " << thing << " rejected: " << reply->doc.value("code", 0) << " "
        << reply->doc.value("message", std::string()) << "\n";
    return 1;
  }
  out << reply->doc.dump(2) << "\n";
  return 0;
}

}  // namespace edgeforge::cli
