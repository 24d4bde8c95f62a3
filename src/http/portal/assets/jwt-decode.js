// Decodes a JWT in the browser, for the token debugger: nothing is sent anywhere and nothing is
// verified here (the signature verdict comes from the server). Plain ES module, no dependency.

function base64urlToBytes(segment) {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) throw new Error('a part holds characters outside base64url');
  const base64 = segment.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (segment.length % 4)) % 4);
  const binary = atob(base64);
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function jsonPart(segment, name) {
  let value;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64urlToBytes(segment)));
  } catch {
    throw new Error(`the ${name} is not base64url-encoded JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`the ${name} is not a JSON object`);
  return value;
}

/** { header, claims } of a compact JWS; throws an Error saying what is wrong with it. */
export function decodeJwt(token) {
  const parts = token.trim().split('.');
  if (parts.length !== 3) throw new Error('a JWT has three parts separated by dots');
  return { header: jsonPart(parts[0], 'header'), claims: jsonPart(parts[1], 'claims') };
}

function utc(seconds) {
  return `${new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "Expires in 14 minutes (…)" or "Expired 3 hours ago (…)", as the server words it. */
export function expiryInWords(exp, nowMs) {
  const seconds = Math.round(exp - nowMs / 1000);
  const size = Math.abs(seconds);
  const [amount, unit] = size < 90 ? [size, 'second'] : size < 5400 ? [Math.round(size / 60), 'minute'] : size < 129600 ? [Math.round(size / 3600), 'hour'] : [Math.round(size / 86400), 'day'];
  const span = `${amount} ${unit}${amount === 1 ? '' : 's'}`;
  return seconds > 0 ? `Expires in ${span} (${utc(exp)}).` : `Expired ${span} ago (${utc(exp)}).`;
}
