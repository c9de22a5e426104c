// A js-libp2p 2.10 host for the ClP2p interop tests (TCP, Noise, yamux and/or mplex, identify, echo, ping).
//
// Module use (the eth2 tests add their own handlers):
//   import { createHost } from './libp2p-host.mjs'
//   const node = await createHost({ keyType: 'secp256k1', privateKeyHex, agentVersion, muxers: ['yamux'] })
//   await node.handle('/my/proto/1', async ({ stream }) => { ... })
//
// CLI: node libp2p-host.mjs [--key secp256k1|ed25519] [--private-key HEX] [--agent STRING]
//                           [--muxers yamux,mplex] [--port N]
// Prints one JSON line {"event":"listening","peerId","multiaddr","port"} on stdout, then one JSON line per event
// ("identify" when a peer was identified, "ping" results). Reads JSON commands from stdin, one per line:
//   {"cmd":"ping","multiaddr":"/ip4/127.0.0.1/tcp/N/p2p/ID"}  -> {"event":"ping","ok":true,"rttMs":…} or ok:false,error
//   {"cmd":"dial","multiaddr":"…"}                           -> {"event":"dial","ok":true,"peerId":…}
// Exits when stdin closes or on SIGTERM/SIGINT.
import './polyfill.mjs'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { mplex } from '@libp2p/mplex'
import { identify } from '@libp2p/identify'
import { generateKeyPair, generateKeyPairFromSeed, privateKeyFromRaw } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const ECHO_PROTOCOL = '/clp2p/echo/1.0.0'
export const PING_PROTOCOL = '/ipfs/ping/1.0.0'

function hexToBytes (hex) {
  const clean = hex.startsWith('0x') ? hex.slice(2) : hex
  return Uint8Array.from(Buffer.from(clean, 'hex'))
}

/** Builds the private key: a fresh one of keyType, or the given raw hex (secp256k1: 32 bytes; Ed25519: 32-byte seed or 64 bytes). */
export async function makePrivateKey (keyType = 'secp256k1', privateKeyHex) {
  const type = keyType.toLowerCase() === 'ed25519' ? 'Ed25519' : 'secp256k1'
  if (privateKeyHex == null || privateKeyHex === '') return generateKeyPair(type)
  const raw = hexToBytes(privateKeyHex)
  if (type === 'Ed25519' && raw.length === 32) return generateKeyPairFromSeed('Ed25519', raw)
  return privateKeyFromRaw(raw)
}

/**
 * Creates and starts a libp2p node on 127.0.0.1.
 * opts: { keyType, privateKeyHex, agentVersion, muxers: ['yamux','mplex'], port, listen: [multiaddr...], echo: true }
 */
export async function createHost (opts = {}) {
  const privateKey = await makePrivateKey(opts.keyType, opts.privateKeyHex)
  const muxers = (opts.muxers ?? ['yamux', 'mplex']).map(m => {
    if (m === 'yamux') return yamux()
    if (m === 'mplex') return mplex()
    throw new Error(`unknown muxer ${m}`)
  })
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: opts.listen ?? [`/ip4/127.0.0.1/tcp/${opts.port ?? 0}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: muxers,
    nodeInfo: opts.agentVersion != null ? { userAgent: opts.agentVersion } : undefined,
    services: { identify: identify(opts.agentVersion != null ? { agentVersion: opts.agentVersion } : {}) },
    connectionManager: { maxConnections: 1000 }
  })
  if (opts.echo !== false) {
    await node.handle(ECHO_PROTOCOL, ({ stream }) => {
      // Echo every chunk back, then close our side when the remote closes its side.
      stream.sink(stream.source).catch(() => stream.abort(new Error('echo failed')))
    })
  }
  return node
}

/** One /ipfs/ping/1.0.0 round trip to `addr` (a multiaddr string with /p2p/). */
export async function pingPeer (node, addr) {
  const stream = await node.dialProtocol(multiaddr(addr), PING_PROTOCOL)
  const payload = randomBytes(32)
  const start = performance.now()
  const received = []
  let total = 0
  await stream.sink([payload])
  for await (const chunk of stream.source) {
    const bytes = chunk.subarray()
    received.push(bytes)
    total += bytes.length
    if (total >= 32) break
  }
  const rttMs = performance.now() - start
  await stream.close().catch(() => {})
  const echo = Buffer.concat(received).subarray(0, 32)
  if (!echo.equals(payload)) throw new Error('ping echo mismatch')
  return rttMs
}

function emit (obj) { process.stdout.write(JSON.stringify(obj) + '\n') }

function parseArgs (argv) {
  const o = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = () => argv[++i]
    if (a === '--key') o.keyType = v()
    else if (a === '--private-key') o.privateKeyHex = v()
    else if (a === '--agent') o.agentVersion = v()
    else if (a === '--muxers') o.muxers = v().split(',').filter(Boolean)
    else if (a === '--port') o.port = Number(v())
    else throw new Error(`unknown argument ${a}`)
  }
  return o
}

async function main () {
  const node = await createHost(parseArgs(process.argv.slice(2)))
  const ma = node.getMultiaddrs()[0]
  emit({ event: 'listening', peerId: node.peerId.toString(), multiaddr: ma.toString(), port: Number(ma.nodeAddress().port) })
  node.addEventListener('peer:identify', evt => {
    const d = evt.detail
    emit({
      event: 'identify',
      peerId: d.peerId.toString(),
      agentVersion: d.agentVersion,
      protocolVersion: d.protocolVersion,
      protocols: d.protocols,
      listenAddrs: d.listenAddrs.map(a => a.toString()),
      observedAddr: d.observedAddr?.toString()
    })
  })
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    await node.stop().catch(() => {})
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  const rl = createInterface({ input: process.stdin })
  rl.on('line', async line => {
    if (line.trim() === '') return
    let cmd
    try { cmd = JSON.parse(line) } catch { emit({ event: 'error', error: 'bad json' }); return }
    try {
      if (cmd.cmd === 'ping') {
        emit({ event: 'ping', ok: true, rttMs: await pingPeer(node, cmd.multiaddr) })
      } else if (cmd.cmd === 'dial') {
        const conn = await node.dial(multiaddr(cmd.multiaddr))
        emit({ event: 'dial', ok: true, peerId: conn.remotePeer.toString() })
      } else {
        emit({ event: 'error', error: `unknown command ${cmd.cmd}` })
      }
    } catch (err) {
      emit({ event: cmd.cmd, ok: false, error: String(err?.message ?? err) })
    }
  })
  rl.on('close', stop)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch(err => { process.stderr.write(String(err?.stack ?? err) + '\n'); process.exit(1) })
}
