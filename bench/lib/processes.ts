/** Starting and stopping the servers under test as child processes. */
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export interface Target {
  name: string
  url: string
  headers: Record<string, string>
  /** The server's process, whose CPU time is read around a measurement. */
  pid?: number
  stop(): Promise<void>
}

/**
 * CPU time (user + system, all threads) a process has used so far, in ms, from /proc; undefined
 * where /proc is absent. Per request, this is what the server costs whatever else the machine
 * runs, unlike requests per second, which a busy neighbour lowers.
 */
export function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS
  } catch {
    return undefined
  }
}

// USER_HZ: 100 on Linux everywhere in practice (getconf CLK_TCK).
const CLOCK_TICKS = 100

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * Spawns a process and resolves once `ready` matches its output (or, for a URL, once it answers
 * 200; for a function, once it resolves true: for a server that logs nothing). The output goes to a file,
 * not a pipe: a pipe would be drained by this process, which also runs autocannon, so a server
 * that logs every request would slow its own load generator (it did: 1.9k against 4.7k req/s).
 */
export function spawnUntil(
  command: string,
  args: string[],
  ready: RegExp | URL | (() => Promise<boolean>),
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<{ child: ChildProcess }> {
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'infergate-bench-log-')), 'output.log')
  const fd = fs.openSync(logFile, 'w')
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] })
  fs.closeSync(fd)
  const output = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(0, 100_000) : '')
  return new Promise((resolve, reject) => {
    let checking = false
    let done = false
    const poll = setInterval(() => {
      if (checking) return
      checking = true
      void isReady(ready, output).then((ok) => {
        checking = false
        if (!ok || done) return
        settle()
        resolve({ child })
      })
    }, 50)
    const timer = setTimeout(() => {
      const seen = output()
      settle()
      child.kill('SIGKILL')
      reject(new Error(`${command} ${args.join(' ')} did not become ready:\n${seen.slice(-2000)}`))
    }, timeoutMs)
    const onExit = (code: number | null) => {
      const seen = output()
      settle()
      reject(new Error(`${command} exited with ${code}:\n${seen.slice(-2000)}`))
    }
    const settle = () => {
      done = true
      clearInterval(poll)
      clearTimeout(timer)
      child.off('exit', onExit)
    }
    child.once('exit', onExit)
    // Registered after onExit, so that a failed start can still show what it printed.
    child.once('exit', () => fs.rmSync(path.dirname(logFile), { recursive: true, force: true }))
  })
}

async function isReady(ready: RegExp | URL | (() => Promise<boolean>), output: () => string): Promise<boolean> {
  if (ready instanceof RegExp) return ready.test(output())
  if (typeof ready === 'function') return ready()
  const answer = await fetch(ready).catch(() => undefined)
  return answer?.ok === true
}

/** Stops a child with SIGTERM (SIGKILL after 5 s). */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}
