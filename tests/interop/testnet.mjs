// A local consensus-layer testnet for the crawler's end-to-end tests and benchmarks: N discv5 nodes
// (@chainsafe/discv5), most of them with a js-libp2p host serving eth2 req/resp under the same secp256k1 key,
// some consensus nodes whose TCP port is closed, and some nodes with no eth2 field at all.
//
//   node testnet.mjs --nodes 50 [--seed 7] [--digests 01020304,0a0b0c0d] [--no-eth2 5] [--no-host 5]
//   node testnet.mjs --partition A,B,AB,H ...
//   node testnet.mjs --families V4,V6,DUAL ...
//
// --families makes V4 nodes with only an IPv4 address (127.0.0.1), V6 with only an IPv6 address (::1) and DUAL with
// both (each family its own UDP socket and TCP listener); --nodes is then their sum, every node knows every other, the
// bootnode is the first dual-stack node, and each node's truth names its "family" (ipv4, ipv6, dual).
//
// Behind-NAT nodes: a line {"cmd":"nat","enr":ENR,"count":K} on stdin starts K consensus nodes whose records carry no
// address (as behind NAT) and that run a lookup through the node of ENR and connect to its libp2p port (its record's
// tcp, its key's peer id). Each prints {"type":"nat", ...truth} when started and {"type":"nat-done","nodeId",
// "lookupFound","connected","error"} once it has done both.
//
// --partition makes a network two vantage points see in part (--nodes is then A+B+AB+H; A+AB and B+AB at most 16
// each): A nodes reachable only from bootnode "a", B only from bootnode "b", AB nodes that the nodes of both sides
// know (and that know nobody, so neither side learns the other's nodes through them), and H hidden nodes nobody knows
// (as behind NAT). Each node's truth names its group; the ready line carries {"bootnodes":{"a":ENR,"b":ENR}}.
//
// Prints one JSON line per node ({"type":"node", ...truth}), then {"type":"ready","bootnode":ENR}, and keeps
// running until stdin closes or SIGTERM. Loopback only.
import './polyfill.mjs'
import { createECDH, createHash } from 'node:crypto'
import { startDiscv5Node } from './discv5-node.mjs'
import { startEth2Host } from './eth2-host.mjs'

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : 'true'])
  return acc
}, []))
const partition = args.partition ? String(args.partition).split(',').map(Number) : null
const families = args.families ? String(args.families).split(',').map(Number) : null
const count = partition ? partition.reduce((x, y) => x + y, 0) : families ? families.reduce((x, y) => x + y, 0) : Number(args.nodes ?? 50)
const familyOf = (i) => !families ? 'ipv4' : i < families[0] ? 'ipv4' : i < families[0] + families[1] ? 'ipv6' : 'dual'
const bootIndex = families && families[2] > 0 ? families[0] + families[1] : 0
const groupOf = (i) => {
  if (!partition) return undefined
  const [a, b, ab] = partition
  return i < a ? 'a' : i < a + b ? 'b' : i < a + b + ab ? 'ab' : 'hidden'
}
const noEth2 = Number(args['no-eth2'] ?? Math.max(2, Math.round(count / 10)))
const noHost = Number(args['no-host'] ?? Math.max(2, Math.round(count / 10)))
const digests = String(args.digests ?? '01020304,0a0b0c0d').split(',')
let seed = Number(args.seed ?? 7)

// Deterministic bytes from the seed, so a run can be reproduced.
function bytes (n) {
  const out = Buffer.alloc(n)
  let off = 0
  while (off < n) {
    const h = createHash('sha256').update(`clp2p-testnet-${seed++}`).digest()
    h.copy(out, off, 0, Math.min(32, n - off))
    off += 32
  }
  return out
}

function secp256k1Key () {
  for (;;) {
    const priv = bytes(32)
    try {
      const ecdh = createECDH('secp256k1')
      ecdh.setPrivateKey(priv)
      return { priv: priv.toString('hex'), pub: ecdh.getPublicKey(null, 'compressed').toString('hex') }
    } catch { /* out of range: draw again */ }
  }
}

const agents = [
  'Lighthouse/v7.1.0-e42406d/x86_64-linux',
  'Prysm/v6.0.4/3f6a8a8f3c2a',
  'teku/v25.6.0/linux-x86_64/-eclipseadoptium-openjdk64bitservervm-java-21',
  'nimbus',
  'lodestar/v1.31.0/2f4c2c4',
  'Grandine/1.1.2-1f8ea6d/x86_64-linux',
  'erigon/caplin',
]

