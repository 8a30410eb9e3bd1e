/**
 * The part of the WebAssembly JavaScript API that `models/builtin/pooling-simd.ts` uses. Node
 * has all of it; TypeScript only declares it in the DOM libraries, which this project does not
 * load (they would declare browser globals that do not exist in Node).
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array)
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number })
    readonly buffer: ArrayBuffer
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>)
    readonly exports: Record<string, unknown>
  }
  function validate(bytes: Uint8Array): boolean
}
