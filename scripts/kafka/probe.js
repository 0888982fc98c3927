#!/usr/bin/env node
'use strict';
/**
 * Helpers for scripts/kafka/broker.sh that need sockets, written against Node's standard library only so
 * that they work before `npm install` (no kafkajs, no JVM start per poll on a 2-core machine).
 *
 *   node probe.js metadata HOST PORT [NODE_ID]  exit 0 when a Metadata request succeeds and lists an
 *                                               unfenced broker (NODE_ID, if given) and a controller
 *   node probe.js free-pair FIRST [TRIES]       print "P C", two adjacent ports that can both be bound
 *                                               on 127.0.0.1: FIRST,FIRST+1 or the next free even pair,
 *                                               else a pair around a port the OS picks
 *   node probe.js can-bind PORT...              exit 0 if every PORT can be bound on 127.0.0.1
 */
const { Buffer } = require('node:buffer');
const net = require('node:net');

const TIMEOUT_MS = 2000;

/**
 * Metadata v1 with an empty topic list: the smallest request whose answer says both "the listener is
 * processing requests" and "the broker is unfenced" (KRaft leaves fenced brokers out of the broker list),
 * which is what creating a topic needs. v1 is served by every broker from 0.10 to 3.9.
 */
function metadataRequest(correlationId) {
  const clientId = Buffer.from('ecgflow-probe');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4);
  let o = 0;
  o = body.writeInt16BE(3, o); // api key: Metadata
  o = body.writeInt16BE(1, o); // api version
  o = body.writeInt32BE(correlationId, o);
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  body.writeInt32BE(0, o); // topics: none
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

function parseMetadataV1(buf, correlationId) {
  let o = 0;
  const int16 = () => ((o += 2), buf.readInt16BE(o - 2));
  const int32 = () => ((o += 4), buf.readInt32BE(o - 4));
  const str = () => {
    const n = int16();
    if (n < 0) return null;
    o += n;
    return buf.toString('utf8', o - n, o);
  };
  if (int32() !== correlationId) throw new Error('correlation id mismatch');
  const brokers = [];
  for (let i = int32(); i > 0; i--)
    brokers.push({ nodeId: int32(), host: str(), port: int32(), rack: str() });
  const controllerId = int32();
  return { brokers, controllerId };
}

function metadata(host, port) {
  return new Promise((resolve, reject) => {
    const correlationId = 7;
    const socket = net.connect({ host, port });
    let chunks = Buffer.alloc(0);
    const fail = (err) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(TIMEOUT_MS, () => fail(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    socket.on('error', fail);
    socket.on('connect', () => socket.write(metadataRequest(correlationId)));
    socket.on('data', (d) => {
      chunks = Buffer.concat([chunks, d]);
      if (chunks.length < 4) return;
      const size = chunks.readInt32BE(0);
      if (chunks.length < 4 + size) return;
      socket.end();
      try {
        resolve(parseMetadataV1(chunks.subarray(4, 4 + size), correlationId));
      } catch (err) {
        reject(err);
      }
    });
    socket.on('end', () => reject(new Error('connection closed before a full answer')));
  });
}

function canBind(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function osPickedPort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function main(argv) {
  const [cmd, ...args] = argv;
  if (cmd === 'metadata') {
    const [host, portText, nodeIdText] = args;
    try {
      const md = await metadata(host, Number(portText));
      const wanted = nodeIdText === undefined ? undefined : Number(nodeIdText);
      const listed = md.brokers.some((b) => wanted === undefined || b.nodeId === wanted);
      if (!listed || md.controllerId < 0) {
        console.error(`not ready: brokers=${JSON.stringify(md.brokers)} controller=${md.controllerId}`);
        return 1;
      }
      console.log(
        `ready: ${md.brokers.map((b) => `${b.nodeId}@${b.host}:${b.port}`).join(',')} controller=${md.controllerId}`,
      );
      return 0;
    } catch (err) {
      console.error(`not ready: ${err.message}`);
      return 1;
    }
  }
  if (cmd === 'free-pair') {
    // Predictable ports first (19092/19093 for the first broker) so people can type them; the caller holds
    // a lock until its broker has bound them, so two concurrent starts cannot pick the same pair.
    const first = Number(args[0] ?? 19092);
    const tries = Number(args[1] ?? 50);
    for (let i = 0; i < tries; i++) {
      const p = first + 2 * i;
      if (p + 1 > 65535) break;
      if ((await canBind(p)) && (await canBind(p + 1))) {
        console.log(`${p} ${p + 1}`);
        return 0;
      }
    }
    for (let i = 0; i < 20; i++) {
      const p = await osPickedPort();
      if (p < 65535 && (await canBind(p + 1))) {
        console.log(`${p} ${p + 1}`);
        return 0;
      }
    }
    console.error('no free pair of ports on 127.0.0.1');
    return 1;
  }
  if (cmd === 'can-bind') {
    for (const p of args.map(Number)) {
      if (!(await canBind(p))) {
        console.error(`127.0.0.1:${p} is in use`);
        return 1;
      }
    }
    return 0;
  }
  console.error('usage: probe.js metadata HOST PORT [NODE_ID] | free-pair FIRST [TRIES] | can-bind PORT...');
  return 2;
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code));
