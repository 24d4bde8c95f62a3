/**
 * The unit a throttle counts per caller address: an IPv4 address itself, an IPv4-mapped IPv6
 * address as its IPv4 address, and an IPv6 address by its /64. One subscriber usually holds a
 * whole /64, so counting single IPv6 addresses would let a caller rotate through 2^64 of them.
 *
 * @example
 * throttleSource('203.0.113.7');               // '203.0.113.7'
 * throttleSource('2001:db8:1:2:aaaa::1');       // '2001:db8:1:2::/64'
 * throttleSource('::ffff:203.0.113.7');         // '203.0.113.7'
 */
export function throttleSource(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!ip.includes(':')) return ip;
  const [head = '', tail] = ip.toLowerCase().split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
