#!/usr/bin/env node
// Sync bench comparison peer: the Firegrid sync workload through automerge-repo.
//
//   npm ci --prefix bench/automerge-repo
//   node bench/automerge-repo/run.mjs --n 1000 [--timeout-s 120]
//
// Prints one JSON line on stdout; progress and details go to stderr. See README.md.

import { fork } from "node:child_process"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const t0 = performance.now()
const log = (...a) => console.error(`[${((performance.now() - t0) / 1000).toFixed(2)}s]`, ...a)

// ---------------------------------------------------------------------------------------------
function usage(msg) {
  if (msg) console.error(`run.mjs: ${msg}`)
  console.error("usage: node bench/automerge-repo/run.mjs --n N [--timeout-s SECONDS] [--edits E]")
  process.exit(2)
}
const opts = { n: null, timeoutS: 120, edits: 100 }
{
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split("=", 2)
    const val = () => (inline !== undefined ? inline : argv[++i])
    const int = v => {
      const x = Number(v)
      if (!Number.isInteger(x) || x <= 0) usage(`${flag} needs a positive integer, got ${v}`)
      return x
    }
    if (flag === "--n") opts.n = int(val())
    else if (flag === "--timeout-s") opts.timeoutS = int(val())
    else if (flag === "--edits") opts.edits = int(val())
    else if (flag === "-h" || flag === "--help") usage()
    else usage(`unknown argument ${argv[i]}`)
  }
  if (opts.n === null) usage("--n is required")
}
const N = opts.n
const EDITS = Math.min(opts.edits, N)

async function versions() {
  const v = async p => JSON.parse(await readFile(join(here, "node_modules", p, "package.json"), "utf8")).version
  return {
    "automerge-repo": await v("@automerge/automerge-repo"),
    "automerge-repo-network-websocket": await v("@automerge/automerge-repo-network-websocket"),
    "automerge-repo-storage-nodefs": await v("@automerge/automerge-repo-storage-nodefs"),
    automerge: await v("@automerge/automerge"),
    ws: await v("ws"),
    node: process.versions.node,
  }
}

// ---------------------------------------------------------------------------------------------
// Children: each peer runs in its own process so its peak RSS is its own.
const children = []
const dirs = []
let phase = "starting"

class Peer {
  constructor(label, args) {
    this.label = label
    this.queue = [] // messages not yet taken
    this.waiters = []
    this.exited = false
    // stdout of the child goes to our stderr: our stdout carries only the JSON line
    this.proc = fork(join(here, "peer.mjs"), args, { stdio: ["ignore", 2, 2, "ipc"] })
    children.push(this)
    this.proc.on("message", m => {
      if (m.type === "error") return abort(`${this.label} failed: ${m.message}`)
      const w = this.waiters.findIndex(x => x.type === m.type)
      if (w >= 0) this.waiters.splice(w, 1)[0].resolve(m)
      else this.queue.push(m)
    })
    this.proc.on("exit", (code, sig) => {
      this.exited = true
      if (!shuttingDown) abort(`${this.label} exited unexpectedly (code ${code}, signal ${sig})`)
    })
  }
  send(m) {
    this.proc.send(m)
  }
  next(type) {
    const q = this.queue.findIndex(x => x.type === type)
    if (q >= 0) return Promise.resolve(this.queue.splice(q, 1)[0])
    return new Promise(resolve => this.waiters.push({ type, resolve }))
  }
  async request(m, replyType) {
    this.send(m)
    return this.next(replyType)
  }
}

let shuttingDown = false // children are expected to exit now
let aborting = false
function killAll() {
  shuttingDown = true
  for (const c of children) if (!c.exited) c.proc.kill("SIGKILL")
}
async function cleanup() {
  for (const d of dirs) await rm(d, { recursive: true, force: true }).catch(() => {})
}
async function abort(message, code = 1) {
  if (aborting) return
  aborting = true
  console.error(`automerge-repo bench: ${message}`)
  killAll()
  await cleanup()
  process.exit(code)
}

// A phase that does not finish in time: say which, and how far it got.
const pendingReporters = []
const timer = setTimeout(async () => {
  let detail = ""
  try {
    const counts = await Promise.race([
      Promise.all(
        pendingReporters.map(async ([label, p]) => {
          const r = await p.request({ type: "pending" }, "pending")
          return r.waiting ? `${label}: ${r.pending} documents not yet at the expected heads` : `${label}: not waiting yet`
        }),
      ),
      new Promise(r => setTimeout(() => r(["(no answer)"]), 2000)),
    ])
    detail = counts.length ? ` (${counts.join(", ")})` : ""
  } catch {}
  abort(`timed out after ${opts.timeoutS} s in phase "${phase}" with n=${N}${detail}`, 124)
}, opts.timeoutS * 1000)

const mb = kb => Math.round((kb / 1024) * 10) / 10
const ms = x => Math.round(x * 10) / 10

