#include "firmware/app/node.h"

#include <map>
#include <utility>

#include "firmware/app/part.h"

namespace edgeforge::app {
namespace {

pipeline::AlarmRule ToRule(const board::AlarmSpec& a) {
  pipeline::AlarmRule r;
  r.channel = a.channel;
  r.condition =
      a.condition == board::AlarmCondition::kAbove ? pipeline::Condition::kAbove : pipeline::Condition::kBelow;
  r.threshold = a.threshold;
  r.hysteresis = a.hysteresis;
  r.severity = board::SeverityName(a.severity);
  return r;
}

}  // namespace

Node::Node(board::Board board) : board_(std::move(board)) {}

Node::~Node() {
  parts_.clear();
  while (!owned_.empty()) owned_.pop_back();  // sources before drivers before transports
}

std::vector<pipeline::SourceSlot> Node::Slots() const {
  std::vector<pipeline::SourceSlot> slots;
  for (const NodePart& p : parts_) slots.push_back({p.source, Millis(p.device->sample_ms)});
  return slots;
}

Result<std::unique_ptr<Node>> BuildNode(const board::Board& board, BusProvider& buses, Clock& clock) {
  std::unique_ptr<Node> node(new Node(board));
  const board::Board& b = node->board_;
  std::map<std::string, std::string> channel_owner;  // channel -> device name
  for (const board::Device& d : b.devices) {
    const Part* part = FindPart(d.compatible);
    if (part == nullptr) {
      return Unimplemented(b.source + ": " + d.path + ".compatible: " + d.compatible +
                           " is a known part but this firmware has no driver for it");
    }
    PartContext ctx{b, d, b.BusOf(d), buses, clock, node->owned_};
    auto built = part->build(ctx);
    if (!built.ok()) return built.status();
    for (const std::string& ch : built->channels) {
      auto [it, fresh] = channel_owner.emplace(ch, d.name);
      if (!fresh) {
        return InvalidArgument(b.source + ": " + d.path + ": channel \"" + ch + "\" is also produced by " + it->second +
                               " (channel names must be unique on a board)");
      }
    }
    node->parts_.push_back({&d, built->source, std::move(built->channels)});
  }
  for (const board::AlarmSpec& a : b.alarms) {
    if (channel_owner.count(a.channel) == 0) {
      std::string known;
      for (const auto& [ch, owner] : channel_owner) known += (known.empty() ? "" : ", ") + ch;
      return InvalidArgument(b.source + ": " + a.path + ".channel: no part on this board produces \"" + a.channel +
                             "\" (channels: " + known + ")");
    }
    node->rules_.push_back(ToRule(a));
  }
  if (Status s = pipeline::ValidateAlarmRules(node->rules_); !s.ok()) return s.WithContext(b.source + ": alarms");
  return node;
}

}  // namespace edgeforge::app
