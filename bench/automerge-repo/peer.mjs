// One peer of the automerge-repo sync bench, run as a child process of run.mjs.
//
//   node peer.mjs server <storage dir>
//   node peer.mjs device <name> <storage dir> <ws url>
//
// The parent drives it over the IPC channel (process.send / "message"); every reply carries
// wall-clock timestamps (performance.timeOrigin + performance.now(), ms) so the parent can time
// a phase from the moment one process starts it to the moment another one finishes it.
// Nothing is printed on stdout (the parent routes our stdout to its stderr anyway).

import { Repo, ImmutableString } from "@automerge/automerge-repo"
import {
  BrowserWebSocketClientAdapter,
  NodeWSServerAdapter,
} from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import { WebSocketServer } from "ws"

const now = () => performance.timeOrigin + performance.now()
const [role, ...args] = process.argv.slice(2)

if (!process.send) {
  console.error("peer.mjs is run by run.mjs (it needs an IPC channel)")
  process.exit(2)
}
// If the parent goes away (timeout, crash), go away too.
process.on("disconnect", () => process.exit(3))

const send = msg => process.send(msg)
const fail = (what, err) => {
  console.error(`[${role}] ${what}:`, err?.stack ?? err)
  send({ type: "error", message: `${role}: ${what}: ${err?.message ?? err}` })
}

const headsKey = heads => [...heads].sort().join(",")

// ---------------------------------------------------------------------------------------------
// Waiting until this repo holds given documents at given heads.
//
// Heads only change on a receiver when a sync message is applied, and the synchronizer reports
// each applied message as a "receive-sync-message" doc-metric (emitted inside handle.update, so
// the doc is checked on the next turn of the event loop). A slow sweep over the documents still
// pending is a safety net in case an event is missed; how many documents it caught is reported.
// A document counts when its handle is ready and handle.heads() equals the expected heads (as a
// set). After that, repo.flush(ids) writes them to this peer's storage (NodeFSStorageAdapter:
// fs.writeFile, no fsync) and the phase ends.
class HeadsWaiter {
  constructor(repo) {
    this.repo = repo
    this.pending = new Map() // documentId -> heads key
    this.resolve = null
    this.sweepHits = 0
    repo.on("doc-metrics", e => {
      if (e.type === "receive-sync-message" && this.pending.has(e.documentId)) {
        const id = e.documentId
        setImmediate(() => this.#check(id, false))
      }
    })
  }

  #check(id, fromSweep) {
    const want = this.pending.get(id)
    if (want === undefined) return
    const handle = this.repo.handles[id]
    if (!handle || !handle.isReady()) return
    if (headsKey(handle.heads()) !== want) return
    this.pending.delete(id)
    if (fromSweep) this.sweepHits++
    if (this.pending.size === 0 && this.resolve) {
      const r = this.resolve
      this.resolve = null
      clearInterval(this.sweep)
      r(now())
    }
  }

  // entries: [[documentId, heads[]], ...]; resolves with the time the last one matched
  wait(entries) {
    this.sweepHits = 0
    this.pending = new Map(entries.map(([id, heads]) => [id, headsKey(heads)]))
    return new Promise(resolve => {
      this.resolve = resolve
      this.sweep = setInterval(() => {
        for (const id of [...this.pending.keys()]) this.#check(id, true)
      }, 1000)
      for (const id of [...this.pending.keys()]) this.#check(id, false)
      // (sweepHits counts only the periodic sweep; the first pass above is not a "miss")
    })
  }

  pendingCount() {
    return this.pending.size
  }
}

async function waitAndFlush(repo, waiter, entries) {
  const tMatched = await waiter.wait(entries)
  await repo.flush(entries.map(([id]) => id))
  return { tMatched, tFlushed: now(), sweepHits: waiter.sweepHits }
}

// ---------------------------------------------------------------------------------------------
// The inspection-like record. Deterministic in i so the Rust side can build the same records.
const BASE_MS = 1767225600000 // 2026-01-01T00:00:00Z
const ITEMS = 15
export const itemId = k => `item-${String(k + 1).padStart(2, "0")}`
const S = s => new ImmutableString(s) // scalar string, not collaborative Text

function record(i) {
  const started = BASE_MS + i * 60_000
  const inspector = `inspector-${i % 37}`
  const answers = {}
  for (let k = 0; k < ITEMS; k++) {
    const failed = k % 5 === 4
    answers[itemId(k)] = {
      result: S(failed ? "fail" : "pass"),
      note: failed ? S(`item ${k + 1}: defect found, see photo`) : null,
      answered_by: S(inspector),
      answered_at_ms: started + (k + 1) * 30_000,
      photos: [],
    }
  }
  return {
    id: S(`insp-${String(i).padStart(6, "0")}`),
    schema_version: 1,
    kind: S("routine"),
    status: S("finished"),
    outcome: S("fail"),
    premises_id: S(`premises-${String(i % 1500).padStart(5, "0")}`),
    grid_id: S(`grid-${i % 95}`),
    street_office_id: S(`street-${i % 12}`),
    district_id: S("district-01"),
    checklist_id: S("street_shop"),
    checklist_version: 3,
    inspector_id: S(inspector),
    inspector_name: S(`Inspector ${i % 37}`),
    device_id: S("device-a"),
    started_at_ms: started,
    finished_at_ms: started + (ITEMS + 1) * 30_000,
    updated_at_ms: started + (ITEMS + 1) * 30_000,
    due_at_ms: started + 30 * 86_400_000,
    fail_count: 3,
    location: { lat: 31.2 + (i % 1000) / 10_000, lon: 121.4 + (i % 977) / 10_000 },
    answers,
  }
}

