// Omission (bỏ sót), checked where it can be: is every event of the cycle's streams
// that the log holds on the timeline the server gave? The server could leave out a
// stream's last event (a re-decision) from both the timeline and the envelopes, and
// no signature or hash chain would show it. So the browser reads the log itself, from
// the cycle's first event to the signed checkpoint: the envelope tiles
// (`/v1/log/tile/envelopes/N`, for oversight only: they carry every statement), each
// envelope held to the level-0 tile's leaf at its position, and that tile held to the
// signed root by an inclusion proof built from it (every other leaf of the tile is
// inside that proof's siblings) — so the server cannot drop or swap an entry there
// either. Only tiles holding a position the timeline does not list are read: a listed
// position is the step the replay already proves included at that very position.
import { leafHash, sha256, toHex, verifyInclusion } from "./verify.js";
import { indexPath, leafHashes, tileProof } from "./tiles.js";

const WIDTH = 256;
export const LIMIT = 65_536; // log entries this page reads at most (beyond: not checked)
const CONCURRENT = 4; // envelope tiles read at once
const decoder = new TextDecoder();

/** The bytes at `url`, waiting as `Retry-After` says when rate-limited. */
async function bytes(url) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (response.status === 429 && attempt < 5) {
      const wait = Math.min(30, Number(response.headers.get("retry-after")) || 1);
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      continue;
    }
    if (!response.ok) throw Object.assign(new Error(`${url}: HTTP ${response.status}`), { status: response.status });
    return new Uint8Array(await response.arrayBuffer());
  }
}

/** An envelope bundle: big-endian uint32 length, then the envelope, for each entry. */
function envelopesOf(data) {
  const out = [];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  while (at + 4 <= data.length) {
    const n = view.getUint32(at);
    at += 4;
    if (at + n > data.length) throw new Error("a truncated envelope bundle");
    out.push(data.subarray(at, at + n));
    at += n;
  }
  if (at !== data.length) throw new Error("a truncated envelope bundle");
  return out;
}

/**
 * @typedef {{status: "complete" | "omitted" | "mismatch" | "forbidden" | "beyond" | "unavailable",
 *   omitted?: number[], read?: number, from?: number, to?: number, at?: number, detail?: string}} Completeness
 */

/** Which of the log's entries from `first` to the checkpoint belong to a stream
 * `wanted` names but are not `listed`.
 * @param {{first: number, checkpoint: {size: number, root: Uint8Array, trusted?: boolean},
 *   listed: Set<number>, wanted: (stream: string) => boolean}} options
 * @returns {Promise<Completeness>} */
export async function findOmitted({ first, checkpoint, listed, wanted }) {
  const { size, root } = checkpoint;
  const span = size - first;
  if (span > LIMIT) return { status: "beyond", read: span };
  const tiles = [];
  for (let n = Math.floor(first / WIDTH); n * WIDTH < size; n++) {
    const end = Math.min(size, (n + 1) * WIDTH);
    for (let p = Math.max(first, n * WIDTH); p < end; p++) {
      if (!listed.has(p)) {
        tiles.push(n);
        break;
      }
    }
  }
  const omitted = [];
  /** @type {Completeness | null} */
  let stopped = null;
  const queue = [...tiles];
  const worker = async () => {
    while (queue.length && !stopped) {
      const n = /** @type {number} */ (queue.shift());
      const found = await tile(n, first, size, root, listed, wanted).catch((e) => ({
        status: e.status === 401 || e.status === 403 ? "forbidden" : "unavailable",
        detail: String(e.message || e),
      }));
      if (Array.isArray(found)) omitted.push(...found);
      else stopped ??= /** @type {Completeness} */ (found);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENT }, worker));
  if (stopped) return stopped;
  omitted.sort((a, b) => a - b);
  return { status: omitted.length ? "omitted" : "complete", omitted, read: span, from: first, to: size };
}

/** One level-0 tile: its leaves proved, its unlisted envelopes held to them; the
 * positions of wanted streams among them (or why it could not tell). */
async function tile(n, first, size, root, listed, wanted) {
  const width = Math.min(WIDTH, size - n * WIDTH);
  const [leaves, proof] = await Promise.all([leafHashes(n, size), tileProof(n * WIDTH, size)]);
  if (!(await verifyInclusion(n * WIDTH, size, leaves[0], proof, root))) {
    return { status: "mismatch", at: n * WIDTH };
  }
  const suffix = width < WIDTH ? `.p/${width}` : "";
  const envelopes = envelopesOf(await bytes(`/v1/log/tile/envelopes/${indexPath(n)}${suffix}`));
  if (envelopes.length !== width) return { status: "mismatch", at: n * WIDTH };
  const found = [];
  for (let i = 0; i < width; i++) {
    const position = n * WIDTH + i;
    if (position < first || listed.has(position)) continue;
    const envelope = envelopes[i];
    if (toHex(await leafHash(await sha256(envelope))) !== toHex(leaves[i])) return { status: "mismatch", at: position };
    let stream = null;
    try {
      stream = JSON.parse(decoder.decode(envelope)).stream;
    } catch {
      return { status: "mismatch", at: position };
    }
    if (typeof stream === "string" && wanted(stream)) found.push(position);
  }
  return found;
}
