/**
 * Compiles src/models/builtin/kernels.wat (the built-in model's SIMD loops) into kernels-wasm.ts, which
 * holds the module's bytes so no asset has to be copied next to the built JavaScript.
 * `npm run build:wasm`; test/models/builtin-engine.test.ts checks the output is up to date.
 */
import fs from 'node:fs'
import { KERNELS_WASM_SOURCE, KERNELS_WASM_TARGET, kernelsModuleText } from '../test/wasm-module.js'

fs.writeFileSync(KERNELS_WASM_TARGET, await kernelsModuleText(fs.readFileSync(KERNELS_WASM_SOURCE, 'utf8')))
console.log(`${KERNELS_WASM_TARGET} written`)
