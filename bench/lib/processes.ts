/** Starting and stopping the servers under test as child processes. */
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import net from 'node:net'

export interface Target {
  name: string
  url: string
  headers: Record<string, string>
  stop(): Promise<void>
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Spawns a process and resolves once `ready` matches its stdout (or stderr). */
export function spawnUntil(command: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let seen = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} ${args.join(' ')} did not become ready:\n${seen.slice(-2000)}`))
    }, timeoutMs)
    const onData = (chunk: Buffer) => {
      if (seen.length < 100_000) seen += chunk.toString()
      const match = ready.exec(seen)
      if (match) {
        clearTimeout(timer)
        // From now on the output is discarded, but drained, so a chatty server never blocks.
        child.stdout.off('data', onData)
        child.stderr.off('data', onData)
        child.stdout.resume()
        child.stderr.resume()
        resolve({ child, match })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${command} exited with ${code}:\n${seen.slice(-2000)}`))
    })
  })
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
