/** `--allow-ip 10.0.0.0/8,2001:db8::/32` of `keys` and `owners`: the normalised ranges (`keys/ip-allow.ts`). */
import { parseAllowList } from '../keys/ip-allow.js'

export const allowIpList = (raw: string): string[] => parseAllowList(raw.split(',').filter((entry) => entry.trim() !== ''))
