// The ledger's cryptography, checked in the browser with WebCrypto (docs/SPEC.md §2, §5):
// C2SP verifier keys and signed notes, Ed25519 over RFC 8785 bytes, SHA-256, and
// RFC 9162 inclusion proofs. Nothing here trusts what the server says about a result.
import { canonicalize } from "./jcs.js";

const subtle = globalThis.crypto?.subtle;
const utf8 = new TextEncoder();

export const encode = (text) => utf8.encode(text);

export function fromBase64(text) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new Error("not base64");
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export function toBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

export function toHex(bytes) {
  let out = "";
  for (const b of bytes) out += HEX[b];
  return out;
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest("SHA-256", bytes));
}

// RFC 8032 §7.1, test 1: proves that this browser verifies Ed25519 at all, so that
// "cannot check" is never shown as "does not verify".
const PROBE_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const PROBE_SIG =
  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
const fromHex = (hex) => new Uint8Array(hex.match(/../g).map((b) => parseInt(b, 16)));

let support;
/** Whether this browser can check: SHA-256 and Ed25519 in WebCrypto (secure contexts only). */
export function supported() {
  support ??= (async () => {
    if (!subtle) return false;
    try {
      return await ed25519(fromHex(PROBE_KEY), fromHex(PROBE_SIG), new Uint8Array());
    } catch {
      return false;
    }
  })();
  return support;
}

// The acceptance rule is libsodium's (docs/SPEC.md §2). WebCrypto's Ed25519 (BoringSSL
// in Chromium) refuses S ≥ L and compares R byte for byte like libsodium, but takes an R
// or A of small order and a non-canonical A: those are refused here, on the bytes, first,
// so that this page and `cadreledger verify` give the same verdict on every signature.
const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n, P, P + 1n, Y8, P - Y8]);
const Y_BITS = 2n ** 255n - 1n;
const littleEndian = (bytes) => bytes.reduceRight((n, b) => (n << 8n) | BigInt(b), 0n);

/** Whether the rule refuses (R ‖ S) by `publicKey` before any curve arithmetic. */
export function refusedOnItsBytes(publicKey, signature) {
  if (publicKey.length !== 32 || signature.length !== 64) return true;
  const yA = littleEndian(publicKey) & Y_BITS;
  const yR = littleEndian(signature.subarray(0, 32)) & Y_BITS;
  return (
    littleEndian(signature.subarray(32)) >= L ||
    SMALL_ORDER_Y.has(yR) ||
    SMALL_ORDER_Y.has(yA) ||
    yA >= P
  );
}

const imported = new Map(); // public key (hex) → its CryptoKey: a cycle has few signers

export async function ed25519(publicKey, signature, message) {
  publicKey = new Uint8Array(publicKey);
  signature = new Uint8Array(signature);
  if (refusedOnItsBytes(publicKey, signature)) return false;
  const id = toHex(publicKey);
  if (!imported.has(id)) {
    const importing = subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    importing.catch(() => imported.delete(id));
    imported.set(id, importing);
  }
  return subtle.verify({ name: "Ed25519" }, await imported.get(id), signature, message);
}

/** A malformed key; `code` names why (a label the pages show in either language). */
export class KeyError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/** A C2SP verifier key `name+keyid+base64(alg ‖ public key)`, its key ID recomputed
 * as SHA-256(name ‖ 0x0A ‖ alg ‖ public key)[:4]. */
const parsed = new Map(); // key text → its parse (a pure function of the text)

export function parseKey(text) {
  const key = String(text);
  if (!parsed.has(key)) {
    const parsing = parseKeyText(key);
    parsing.catch(() => parsed.delete(key));
    parsed.set(key, parsing);
  }
  return parsed.get(key);
}

async function parseKeyText(text) {
  // The name holds no "+", the key ID is 8 hex digits; base64 may hold "+" itself.
  const match = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(text.trim());
  if (!match) throw new KeyError("format", "not name+keyid+base64");
  const [, name, keyId, blob] = match;
  let raw;
  try {
    raw = fromBase64(blob);
  } catch {
    throw new KeyError("base64", "the key is not base64");
  }
  if (raw.length !== 33 || raw[0] !== 0x01) throw new KeyError("type", "not an Ed25519 key (type 0x01)");
  const id = (await sha256(concat(encode(name), new Uint8Array([0x0a]), raw))).slice(0, 4);
  if (toHex(id) !== keyId) throw new KeyError("keyId", "the key ID does not match the key");
  return { name, keyId, publicKey: raw.slice(1), text: text.trim() };
}

