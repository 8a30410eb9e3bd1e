/**
 * `npm run docs:flamegraph -- PROFILE.cpuprofile OUT.png [title] [seconds]`: draws a V8 CPU
 * profile (from `node --cpu-prof`; with `seconds`, only its last seconds but the final half
 * second, i.e. the load without start-up and shutdown) as a flame graph — d3-flame-graph in Debian's Chromium — and saves it as a
 * PNG for docs/benchmarks.md. Idle time and the garbage collector's own frames are left out of
 * the width so that what the server does per request fills the picture.
 */
import fs from 'node:fs'
import path from 'node:path'
import { PROJECT_ROOT } from '../test/helper.js'
import { chromiumMissing, CHROMIUM, launchChromium } from '../test/browser/harness.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}
interface Frame {
  name: string
  value: number
  children: Frame[]
}

const SKIPPED = new Set(['(idle)', '(program)'])

function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame
  if (!url) return functionName || '(anonymous)'
  const file = url
    .replace(/^file:\/\//, '')
    .replace(/.*node_modules\//, '')
    .replace(`${PROJECT_ROOT}/`, '')
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`
}

/** The profile as d3-flame-graph's tree: self time of each sample added along its stack. */
export function toFlameTree(profile: Profile, lastSeconds = Infinity): Frame {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const selfTime = new Map<number, number>()
  const from = profile.endTime - lastSeconds * 1e6
  const to = lastSeconds === Infinity ? Infinity : profile.endTime - 0.5e6
  let at = profile.startTime
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0
    if (at >= from && at <= to) selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  const root: Frame = { name: 'all', value: 0, children: [] }
  for (const [id, micros] of selfTime) {
    if (SKIPPED.has(byId.get(id)!.callFrame.functionName)) continue
    const stack: ProfileNode[] = []
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.unshift(byId.get(cur)!)
    let frame = root
    frame.value += micros
    for (const node of stack.slice(1)) {
      const name = frameName(node)
      let next = frame.children.find((child) => child.name === name)
      if (!next) frame.children.push((next = { name, value: 0, children: [] }))
      next.value += micros
      frame = next
    }
  }
  return root
}

async function main(): Promise<void> {
  const [input, output, title = 'CPU profile', seconds] = process.argv.slice(2)
  if (!input || !output) throw new Error('usage: npm run docs:flamegraph -- PROFILE.cpuprofile OUT.png [title] [seconds]')
  if (chromiumMissing) throw new Error(`${CHROMIUM} is absent: apt-get install -y chromium`)
  const tree = toFlameTree(JSON.parse(fs.readFileSync(input, 'utf8')) as Profile, seconds === undefined ? Infinity : Number(seconds))
  const asset = (file: string) => fs.readFileSync(path.join(PROJECT_ROOT, 'node_modules', file), 'utf8')
  const html = `<!doctype html><html><head><meta charset="utf-8"><style>${asset('d3-flame-graph/dist/d3-flamegraph.css')}
body{font-family:sans-serif;margin:16px}h1{font-size:16px}</style></head><body><h1>${title}</h1><div id="chart"></div>
<script>${asset('d3/dist/d3.min.js')}</script><script>${asset('d3-flame-graph/dist/d3-flamegraph.umd.min.js')}</script>
<script>const chart = flamegraph.default().width(1560).cellHeight(16).transitionDuration(0).minFrameSize(2).sort(true);
d3.select('#chart').datum(${JSON.stringify(tree)}).call(chart);</script></body></html>`
  const browser = await launchChromium()
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } })
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`))
    await page.setContent(html)
    await page.waitForSelector('#chart svg')
    await page.locator('body').screenshot({ path: output })
  } finally {
    await browser.close()
  }
  console.log(`wrote ${output}`)
}

await main()
