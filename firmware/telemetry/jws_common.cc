// Backend-independent parts of firmware/telemetry/jws.h: base64url, RFC 7638
// thumbprints, the protected header (RFC 7515 / RFC 7797), JWK sets (RFC 7517)
// and PEM public keys. Only mbedTLS is used here, so the portable firmware path
// has no OpenSSL dependency.
#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

#include "firmware/telemetry/jws.h"
#include "firmware/telemetry/jws_internal.h"

namespace edgeforge::jws {

namespace {

using nlohmann::json;

// Our header is ~120 characters; the cap bounds work and JSON nesting for
// headers that arrive from the network.
constexpr size_t kMaxHeaderChars = 2048;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Order n of the P-256 base point (SEC 2 section 2.4.2).
constexpr std::array<uint8_t, 32> kP256Order = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF,
                                                0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17,
                                                0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::string Quote(std::string_view s, size_t max = 40) {
  std::string out = "'";
  out.append(s.substr(0, max));
  if (s.size() > max) out += "...";
  out += "'";
  return out;
}

// A JSON value for an error message, shortened: headers come off the network.
std::string Describe(const json& j) {
  if (j.is_string()) return Quote(j.get_ref<const std::string&>());
  std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > 40 ? text.substr(0, 40) + "..." : text;
}

// Scalar in [1, n-1] (SEC 1 section 4.1.4 step 1).
bool InScalarRange(const uint8_t* be32) {
  bool all_zero = std::all_of(be32, be32 + 32, [](uint8_t b) { return b == 0; });
  return !all_zero && std::lexicographical_compare(be32, be32 + 32, kP256Order.begin(), kP256Order.end());
}

// RFC 7515 section 4 says header names must be unique; rather than rely on the
// parser keeping the lexically last duplicate, reject duplicates outright.
// Returns the first duplicated top-level member name, if any.
Result<json> ParseUniqueObject(std::string_view text, std::string* duplicate) {
  std::vector<std::set<std::string>> seen;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      seen.resize(static_cast<size_t>(depth) + 1);
      seen[static_cast<size_t>(depth)].clear();
    } else if (event == json::parse_event_t::key && depth >= 1) {
      auto& names = seen[static_cast<size_t>(depth) - 1];
      const auto& name = parsed.get_ref<const std::string&>();
      if (!names.insert(name).second && duplicate->empty()) *duplicate = name;
    }
    return true;
  };
  json j = json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("not valid JSON");
  return j;
}

// Codes: a malformed JWS (shape, encoding, JSON, kid) is INVALID_ARGUMENT; a
// well-formed header asking for something this verifier refuses (alg, b64,
// crit) is UNAUTHENTICATED, as a downgrade attempt is an authentication failure.
// `defect` says which rule failed (HeaderDefect), so refusals can be counted apart.
Status CheckHeaderObject(const json& h, HeaderDefect* defect) {
  auto refuse = [defect](HeaderDefect d, Status s) {
    *defect = d;
    return s;
  };
  // RFC 7515 4.1.1 / RFC 7518 3.1: only ES256 is acceptable here; "none" and
  // HMAC algorithms are refused by name so logs show the attempt.
  auto alg = h.find("alg");
  if (alg == h.end()) return refuse(HeaderDefect::kAlg, Unauthenticated("jws header: alg missing"));
  if (!alg->is_string() || alg->get_ref<const std::string&>() != "ES256") {
    return refuse(HeaderDefect::kAlg, Unauthenticated("jws header: alg must be ES256, got " + Describe(*alg)));
  }
  // RFC 7797 section 3/6: b64 false, and b64 must be understood (crit).
  auto b64 = h.find("b64");
  if (b64 == h.end()) {
    return refuse(HeaderDefect::kB64, Unauthenticated("jws header: b64 missing (must be false, RFC 7797)"));
  }
  if (!b64->is_boolean() || b64->get<bool>()) {
    return refuse(HeaderDefect::kB64, Unauthenticated("jws header: b64 must be false, got " + Describe(*b64)));
  }
  auto crit = h.find("crit");
  if (crit == h.end()) {
    return refuse(HeaderDefect::kB64NotCritical, Unauthenticated("jws header: crit missing (must be [\"b64\"])"));
  }
  if (*crit != json::array({"b64"})) {
    // RFC 7515 4.1.11: a crit naming an extension we do not implement must be
    // refused; one that does not name b64 lets a verifier ignore b64 (RFC 7797 6).
    const bool lists_b64 = crit->is_array() && std::find(crit->begin(), crit->end(), json("b64")) != crit->end();
    return refuse(lists_b64 ? HeaderDefect::kUnknownCrit : HeaderDefect::kB64NotCritical,
                  Unauthenticated("jws header: crit must be exactly [\"b64\"], got " + Describe(*crit)));
  }
  auto kid = h.find("kid");
  if (kid == h.end()) return refuse(HeaderDefect::kMalformed, InvalidArgument("jws header: kid missing"));
  if (!kid->is_string()) {
    return refuse(HeaderDefect::kMalformed, InvalidArgument("jws header: kid must be a string, got " + Describe(*kid)));
  }
  if (kid->get_ref<const std::string&>().empty()) {
    return refuse(HeaderDefect::kMalformed, InvalidArgument("jws header: kid is empty"));
  }
  return Status::Ok();
}

