// Inclusion proofs built in the browser from the log's C2SP tlog-tiles
// (`/v1/log/tile/<L>/<N>[.p/<W>]`: public, and cached for a year once full) rather than
// asked of the service one proof at a time. The service only hands out hashes; the
// proof is assembled here (RFC 6962 PATH) and checked against the signed root by
// verify.js like any other, so a wrong tile can make a check fail, never pass.
import { concat, sha256 } from "./verify.js";

const HEIGHT = 8;
const WIDTH = 256;
const levelsOf = new Map(); // "L/N/W" → promise of the tile's rows, level 0 up

/** C2SP tile index: 3-digit path elements, all but the last prefixed with `x`. */
export function indexPath(n) {
  const groups = [];
  do {
    groups.unshift(String(n % 1000).padStart(3, "0"));
    n = Math.floor(n / 1000);
  } while (n > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
}

/** How many hashes tile (level, index) has in a tree of `size` leaves. */
function widthAt(level, index, size) {
  const count = Math.floor(size / WIDTH ** level);
  return Math.max(0, Math.min(WIDTH, count - WIDTH * index));
}

/** The tile's hashes and every complete node above them inside it (8 levels). */
function tileLevels(level, index, size) {
  const width = widthAt(level, index, size);
  const key = `${level}/${index}/${width}`;
  if (!levelsOf.has(key)) {
    const url = `/v1/log/tile/${level}/${indexPath(index)}${width < WIDTH ? `.p/${width}` : ""}`;
    const made = (async () => {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      const data = new Uint8Array(await response.arrayBuffer());
      if (width === 0 || data.length !== 32 * width) throw new Error(`${url}: ${data.length} bytes`);
      const rows = [Array.from({ length: width }, (_, i) => data.slice(32 * i, 32 * i + 32))];
      while (rows.length < HEIGHT && rows[rows.length - 1].length >= 2) {
        const below = rows[rows.length - 1];
        const pairs = [];
        for (let i = 0; i + 1 < below.length; i += 2) {
          pairs.push(sha256(concat(new Uint8Array([0x01]), below[i], below[i + 1])));
        }
        rows.push(await Promise.all(pairs));
      }
      return rows;
    })();
    made.catch(() => levelsOf.delete(key)); // a failed fetch may be tried again
    levelsOf.set(key, made);
  }
  return levelsOf.get(key);
}

/** The hash of the complete, aligned subtree of 2^height leaves from leaf `lo`. */
async function subtree(lo, height, size) {
  const level = Math.floor(height / HEIGHT);
  const sub = height % HEIGHT;
  const row = Math.floor(lo / WIDTH ** level); // its first hash in the tile level's row
  const rows = await tileLevels(level, Math.floor(row / WIDTH), size);
  const found = rows[sub]?.[(row % WIDTH) >> sub];
  if (!found) throw new Error(`no hash for ${lo}+2^${height} in the tiles`);
  return found;
}

function largestPowerBelow(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** RFC 6962 MTH of the `n` leaves from `lo`, from the tiles of the tree of `size`. */
async function mth(lo, n, size) {
  const k = largestPowerBelow(n);
  if (k * 2 === n || n === 1) return subtree(lo, Math.log2(n), size);
  const [left, right] = await Promise.all([mth(lo, k, size), mth(lo + k, n - k, size)]);
  return sha256(concat(new Uint8Array([0x01]), left, right));
}

/** RFC 6962 §2.1.1 PATH(m, D[lo:lo+n]): the audit path, bottom first. */
async function path(m, lo, n, size) {
  if (n <= 1) return [];
  const k = largestPowerBelow(n);
  if (m < k) return [...(await path(m, lo, k, size)), await mth(lo + k, n - k, size)];
  return [...(await path(m - k, lo + k, n - k, size)), await mth(lo, k, size)];
}

/** The inclusion proof of leaf `index` in the tree of `size` leaves, from the tiles
 * (rejects when a tile cannot be had: the caller may ask the proof endpoint instead). */
export function tileProof(index, size) {
  if (!(index >= 0 && index < size)) return Promise.reject(new Error("not in the tree"));
  return path(index, 0, size, size);
}

/** The leaf hashes of level-0 tile `index` in the tree of `size` leaves, as the server
 * gave them: trust them only once a proof built from this tile checks (completeness.js). */
export async function leafHashes(index, size) {
  return (await tileLevels(0, index, size))[0];
}
