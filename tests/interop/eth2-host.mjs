// A js-libp2p host serving eth2 req/resp (ssz_snappy) for the ClP2p interop tests and the end-to-end testnet.
//
// Module use:
//   import { startEth2Host } from './eth2-host.mjs'
//   const host = await startEth2Host({ privateKeyHex, keyType: 'secp256k1' | 'ed25519', muxers: ['yamux', 'mplex'],
//                                      agentVersion, status, metadata, mode, port, probeBack, onEvent })
//   host -> { peerId, port, multiaddr, events, stop() }
//   status   = { forkDigest: 'hex4', finalizedRoot: 'hex32', finalizedEpoch, headRoot: 'hex32', headSlot, earliestAvailableSlot }
//   metadata = { seqNumber, attnets: 'hex8', syncnets: 'hex1', custodyGroupCount }
//   numbers may be numbers, bigints or decimal strings.
//   mode: 'normal'     serve status/2, status/1, metadata/3, metadata/2, ping/1, goodbye/1
//         'goodbye129' send Goodbye(129) (too many peers), answer Status, then close the connection
//         'goodbye2'   like a real client on another fork: a Status whose fork digest is not its own gets Goodbye(2)
//                      (irrelevant network) and the connection closed; its own digest is answered as in 'normal'
//         'reject'     register no eth2 protocol (multistream answers "na")
//         'bomb'       answer Status with a chunk that declares the Status size but expands far past it
//         'garbage'    answer Status with a success code followed by random bytes (a random first byte is an error
//                      code 131 times in 256, and then a second byte of 0 makes a valid empty error message)
//         'v1only'     serve only status/1 and metadata/2 (a pre-Fulu client)
//   probeBack: before answering the first Status of a connection, ask the dialer's Status and MetaData (as real
//              clients do) and report what it answered as a 'probe' event.
//
// CLI: node eth2-host.mjs --config '<json>'  where json is one options object or an array of them (each may carry a
// "name"). Prints {"event":"listening","name","peerId","port","multiaddr"} per host, then one JSON line per event:
// {"event":"status-request"|"metadata-request"|"ping"|"goodbye"|"probe", "name", ...}. Exits when stdin closes or on
// SIGTERM/SIGINT.
//
// snappyjs 0.7.0 only has the snappy BLOCK format: the framing format (stream identifier, chunks, masked CRC-32C) is
// implemented here.
import './polyfill.mjs'
import { createHost } from './libp2p-host.mjs'
import SnappyJS from 'snappyjs'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const PROTOCOLS = {
  statusV2: '/eth2/beacon_chain/req/status/2/ssz_snappy',
  statusV1: '/eth2/beacon_chain/req/status/1/ssz_snappy',
  metadataV3: '/eth2/beacon_chain/req/metadata/3/ssz_snappy',
  metadataV2: '/eth2/beacon_chain/req/metadata/2/ssz_snappy',
  ping: '/eth2/beacon_chain/req/ping/1/ssz_snappy',
  goodbye: '/eth2/beacon_chain/req/goodbye/1/ssz_snappy'
}

// ---- CRC-32C (Castagnoli, reflected 0x82f63b78) and the snappy framing mask ----
const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    t[n] = c >>> 0
  }
  return t
})()

export function crc32c (bytes) {
  let c = 0xffffffff
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

export function maskedCrc (bytes) {
  const c = crc32c(bytes)
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0
}

const STREAM_ID = Uint8Array.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59])

function chunk (type, crcOf, payload) {
  const len = payload.length + 4
  const out = new Uint8Array(4 + len)
  out[0] = type
  out[1] = len & 0xff; out[2] = (len >>> 8) & 0xff; out[3] = (len >>> 16) & 0xff
  new DataView(out.buffer).setUint32(4, maskedCrc(crcOf), true)
  out.set(payload, 8)
  return out
}

/** Snappy framing: stream identifier, then ≤ 64 KiB chunks, compressed when that saves at least 1/8. */
export function frame (data) {
  const parts = [STREAM_ID]
  for (let off = 0; off < data.length; off += 65536) {
    const block = data.subarray(off, Math.min(data.length, off + 65536))
    const compressed = SnappyJS.compress(block)
    parts.push(compressed.length < block.length - block.length / 8 ? chunk(0x00, block, compressed) : chunk(0x01, block, block))
  }
  return concat(parts)
}

