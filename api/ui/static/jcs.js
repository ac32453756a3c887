// RFC 8785 (JCS) canonical JSON for the ledger's data model (docs/SPEC.md §1): objects,
// arrays, strings, booleans, null and safe integers — statements hold no floats, so the
// number rules reduce to JSON.stringify of an integer. Strings are escaped exactly as
// JSON.stringify does, which is what JCS specifies (RFC 8785 §3.2.2.2).

export function canonicalize(value) {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return JSON.stringify(value);
  }
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(",")}]`;
  if (typeof value === "object") {
    // Array.prototype.sort without a comparator orders by UTF-16 code units: JCS §3.2.3.
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalize(value[k])}`).join(",")}}`;
  }
  throw new TypeError(`not JSON: ${typeof value}`);
}