Result<EcP256PublicKey> PointFromMbedTls(const mbedtls_ecp_keypair& ec) {
  if (ec.grp.id != MBEDTLS_ECP_DP_SECP256R1) {
    return InvalidArgument("pem: EC key is not on P-256 (prime256v1/secp256r1)");
  }
  EcP256PublicKey out;
  if (mbedtls_mpi_write_binary(&ec.Q.X, out.x.data(), out.x.size()) != 0 ||
      mbedtls_mpi_write_binary(&ec.Q.Y, out.y.data(), out.y.size()) != 0) {
    return Internal("pem: cannot export public point");
  }
  return out;
}

// Point is on P-256 and not the identity (SEC 1 section 3.2.2.1).
bool OnCurve(const EcP256PublicKey& key) {
  mbedtls_ecp_group grp;
  mbedtls_ecp_point q;
  mbedtls_ecp_group_init(&grp);
  mbedtls_ecp_point_init(&q);
  bool ok = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
            mbedtls_mpi_read_binary(&q.X, key.x.data(), key.x.size()) == 0 &&
            mbedtls_mpi_read_binary(&q.Y, key.y.data(), key.y.size()) == 0 && mbedtls_mpi_lset(&q.Z, 1) == 0 &&
            mbedtls_ecp_check_pubkey(&grp, &q) == 0;
  mbedtls_ecp_point_free(&q);
  mbedtls_ecp_group_free(&grp);
  return ok;
}

Result<std::array<uint8_t, 32>> DecodeCoordinate(const json& jwk, const char* name, const std::string& where) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return InvalidArgument(where + name + ": missing or not a string");
  auto bytes = Base64UrlDecode(it->get_ref<const std::string&>());
  if (!bytes.ok()) return InvalidArgument(where + name + ": bad base64url (" + bytes.status().message() + ")");
  if (bytes->size() != 32) {
    return InvalidArgument(where + name + ": must be 32 bytes for P-256, got " + std::to_string(bytes->size()));
  }
  std::array<uint8_t, 32> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

Status CheckStringMember(const json& jwk, const char* name, const char* expected, const std::string& where,
                         bool required) {
  auto it = jwk.find(name);
  if (it == jwk.end()) {
    return required ? InvalidArgument(where + name + ": missing (must be \"" + expected + "\")") : Status::Ok();
  }
  if (!it->is_string() || it->get_ref<const std::string&>() != expected) {
    return InvalidArgument(where + name + ": must be \"" + expected + "\", got " + Describe(*it));
  }
  return Status::Ok();
}