export function uvarint (n) {
  let v = BigInt(n)
  const out = []
  while (v >= 0x80n) { out.push(Number(v & 0x7fn) | 0x80); v >>= 7n }
  out.push(Number(v))
  return Uint8Array.from(out)
}

function concat (parts) {
  const total = parts.reduce((a, p) => a + p.length, 0)
  const out = new Uint8Array(total)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

/** uvarint(len) || frames(ssz): a request body, or a response chunk after its result byte. */
export function encodePayload (ssz) { return concat([uvarint(ssz.length), frame(ssz)]) }

export function encodeResponse (result, ssz) { return concat([Uint8Array.of(result), encodePayload(ssz)]) }

/** Decodes uvarint(len) || frames from a complete buffer; returns { ssz, rest } or throws. */
export function decodePayload (buf, maxLen) {
  let n = 0n; let i = 0; let shift = 0n
  for (;; i++) {
    if (i >= buf.length || i >= 10) throw new Error('bad varint')
    n |= BigInt(buf[i] & 0x7f) << shift
    shift += 7n
    if ((buf[i] & 0x80) === 0) { i++; break }
  }
  if (n > BigInt(maxLen)) throw new Error(`length ${n} over ${maxLen}`)
  const len = Number(n)
  const out = new Uint8Array(len)
  let produced = 0; let first = true
  while (produced < len || first) {
    if (buf.length - i < 4) throw new Error('truncated')
    const type = buf[i]; const clen = buf[i + 1] | (buf[i + 2] << 8) | (buf[i + 3] << 16)
    const body = buf.subarray(i + 4, i + 4 + clen)
    if (body.length < clen) throw new Error('truncated chunk')
    i += 4 + clen
    if (first && type !== 0xff) throw new Error('missing stream identifier')
    first = false
    if (type === 0xff) continue
    if (type === 0x00 || type === 0x01) {
      const expected = new DataView(body.buffer, body.byteOffset).getUint32(0, true)
      const data = type === 0x00 ? SnappyJS.uncompress(body.subarray(4)) : body.subarray(4)
      if (produced + data.length > len) throw new Error('chunk expands past the declared length')
      if (maskedCrc(data) !== expected) throw new Error('bad crc')
      out.set(data, produced)
      produced += data.length
    } else if (type >= 0x02 && type <= 0x7f) {
      throw new Error('reserved chunk')
    }
  }
  return { ssz: out, rest: buf.subarray(i) }
}

// ---- SSZ ----
const hex = h => Uint8Array.from(Buffer.from(String(h ?? '').replace(/^0x/, ''), 'hex'))
const toHex = b => Buffer.from(b).toString('hex')
function u64 (v) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v ?? 0), true); return b }
const readU64 = (b, o) => new DataView(b.buffer, b.byteOffset).getBigUint64(o, true)

function fixed (h, n) { const b = hex(h); if (b.length !== n) throw new Error(`expected ${n} bytes, got ${b.length}`); return b }

export function encodeStatus (s, version) {
  const parts = [fixed(s.forkDigest, 4), fixed(s.finalizedRoot, 32), u64(s.finalizedEpoch), fixed(s.headRoot, 32), u64(s.headSlot)]
  if (version === 2) parts.push(u64(s.earliestAvailableSlot ?? 0))
  return concat(parts)
}

export function decodeStatus (b) {
  if (b.length !== 84 && b.length !== 92) throw new Error(`status of ${b.length} bytes`)
  const s = {
    forkDigest: toHex(b.subarray(0, 4)),
    finalizedRoot: toHex(b.subarray(4, 36)),
    finalizedEpoch: readU64(b, 36).toString(),
    headRoot: toHex(b.subarray(44, 76)),
    headSlot: readU64(b, 76).toString()
  }
  if (b.length === 92) s.earliestAvailableSlot = readU64(b, 84).toString()
  return s
}

export function encodeMetadata (m, version) {
  const syncnets = hex(m.syncnets ?? '00')
  const parts = [u64(m.seqNumber), fixed(m.attnets ?? '0000000000000000', 8), syncnets.length === 1 ? syncnets : Uint8Array.of(0)]
  if (version === 3) parts.push(u64(m.custodyGroupCount ?? 4))
  return concat(parts)
}

