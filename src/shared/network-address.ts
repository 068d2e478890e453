/**
 * Which network addresses a server-side request must not reach unless the operator allows it:
 * loopback, private (RFC 1918, unique-local), link-local (cloud metadata at 169.254.169.254),
 * carrier-grade NAT, multicast, reserved and unspecified ranges, in IPv4 and IPv6 (IPv4-mapped
 * IPv6 addresses are judged by the IPv4 address inside). Used when a webhook URL is added and
 * again for every address a delivery connects to, so DNS rebinding cannot slip past the check.
 */
import { BlockList, isIP } from 'node:net'

const NON_PUBLIC = new BlockList()
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv4')
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, 'ipv6')
}

const MAPPED_IPV4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i
const MAPPED_IPV4_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i

/** True for an IP address a webhook may not reach without `--allow-private-webhooks` (and for anything that is not an IP address). */
export function isNonPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '')
  const mapped = MAPPED_IPV4.exec(bare)
  if (mapped) return isNonPublicAddress(mapped[1])
  const hex = MAPPED_IPV4_HEX.exec(bare)
  if (hex) {
    const high = parseInt(hex[1], 16)
    const low = parseInt(hex[2], 16)
    return isNonPublicAddress(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`)
  }
  const family = isIP(bare)
  if (family === 4) return NON_PUBLIC.check(bare, 'ipv4')
  if (family === 6) return NON_PUBLIC.check(bare, 'ipv6')
  return true
}
