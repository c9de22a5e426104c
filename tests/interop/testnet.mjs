// A local consensus-layer testnet for the crawler's end-to-end tests and benchmarks: N discv5 nodes
// (@chainsafe/discv5), most of them with a js-libp2p host serving eth2 req/resp under the same secp256k1 key,
// some consensus nodes whose TCP port is closed, and some nodes with no eth2 field at all.
//
//   node testnet.mjs --nodes 50 [--seed 7] [--digests 01020304,0a0b0c0d] [--no-eth2 5] [--no-host 5]
//   node testnet.mjs --partition A,B,AB,H ...
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
const count = partition ? partition.reduce((x, y) => x + y, 0) : Number(args.nodes ?? 50)
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

// A loopback TCP port with nothing listening: bind one, note it, close it.
async function closedPort () {
  const { createServer } = await import('node:net')
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)) })
  })
}

function u64le (n) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b }

const nodes = []
const stops = []
for (let i = 0; i < count; i++) {
  const key = secp256k1Key()
  const kind = i < noEth2 ? 'no_eth2' : i < noEth2 + noHost ? 'no_host' : 'host'
  // node 0 is the bootnode: make it a full host so the crawl starts from a consensus node
  const role = i === 0 || (partition && i === partition[0]) ? 'host' : kind
  const digest = digests[i % digests.length]
  const entries = {}
  const truth = { type: 'node', index: i, kind: role, privateKey: key.priv, publicKey: key.pub, group: groupOf(i) }
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
    const host = await startEth2Host({ privateKeyHex: key.priv, keyType: "secp256k1", muxers, agentVersion, status, metadata, port: 0, name: `node${i}` })
    stops.push(() => host.stop())
    entries.tcp = portHex(host.port)
    Object.assign(truth, { peerId: host.peerId, tcp: host.port, agentVersion, status, metadata, muxers })
  } else if (role === 'no_host') {
    // a consensus node whose TCP port has nothing listening: the dial must end as refused
    truth.tcp = await closedPort()
    entries.tcp = portHex(truth.tcp)
  }
  nodes.push({ key, entries, truth })
}

// Start the discv5 nodes, then wire them as a ring with chords (node i knows the next 4), so the DHT is one
// component reachable from any node.
const started = []
for (let i = 0; i < nodes.length; i++) {
  const node = await startDiscv5Node({ privateKeyHex: nodes[i].key.priv, ip: '127.0.0.1', udpPort: 0, extra: nodes[i].entries })
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
} else {
  for (let i = 0; i < started.length; i++) {
    for (let j = 1; j <= Math.min(4, started.length - 1); j++) started[i].discv5.addEnr(started[(i + j) % started.length].enr)
  }
}
const enrs = started.map(n => n.enr)
for (const n of nodes) process.stdout.write(JSON.stringify(n.truth) + '\n')
process.stdout.write(JSON.stringify({ type: 'ready', bootnode: enrs[0], bootnodes, count: nodes.length }) + '\n')

let stopping = false
async function stop () {
  if (stopping) return
  stopping = true
  await Promise.allSettled(stops.map(s => s()))
  process.exit(0)
}
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