export function decodeMetadata (b) {
  if (b.length !== 17 && b.length !== 25) throw new Error(`metadata of ${b.length} bytes`)
  const m = { seqNumber: readU64(b, 0).toString(), attnets: toHex(b.subarray(8, 16)), syncnets: toHex(b.subarray(16, 17)) }
  if (b.length === 25) m.custodyGroupCount = readU64(b, 17).toString()
  return m
}

// ---- streams ----
async function readAll (source, cap = 1 << 20) {
  const parts = []; let total = 0
  for await (const c of source) {
    const bytes = c.subarray()
    total += bytes.length
    if (total > cap) throw new Error('request too large')
    parts.push(bytes)
  }
  return concat(parts)
}

async function respond (stream, bytes) {
  await stream.sink([bytes])
}

async function request (connection, protocols, body, maxLen) {
  const stream = await connection.newStream(protocols, { runOnLimitedConnection: true })
  const bytes = typeof body === 'function' ? body(stream.protocol) : body
  await stream.sink(bytes ? [bytes] : [])
  const buf = await readAll(stream.source)
  if (buf.length === 0) throw new Error('empty response')
  if (buf[0] !== 0) throw new Error(`result code ${buf[0]}`)
  const { ssz, rest } = decodePayload(buf.subarray(1), maxLen)
  if (rest.length !== 0) throw new Error('trailing bytes')
  return { protocol: stream.protocol, ssz }
}

