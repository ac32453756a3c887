// Checking each act of a cycle in the browser: the stored envelope (from the cycle's
// entries), the actor's signature, that the signing key was registered to the actor
// (the registry's own events, checked the same way), the stream's hash chain, and the
// RFC 9162 inclusion proof up to the signed checkpoint. Results are kept as label
// keys, so that they can be shown again in the other language.
import { getJSON, getAll, cycleUrl, forbidden, problemText } from "./api.js";
import { canonicalize } from "./jcs.js";
import { checkEnvelope, fromBase64, leafHash, parseKey, supported, toHex, verifyInclusion } from "./verify.js";
import { tileProof } from "./tiles.js";

// The statement fields a timeline step reports apart from its `fields` (projections/history.py).
const STEP_FIELDS = ["v", "type", "actor", "issued_at", "nonce", "cycle", "cadre"];
export const CHECKS = ["signature", "registry", "inclusion", "chain", "envelope", "matches"];
const REGISTRY = "registry"; // the registry's stream (docs/SPEC.md §4)
const ROOTS = "cadreledger.rootKeys"; // + the log key: the root keys first seen under it
const BATCH = 500; // inclusion proofs asked for in one request

const ok = (key, vars = {}) => ({ ok: true, key, vars });
const bad = (key, vars = {}) => ({ ok: false, key, vars });
const unknown = (key, vars = {}) => ({ ok: null, key, vars });

export class StepChecker {
  /** `steps`: the cycle's timeline; `checkpoint`: a function giving a checkpoint that
   * covers every step (its signature already checked). */
  constructor(cycle, steps, checkpoint, { cadre = null, fetched = null } = {}) {
    this.fetched = fetched; // the entries, when the page asked for them already
    this.cycle = cycle;
    this.cadre = cadre; // a cadre's own replay: the cycle's and their events only
    this.steps = steps;
    this.checkpoint = checkpoint;
    this.results = new Map(); // position → result (a promise until it settles)
    this.settled = new Map();
    this.listeners = [];
    this.entries = null;
    this.registry = null;
    this.wanted = new Map(); // position → resolvers, for the next batch of proofs
    this.flushing = null;
  }

  onResult(listener) {
    this.listeners.push(listener);
  }

  /** Every stored envelope of the cycle (and of the registry), by position, and by
   * (stream, version). */
  loadEntries() {
    this.entries ??= (async () => {
      const byPosition = new Map();
      const byStream = new Map();
      const registry = [];
      const all = await (this.fetched ?? fetchEntries(this.cycle, this.cadre));
      for (const e of all.entries) {
        if (e.stream === REGISTRY) registry.push(e);
        else byPosition.set(e.index, e);
        byStream.set(`${e.stream}#${e.version}`, e);
      }
      return { byPosition, byStream, registry, rootKeys: Array.isArray(all.root_keys) ? all.root_keys : null };
    })();
    return this.entries;
  }

  /** Envelopes the server gave that its timeline leaves out: acts hidden from the
   * replay (positions). The reverse — an act left out of both — is not detectable here
   * unless it breaks a hash chain. */
  async unlisted() {
    const { byPosition } = await this.loadEntries();
    const listed = new Set(this.steps.map((s) => s.position));
    return [...byPosition.keys()].filter((p) => !listed.has(p)).sort((a, b) => a - b);
  }

  /** The registry's keys as its own events say, each event checked like a step:
   * signature, its signer's key registered before it, hash chain, inclusion. */
  loadRegistry() {
    this.registry ??= (async () => {
      const { registry, byStream, rootKeys } = await this.loadEntries();
      if (!rootKeys) return null;
      const cp = await this.checkpoint();
      const roots = pinRoots(cp.keyText, rootKeys);
      const keys = new Map(); // key text → {person, validFrom, position, revokedAt}
      for (const text of rootKeys) {
        const key = await parseKey(text);
        keys.set(key.text, { person: key.name, validFrom: 0, position: -1, revokedAt: null, root: true });
      }
      const folded = { keys, broken: roots ? null : -1 };
      // Each event's own checks at once (its proofs in one batch), then the fold in order.
      const checked = await Promise.all(
        registry.map(async (entry) => {
          const found = await checkEnvelope(entry.envelope);
          const envelope = found.envelope || {};
          const own = [
            found.signature && found.canonical,
            (await chain(envelope, byStream)).ok === true,
            (await this.inclusion(entry.index, found.eventHash)).ok === true,
            envelope.stream === REGISTRY && envelope.version === entry.version,
          ];
          return { entry, envelope, good: !own.includes(false) };
        }),
      );
      for (const { entry, envelope, good } of checked) {
        if (folded.broken !== null) break;
        const statement = envelope.statement || {};
        if (!good || keyCheck(keys, envelope, statement, entry.index).ok !== true) {
          folded.broken = entry.index;
          break;
        }
        fold(keys, statement, entry.index);
      }
      return folded;
    })();
    return this.registry;
  }

