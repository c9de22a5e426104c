// A ChainSafe @chainsafe/discv5 node for interop tests and testnets, started from a known secp256k1 key.
// Exports startDiscv5Node(opts) -> { discv5, enr, nodeId, port, stop }.
import './polyfill.mjs'
import { randomBytes } from 'node:crypto'
import { Discv5 } from '@chainsafe/discv5'
import { SignableENR, ENR } from '@chainsafe/enr'
import { multiaddr } from '@multiformats/multiaddr'

const hexToBytes = (hex) => Uint8Array.from(Buffer.from(hex.replace(/^0x/, ''), 'hex'))

/** A random 32-byte secp256k1 private key as hex. */
export function randomPrivateKeyHex () {
  return randomBytes(32).toString('hex')
}

/**
 * Starts one discv5 node.
 * @param {object} opts
 * @param {string} [opts.privateKeyHex] 32-byte secp256k1 key (random when absent)
 * @param {string|null} [opts.ip] bind and advertised IPv4 address (default 127.0.0.1; null: no IPv4 socket)
 * @param {string} [opts.ip6] bind and advertised IPv6 address (e.g. ::1; default none)
 * @param {boolean} [opts.nat] advertise no address at all (a node behind NAT: others cannot reach it, it can reach them)
 * @param {number} [opts.udpPort] UDP port, 0 = any free port
 * @param {Record<string,string>} [opts.extra] extra ENR entries as key -> hex bytes (e.g. eth2, attnets, tcp)
 * @param {string[]} [opts.bootEnrs] ENR texts added to the routing table
 * @param {object} [opts.config] @chainsafe/discv5 config overrides
 */
/** A free UDP port on an address: bind port 0, note it, close (@chainsafe/discv5 refuses two sockets on port 0). */
async function freeUdpPort (address) {
  const dgram = await import('node:dgram')
  return await new Promise((resolve, reject) => {
    const s = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4')
    s.once('error', reject)
    s.bind(0, address, () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

export async function startDiscv5Node (opts = {}) {
  const privateKeyHex = opts.privateKeyHex ?? randomPrivateKeyHex()
  const ip = opts.ip === undefined ? '127.0.0.1' : opts.ip
  const ip6 = opts.ip6 ?? null
  const raw = hexToBytes(privateKeyHex)
  const enr = SignableENR.createV4(raw)
  for (const [k, v] of Object.entries(opts.extra ?? {})) enr.set(k, hexToBytes(v))
  const discv5 = Discv5.create({
    enr,
    // discv5 11 reads only .type and .raw of the libp2p private key
    privateKey: { type: 'secp256k1', raw },
    bindAddrs: {
      ...(ip ? { ip4: multiaddr(`/ip4/${ip}/udp/${opts.udpPort ?? 0}`) } : {}),
      ...(ip6 ? { ip6: multiaddr(`/ip6/${ip6}/udp/${ip ? await freeUdpPort(ip6) : 0}`) } : {}),
    },
    // keep the record we advertise: address votes from loopback peers would only rewrite it to the same value
    config: { enrUpdate: false, ...(opts.config ?? {}) },
  })
  await discv5.start()
  const transport = discv5.sessionService.transport
  const port = ip ? transport.ip4.socket.address().port : undefined
  const port6 = ip6 ? transport.ip6.socket.address().port : undefined
  // the record must name the bound port so that peers verify it (session/service.js verifyEnr)
  if (!opts.nat) {
    if (ip) { enr.ip = ip; enr.udp = port }
    if (ip6) { enr.ip6 = ip6; enr.udp6 = port6 }
  }
  for (const b of opts.bootEnrs ?? []) discv5.addEnr(b)
  return {
    discv5,
    enr: enr.encodeTxt(),
    nodeId: enr.nodeId,
    port: port ?? port6,
    port6,
    stop: () => discv5.stop(),
  }
}

/** ENR text -> node id hex. */
export function nodeIdOf (enrText) {
  return ENR.decodeTxt(enrText).nodeId
}
