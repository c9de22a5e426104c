#!/usr/bin/env node
// Starts N ChainSafe discv5 nodes on one address, connects them into one DHT and prints one JSON line per node:
//   {"index":0,"enr":"enr:...","nodeId":"...","port":12345}
// then {"ready":true}. Keeps running until stdin closes or SIGTERM/SIGINT.
// Options: --count N (30) --ip A (127.0.0.1) --links K (each node learns K others, default 4)
//          --boot ENR (repeatable: added to every node) --extra key=hex (repeatable: added to every record)
//          --keys hex,hex,... (private keys for the first nodes)
//          --config JSON (@chainsafe/discv5 config overrides for every node, e.g. '{"lookupNumResults":64}';
//          note: discv5 11 sorts lookup results with a broken comparator (lookup.js closestPeersByDistance), so with
//          more than lookupNumResults answering peers the target itself may be cut from findNode's result)
// Commands on stdin, one JSON object a line, each answered by one JSON line with the same "id":
//   {"id":1,"cmd":"findNode","index":3,"target":"<node id hex>"}  -> {"id":1,"enrs":["enr:..."]}
//   {"id":2,"cmd":"addEnr","index":3|"all","enr":"enr:..."}       -> {"id":2,"ok":true}
//   {"id":3,"cmd":"table","index":3}                              -> {"id":3,"enrs":[...]}
//   {"id":4,"cmd":"ping","index":3,"enr":"enr:..."}               -> {"id":4,"ok":true|false}
import './polyfill.mjs'
import { createInterface } from 'node:readline'
import { ENR } from '@chainsafe/enr'
import { startDiscv5Node } from './discv5-node.mjs'

const args = process.argv.slice(2)
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def }
const many = (name) => args.flatMap((a, i) => (a === name ? [args[i + 1]] : []))

const count = Number(opt('--count', '30'))
const ip = opt('--ip', '127.0.0.1')
const links = Number(opt('--links', '4'))
const boot = many('--boot')
const extra = Object.fromEntries(many('--extra').map((kv) => kv.split('=')))
const keys = (opt('--keys', '') || '').split(',').filter(Boolean)
const config = JSON.parse(opt('--config', '{}'))

const nodes = []
for (let i = 0; i < count; i++) {
  nodes.push(await startDiscv5Node({ privateKeyHex: keys[i], ip, udpPort: 0, extra, bootEnrs: boot, config }))
}
// connect: node i knows the next `links` nodes (a ring with chords), so the DHT is one component
for (let i = 0; i < count; i++) {
  for (let j = 1; j <= Math.min(links, count - 1); j++) nodes[i].discv5.addEnr(nodes[(i + j) % count].enr)
}
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
nodes.forEach((n, index) => out({ index, enr: n.enr, nodeId: n.nodeId, port: n.port }))
out({ ready: true })

let stopping = false
async function stop () {
  if (stopping) return
  stopping = true
  await Promise.allSettled(nodes.map((n) => n.stop()))
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

const targets = (index) => (index === 'all' ? nodes : [nodes[index]])
const rl = createInterface({ input: process.stdin })
rl.on('line', async (line) => {
  let cmd
  try { cmd = JSON.parse(line) } catch { return }
  try {
    switch (cmd.cmd) {
      case 'findNode': {
        const enrs = await nodes[cmd.index].discv5.findNode(cmd.target)
        out({ id: cmd.id, enrs: enrs.map((e) => e.encodeTxt()) })
        break
      }
      case 'addEnr':
        for (const n of targets(cmd.index)) n.discv5.addEnr(cmd.enr)
        out({ id: cmd.id, ok: true })
        break
      case 'table':
        out({ id: cmd.id, enrs: nodes[cmd.index].discv5.kadValues().map((e) => e.encodeTxt()) })
        break
      case 'ping': {
        let ok = true
        try { await nodes[cmd.index].discv5.sendPing(ENR.decodeTxt(cmd.enr)) } catch { ok = false }
        out({ id: cmd.id, ok })
        break
      }
      default:
        out({ id: cmd.id, error: `unknown command ${cmd.cmd}` })
    }
  } catch (e) {
    out({ id: cmd.id, error: String(e?.message ?? e) })
  }
})
rl.on('close', stop)
