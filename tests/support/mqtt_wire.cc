#include "tests/support/mqtt_wire.h"

#include <limits>

namespace edgeforge::testing::mqtt {
namespace {

constexpr uint32_t kMaxVarInt = 268'435'455;  // section 1.5.5

// Property identifiers used here (section 2.2.2.2).
constexpr uint8_t kSessionExpiry = 0x11;
constexpr uint8_t kUserProperty = 0x26;

// ---------------------------------------------------------------- encoding

void AppendU16(uint16_t v, std::string& out) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

void AppendU32(uint32_t v, std::string& out) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

/// Section 1.5.4: well-formed UTF-8, no U+0000, no surrogates (U+D800..U+DFFF).
bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c == 0) return false;
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1fu;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0fu;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    const uint32_t min_for_length[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_for_length[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

Status AppendString(std::string_view s, const char* field, std::string& out) {
  if (s.size() > 0xffff) return InvalidArgument(std::string(field) + ": longer than 65535 bytes");
  if (!ValidUtf8(s)) return InvalidArgument(std::string(field) + ": not well-formed UTF-8 (or contains U+0000)");
  AppendU16(static_cast<uint16_t>(s.size()), out);
  out.append(s);
  return Status::Ok();
}

Status AppendBinary(std::string_view s, const char* field, std::string& out) {
  if (s.size() > 0xffff) return InvalidArgument(std::string(field) + ": longer than 65535 bytes");
  AppendU16(static_cast<uint16_t>(s.size()), out);
  out.append(s);
  return Status::Ok();
}

Status AppendUserProperties(const UserProperties& props, std::string& out) {
  for (const auto& [k, v] : props) {
    out.push_back(static_cast<char>(kUserProperty));
    EF_RETURN_IF_ERROR(AppendString(k, "user property name", out));
    EF_RETURN_IF_ERROR(AppendString(v, "user property value", out));
  }
  return Status::Ok();
}

/// Property length (a variable byte integer) followed by the properties.
void AppendProperties(const std::string& props, std::string& out) {
  AppendVarInt(static_cast<uint32_t>(props.size()), out);
  out.append(props);
}

Status CheckQos(int qos, const char* field) {
  if (qos < 0 || qos > 2) return InvalidArgument(std::string(field) + " must be 0, 1 or 2, got " + std::to_string(qos));
  return Status::Ok();
}

Status EncodeBody(const Connect& c, std::string& body, uint8_t& flags) {
  flags = 0;
  EF_RETURN_IF_ERROR(AppendString("MQTT", "CONNECT protocol name", body));
  body.push_back(5);  // protocol level (3.1.2.2)
  uint8_t cf = 0;
  if (c.user_name) cf |= 0x80;
  if (c.password) cf |= 0x40;
  if (c.will) {
    EF_RETURN_IF_ERROR(CheckQos(c.will->qos, "CONNECT will qos"));
    cf |= 0x04;
    cf = static_cast<uint8_t>(cf | (c.will->qos << 3));
    if (c.will->retain) cf |= 0x20;
  }
  if (c.clean_start) cf |= 0x02;
  body.push_back(static_cast<char>(cf));
  AppendU16(c.keepalive_s, body);
  std::string props;
  if (c.session_expiry_s > 0) {
    props.push_back(static_cast<char>(kSessionExpiry));
    AppendU32(c.session_expiry_s, props);
  }
  AppendProperties(props, body);
  EF_RETURN_IF_ERROR(AppendString(c.client_id, "CONNECT client id", body));
  if (c.will) {
    AppendProperties("", body);
    EF_RETURN_IF_ERROR(AppendString(c.will->topic, "CONNECT will topic", body));
    EF_RETURN_IF_ERROR(AppendBinary(c.will->payload, "CONNECT will payload", body));
  }
  if (c.user_name) EF_RETURN_IF_ERROR(AppendString(*c.user_name, "CONNECT user name", body));
  if (c.password) EF_RETURN_IF_ERROR(AppendBinary(*c.password, "CONNECT password", body));
  return Status::Ok();
}

Status EncodeBody(const Connack& c, std::string& body, uint8_t& flags) {
  flags = 0;
  body.push_back(c.session_present ? 1 : 0);
  body.push_back(static_cast<char>(c.reason));
  AppendProperties("", body);
  return Status::Ok();
}

Status EncodeBody(const Publish& p, std::string& body, uint8_t& flags) {
  EF_RETURN_IF_ERROR(CheckQos(p.qos, "PUBLISH qos"));
  if (p.topic.empty()) return InvalidArgument("PUBLISH topic: empty (topic aliases are not supported)");
  if (p.topic.find_first_of("+#") != std::string::npos) {
    return InvalidArgument("PUBLISH topic '" + p.topic + "': wildcards are not allowed in a topic name (4.7.1)");
  }
  if (p.qos > 0 && p.packet_id == 0) return InvalidArgument("PUBLISH packet id: must be non-zero for QoS > 0");
  if (p.qos == 0 && (p.packet_id != 0 || p.dup)) {
    return InvalidArgument("PUBLISH QoS 0: has no packet id and no DUP flag (3.3.1.1)");
  }
  flags = static_cast<uint8_t>((p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 1 : 0));
  EF_RETURN_IF_ERROR(AppendString(p.topic, "PUBLISH topic", body));
  if (p.qos > 0) AppendU16(p.packet_id, body);
  std::string props;
  EF_RETURN_IF_ERROR(AppendUserProperties(p.user_properties, props));
  AppendProperties(props, body);
  body.append(p.payload);
  return Status::Ok();
}

Status EncodeBody(const Puback& p, std::string& body, uint8_t& flags) {
  flags = 0;
  if (p.packet_id == 0) return InvalidArgument("PUBACK packet id: must be non-zero");
  AppendU16(p.packet_id, body);
  // 3.4.2.1: reason 0x00 with no properties may be omitted (length 2).
  if (p.reason != 0) body.push_back(static_cast<char>(p.reason));
  return Status::Ok();
}

Status EncodeBody(const Subscribe& s, std::string& body, uint8_t& flags) {
  flags = 0x02;  // 3.8.1: reserved bits 0010
  if (s.packet_id == 0) return InvalidArgument("SUBSCRIBE packet id: must be non-zero");
  if (s.filters.empty()) return InvalidArgument("SUBSCRIBE: needs at least one topic filter (3.8.3)");
  AppendU16(s.packet_id, body);
  AppendProperties("", body);
  for (const auto& f : s.filters) {
    if (f.filter.empty()) return InvalidArgument("SUBSCRIBE topic filter: empty");
    if ((f.options & 0xc0) != 0 || (f.options & 0x03) == 3 || ((f.options >> 4) & 0x03) == 3) {
      return InvalidArgument("SUBSCRIBE options for '" + f.filter + "': reserved bits or QoS 3 / retain handling 3");
    }
    EF_RETURN_IF_ERROR(AppendString(f.filter, "SUBSCRIBE topic filter", body));
    body.push_back(static_cast<char>(f.options));
  }
  return Status::Ok();
}

Status EncodeBody(const Suback& s, std::string& body, uint8_t& flags) {
  flags = 0;
  if (s.packet_id == 0) return InvalidArgument("SUBACK packet id: must be non-zero");
  if (s.reasons.empty()) return InvalidArgument("SUBACK: needs one reason code per filter");
  AppendU16(s.packet_id, body);
  AppendProperties("", body);
  for (uint8_t r : s.reasons) body.push_back(static_cast<char>(r));
  return Status::Ok();
}

Status EncodeBody(const Disconnect& d, std::string& body, uint8_t& flags) {
  flags = 0;
  if (d.reason != 0) body.push_back(static_cast<char>(d.reason));  // 3.14.2.1: 0 may be omitted
  return Status::Ok();
}

Status EncodeBody(const Pingreq&, std::string&, uint8_t& flags) {
  flags = 0;
  return Status::Ok();
}

Status EncodeBody(const Pingresp&, std::string&, uint8_t& flags) {
  flags = 0;
  return Status::Ok();
}

// ---------------------------------------------------------------- decoding

/// A bounds-checked reader over one packet's variable header and payload.
class Reader {
 public:
  Reader(std::string_view data, const char* packet) : data_(data), packet_(packet) {}

  size_t left() const { return data_.size() - pos_; }
  bool done() const { return pos_ == data_.size(); }

  Status Error(const std::string& what) const { return DataLoss(std::string(packet_) + " " + what); }

  Result<uint8_t> U8(const char* field) {
    if (left() < 1) return Error(std::string(field) + ": truncated");
    return static_cast<uint8_t>(data_[pos_++]);
  }
  Result<uint16_t> U16(const char* field) {
    if (left() < 2) return Error(std::string(field) + ": truncated");
    const auto v =
        static_cast<uint16_t>((static_cast<uint8_t>(data_[pos_]) << 8) | static_cast<uint8_t>(data_[pos_ + 1]));
    pos_ += 2;
    return v;
  }
  Result<uint32_t> U32(const char* field) {
    if (left() < 4) return Error(std::string(field) + ": truncated");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_++]);
    return v;
  }
  Result<uint32_t> VarInt(const char* field) {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      if (left() < 1) return Error(std::string(field) + ": truncated variable byte integer");
      const auto b = static_cast<uint8_t>(data_[pos_++]);
      value |= static_cast<uint32_t>(b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) {
        if (i > 0 && b == 0)
          return Error(std::string(field) + ": variable byte integer not in its minimal form (1.5.5)");
        return value;
      }
    }
    return Error(std::string(field) + ": variable byte integer longer than 4 bytes (1.5.5)");
  }
  Result<std::string> Binary(const char* field) {
    auto n = U16(field);
    if (!n.ok()) return n.status();
    if (left() < *n) return Error(std::string(field) + ": length " + std::to_string(*n) + " runs past the packet");
    std::string s(data_.substr(pos_, *n));
    pos_ += *n;
    return s;
  }
  Result<std::string> Utf8(const char* field) {
    auto s = Binary(field);
    if (!s.ok()) return s;
    if (!ValidUtf8(*s)) return Error(std::string(field) + ": not well-formed UTF-8 (or contains U+0000) (1.5.4)");
    return s;
  }
  std::string Rest() {
    std::string s(data_.substr(pos_));
    pos_ = data_.size();
    return s;
  }
  /// A sub-reader over the next `n` bytes (a property block).
  Result<Reader> Sub(uint32_t n, const char* field) {
    if (left() < n) return Error(std::string(field) + ": length " + std::to_string(n) + " runs past the packet");
    Reader r(data_.substr(pos_, n), packet_);
    pos_ += n;
    return r;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  const char* packet_;
};

/// What a property block held that a test looks at.
struct Properties {
  std::optional<uint32_t> session_expiry;
  UserProperties user;
};

/// Section 2.2.2: a property length then properties; every identifier of the
/// table in 2.2.2.2 is read by its type. Which ones a packet may carry is not
/// policed (a test broker is lenient), but unknown identifiers are malformed,
/// and so are duplicates of the single-valued property kept here.
Result<Properties> ReadProperties(Reader& r, const char* field) {
  auto len = r.VarInt(field);
  if (!len.ok()) return len.status();
  auto sub = r.Sub(*len, field);
  if (!sub.ok()) return sub.status();
  Reader& p = *sub;
  Properties out;
  while (!p.done()) {
    auto id = p.VarInt("property identifier");  // 2.2.2.2: a variable byte integer
    if (!id.ok()) return id.status();
    Status st = Status::Ok();
    switch (*id) {
      case 0x01:
      case 0x17:
      case 0x19:
      case 0x24:
      case 0x25:
      case 0x28:
      case 0x29:
      case 0x2A:  // byte
        st = p.U8("property").status();
        break;
      case 0x13:
      case 0x21:
      case 0x22:
      case 0x23:  // two-byte integer
        st = p.U16("property").status();
        break;
      case 0x02:
      case 0x18:
      case 0x27:  // four-byte integer
        st = p.U32("property").status();
        break;
      case kSessionExpiry: {
        auto v = p.U32("session expiry interval");
        if (!v.ok()) return v.status();
        if (out.session_expiry) return r.Error("session expiry interval: given twice (2.2.2.2)");
        out.session_expiry = *v;
        break;
      }
      case 0x0B:  // subscription identifier
        st = p.VarInt("subscription identifier").status();
        break;
      case 0x03:
      case 0x08:
      case 0x12:
      case 0x15:
      case 0x1A:
      case 0x1C:
      case 0x1F:  // UTF-8 string
        st = p.Utf8("property").status();
        break;
      case 0x09:
      case 0x16:  // binary data
        st = p.Binary("property").status();
        break;
      case kUserProperty: {
        auto k = p.Utf8("user property name");
        if (!k.ok()) return k.status();
        auto v = p.Utf8("user property value");
        if (!v.ok()) return v.status();
        out.user.emplace_back(std::move(*k), std::move(*v));
        break;
      }
      default:
        return r.Error(std::string(field) + ": unknown property identifier " + std::to_string(*id) + " (2.2.2.2)");
    }
    if (!st.ok()) return st;
  }
  return out;
}

#define EF_ASSIGN(lhs, expr)                \
  do {                                      \
    auto ef_r_ = (expr);                    \
    if (!ef_r_.ok()) return ef_r_.status(); \
    lhs = std::move(*ef_r_);                \
  } while (0)

Result<Packet> DecodeConnect(Reader& r) {
  Connect c;
  std::string name;
  EF_ASSIGN(name, r.Utf8("protocol name"));
  if (name != "MQTT") return r.Error("protocol name: '" + name + "', not 'MQTT' (3.1.2.1)");
  uint8_t level = 0;
  EF_ASSIGN(level, r.U8("protocol level"));
  if (level != 5) return r.Error("protocol level: " + std::to_string(level) + ", this codec speaks 5 (3.1.2.2)");
  uint8_t cf = 0;
  EF_ASSIGN(cf, r.U8("connect flags"));
  if (cf & 0x01) return r.Error("connect flags: reserved bit 0 set (3.1.2.3)");
  const bool will = cf & 0x04;
  const int will_qos = (cf >> 3) & 0x03;
  const bool will_retain = cf & 0x20;
  if (will_qos == 3) return r.Error("connect flags: will QoS 3 (3.1.2.6)");
  if (!will && (will_qos != 0 || will_retain))
    return r.Error("connect flags: will QoS/retain without a will (3.1.2.6)");
  c.clean_start = cf & 0x02;
  EF_ASSIGN(c.keepalive_s, r.U16("keep alive"));
  Properties props;
  EF_ASSIGN(props, ReadProperties(r, "properties"));
  c.session_expiry_s = props.session_expiry.value_or(0);
  EF_ASSIGN(c.client_id, r.Utf8("client id"));
  if (will) {
    Will w;
    Properties will_props;
    EF_ASSIGN(will_props, ReadProperties(r, "will properties"));
    EF_ASSIGN(w.topic, r.Utf8("will topic"));
    EF_ASSIGN(w.payload, r.Binary("will payload"));
    w.qos = will_qos;
    w.retain = will_retain;
    c.will = std::move(w);
  }
  if (cf & 0x80) {
    std::string user;
    EF_ASSIGN(user, r.Utf8("user name"));
    c.user_name = std::move(user);
  }
  if (cf & 0x40) {
    std::string pass;
    EF_ASSIGN(pass, r.Binary("password"));
    c.password = std::move(pass);
  }
  if (!r.done()) return r.Error("payload: " + std::to_string(r.left()) + " bytes after the last field");
  return Packet(std::move(c));
}

Result<Packet> DecodeConnack(Reader& r) {
  Connack c;
  uint8_t ack = 0;
  EF_ASSIGN(ack, r.U8("acknowledge flags"));
  if (ack & 0xfe) return r.Error("acknowledge flags: reserved bits set (3.2.2.1)");
  c.session_present = ack & 0x01;
  EF_ASSIGN(c.reason, r.U8("reason code"));
  if (c.reason != 0 && c.session_present) return r.Error("session present with a refusal (3.2.2.1.1)");
  Properties props;
  EF_ASSIGN(props, ReadProperties(r, "properties"));
  if (!r.done()) return r.Error("trailing bytes");
  return Packet(c);
}

Result<Packet> DecodePublish(Reader& r, uint8_t flags) {
  Publish p;
  p.dup = flags & 0x08;
  p.qos = (flags >> 1) & 0x03;
  p.retain = flags & 0x01;
  if (p.qos == 3) return r.Error("fixed header: QoS 3 (3.3.1.2)");
  if (p.qos == 0 && p.dup) return r.Error("fixed header: DUP set on QoS 0 (3.3.1.1)");
  EF_ASSIGN(p.topic, r.Utf8("topic name"));
  if (p.topic.empty()) return r.Error("topic name: empty (topic aliases are not supported here)");
  if (p.topic.find_first_of("+#") != std::string::npos) return r.Error("topic name: contains a wildcard (3.3.2.1)");
  if (p.qos > 0) {
    EF_ASSIGN(p.packet_id, r.U16("packet identifier"));
    if (p.packet_id == 0) return r.Error("packet identifier: 0 (2.2.1)");
  }
  Properties props;
  EF_ASSIGN(props, ReadProperties(r, "properties"));
  p.user_properties = std::move(props.user);
  p.payload = r.Rest();
  return Packet(std::move(p));
}

Result<Packet> DecodePuback(Reader& r) {
  Puback p;
  EF_ASSIGN(p.packet_id, r.U16("packet identifier"));
  if (p.packet_id == 0) return r.Error("packet identifier: 0 (2.2.1)");
  if (!r.done()) EF_ASSIGN(p.reason, r.U8("reason code"));
  if (!r.done()) {
    Properties props;
    EF_ASSIGN(props, ReadProperties(r, "properties"));
  }
  if (!r.done()) return r.Error("trailing bytes");
  return Packet(p);
}

Result<Packet> DecodeSubscribe(Reader& r) {
  Subscribe s;
  EF_ASSIGN(s.packet_id, r.U16("packet identifier"));
  if (s.packet_id == 0) return r.Error("packet identifier: 0 (2.2.1)");
  Properties props;
  EF_ASSIGN(props, ReadProperties(r, "properties"));
  while (!r.done()) {
    Subscribe::Filter f;
    EF_ASSIGN(f.filter, r.Utf8("topic filter"));
    if (f.filter.empty()) return r.Error("topic filter: empty (4.7.3)");
    EF_ASSIGN(f.options, r.U8("subscription options"));
    if ((f.options & 0xc0) != 0) return r.Error("subscription options: reserved bits set (3.8.3.1)");
    if ((f.options & 0x03) == 3) return r.Error("subscription options: QoS 3 (3.8.3.1)");
    if (((f.options >> 4) & 0x03) == 3) return r.Error("subscription options: retain handling 3 (3.8.3.1)");
    s.filters.push_back(std::move(f));
  }
  if (s.filters.empty()) return r.Error("payload: no topic filter (3.8.3)");
  return Packet(std::move(s));
}

Result<Packet> DecodeSuback(Reader& r) {
  Suback s;
  EF_ASSIGN(s.packet_id, r.U16("packet identifier"));
  if (s.packet_id == 0) return r.Error("packet identifier: 0 (2.2.1)");
  Properties props;
  EF_ASSIGN(props, ReadProperties(r, "properties"));
  const std::string rest = r.Rest();
  if (rest.empty()) return r.Error("payload: no reason code (3.9.3)");
  s.reasons.assign(rest.begin(), rest.end());
  return Packet(std::move(s));
}

Result<Packet> DecodeDisconnect(Reader& r) {
  Disconnect d;
  if (!r.done()) EF_ASSIGN(d.reason, r.U8("reason code"));
  if (!r.done()) {
    Properties props;
    EF_ASSIGN(props, ReadProperties(r, "properties"));
  }
  if (!r.done()) return r.Error("trailing bytes");
  return Packet(d);
}

/// The fixed header's low nibble (section 2.1.3): only PUBLISH carries flags;
/// SUBSCRIBE's are 0010, everything else 0000.
uint8_t RequiredFlags(PacketType t) { return t == PacketType::kSubscribe ? 0x02 : 0x00; }

Result<Packet> DecodeBody(uint8_t first, std::string_view body) {
  const auto type = static_cast<PacketType>(first >> 4);
  const uint8_t flags = first & 0x0f;
  const char* name = PacketName(type);
  Reader r(body, name);
  if (type != PacketType::kPublish && flags != RequiredFlags(type)) {
    return r.Error("fixed header: flags " + std::to_string(flags) + " are reserved (2.1.3)");
  }
  switch (type) {
    case PacketType::kConnect:
      return DecodeConnect(r);
    case PacketType::kConnack:
      return DecodeConnack(r);
    case PacketType::kPublish:
      return DecodePublish(r, flags);
    case PacketType::kPuback:
      return DecodePuback(r);
    case PacketType::kSubscribe:
      return DecodeSubscribe(r);
    case PacketType::kSuback:
      return DecodeSuback(r);
    case PacketType::kDisconnect:
      return DecodeDisconnect(r);
    case PacketType::kPingreq:
    case PacketType::kPingresp:
      if (!r.done()) return r.Error("remaining length: must be 0 (3.12.1)");
      if (type == PacketType::kPingreq) return Packet(Pingreq{});
      return Packet(Pingresp{});
  }
  return DataLoss("packet type " + std::to_string(first >> 4) + ": not one this codec knows (2.1.2)");
}

bool KnownType(uint8_t t) {
  switch (static_cast<PacketType>(t)) {
    case PacketType::kConnect:
    case PacketType::kConnack:
    case PacketType::kPublish:
    case PacketType::kPuback:
    case PacketType::kSubscribe:
    case PacketType::kSuback:
    case PacketType::kPingreq:
    case PacketType::kPingresp:
    case PacketType::kDisconnect:
      return true;
  }
  return false;
}

}  // namespace

