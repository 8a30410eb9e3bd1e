/**
 * Compiles src/models/builtin/pooling.wat (the SIMD pooling loop) into pooling-wasm.ts, which
 * holds the module's bytes so no asset has to be copied next to the built JavaScript.
 * `npm run build:wasm`; test/models/builtin-engine.test.ts checks the output is up to date.
 */
import fs from 'node:fs'
import { POOLING_WASM_SOURCE, POOLING_WASM_TARGET, poolingModuleText } from '../test/wasm-module.js'

fs.writeFileSync(POOLING_WASM_TARGET, await poolingModuleText(fs.readFileSync(POOLING_WASM_SOURCE, 'utf8')))
console.log(`${POOLING_WASM_TARGET} written`)
