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
 * @param {string} [opts.ip] bind and advertised IPv4 address (default 127.0.0.1)
 * @param {number} [opts.udpPort] UDP port, 0 = any free port
 * @param {Record<string,string>} [opts.extra] extra ENR entries as key -> hex bytes (e.g. eth2, attnets, tcp)
 * @param {string[]} [opts.bootEnrs] ENR texts added to the routing table
 * @param {object} [opts.config] @chainsafe/discv5 config overrides
 */
export async function startDiscv5Node (opts = {}) {
  const privateKeyHex = opts.privateKeyHex ?? randomPrivateKeyHex()
  const ip = opts.ip ?? '127.0.0.1'
  const raw = hexToBytes(privateKeyHex)
  const enr = SignableENR.createV4(raw)
  for (const [k, v] of Object.entries(opts.extra ?? {})) enr.set(k, hexToBytes(v))
  const discv5 = Discv5.create({
    enr,
    // discv5 11 reads only .type and .raw of the libp2p private key
    privateKey: { type: 'secp256k1', raw },
    bindAddrs: { ip4: multiaddr(`/ip4/${ip}/udp/${opts.udpPort ?? 0}`) },
    // keep the record we advertise: address votes from loopback peers would only rewrite it to the same value
    config: { enrUpdate: false, ...(opts.config ?? {}) },
  })
  await discv5.start()
  const port = discv5.sessionService.transport.ip4.socket.address().port
  // the record must name the bound port so that peers verify it (session/service.js verifyEnr)
  enr.ip = ip
  enr.udp = port
  for (const b of opts.bootEnrs ?? []) discv5.addEnr(b)
  return {
    discv5,
    enr: enr.encodeTxt(),
    nodeId: enr.nodeId,
    port,
    stop: () => discv5.stop(),
  }
}

/** ENR text -> node id hex. */
export function nodeIdOf (enrText) {
  return ENR.decodeTxt(enrText).nodeId
}