void AppendVarInt(uint32_t value, std::string& out) {
  do {
    auto b = static_cast<uint8_t>(value & 0x7f);
    value >>= 7;
    if (value > 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (value > 0);
}

PacketType TypeOf(const Packet& p) {
  static constexpr PacketType kTypes[] = {PacketType::kConnect, PacketType::kConnack,   PacketType::kPublish,
                                          PacketType::kPuback,  PacketType::kSubscribe, PacketType::kSuback,
                                          PacketType::kPingreq, PacketType::kPingresp,  PacketType::kDisconnect};
  return kTypes[p.index()];
}

const char* PacketName(PacketType t) {
  switch (t) {
    case PacketType::kConnect:
      return "CONNECT";
    case PacketType::kConnack:
      return "CONNACK";
    case PacketType::kPublish:
      return "PUBLISH";
    case PacketType::kPuback:
      return "PUBACK";
    case PacketType::kSubscribe:
      return "SUBSCRIBE";
    case PacketType::kSuback:
      return "SUBACK";
    case PacketType::kPingreq:
      return "PINGREQ";
    case PacketType::kPingresp:
      return "PINGRESP";
    case PacketType::kDisconnect:
      return "DISCONNECT";
  }
  return "packet";
}

Result<std::string> Encode(const Packet& packet) {
  std::string body;
  uint8_t flags = 0;
  Status st = std::visit([&](const auto& p) { return EncodeBody(p, body, flags); }, packet);
  if (!st.ok()) return st;
  if (body.size() > kMaxVarInt)
    return InvalidArgument(std::string(PacketName(TypeOf(packet))) + ": larger than 268435455 bytes");
  std::string out;
  out.push_back(static_cast<char>((static_cast<uint8_t>(TypeOf(packet)) << 4) | flags));
  AppendVarInt(static_cast<uint32_t>(body.size()), out);
  out.append(body);
  return out;
}

Result<std::optional<Packet>> Decoder::Next() {
  if (error_) return *error_;
  if (buffer_.empty()) return std::optional<Packet>();
  const auto first = static_cast<uint8_t>(buffer_[0]);
  if (!KnownType(static_cast<uint8_t>(first >> 4))) {
    error_ =
        DataLoss("fixed header: packet type " + std::to_string(first >> 4) + " is not one this codec knows (2.1.2)");
    return *error_;
  }
  // Remaining length (1.5.5); partial: wait for more bytes.
  uint32_t length = 0;
  size_t header = 1;
  for (int i = 0;; ++i) {
    if (i == 4) {
      error_ = DataLoss(std::string(PacketName(static_cast<PacketType>(first >> 4))) +
                        " remaining length: longer than 4 bytes (1.5.5)");
      return *error_;
    }
    if (buffer_.size() < header + 1) return std::optional<Packet>();
    const auto b = static_cast<uint8_t>(buffer_[header++]);
    length |= static_cast<uint32_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      if (i > 0 && b == 0) {
        error_ = DataLoss(std::string(PacketName(static_cast<PacketType>(first >> 4))) +
                          " remaining length: not in its minimal form (1.5.5)");
        return *error_;
      }
      break;
    }
  }
  if (header + length > max_packet_size_) {
    error_ = DataLoss(std::string(PacketName(static_cast<PacketType>(first >> 4))) + " of " +
                      std::to_string(header + length) + " bytes exceeds the decoder's max_packet_size " +
                      std::to_string(max_packet_size_));
    return *error_;
  }
  if (buffer_.size() < header + length) return std::optional<Packet>();
  auto packet = DecodeBody(first, std::string_view(buffer_).substr(header, length));
  if (!packet.ok()) {
    error_ = packet.status();
    return *error_;
  }
  buffer_.erase(0, header + length);
  return std::optional<Packet>(std::move(*packet));
}

Result<Packet> DecodeOne(std::string_view bytes) {
  Decoder d(std::numeric_limits<size_t>::max());
  d.Feed(bytes);
  auto next = d.Next();
  if (!next.ok()) return next.status();
  if (!next->has_value()) return DataLoss("incomplete packet: " + std::to_string(bytes.size()) + " bytes");
  if (d.buffered() != 0) return DataLoss(std::to_string(d.buffered()) + " bytes after the packet");
  return std::move(**next);
}

}  // namespace edgeforge::testing::mqtt
