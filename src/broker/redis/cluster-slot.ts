/**
 * Redis Cluster's key-to-slot function (CRC16/XMODEM of the key, or of its first non-empty
 * `{hash tag}`, modulo 16384), as the cluster computes it (`CLUSTER KEYSLOT`). The broker needs
 * it to place one index marker on every master (`./cluster-epoch.ts`): a key lands on a master
 * only through a slot that master serves.
 */

/** Slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[byte] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc;
}

/** The slot of `key`: of its hash tag when it has a non-empty one, else of the whole key. */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key, "utf8");
  const open = bytes.indexOf(0x7b); // "{"
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1); // "}"
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % CLUSTER_SLOTS;
  }
  return crc16(bytes) % CLUSTER_SLOTS;
}

const tagsBySlot = new Map<number, string>();

/**
 * A short hash tag (`m<n>`) whose slot is `slot`, the same one every call (found by counting
 * up; about 16,384 tries for the first call per slot, cached after that).
 */
export function tagForSlot(slot: number): string {
  if (!Number.isInteger(slot) || slot < 0 || slot >= CLUSTER_SLOTS) throw new RangeError(`not a cluster slot: ${slot}`);
  let tag = tagsBySlot.get(slot);
  for (let n = 0; tag === undefined; n++) {
    if (keySlot(`{m${n}}`) === slot) tag = `m${n}`;
  }
  tagsBySlot.set(slot, tag);
  return tag;
}