function portHex (port) { return port < 256 ? port.toString(16).padStart(2, '0') : port.toString(16).padStart(4, '0') }

// A loopback TCP port with nothing listening: bind one and note it. It is closed only once every host of the testnet
// listens (closeReserved), so that no host of ours is given the same port by the kernel meanwhile.
const reserved = []
async function closedPort () {
  const { createServer } = await import('node:net')
  return await new Promise((resolve, reject) => {
    const srv = createServer(socket => socket.destroy())
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => { reserved.push(srv); resolve(srv.address().port) })
  })
}
async function closeReserved () {
  await Promise.all(reserved.splice(0).map(srv => new Promise(resolve => srv.close(() => resolve()))))
}

function u64le (n) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b }

const nodes = []
const stops = []
for (let i = 0; i < count; i++) {
  const key = secp256k1Key()
  const kind = i < noEth2 ? 'no_eth2' : i < noEth2 + noHost ? 'no_host' : 'host'
  // node 0 is the bootnode: make it a full host so the crawl starts from a consensus node
  const role = i === bootIndex || (partition && i === partition[0]) ? 'host' : kind
  const digest = digests[i % digests.length]
  const entries = {}
  const family = familyOf(i)
  const truth = { type: 'node', index: i, kind: role, privateKey: key.priv, publicKey: key.pub, group: groupOf(i), family }
  if (role !== 'no_eth2') {
    const nextVersion = '0b000000'
    entries.eth2 = digest + nextVersion + u64le('18446744073709551615').toString('hex')
    entries.attnets = bytes(8).toString('hex')
    entries.syncnets = '0' + (i % 16).toString(16)
    truth.forkDigest = digest
  }
  if (role === 'host') {
    const status = {
      forkDigest: digest,
      finalizedRoot: bytes(32).toString('hex'),
      finalizedEpoch: 1000 + i,
      headRoot: bytes(32).toString('hex'),
      headSlot: 40000 + i * 7,
      earliestAvailableSlot: 100 + i,
    }
    const metadata = { seqNumber: 3 + i, attnets: bytes(8).toString('hex'), syncnets: '0' + (i % 16).toString(16), custodyGroupCount: 4 + (i % 5) }
    const agentVersion = agents[i % agents.length]
    const muxers = i % 3 === 2 ? ['mplex'] : ['yamux', 'mplex']
    const listen = [...(family !== 'ipv6' ? ['/ip4/127.0.0.1/tcp/0'] : []), ...(family !== 'ipv4' ? ['/ip6/::1/tcp/0'] : [])]
    const host = await startEth2Host({ privateKeyHex: key.priv, keyType: "secp256k1", muxers, agentVersion, status, metadata, port: 0, listen, name: `node${i}` })
    stops.push(() => host.stop())
    if (host.port4) entries.tcp = portHex(host.port4)
    if (host.port6) entries.tcp6 = portHex(host.port6)
    Object.assign(truth, { peerId: host.peerId, tcp: host.port, agentVersion, status, metadata, muxers })
  } else if (role === 'no_host') {
    // a consensus node whose TCP port has nothing listening: the dial must end as refused
    truth.tcp = await closedPort()
    entries.tcp = portHex(truth.tcp)
  }
  nodes.push({ key, entries, truth })
}

await closeReserved()

// Start the discv5 nodes, then wire them as a ring with chords (node i knows the next 4), so the DHT is one
// component reachable from any node.
const started = []
for (let i = 0; i < nodes.length; i++) {
  const family = familyOf(i)
  const node = await startDiscv5Node({ privateKeyHex: nodes[i].key.priv, ip: family !== 'ipv6' ? '127.0.0.1' : null, ip6: family !== 'ipv4' ? '::1' : undefined, udpPort: 0, extra: nodes[i].entries })
  stops.push(() => node.stop())
  started.push(node)
  nodes[i].truth.enr = node.enr
  nodes[i].truth.nodeId = node.nodeId
  nodes[i].truth.udp = node.port
}
const bootnodes = {}
if (partition) {
  // every node of a side knows every other node of its side and every AB node (at most 15 entries: no k-bucket of 16
  // overflows, and a node stays found when some of its peers are too busy to answer); AB and hidden nodes know nobody
  const members = (g) => started.filter((_, i) => groupOf(i) === g)
  const shared = members('ab')
  for (const g of ['a', 'b']) {
    const side = members(g)
    for (let i = 0; i < side.length; i++) {
      for (let j = 1; j < side.length; j++) side[i].discv5.addEnr(side[(i + j) % side.length].enr)
      for (const n of shared) side[i].discv5.addEnr(n.enr)
    }
    bootnodes[g] = side[0].enr
  }
} else if (families) {
  // every node knows every other (at most 15 others: no k-bucket overflows); a node of one family keeps records of the
  // other family's nodes that it cannot reach itself, and hands them out, as real nodes do
  for (let i = 0; i < started.length; i++) {
    for (let j = 1; j < started.length; j++) started[i].discv5.addEnr(started[(i + j) % started.length].enr)
  }
} else {
  for (let i = 0; i < started.length; i++) {
    for (let j = 1; j <= Math.min(4, started.length - 1); j++) started[i].discv5.addEnr(started[(i + j) % started.length].enr)
  }
}
const enrs = started.map(n => n.enr)
for (const n of nodes) process.stdout.write(JSON.stringify(n.truth) + '\n')
process.stdout.write(JSON.stringify({ type: 'ready', bootnode: enrs[bootIndex], bootnodes, count: nodes.length }) + '\n')

