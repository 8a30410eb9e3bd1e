/**
 * IP allow-lists of keys and owners: CIDR ranges (`10.0.0.0/8`, `2001:db8::/32`) or single
 * addresses, parsed and matched by ipaddr.js. An IPv4 client seen through an IPv6 socket
 * (`::ffff:10.1.2.3`) is matched as the IPv4 address it is. Lists are stored normalised
 * (`10.0.0.0/8`, the network address; a single address as /32 or /128).
 */
import ipaddr from 'ipaddr.js'

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number]

/** Most ranges in one list. */
const MAX_ALLOWED_IPS = 100

/** Normalises a list; throws an Error naming the first entry that is not an address or a CIDR range. */
export function parseAllowList(entries: readonly string[]): string[] {
  if (entries.length === 0) throw new Error('give at least one address or CIDR range (or none to allow every address)')
  if (entries.length > MAX_ALLOWED_IPS) throw new Error(`at most ${MAX_ALLOWED_IPS} ranges`)
  return [...new Set(entries.map(normalise))]
}

function normalise(entry: string): string {
  const text = entry.trim()
  try {
    if (text.includes('/')) {
      const [address, bits] = ipaddr.parseCIDR(text)
      const network = address.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(text) : ipaddr.IPv6.networkAddressFromCIDR(text)
      return `${network.toString()}/${bits}`
    }
    const address = ipaddr.process(text)
    return `${address.toString()}/${address.kind() === 'ipv4' ? 32 : 128}`
  } catch {
    throw new Error(`"${text.slice(0, 64)}" is not an IP address or CIDR range such as 10.0.0.0/8 or 2001:db8::/32`)
  }
}

const parsed = new WeakMap<readonly string[], Range[]>()

function rangesOf(list: readonly string[]): Range[] {
  let ranges = parsed.get(list)
  if (ranges === undefined) parsed.set(list, (ranges = list.map((entry) => ipaddr.parseCIDR(entry))))
  return ranges
}

/** Whether `ip` may use a key with this list; null allows every address. */
export function ipAllowed(list: readonly string[] | null, ip: string): boolean {
  if (list === null) return true
  let address: ipaddr.IPv4 | ipaddr.IPv6
  try {
    address = ipaddr.process(ip)
  } catch {
    return false
  }
  return rangesOf(list).some((range) => address.kind() === range[0].kind() && address.match(range))
}