  check(step) {
    if (!this.results.has(step.position)) {
      const running = this.run(step)
        .catch((e) => ({ ok: false, checks: { signature: bad("vf.error", { detail: problemText(e) }) } }))
        .then((result) => {
          this.settled.set(step.position, result);
          for (const listener of this.listeners) listener(step, result);
          return result;
        });
      this.results.set(step.position, running);
    }
    return this.results.get(step.position);
  }

  /** Check every step, a few at a time, `first` before the others. */
  async checkAll(first = null, concurrency = 500) {
    const queue = first ? [first, ...this.steps.filter((s) => s !== first)] : [...this.steps];
    const worker = async () => {
      while (queue.length) await this.check(queue.shift());
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  async run(step) {
    if (!(await supported())) {
      const why = unknown("vf.unsupported");
      return { ok: null, checks: Object.fromEntries(CHECKS.map((c) => [c, why])) };
    }
    let loaded;
    try {
      loaded = await this.loadEntries();
    } catch (e) {
      if (!forbidden(e)) throw e;
      // Not given the signed envelopes: nothing checked, and said so (never ✓ or ✗).
      const why = unknown("vf.notChecked");
      return { ok: null, forbidden: true, checks: { ...Object.fromEntries(CHECKS.map((c) => [c, why])), signature: unknown("vf.forbiddenEntries") } };
    }
    const { byPosition, byStream } = loaded;
    const entry = byPosition.get(step.position);
    if (!entry) {
      const missing = bad("vf.bad.missing");
      return { ok: false, checks: Object.fromEntries(CHECKS.map((c) => [c, missing])) };
    }
    const found = await checkEnvelope(entry.envelope);
    const envelope = found.envelope || {};
    const statement = envelope.statement || {};
    const checks = {};
    checks.signature = found.signature
      ? ok("vf.ok.signature", { actor: statement.actor })
      : found.reason === "keyName"
        ? bad("vf.bad.keyName", { name: found.keyName, actor: statement.actor })
        : found.reason === "key"
          ? bad(`vf.bad.key.${found.detail}`)
          : bad("vf.bad.signature");
    checks.envelope = found.canonical ? ok("vf.ok.envelope") : bad("vf.bad.envelope");
    checks.matches = describes(step, envelope, toHex(found.eventHash)) ? ok("vf.ok.matches") : bad("vf.bad.matches");
    checks.chain = await chain(envelope, byStream);
    checks.registry = await this.registered(envelope, statement, step.position);
    checks.inclusion = await this.inclusion(step.position, found.eventHash);
    const values = Object.values(checks).map((c) => c.ok);
    return {
      ok: values.includes(false) ? false : values.includes(null) ? null : true,
      checks,
      statement,
      signer: envelope.signer,
      keyId: found.keyId,
      eventHash: toHex(found.eventHash),
    };
  }

  async registered(envelope, statement, position) {
    const registry = await this.loadRegistry();
    if (!registry) return unknown("vf.unknown.registry");
    if (registry.broken !== null && registry.broken < position) {
      return bad("vf.bad.registryLog", { p: registry.broken < 0 ? "root" : registry.broken });
    }
    return keyCheck(registry.keys, envelope, statement, position);
  }

  async inclusion(position, eventHash) {
    const cp = await this.checkpoint();
    if (!cp.trusted) return bad("vf.bad.checkpoint");
    // From the public tiles first (cacheable, nothing asked per proof); the proof
    // endpoint when a tile cannot be had. Either way checked against the signed root.
    const proof = await tileProof(position, cp.size).catch(async () =>
      (await this.proof(position, cp.size)).map(fromBase64),
    );
    const included = await verifyInclusion(position, cp.size, await leafHash(eventHash), proof, cp.root);
    return included
      ? ok("vf.ok.inclusion", { index: position, size: cp.size })
      : bad("vf.bad.inclusion");
  }

  /** One leaf's audit path, asked for with others in one request (`?indexes=`). */
  proof(position, size) {
    return new Promise((resolve, reject) => {
      const key = `${position}@${size}`;
      if (!this.wanted.has(key)) this.wanted.set(key, []);
      this.wanted.get(key).push({ resolve, reject });
      this.flushing ??= Promise.resolve().then(() => this.flush());
    });
  }

  async flush() {
    await new Promise((resolve) => setTimeout(resolve, 0)); // let the others queue
    const wanted = this.wanted;
    this.wanted = new Map();
    this.flushing = null;
    const bySize = new Map();
    for (const key of wanted.keys()) {
      const [position, size] = key.split("@").map(Number);
      if (!bySize.has(size)) bySize.set(size, []);
      bySize.get(size).push(position);
    }
    for (const [size, positions] of bySize) {
      for (let i = 0; i < positions.length; i += BATCH) {
        const part = positions.slice(i, i + BATCH);
        try {
          const answer = await getJSON(`/v1/log/proof/inclusion?size=${size}&indexes=${part.join(",")}`);
          const got = new Map((answer.proofs || []).map((p) => [p.index, p.proof]));
          for (const position of part) {
            for (const r of wanted.get(`${position}@${size}`)) {
              const proof = got.get(position);
              if (Array.isArray(proof)) r.resolve(proof);
              else r.reject(new Error(`no proof for ${position}`));
            }
          }
        } catch (e) {
          for (const position of part) for (const r of wanted.get(`${position}@${size}`)) r.reject(e);
        }
      }
    }
  }
}

/** A cycle's stored envelopes with the registry's (a cadre's own: the cycle's and theirs). */
export function fetchEntries(cycle, cadre = null) {
  const query = cadre ? { registry: "true", cadre } : { registry: "true" };
  return getAll(cycleUrl(cycle, "/entries", query), "entries");
}

/** The root keys this browser first saw for the log `logKey`: true when the server's
 * match them (and remembers them the first time). */
function pinRoots(logKey, rootKeys) {
  const given = JSON.stringify([...rootKeys].map((k) => k.trim()).sort());
  try {
    const name = `${ROOTS}.${logKey}`;
    const seen = localStorage.getItem(name);
    if (!seen) {
      localStorage.setItem(name, given);
      return true;
    }
    return seen === given;
  } catch {
    return true;
  }
}

/** Was the envelope's key registered to the statement's actor before `position`, not
 * revoked before it, and valid when the statement says it was signed? */
function keyCheck(keys, envelope, statement, position) {
  const signer = String(envelope.signer || "").trim();
  const record = keys.get(signer);
  if (!record || record.person !== statement.actor || record.position >= position) {
    return bad("vf.bad.registry", { actor: statement.actor, p: position });
  }
  if (record.revokedAt !== null && record.revokedAt < position) return bad("vf.bad.revoked", { p: record.revokedAt });
  if (Date.parse(statement.issued_at) < record.validFrom) {
    return bad("vf.bad.notYetValid", { from: new Date(record.validFrom).toISOString() });
  }
  if (record.root) return ok("vf.ok.registryRoot");
  return ok("vf.ok.registry", { actor: statement.actor, p: record.position });
}

/** One registry event into the keys (docs/SPEC.md §7.1). */
function fold(keys, statement, position) {
  const key = typeof statement.key === "string" ? statement.key.trim() : null;
  if (!key) return;
  if (statement.type === "person.registered" || statement.type === "key.registered") {
    const from = typeof statement.valid_from === "string" ? statement.valid_from : statement.issued_at;
    keys.set(key, { person: statement.person, validFrom: Date.parse(from), position, revokedAt: null });
  } else if (statement.type === "key.revoked") {
    const record = keys.get(key);
    if (record && record.person === statement.person && record.revokedAt === null) record.revokedAt = position;
  }
}

/** Does the server's description of the step say what the signed statement says? */
function describes(step, envelope, eventHash) {
  const statement = envelope.statement || {};
  const rest = Object.fromEntries(Object.entries(statement).filter(([k]) => !STEP_FIELDS.includes(k)));
  try {
    return (
      step.event === eventHash &&
      step.type === statement.type &&
      step.actor === statement.actor &&
      step.issued_at === statement.issued_at &&
      (step.logged_at ?? null) === (envelope.logged_at ?? null) &&
      (step.cadre ?? null) === (statement.cadre ?? null) &&
      step.signer === envelope.signer &&
      canonicalize(resealed(step.fields)) === canonicalize(rest)
    );
  } catch {
    return false;
  }
}

/** The envelope's `prev`: null for a stream's first event, else the SHA-256 of the
 * stream's previous stored envelope. */
async function chain(envelope, byStream) {
  if (envelope.version === 1) {
    return envelope.prev === null ? ok("vf.ok.chainFirst") : bad("vf.bad.chain", { p: "—" });
  }
  const previous = byStream.get(`${envelope.stream}#${envelope.version - 1}`);
  if (!previous) return bad("vf.bad.chain", { p: "?" });
  const digest = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(previous.envelope))));
  return digest === envelope.prev ? ok("vf.ok.chain") : bad("vf.bad.chain", { p: previous.index });
}

/** The API opens sealed texts for the reader ({sealed, text, …}); what was signed is
 * only the commitment {sealed}. */
function resealed(value) {
  if (Array.isArray(value)) return value.map(resealed);
  if (value && typeof value === "object") {
    if (typeof value.sealed === "string") return { sealed: value.sealed };
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resealed(v)]));
  }
  return value;
}
