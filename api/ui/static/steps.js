// Checking each act of a cycle in the browser: the stored envelope (from the cycle's
// entries), the actor's signature, the stream's hash chain, and the RFC 9162 inclusion
// proof up to the signed checkpoint. Results are kept as label keys, so that they can
// be shown again in the other language.
import { getJSON, getAll, cycleUrl } from "./api.js";
import { canonicalize } from "./jcs.js";
import { checkEnvelope, fromBase64, leafHash, supported, toHex, verifyInclusion } from "./verify.js";

// The statement fields a timeline step reports apart from its `fields` (projections/history.py).
const STEP_FIELDS = ["v", "type", "actor", "issued_at", "nonce", "cycle", "cadre"];
export const CHECKS = ["signature", "inclusion", "chain", "envelope", "matches"];

const ok = (key, vars = {}) => ({ ok: true, key, vars });
const bad = (key, vars = {}) => ({ ok: false, key, vars });
const unknown = (key, vars = {}) => ({ ok: null, key, vars });

export class StepChecker {
  /** `steps`: the cycle's timeline; `checkpoint`: a function giving a checkpoint that
   * covers every step (its signature already checked). */
  constructor(cycle, steps, checkpoint) {
    this.cycle = cycle;
    this.steps = steps;
    this.checkpoint = checkpoint;
    this.results = new Map(); // position → result (a promise until it settles)
    this.settled = new Map();
    this.listeners = [];
    this.entries = null;
  }

  onResult(listener) {
    this.listeners.push(listener);
  }

  /** Every stored envelope of the cycle, by position, and by (stream, version). */
  loadEntries() {
    this.entries ??= (async () => {
      const byPosition = new Map();
      const byStream = new Map();
      const all = await getAll(cycleUrl(this.cycle, "/entries"), "entries");
      for (const e of all.entries) {
        byPosition.set(e.index, e);
        byStream.set(`${e.stream}#${e.version}`, e);
      }
      return { byPosition, byStream };
    })();
    return this.entries;
  }

  check(step) {
    if (!this.results.has(step.position)) {
      const running = this.run(step)
        .catch((e) => ({ ok: false, checks: { signature: bad("vf.error", { detail: e.message }) } }))
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
  async checkAll(first = null, concurrency = 4) {
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
    const { byPosition, byStream } = await this.loadEntries();
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
          ? bad("vf.bad.key", { detail: found.detail })
          : bad("vf.bad.signature");
    checks.envelope = found.canonical ? ok("vf.ok.envelope") : bad("vf.bad.envelope");
    checks.matches = describes(step, envelope, toHex(found.eventHash)) ? ok("vf.ok.matches") : bad("vf.bad.matches");
    checks.chain = await chain(envelope, byStream);
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

  async inclusion(position, eventHash) {
    const cp = await this.checkpoint();
    if (!cp.verified) return bad("vf.bad.checkpoint");
    const answer = await getJSON(`/v1/log/proof/inclusion?index=${position}&size=${cp.size}`);
    const proof = answer.proof.map(fromBase64);
    const included = await verifyInclusion(position, cp.size, await leafHash(eventHash), proof, cp.root);
    return included
      ? ok("vf.ok.inclusion", { index: position, size: cp.size })
      : bad("vf.bad.inclusion");
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