// ---- behind-NAT nodes, started on request ----
let natIndex = 0
async function startNat (crawlerEnrText, index) {
  const { ENR } = await import('@chainsafe/enr')
  const { multiaddr } = await import('@multiformats/multiaddr')
  const crawler = ENR.decodeTxt(crawlerEnrText)
  const key = secp256k1Key()
  const digest = digests[0]
  const status = { forkDigest: digest, finalizedRoot: bytes(32).toString('hex'), finalizedEpoch: 2000 + index, headRoot: bytes(32).toString('hex'), headSlot: 80000 + index, earliestAvailableSlot: 1 }
  const metadata = { seqNumber: 7 + index, attnets: bytes(8).toString('hex'), syncnets: '01', custodyGroupCount: 4 }
  const agentVersion = agents[index % agents.length]
  const host = await startEth2Host({ privateKeyHex: key.priv, keyType: 'secp256k1', agentVersion, status, metadata, port: 0, name: `nat${index}` })
  stops.push(() => host.stop())
  const entries = { eth2: digest + '0b000000' + u64le('18446744073709551615').toString('hex'), attnets: bytes(8).toString('hex'), syncnets: '01' }
  const node = await startDiscv5Node({ privateKeyHex: key.priv, ip: '127.0.0.1', nat: true, udpPort: 0, extra: entries })
  stops.push(() => node.stop())
  const truth = { type: 'nat', index, kind: 'nat', nodeId: node.nodeId, enr: node.enr, peerId: host.peerId, agentVersion, status, metadata, forkDigest: digest }
  process.stdout.write(JSON.stringify(truth) + '\n')
  const done = { type: 'nat-done', index, nodeId: node.nodeId, lookupFound: 0, connected: false }
  try {
    node.discv5.addEnr(crawlerEnrText)
    // a lookup through the crawler's node: it is the only node this one knows. A UDP exchange on a busy machine can
    // miss js-discv5's 1 s request timeout (twice), which ends a lookup with nothing; a real node looks up again, so
    // this one tries up to five times and reports how many it took.
    for (done.lookups = 1; ; done.lookups++) {
      const found = await node.discv5.findRandomNode()
      done.lookupFound = found.length
      if (found.length > 0 || done.lookups >= 5) break
    }
    const target = multiaddr(`/ip4/127.0.0.1/tcp/${crawler.tcp}/p2p/${crawler.peerId.toString()}`)
    await host.node.dial(target)
    done.connected = true
  } catch (err) {
    done.error = String(err?.message ?? err)
  }
  process.stdout.write(JSON.stringify(done) + '\n')
}

let stopping = false
async function stop () {
  if (stopping) return
  stopping = true
  await Promise.allSettled(stops.map(s => s()))
  process.exit(0)
}
const { createInterface } = await import('node:readline')
const commands = createInterface({ input: process.stdin })
commands.on('line', line => {
  if (line.trim() === '') return
  let cmd
  try { cmd = JSON.parse(line) } catch { process.stdout.write(JSON.stringify({ type: 'error', error: 'bad json' }) + '\n'); return }
  if (cmd.cmd === 'nat') {
    for (let k = 0; k < Number(cmd.count ?? 1); k++) startNat(cmd.enr, natIndex++).catch(err => process.stdout.write(JSON.stringify({ type: 'error', error: String(err?.message ?? err) }) + '\n'))
  }
})
commands.on('close', stop)
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
