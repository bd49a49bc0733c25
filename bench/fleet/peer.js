// The MQTT.js peer of bench/fleet: what a team would write instead of
// edgeforge sim. One MQTT 5 client per device, each with its own client
// certificate and key from the edgeforge PKI, QoS 1, every payload signed
// with ES256 (node:crypto) as a detached JWS with unencoded payload (RFC 7797,
// as the firmware does) in the user property "jws", paced per device.
//
// usage: node peer.js PKI_DIR BROKER_URI DEVICES INTERVAL_MS DURATION_S PAYLOAD_BYTES
// prints one line of key=value: connect_s, scheduled, published, acked,
// failed, achieved_per_s, p50_ms, p99_ms (publish -> PUBACK), cpu_us_per_msg
// and rss_kb_per_device over the steady window (after all connected).
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const mqtt = require('mqtt');

const [pki, uri, devicesArg, intervalArg, durationArg, payloadArg] = process.argv.slice(2);
if (!payloadArg) {
  console.error('usage: node peer.js PKI_DIR BROKER_URI DEVICES INTERVAL_MS DURATION_S PAYLOAD_BYTES');
  process.exit(2);
}
const devices = Number(devicesArg);
const intervalMs = Number(intervalArg);
const durationS = Number(durationArg);
const payloadBytes = Number(payloadArg);
const b64url = (b) => Buffer.from(b).toString('base64url');
const name = (i) => 'edge-' + String(i).padStart(5, '0');
const ca = fs.readFileSync(`${pki}/ca.crt`);
const url = uri.replace(/^ssl:/, 'mqtts:');

const rssIdle = process.memoryUsage().rss;
let connected = 0;
let failedConnect = 0;
let published = 0;
let acked = 0;
let failed = 0;
let scheduled = 0;
const latencies = [];
let steady = false;
const clients = [];
const t0 = process.hrtime.bigint();
let connectS = 0;

function thumbprint(key) {
  const j = crypto.createPublicKey(key).export({ format: 'jwk' });
  return b64url(crypto.createHash('sha256').update(`{"crv":"${j.crv}","kty":"EC","x":"${j.x}","y":"${j.y}"}`).digest());
}

for (let i = 1; i <= devices; i++) {
  const thing = name(i);
  const dir = `${pki}/devices/${thing}`;
  const signKey = crypto.createPrivateKey(fs.readFileSync(`${dir}/sign.key`));
  const header = b64url(JSON.stringify({ alg: 'ES256', b64: false, crit: ['b64'], kid: thumbprint(signKey) }));
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    clientId: thing,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 0,
    connectTimeout: 60000,
    ca,
    cert: fs.readFileSync(`${dir}/device.crt`),
    key: fs.readFileSync(`${dir}/device.key`),
    rejectUnauthorized: true,
  });
  const dev = { thing, client, signKey, header, seq: 0 };
  clients.push(dev);
  client.on('connect', () => {
    if (++connected + failedConnect === devices) allConnected();
  });
  client.on('error', (e) => {
    if (!client.connected) {
      failedConnect++;
      console.error(`${thing}: ${e.message}`);
      if (connected + failedConnect === devices) allConnected();
    }
  });
}

function publish(dev) {
  scheduled++;
  dev.seq++;
  const body = { v: 2, type: 'telemetry', dev: dev.thing, seq: dev.seq, ts: Date.now(), pad: '' };
  const base = JSON.stringify(body).length;
  body.pad = 'x'.repeat(Math.max(0, payloadBytes - base));
  const payload = JSON.stringify(body);
  const sig = crypto.sign('sha256', Buffer.from(`${dev.header}.${payload}`), { key: dev.signKey, dsaEncoding: 'ieee-p1363' });
  const jws = `${dev.header}..${b64url(sig)}`;
  const sent = process.hrtime.bigint();
  published++;
  dev.client.publish(`dt/edgeforge/site-1/${dev.thing}/telemetry`, payload, { qos: 1, properties: { userProperties: { jws } } }, (err) => {
    if (err) {
      failed++;
      return;
    }
    acked++;
    latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
  });
}

function allConnected() {
  connectS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu0 = process.cpuUsage();
  const steadyStart = process.hrtime.bigint();
  steady = true;
  // First sends spread over one interval, as edgeforge sim staggers them.
  clients.forEach((dev, k) => {
    setTimeout(() => {
      publish(dev);
      dev.timer = setInterval(() => publish(dev), intervalMs);
    }, (intervalMs * k) / devices);
  });
  setTimeout(() => {
    clients.forEach((d) => clearInterval(d.timer));
    const wallS = Number(process.hrtime.bigint() - steadyStart) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const rss = process.memoryUsage().rss;
    // Let outstanding PUBACKs arrive (bounded).
    const waitUntil = Date.now() + 10000;
    const finish = () => {
      if (acked + failed < published && Date.now() < waitUntil) return setTimeout(finish, 50);
      latencies.sort((a, b) => a - b);
      const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : 0);
      console.log(
        [
          `side=mqttjs devices=${devices} connected=${connected}`,
          `connect_s=${connectS.toFixed(2)}`,
          `scheduled=${scheduled} published=${published} acked=${acked} failed=${failed}`,
          `achieved_per_s=${(acked / wallS).toFixed(1)}`,
          `p50_ms=${pct(0.5).toFixed(2)} p99_ms=${pct(0.99).toFixed(2)}`,
          `cpu_us_per_msg=${(acked ? (cpu.user + cpu.system) / acked : 0).toFixed(1)}`,
          `rss_kb_per_device=${((rss - rssIdle) / 1024 / devices).toFixed(1)}`,
        ].join(' ')
      );
      clients.forEach((d) => d.client.end(true));
      process.exit(connected === devices && acked === published ? 0 : 1);
    };
    finish();
  }, durationS * 1000);
}