// `where` ends with '.' ("jwks keys[3]."): errors name the member after it.
Result<Jwk> ParseJwk(const json& jwk, const std::string& where) {
  if (!jwk.is_object()) return InvalidArgument(where.substr(0, where.size() - 1) + ": not an object");
  EF_RETURN_IF_ERROR(CheckStringMember(jwk, "kty", "EC", where, true));
  EF_RETURN_IF_ERROR(CheckStringMember(jwk, "crv", "P-256", where, true));
  EF_RETURN_IF_ERROR(CheckStringMember(jwk, "use", "sig", where, false));
  EF_RETURN_IF_ERROR(CheckStringMember(jwk, "alg", "ES256", where, false));
  Jwk out;
  auto x = DecodeCoordinate(jwk, "x", where);
  if (!x.ok()) return x.status();
  auto y = DecodeCoordinate(jwk, "y", where);
  if (!y.ok()) return y.status();
  out.key.x = *x;
  out.key.y = *y;
  if (!OnCurve(out.key)) return InvalidArgument(where + "x/y: not a point on P-256");
  auto kid = jwk.find("kid");
  if (kid == jwk.end() || !kid->is_string()) return InvalidArgument(where + "kid: missing or not a string");
  out.kid = kid->get<std::string>();
  std::string thumbprint = Thumbprint(out.key);
  if (out.kid != thumbprint) {
    return InvalidArgument(where + "kid: " + Quote(out.kid) + " is not the key's RFC 7638 thumbprint " +
                           Quote(thumbprint));
  }
  auto thing = jwk.find("thing");
  if (thing != jwk.end()) {
    if (!thing->is_string()) return InvalidArgument(where + "thing: must be a string, got " + Describe(*thing));
    out.thing = thing->get<std::string>();
  }
  return out;
}

}  // namespace

const char* BackendName(Backend b) {
  switch (b) {
    case Backend::kMbedTls: return "mbedtls";
    case Backend::kOpenSsl: return "openssl";
  }
  return "unknown";
}

Result<Backend> ParseBackend(std::string_view name) {
  if (name == "mbedtls") return Backend::kMbedTls;
  if (name == "openssl") return Backend::kOpenSsl;
  return InvalidArgument("jws backend: expected \"mbedtls\" or \"openssl\", got " + Quote(name));
}

std::string Base64UrlEncode(ConstBytes data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

Result<std::vector<uint8_t>> Base64UrlDecode(std::string_view text) {
  // RFC 7515 section 2 / appendix C: unpadded; RFC 4648 section 3.5: the
  // unused trailing bits must be zero, so each byte string has one encoding.
  if (text.size() % 4 == 1) {
    return InvalidArgument("base64url: length " + std::to_string(text.size()) + " is impossible (4n+1)");
  }
  std::vector<uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    int v = DecodeChar(text[i]);
    if (v < 0) {
      const char c = text[i];
      std::string shown = (c >= 0x21 && c <= 0x7e) ? std::string("'") + c + "'"
                                                   : "byte " + std::to_string(static_cast<unsigned char>(c));
      return InvalidArgument("base64url: invalid character " + shown + " at offset " + std::to_string(i));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return InvalidArgument("base64url: non-zero trailing bits (non-canonical encoding)");
  return out;
}

std::string Thumbprint(const EcP256PublicKey& key) {
  // RFC 7638 section 3.2: required members only, lexicographic order, no whitespace.
  std::string canonical =
      R"({"crv":"P-256","kty":"EC","x":")" + Base64UrlEncode(key.x) + R"(","y":")" + Base64UrlEncode(key.y) + R"("})";
  std::array<uint8_t, 32> digest{};
  mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), digest.data(),
                     /*is224=*/0);
  return Base64UrlEncode(digest);
}

Result<EcP256PublicKey> PublicKeyFromPem(std::string_view pem) {
  // mbedTLS wants PEM NUL-terminated, with the NUL counted in the length.
  std::string buf(pem);
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  const auto* data = reinterpret_cast<const unsigned char*>(buf.c_str());
  // "PUBLIC KEY" (SubjectPublicKeyInfo) and "RSA PUBLIC KEY" (PKCS#1).
  const bool is_public = buf.find(" PUBLIC KEY-----") != std::string::npos;
  int rc = is_public ? mbedtls_pk_parse_public_key(&pk, data, buf.size() + 1)
                     : mbedtls_pk_parse_key(&pk, data, buf.size() + 1, nullptr, 0);
  Result<EcP256PublicKey> out = InvalidArgument("pem: not an EC key");
  if (rc != 0) {
    out = InvalidArgument(std::string("pem: cannot parse ") + (is_public ? "public" : "private") +
                          " key: " + detail::MbedTlsError(rc));
  } else if (mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECKEY)) {
    out = PointFromMbedTls(*mbedtls_pk_ec(pk));
  } else {
    out = InvalidArgument(std::string("pem: expected an EC P-256 key, got ") + mbedtls_pk_get_name(&pk));
  }
  mbedtls_pk_free(&pk);
  return out;
}