export async function startEth2Host (opts = {}) {
  const mode = opts.mode ?? 'normal'
  const status = opts.status ?? { forkDigest: '00000000', finalizedRoot: '00'.repeat(32), finalizedEpoch: 0, headRoot: '00'.repeat(32), headSlot: 0, earliestAvailableSlot: 0 }
  const metadata = opts.metadata ?? { seqNumber: 0, attnets: '00'.repeat(8), syncnets: '00', custodyGroupCount: 4 }
  const events = []
  const emitEvent = e => { const ev = { ...e, name: opts.name }; events.push(ev); opts.onEvent?.(ev) }
  const node = await createHost({ keyType: opts.keyType ?? 'secp256k1', privateKeyHex: opts.privateKeyHex, agentVersion: opts.agentVersion, muxers: opts.muxers, port: opts.port, listen: opts.listen, echo: false })
  const probes = new Map()

  // Ask the dialer's Status and MetaData (once per connection), as consensus clients do right after connecting.
  const probe = connection => {
    if (!probes.has(connection.id)) {
      probes.set(connection.id, (async () => {
        const result = { event: 'probe', peerId: connection.remotePeer.toString() }
        try {
          const st = await request(connection, [PROTOCOLS.statusV2, PROTOCOLS.statusV1],
            p => encodePayload(encodeStatus(status, p === PROTOCOLS.statusV2 ? 2 : 1)), 92)
          result.status = decodeStatus(st.ssz); result.statusProtocol = st.protocol
        } catch (err) { result.statusError = String(err?.message ?? err) }
        try {
          const m = await request(connection, [PROTOCOLS.metadataV3, PROTOCOLS.metadataV2], null, 25)
          result.metadata = decodeMetadata(m.ssz); result.metadataProtocol = m.protocol
        } catch (err) { result.metadataError = String(err?.message ?? err) }
        emitEvent(result)
      })())
    }
    return probes.get(connection.id)
  }

  const handleStatus = version => async ({ stream, connection }) => {
    try {
      const req = await readAll(stream.source, 4096)
      const { ssz } = decodePayload(req, version === 2 ? 92 : 84)
      const asked = decodeStatus(ssz)
      emitEvent({ event: 'status-request', version, peerId: connection.remotePeer.toString(), status: asked })
      if (mode === 'goodbye2' && asked.forkDigest !== String(status.forkDigest).replace(/^0x/, '')) {
        const bye = await connection.newStream(PROTOCOLS.goodbye)
        await bye.sink([encodePayload(u64(2))])
        await connection.close().catch(() => {})
        return
      }
      if (opts.probeBack) await Promise.race([probe(connection), new Promise(resolve => setTimeout(resolve, 3000))])
      if (mode === 'bomb') {
        // Declares the Status size, then an uncompressed chunk of 64 KiB: far past the declared length.
        const big = new Uint8Array(65536)
        await respond(stream, concat([Uint8Array.of(0), uvarint(version === 2 ? 92 : 84), STREAM_ID, chunk(0x01, big, big)]))
        return
      }
      if (mode === 'garbage') { const junk = randomBytes(200); junk[0] = 0; await respond(stream, junk); return }
      if (mode === 'goodbye129') {
        // Like a full client: say Goodbye(129), still answer the Status, and leave the hang-up to the dialer. The
        // dialer closes its side of the Goodbye stream once it has recorded the reason: that, not a pause, orders
        // the Goodbye before the Status answer.
        const bye = await connection.newStream(PROTOCOLS.goodbye)
        await bye.sink([encodePayload(u64(129))])
        await readAll(bye.source, 16)
        await respond(stream, encodeResponse(0, encodeStatus(status, version)))
        return
      }
      await respond(stream, encodeResponse(0, encodeStatus(status, version)))
    } catch (err) {
      emitEvent({ event: 'error', protocol: `status/${version}`, error: String(err?.message ?? err) })
      stream.abort?.(err)
    }
  }

  const handleMetadata = version => async ({ stream, connection }) => {
    try {
      const req = await readAll(stream.source, 64)
      if (req.length !== 0) throw new Error('metadata request with a body')
      emitEvent({ event: 'metadata-request', version, peerId: connection.remotePeer.toString() })
      await respond(stream, encodeResponse(0, encodeMetadata(metadata, version)))
    } catch (err) {
      emitEvent({ event: 'error', protocol: `metadata/${version}`, error: String(err?.message ?? err) })
      stream.abort?.(err)
    }
  }

  if (mode !== 'reject') {
    const v1only = mode === 'v1only'
    if (!v1only) await node.handle(PROTOCOLS.statusV2, handleStatus(2), { runOnLimitedConnection: true })
    await node.handle(PROTOCOLS.statusV1, handleStatus(1), { runOnLimitedConnection: true })
    if (!v1only) await node.handle(PROTOCOLS.metadataV3, handleMetadata(3), { runOnLimitedConnection: true })
    await node.handle(PROTOCOLS.metadataV2, handleMetadata(2), { runOnLimitedConnection: true })
    await node.handle(PROTOCOLS.ping, async ({ stream, connection }) => {
      try {
        const { ssz } = decodePayload(await readAll(stream.source, 64), 8)
        emitEvent({ event: 'ping', peerId: connection.remotePeer.toString(), seqNumber: readU64(ssz, 0).toString() })
        await respond(stream, encodeResponse(0, u64(metadata.seqNumber)))
      } catch (err) { stream.abort?.(err) }
    }, { runOnLimitedConnection: true })
    await node.handle(PROTOCOLS.goodbye, async ({ stream, connection }) => {
      try {
        const { ssz } = decodePayload(await readAll(stream.source, 64), 8)
        emitEvent({ event: 'goodbye', peerId: connection.remotePeer.toString(), reason: readU64(ssz, 0).toString() })
        await stream.close().catch(() => {})
      } catch (err) { stream.abort?.(err) }
    }, { runOnLimitedConnection: true })
  }

  const addrs = node.getMultiaddrs()
  const ma = addrs[0]
  const portOf = family => { const a = addrs.find(m => m.nodeAddress().family === family); return a ? Number(a.nodeAddress().port) : undefined }
  return {
    node,
    events,
    peerId: node.peerId.toString(),
    port: Number(ma.nodeAddress().port),
    port4: portOf(4),
    port6: portOf(6),
    multiaddr: ma.toString(),
    stop: () => node.stop()
  }
}

async function main () {
  const i = process.argv.indexOf('--config')
  if (i < 0 || process.argv[i + 1] == null) throw new Error('usage: node eth2-host.mjs --config <json object or array>')
  const configs = [].concat(JSON.parse(process.argv[i + 1]))
  const emit = obj => process.stdout.write(JSON.stringify(obj) + '\n')
  const hosts = []
  for (const c of configs) {
    const h = await startEth2Host({ ...c, onEvent: emit })
    hosts.push(h)
    emit({ event: 'listening', name: c.name, peerId: h.peerId, port: h.port, multiaddr: h.multiaddr })
  }
  emit({ event: 'ready' })
  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    await Promise.all(hosts.map(h => h.stop().catch(() => {})))
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  createInterface({ input: process.stdin }).on('close', stop)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch(err => { process.stderr.write(String(err?.stack ?? err) + '\n'); process.exit(1) })
}