// ---------------------------------------------------------------------------------------------
async function main() {
  const vers = await versions()
  log(`n=${N}, edits=${EDITS}, timeout ${opts.timeoutS} s,`, Object.entries(vers).map(([k, v]) => `${k} ${v}`).join(", "))
  const mk = async name => {
    const d = await mkdtemp(join(tmpdir(), `firegrid-amrepo-${name}-`))
    dirs.push(d)
    return d
  }

  // sync server
  const server = new Peer("server", ["server", await mk("server")])
  const { port } = await server.next("ready")
  const url = `ws://127.0.0.1:${port}`
  log(`server listening on ${url}`)

  // device A, connected before the clock starts
  const a = new Peer("device A", ["device", "device-a", await mk("device-a"), url])
  await a.next("ready")
  log("device A connected")

  // phase 1: A creates N records; done when the server holds every one at A's heads (and flushed)
  phase = "create_and_push"
  pendingReporters.splice(0, pendingReporters.length, ["server", server])
  phase = "create_and_push (device A creating)"
  const created = await a.request({ type: "create", n: N }, "created")
  phase = "create_and_push (waiting for the server)"
  log(`device A created ${N} docs in ${ms(created.tCreated - created.tStart)} ms`)
  const pushed = await server.request({ type: "expect", docs: created.docs.map(([, id, heads]) => [id, heads]) }, "matched")
  const createAndPush = pushed.tFlushed - created.tStart
  const pushOnly = pushed.tFlushed - created.tCreated
  log(
    `server has all ${N} at A's heads: ${ms(pushed.tMatched - created.tStart)} ms, flushed: ${ms(createAndPush)} ms` +
      ` (${ms(pushOnly)} ms after the creation loop; sweep caught ${pushed.sweepHits})`,
  )

  // phase 2: fresh device B (empty storage) is given the N URLs
  phase = "fresh_device (connecting)"
  const b = new Peer("device B", ["device", "device-b", await mk("device-b"), url])
  await b.next("ready")
  log("device B connected")
  phase = "fresh_device"
  pendingReporters.splice(0, pendingReporters.length, ["device B", b])
  const urls = created.docs.map(([u]) => u)
  const fetched = await b.request(
    { type: "fetch", urls, expect: created.docs.map(([, id, heads]) => [id, heads]) },
    "fetched",
  )
  const freshDevice = fetched.tFlushed - fetched.tStart
  log(
    `device B has all ${N} at A's heads: ${ms(fetched.tMatched - fetched.tStart)} ms, flushed: ${ms(freshDevice)} ms` +
      ` (sweep caught ${fetched.sweepHits}; ${fetched.unavailable} reported unavailable first)`,
  )

  // phase 3: B (still connected) edits one answer in EDITS records; done when the server and
  // device A (both waited on at once) have B's heads
  phase = "edits_back"
  pendingReporters.splice(0, pendingReporters.length, ["device A", a], ["server", server])
  const indices = Array.from({ length: EDITS }, (_, j) => Math.floor((j * N) / EDITS))
  const edited = await b.request({ type: "edit", indices }, "edited")
  log(`device B made ${EDITS} edits in ${ms(edited.tEdited - edited.tStart)} ms`)
  const [atServer, back] = await Promise.all([
    server.request({ type: "expect", docs: edited.docs }, "matched"),
    a.request({ type: "expect", docs: edited.docs }, "matched"),
  ])
  const editsBack = back.tFlushed - edited.tStart
  const editsToServer = atServer.tFlushed - edited.tEdited
  const editsToDevice = back.tFlushed - edited.tEdited
  log(
    `server has all ${EDITS} edits at B's heads: ${ms(atServer.tMatched - edited.tEdited)} ms after the edit loop, flushed: ${ms(editsToServer)} ms`,
  )
  log(
    `device A has all ${EDITS} edits at B's heads: ${ms(back.tMatched - edited.tStart)} ms, flushed: ${ms(editsBack)} ms` +
      ` (${ms(editsToDevice)} ms after the edit loop; sweep caught ${back.sweepHits})`,
  )

  // peak RSS of each process (getrusage ru_maxrss, KiB on Linux)
  phase = "shutdown"
  shuttingDown = true
  const [rs, ra, rb] = await Promise.all([server, a, b].map(p => p.request({ type: "shutdown" }, "bye")))
  log(`peak RSS: server ${mb(rs.maxRssKb)} MB, device A ${mb(ra.maxRssKb)} MB, device B ${mb(rb.maxRssKb)} MB`)
  clearTimeout(timer)
  await Promise.all(children.map(c => (c.exited ? null : new Promise(r => c.proc.once("exit", r)))))
  await cleanup()

  const out = {
    peer: "automerge-repo",
    version: Object.entries(vers).map(([k, v]) => `${k}@${v}`).join(" "),
    n: N,
    create_ms: ms(created.tCreated - created.tStart),
    create_and_push_ms: ms(createAndPush),
    push_ms: ms(pushOnly),
    fresh_device_ms: ms(freshDevice),
    edits_made_ms: ms(edited.tEdited - edited.tStart),
    edits_back_ms: ms(editsBack),
    edits_to_server_ms: ms(editsToServer),
    edits_to_device_ms: ms(editsToDevice),
    server_peak_rss_mb: mb(rs.maxRssKb),
    device_peak_rss_mb: mb(Math.max(ra.maxRssKb, rb.maxRssKb)),
  }
  process.stdout.write(JSON.stringify(out) + "\n")
  log(`total ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}

main().catch(err => abort(`error: ${err?.stack ?? err}`))