Result<Header> ParseHeader(std::string_view compact_jws, HeaderDefect* defect) {
  HeaderDefect ignored = HeaderDefect::kNone;
  if (defect == nullptr) defect = &ignored;
  *defect = HeaderDefect::kMalformed;  // until the shape checks below pass
  const size_t dot1 = compact_jws.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : compact_jws.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || compact_jws.find('.', dot2 + 1) != std::string_view::npos) {
    return InvalidArgument("jws: compact form must have exactly 3 dot-separated parts");
  }
  if (dot2 != dot1 + 1) {
    return InvalidArgument("jws: payload part must be empty (detached, RFC 7515 appendix F)");
  }
  if (dot1 == 0) return InvalidArgument("jws header: empty");
  if (dot1 > kMaxHeaderChars) {
    return InvalidArgument("jws header: " + std::to_string(dot1) + " characters, more than the " +
                           std::to_string(kMaxHeaderChars) + " accepted");
  }
  auto raw = Base64UrlDecode(compact_jws.substr(0, dot1));
  if (!raw.ok()) return InvalidArgument("jws header: " + raw.status().message());
  std::string duplicate;
  auto parsed =
      ParseUniqueObject(std::string_view(reinterpret_cast<const char*>(raw->data()), raw->size()), &duplicate);
  if (!parsed.ok()) return InvalidArgument("jws header: " + parsed.status().message());
  if (!parsed->is_object()) return InvalidArgument("jws header: not a JSON object");
  if (!duplicate.empty()) return InvalidArgument("jws header: duplicate member " + Quote(duplicate));
  *defect = HeaderDefect::kNone;
  EF_RETURN_IF_ERROR(CheckHeaderObject(*parsed, defect));
  return Header{"ES256", (*parsed)["kid"].get<std::string>()};
}

std::string JwkSetToJson(const std::vector<Jwk>& keys) {
  nlohmann::ordered_json set = {{"keys", nlohmann::ordered_json::array()}};
  for (const Jwk& k : keys) {
    set["keys"].push_back({{"kty", "EC"},
                           {"crv", "P-256"},
                           {"x", Base64UrlEncode(k.key.x)},
                           {"y", Base64UrlEncode(k.key.y)},
                           {"kid", k.kid},
                           {"use", "sig"},
                           {"alg", "ES256"},
                           {"thing", k.thing}});
  }
  // "thing" comes from callers; never throw on bytes that are not UTF-8.
  return set.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Result<std::vector<Jwk>> JwkSetFromJson(std::string_view text) {
  json set = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (set.is_discarded()) return InvalidArgument("jwks: not valid JSON");
  if (!set.is_object()) return InvalidArgument("jwks: not a JSON object");
  auto keys = set.find("keys");
  if (keys == set.end() || !keys->is_array()) return InvalidArgument("jwks keys: missing or not an array");
  std::vector<Jwk> out;
  std::map<std::string, size_t> index_of_kid;
  for (size_t i = 0; i < keys->size(); ++i) {
    auto jwk = ParseJwk((*keys)[i], "jwks keys[" + std::to_string(i) + "].");
    if (!jwk.ok()) return jwk.status();
    auto [it, inserted] = index_of_kid.emplace(jwk->kid, i);
    if (!inserted) {
      return InvalidArgument("jwks keys[" + std::to_string(i) + "].kid: duplicate of keys[" +
                             std::to_string(it->second) + "]");
    }
    out.push_back(std::move(jwk).value());
  }
  return out;
}

Result<Jwk> JwkFromJson(std::string_view text, const std::string& where) {
  json jwk = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (jwk.is_discarded()) return InvalidArgument(where + ": not valid JSON");
  return ParseJwk(jwk, where + ".");
}

std::string PublicJwkJson(const EcP256PublicKey& key) {
  // The members of RFC 7638's thumbprint input, in our JWK set's order, + kid.
  return R"({"kty":"EC","crv":"P-256","x":")" + Base64UrlEncode(key.x) + R"(","y":")" + Base64UrlEncode(key.y) +
         R"(","kid":")" + Thumbprint(key) + R"("})";
}