/** A C2SP signed note checked against `key`: its text and whether the key signed it. */
export async function openNote(note, key) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) return { text: null, verified: false };
  const text = note.slice(0, split + 1);
  for (const line of note.slice(split + 2).split("\n")) {
    const match = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!match || match[1] !== key.name) continue;
    let blob;
    try {
      blob = fromBase64(match[2]);
    } catch {
      continue;
    }
    if (blob.length !== 68 || toHex(blob.slice(0, 4)) !== key.keyId) continue;
    return { text, verified: await ed25519(key.publicKey, blob.slice(4), encode(text)) };
  }
  return { text, verified: false };
}

/** A signed checkpoint (C2SP tlog-checkpoint): origin, size, root; `verified` when the
 * log's key signed it and the origin is the key's name. */
export async function openCheckpoint(note, key) {
  const { text, verified } = await openNote(note, key);
  const lines = (text ?? note).split("\n");
  const [origin, size, root] = lines;
  const rootBytes = /^[A-Za-z0-9+/=]{44}$/.test(root || "") ? fromBase64(root) : new Uint8Array();
  return {
    origin,
    size: /^(0|[1-9]\d*)$/.test(size || "") ? Number(size) : NaN,
    root: rootBytes,
    rootBase64: root,
    verified: verified && origin === key.name && rootBytes.length === 32,
    key,
    note,
  };
}

export async function leafHash(eventHash) {
  return sha256(concat(new Uint8Array([0x00]), eventHash));
}

// Interior nodes already hashed, by their two children: the proofs of a cycle's leaves
// share most of their upper paths, so a replay of n steps hashes about 2n nodes rather
// than n·log n. (A pure function's results: nothing here is taken from the server.)
const nodes = new Map();
const NODES_KEPT = 200_000;

async function nodeHash(left, right) {
  const key = toHex(left) + toHex(right);
  let found = nodes.get(key);
  if (!found) {
    found = sha256(concat(new Uint8Array([0x01]), left, right));
    if (nodes.size >= NODES_KEPT) nodes.clear();
    nodes.set(key, found);
  }
  return found;
}

/** RFC 9162 §2.1.3.2, step by step: does `proof` lead from leaf `index` (its leaf hash)
 * to `root` in the tree of `size` leaves? */
export async function verifyInclusion(index, size, leaf, proof, root) {
  if ([leaf, root, ...proof].some((hash) => hash.length !== 32)) return false;
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  if (fn > sn) return false;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

/** RFC 9162 §2.1.4.2: does `proof` show that the tree of `first` leaves (root
 * `firstRoot`) is a prefix of the tree of `second` leaves (root `secondRoot`)? */
export async function verifyConsistency(first, second, proof, firstRoot, secondRoot) {
  if (first < 1 || first > second) return false;
  // Equal sizes: nothing to hash, the claim is only that the roots are one value.
  if (first === second) return proof.length === 0 && equal(firstRoot, secondRoot);
  if ([firstRoot, secondRoot, ...proof].some((hash) => hash.length !== 32)) return false;
  if (!proof.length) return false;
  let path = proof;
  // A first tree that is a whole subtree is its own first node.
  if ((BigInt(first) & (BigInt(first) - 1n)) === 0n) path = [firstRoot, ...proof];
  let fn = BigInt(first) - 1n;
  let sn = BigInt(second) - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(fr, firstRoot) && equal(sr, secondRoot);
}

/** A stored envelope's own checks: its event hash, canonical form, and the actor's
 * signature over the statement's RFC 8785 bytes by a key named as the actor. */
export async function checkEnvelope(text) {
  const bytes = encode(text);
  const eventHash = await sha256(bytes);
  let envelope = null;
  let canonical = false;
  try {
    envelope = JSON.parse(text);
    canonical = canonicalize(envelope) === text;
  } catch {
    canonical = false;
  }
  const result = { eventHash, envelope, canonical, signature: false, reason: "signature" };
  if (!envelope || typeof envelope.statement !== "object" || envelope.statement === null) {
    result.reason = "envelope";
    return result;
  }
  const statement = envelope.statement;
  let key;
  try {
    key = await parseKey(String(envelope.signer));
  } catch (e) {
    return { ...result, reason: "key", detail: e instanceof KeyError ? e.code : "format" };
  }
  result.keyName = key.name;
  result.keyId = key.keyId;
  if (key.name !== statement.actor) return { ...result, reason: "keyName" };
  let signature;
  try {
    signature = fromBase64(String(envelope.signature));
  } catch {
    return result;
  }
  if (signature.length !== 64) return result;
  let message;
  try {
    message = encode(canonicalize(statement));
  } catch {
    return result;
  }
  result.signature = await ed25519(key.publicKey, signature, message);
  result.reason = result.signature ? null : "signature";
  return result;
}
