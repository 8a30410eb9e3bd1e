/** Where the project and the shared datasets are. */
import path from 'node:path'
import { PROJECT_ROOT } from '../../src/config.js'

export { PROJECT_ROOT }
export const SHARED_DIR = path.resolve(PROJECT_ROOT, '..', 'shared')
export const RESULTS_DIR = path.join(PROJECT_ROOT, 'bench', 'results')