Result<int64_t> ParseRfc3339Millis(std::string_view t) {
  auto bad = [&t](const std::string& why) {
    return InvalidArgument(Quote(t) + " is not an RFC 3339 date-time (" + why + "; e.g. 2025-03-01T12:00:00Z)");
  };
  // RFC 3339 section 5.6: date-fullyear "-" date-month "-" date-mday "T"
  // time-hour ":" time-minute ":" time-second [time-secfrac] time-offset.
  auto digits = [&t](size_t at, size_t n, int* out) {
    if (at + n > t.size()) return false;
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      v = v * 10 + (t[i] - '0');
    }
    *out = v;
    return true;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(0, 4, &year) || t.size() < 19 || t[4] != '-' || !digits(5, 2, &month) || t[7] != '-' ||
      !digits(8, 2, &day) || (t[10] != 'T' && t[10] != 't') || !digits(11, 2, &hour) || t[13] != ':' ||
      !digits(14, 2, &minute) || t[16] != ':' || !digits(17, 2, &second)) {
    return bad("expected YYYY-MM-DDTHH:MM:SS");
  }
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return bad("month " + std::to_string(month));
  if (day < 1 || day > kDays[month - 1] + (month == 2 && leap ? 1 : 0)) return bad("day " + std::to_string(day));
  // Section 5.7: a leap second (60) is allowed; it counts as the next second.
  if (hour > 23 || minute > 59 || second > 60) return bad("time of day out of range");
  size_t at = 19;
  int millis = 0;
  if (at < t.size() && t[at] == '.') {
    size_t n = 0;
    for (++at; at < t.size() && t[at] >= '0' && t[at] <= '9'; ++at, ++n) {
      if (n < 3) millis = millis * 10 + (t[at] - '0');
    }
    if (n == 0) return bad("no digit after '.'");
    for (; n < 3; ++n) millis *= 10;
  }
  int offset_min = 0;
  if (at < t.size() && (t[at] == 'Z' || t[at] == 'z')) {
    ++at;
  } else if (at < t.size() && (t[at] == '+' || t[at] == '-')) {
    int oh = 0, om = 0;
    if (!digits(at + 1, 2, &oh) || at + 3 >= t.size() || t[at + 3] != ':' || !digits(at + 4, 2, &om) || oh > 23 ||
        om > 59) {
      return bad("offset must be Z or +HH:MM / -HH:MM");
    }
    offset_min = (t[at] == '-' ? -1 : 1) * (oh * 60 + om);
    at += 6;
  } else {
    return bad("missing time zone (Z or +HH:MM)");
  }
  if (at != t.size()) return bad("trailing characters");
  // Days from 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil).
  const int y = year - (month <= 2 ? 1 : 0);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = int64_t{era} * 146097 + doe - 719468;
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - int64_t{offset_min} * 60;
  return seconds * 1000 + millis;
}