// The edit made on device B: one answer changes (all of its fields but photos).
const EDITED_ITEM = itemId(6) // item-07, a "pass" answer in the original record
function editAnswer(doc, j) {
  const a = doc.answers[EDITED_ITEM]
  a.result = S("fail")
  a.note = S("re-checked: extinguisher pressure low")
  a.answered_by = S("inspector-b")
  a.answered_at_ms = BASE_MS + 400 * 86_400_000 + j * 1000
}

// ---------------------------------------------------------------------------------------------
async function runServer(dir) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
  await new Promise((resolve, reject) => {
    wss.once("listening", resolve)
    wss.once("error", reject)
  })
  const repo = new Repo({
    network: [new NodeWSServerAdapter(wss)],
    storage: new NodeFSStorageAdapter(dir),
    peerId: "sync-server",
    sharePolicy: async () => true,
  })
  const waiter = new HeadsWaiter(repo)
  process.on("message", async msg => {
    try {
      if (msg.type === "expect") {
        const r = await waitAndFlush(repo, waiter, msg.docs)
        send({ type: "matched", ...r })
      } else if (msg.type === "pending") {
        send({ type: "pending", pending: waiter.pendingCount(), waiting: waiter.resolve !== null })
      } else if (msg.type === "shutdown") {
        send({ type: "bye", maxRssKb: process.resourceUsage().maxRSS })
        await repo.shutdown().catch(() => {})
        wss.close()
        process.exit(0)
      }
    } catch (err) {
      fail(msg.type, err)
    }
  })
  send({ type: "ready", port: wss.address().port })
}

async function runDevice(name, dir, url) {
  const adapter = new BrowserWebSocketClientAdapter(url)
  const repo = new Repo({
    network: [adapter],
    storage: new NodeFSStorageAdapter(dir),
    peerId: name,
    // default share policy (announce everything to every peer), as an app would use
  })
  const waiter = new HeadsWaiter(repo)
  // connected = the server has answered our join with a peer message
  while (repo.peers.length === 0) await new Promise(r => setTimeout(r, 5))

  let handles = [] // handles by index, for the edits
  process.on("message", async msg => {
    try {
      if (msg.type === "create") {
        const tStart = now()
        const docs = []
        const every = Math.max(1000, Math.ceil(msg.n / 10))
        for (let i = 0; i < msg.n; i++) {
          const h = repo.create(record(i))
          handles.push(h)
          docs.push([h.url, h.documentId, h.heads()])
          // progress on stderr (a synchronous write: the event loop is busy in this loop)
          if ((i + 1) % every === 0 && i + 1 < msg.n)
            console.error(`[${name}] created ${i + 1} docs in ${Math.round(now() - tStart)} ms`)
        }
        send({ type: "created", tStart, tCreated: now(), docs })
      } else if (msg.type === "fetch") {
        // fresh device: given the URLs, find them all and wait for the expected heads
        // find() rejects when a handle turns "unavailable", which can happen transiently while
        // the server is still pushing the same documents (its share policy announces everything
        // to the new peer); such a handle becomes ready when the data arrives, so "unavailable"
        // is accepted here and the heads criterion decides. How many were is reported.
        const tStart = now()
        let unavailable = 0
        const finds = Promise.all(
          msg.urls.map(async u => {
            const h = await repo.find(u, { allowableStates: ["ready", "unavailable"] })
            if (h.state === "unavailable") unavailable++
            return h
          }),
        )
        const [found, r] = await Promise.all([finds, waitAndFlush(repo, waiter, msg.expect)])
        handles = found
        send({ type: "fetched", tStart, unavailable, ...r })
      } else if (msg.type === "edit") {
        const tStart = now()
        const docs = []
        msg.indices.forEach((i, j) => {
          const h = handles[i]
          h.change(doc => editAnswer(doc, j))
          docs.push([h.documentId, h.heads()])
        })
        send({ type: "edited", tStart, tEdited: now(), docs })
      } else if (msg.type === "expect") {
        const r = await waitAndFlush(repo, waiter, msg.docs)
        send({ type: "matched", ...r })
      } else if (msg.type === "pending") {
        send({ type: "pending", pending: waiter.pendingCount(), waiting: waiter.resolve !== null })
      } else if (msg.type === "shutdown") {
        send({ type: "bye", maxRssKb: process.resourceUsage().maxRSS })
        await repo.shutdown().catch(() => {})
        process.exit(0)
      }
    } catch (err) {
      fail(msg.type, err)
    }
  })
  send({ type: "ready" })
}

try {
  if (role === "server") await runServer(args[0])
  else if (role === "device") await runDevice(args[0], args[1], args[2])
  else throw new Error(`unknown role ${role}`)
} catch (err) {
  fail("start", err)
  process.exit(1)
}