std::string RevocationListToJson(const std::vector<RevokedKey>& revoked) {
  nlohmann::ordered_json list = {{"revoked", nlohmann::ordered_json::array()}};
  for (const RevokedKey& r : revoked) {
    nlohmann::ordered_json e = {{"kid", r.kid}, {"at", r.at}};
    if (!r.reason.empty()) e["reason"] = r.reason;
    list["revoked"].push_back(std::move(e));
  }
  return list.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Result<std::vector<RevokedKey>> RevocationListFromJson(std::string_view text) {
  // Strict on member names: a typo ("revoked_at") must not leave a key trusted.
  json list = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (list.is_discarded()) return InvalidArgument("revocations: not valid JSON");
  if (!list.is_object()) return InvalidArgument("revocations: not a JSON object");
  for (const auto& [name, value] : list.items()) {
    if (name != "revoked") return InvalidArgument("revocations: unknown member " + Quote(name) + " (only \"revoked\")");
  }
  auto entries = list.find("revoked");
  if (entries == list.end() || !entries->is_array()) {
    return InvalidArgument("revocations revoked: missing or not an array");
  }
  std::vector<RevokedKey> out;
  std::map<std::string, size_t> index_of_kid;
  for (size_t i = 0; i < entries->size(); ++i) {
    const json& e = (*entries)[i];
    const std::string where = "revocations revoked[" + std::to_string(i) + "]";
    if (!e.is_object()) return InvalidArgument(where + ": not an object");
    for (const auto& [name, value] : e.items()) {
      if (name != "kid" && name != "at" && name != "reason") {
        return InvalidArgument(where + "." + name + ": unknown member (kid, at, reason)");
      }
    }
    RevokedKey r;
    auto kid = e.find("kid");
    if (kid == e.end() || !kid->is_string()) return InvalidArgument(where + ".kid: missing or not a string");
    r.kid = kid->get<std::string>();
    auto digest = Base64UrlDecode(r.kid);
    if (!digest.ok() || digest->size() != 32) {
      return InvalidArgument(where + ".kid: " + Quote(r.kid) +
                             " is not an RFC 7638 thumbprint (base64url of a 32-byte SHA-256)");
    }
    auto at = e.find("at");
    if (at == e.end() || !at->is_string()) return InvalidArgument(where + ".at: missing or not a string");
    r.at = at->get<std::string>();
    auto ms = ParseRfc3339Millis(r.at);
    if (!ms.ok()) return InvalidArgument(where + ".at: " + ms.status().message());
    r.at_ms = *ms;
    auto reason = e.find("reason");
    if (reason != e.end()) {
      if (!reason->is_string()) return InvalidArgument(where + ".reason: must be a string, got " + Describe(*reason));
      r.reason = reason->get<std::string>();
    }
    auto [it, inserted] = index_of_kid.emplace(r.kid, i);
    if (!inserted) return InvalidArgument(where + ".kid: duplicate of revoked[" + std::to_string(it->second) + "]");
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::unique_ptr<Signer>> MakeSigner(Backend backend, std::string_view private_key_pem) {
  switch (backend) {
    case Backend::kMbedTls: return detail::MakeMbedTlsSigner(private_key_pem);
    case Backend::kOpenSsl: return detail::MakeOpenSslSigner(private_key_pem);
  }
  return InvalidArgument("jws: unknown backend");
}

std::unique_ptr<Verifier> MakeVerifier(Backend backend) {
  switch (backend) {
    case Backend::kMbedTls: return detail::MakeMbedTlsVerifier();
    case Backend::kOpenSsl: return detail::MakeOpenSslVerifier();
  }
  return nullptr;
}

namespace detail {

std::string MbedTlsError(int code) {
  char buf[160];
  mbedtls_strerror(code, buf, sizeof buf);
  char hex[16];
  std::snprintf(hex, sizeof hex, "-0x%04x", static_cast<unsigned>(-code));
  return std::string(buf) + " (" + hex + ")";
}

std::string CompactDetached(const std::string& header_b64, const std::array<uint8_t, 64>& r_s) {
  std::string out;
  out.reserve(header_b64.size() + 2 + 86);  // 64 bytes -> 86 base64url chars
  out.append(header_b64).append("..").append(Base64UrlEncode(r_s));
  return out;
}

std::string EncodeProtectedHeader(const std::string& kid) {
  // Member order and spelling are fixed: the header bytes are what gets signed.
  std::string header = R"({"alg":"ES256","b64":false,"crit":["b64"],"kid":)" + json(kid).dump() + "}";
  return Base64UrlEncode(AsBytes(header));
}

Result<DetachedSignature> PrepareVerify(std::string_view compact_jws, const EcP256PublicKey& key) {
  auto header = ParseHeader(compact_jws);
  if (!header.ok()) return header.status();
  DetachedSignature out;
  const size_t dot1 = compact_jws.find('.');
  out.header_b64 = compact_jws.substr(0, dot1);
  auto sig = Base64UrlDecode(compact_jws.substr(dot1 + 2));
  if (!sig.ok()) return InvalidArgument("jws signature: " + sig.status().message());
  if (sig->size() != out.r_s.size()) {
    return Unauthenticated("jws signature: must be 64 bytes (ES256 R||S), got " + std::to_string(sig->size()));
  }
  std::copy(sig->begin(), sig->end(), out.r_s.begin());
  // SEC 1 section 4.1.4 step 1; both libraries check too, this gives one message.
  if (!InScalarRange(out.r_s.data())) return Unauthenticated("jws signature: r is not in [1, n-1]");
  if (!InScalarRange(out.r_s.data() + 32)) return Unauthenticated("jws signature: s is not in [1, n-1]");
  if (header->kid != Thumbprint(key)) {
    return Unauthenticated("jws header: kid " + Quote(header->kid) + " is not the thumbprint of the verification key");
  }
  return out;
}

}  // namespace detail
}  // namespace edgeforge::jws
