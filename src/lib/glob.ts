/**
 * Glob matching shared by tool allowlists, fs scopes, hook rules and the glob tool.
 *
 * `*` matches within one path segment, `**` across segments (a trailing `/**` also matches the
 * directory itself), `?` one character other than `/`, `[...]` a character class (`[!...]` negates).
 * Tool names have no `/`, so for them `*` matches any name.
 *
 * Exactly: a `**` that is a whole segment between two others matches zero or more whole segments
 * (with it between `/a` and `/b`, the glob matches `/a/b` and `/a/x/y/b`); last in the glob, it
 * matches the directory itself or anything below it (`/a/**` matches `/a` and `/a/x/y`, not `/ab`);
 * any other `**` (as in `a**`) matches any run of characters, `/` included. `?` and a negated
 * class never match `/`. A `]` right after `[` or `[!` is a member, `a-z` is a range, a `[` without
 * a closing `]` is a literal, and a class with a reversed range (`[z-a]`) makes the whole glob match
 * nothing. Matching is case-sensitive, by UTF-16 code unit, and anchored at both ends. (The RegExp
 * translation this replaced had two slips, fixed here: `**` did not match U+2028/U+2029, so
 * `/secret/**` missed a file named with one, and `[!-a]` became `[^/-a]`, the range `/`..`a`.)
 *
 * Matching cannot backtrack. A glob compiles to a small nondeterministic automaton (one state per
 * character test or loop) that runs over the value once with all its live states in step, as a
 * bitset, so a match costs O(glob length) per character of the value at worst (usually glob
 * length / 32 + the number of `*`s), whatever the glob: the RegExp this replaced was exponential in
 * the number of `*`s. The sets of
 * live states are cached as the states of a lazily built DFA with transitions per character class,
 * so repeated matching (a scope checked against every file, a glob against every path) mostly costs
 * one table lookup per character; the DFA has a fixed memory budget and starts afresh when it runs
 * out, so a glob whose DFA would be huge falls back to the bitset steps, never worse.
 */

/** The longest glob any contract accepts (scopes, hook rules, tool arguments, `GET /v1/fs?glob=`). */
export const MAX_GLOB_LENGTH = 1024;

/** The part of a glob before its first wildcard: every match starts with it ("/src/*.ts" → "/src/"). */
export function globLiteralPrefix(glob: string): string {
  const i = glob.search(/[*?[]/);
  return i === -1 ? glob : glob.slice(0, i);
}

// ---------------------------------------------------------------------------------------------
// The automaton

/** What a state's character test accepts. */
const enum Test {
  /** No character transition: an accepting or branching state. */
  None,
  Literal,
  NotSlash,
  Any,
  Class,
  NegatedClass,
}

const SLASH = 0x2f;

/**
 * An NFA in arrays. State `s` consumes one character `c` passing `test[s]` (with `literal[s]` or
 * `ranges[s]`) and moves to `out[s]`; `eps[s]` lists the states reachable without a character. The
 * last state accepts.
 */
interface Nfa {
  test: Test[];
  literal: number[];
  ranges: (number[] | null)[];
  out: number[];
  eps: (number[] | null)[];
}

class Builder implements Nfa {
  test: Test[] = [];
  literal: number[] = [];
  ranges: (number[] | null)[] = [];
  out: number[] = [];
  eps: (number[] | null)[] = [];
  /** The kind of the last state if the last token was a loop (`*`, `**`), for merging `***` and the like. */
  private lastLoop: Test.NotSlash | Test.Any | null = null;
  /** Whether the last token was a literal `/` (then a trailing `**` may also match without it). */
  endsWithSlash = false;

  private add(test: Test, out: number, eps: number[] | null, literal = 0, ranges: number[] | null = null): number {
    this.test.push(test);
    this.literal.push(literal);
    this.ranges.push(ranges);
    this.out.push(out);
    this.eps.push(eps);
    return this.test.length - 1;
  }

  private get next(): number {
    return this.test.length;
  }

  /** One character passing a test. */
  char(test: Test, literal = 0, ranges: number[] | null = null): void {
    this.add(test, this.next + 1, null, literal, ranges);
    this.lastLoop = null;
    this.endsWithSlash = test === Test.Literal && literal === SLASH;
  }

  /** `[^/]*` or `.*`; two adjacent loops are one (`.*[^/]*` = `.*`), which keeps `*****` small. */
  loop(test: Test.NotSlash | Test.Any): void {
    this.endsWithSlash = false;
    if (this.lastLoop !== null) {
      if (test === Test.Any) this.test[this.next - 1] = this.lastLoop = Test.Any;
      return;
    }
    const s = this.next;
    this.add(test, s, [s + 1]);
    this.lastLoop = test;
  }

  /** `(?:[^/]*\/)*`: the empty string or anything ending in `/` — zero or more whole segments. */
  segments(): void {
    const s = this.next;
    this.add(Test.None, -1, [s + 3, s + 1]);
    this.add(Test.Any, s + 1, [s + 2]);
    this.add(Test.Literal, s + 3, null, SLASH);
    this.lastLoop = null;
    this.endsWithSlash = false;
  }

  /** `(?:\/.*)?`: the empty string or `/` and anything — a trailing `/**`. */
  slashAnything(): void {
    const s = this.next;
    this.add(Test.None, -1, [s + 3, s + 1]);
    this.add(Test.Literal, s + 2, null, SLASH);
    this.add(Test.Any, s + 2, [s + 3]);
    this.lastLoop = null;
    this.endsWithSlash = false;
  }

  dropLast(): void {
    this.test.pop();
    this.literal.pop();
    this.ranges.pop();
    this.out.pop();
    this.eps.pop();
  }

  finish(): Nfa {
    this.add(Test.None, -1, null);
    return this;
  }
}

/**
 * A class body's members as `[lo, hi, lo, hi, …]` code-unit ranges, as a JS RegExp
 * class without flags reads it (`a-z` a range, a `-` first or last a member); null for a reversed
 * range, which the RegExp constructor rejects.
 */
function classRanges(body: string): number[] | null {
  const ranges: number[] = [];
  for (let i = 0; i < body.length; ) {
    const lo = body.charCodeAt(i);
    if (body[i + 1] === "-" && i + 2 < body.length) {
      const hi = body.charCodeAt(i + 2);
      if (hi < lo) return null;
      ranges.push(lo, hi);
      i += 3;
    } else {
      ranges.push(lo, lo);
      i++;
    }
  }
  return ranges;
}

/** The automaton of a glob, or null when the glob matches nothing (a reversed class range). */
function parse(glob: string): Nfa | null {
  const b = new Builder();
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const atSegmentStart = i === 0 || glob[i - 1] === "/";
        const atSegmentEnd = i + 2 === glob.length || glob[i + 2] === "/";
        i++;
        if (atSegmentStart && atSegmentEnd) {
          if (i + 1 === glob.length) {
            // "/a/**": the directory itself or anything below it.
            if (b.endsWithSlash) {
              b.dropLast();
              b.slashAnything();
            } else b.loop(Test.Any);
          } else {
            // "/a/**/b": zero or more whole segments.
            i++;
            b.segments();
          }
        } else b.loop(Test.Any);
      } else b.loop(Test.NotSlash);
    } else if (c === "?") b.char(Test.NotSlash);
    else if (c === "[") {
      // A "]" right after "[" or "[!" is a member, not the end; a negated class never matches "/".
      const negated = glob[i + 1] === "!" || glob[i + 1] === "^";
      const first = i + (negated ? 2 : 1);
      const end = glob.indexOf("]", first + 1);
      if (end === -1) b.char(Test.Literal, 0x5b);
      else {
        const ranges = classRanges(glob.slice(first, end));
        if (ranges === null) return null;
        b.char(negated ? Test.NegatedClass : Test.Class, 0, ranges);
        i = end;
      }
    } else b.char(Test.Literal, glob.charCodeAt(i));
  }
  return b.finish();
}

function inRanges(ranges: readonly number[], c: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) if (c >= ranges[i]! && c <= ranges[i + 1]!) return true;
  return false;
}

function passes(nfa: Nfa, s: number, c: number): boolean {
  switch (nfa.test[s]) {
    case Test.Literal:
      return c === nfa.literal[s];
    case Test.NotSlash:
      return c !== SLASH;
    case Test.Any:
      return true;
    case Test.Class:
      return inRanges(nfa.ranges[s]!, c);
    case Test.NegatedClass:
      return c !== SLASH && !inRanges(nfa.ranges[s]!, c);
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Simulation: bit-parallel NFA steps, cached as a lazy DFA

/**
 * Every character transition of the automaton goes from state `s` to `s + 1` or back to `s` (a
 * loop), and every ε-edge goes forward, so a set of live states is a bitset and one step is
 * `((live & shifting) << 1) | (live & looping)` for the character's masks, then one ascending pass
 * over the ε-edges: O(states / 32 + ε-edges) per character.
 *
 * Memory budget per glob, in 32-bit words: cached character masks, and the DFA's transition table
 * plus its state bitsets (64 KiB each).
 */
const MASK_BUDGET = 16 * 1024;
const DFA_BUDGET = 16 * 1024;
const UNKNOWN = -1;
const DEAD = 0;

export class CompiledGlob {
  /** For a glob without wildcards: the only string it matches. */
  private readonly literal: string | null;
  private readonly nfa: Nfa | null;
  private readonly accept: number;
  /** Words per state bitset. */
  private readonly words: number;
  /** ε-edges by ascending source: `epsFrom[j]` → `epsTo[2j]` and, if not -1, `epsTo[2j + 1]`. */
  private readonly epsFrom: Int32Array;
  private readonly epsTo: Int32Array;
  /** States worth keeping in a set: those with a character test, and the accepting one. */
  private readonly useful: Uint32Array;
  /** Character classes: characters no state's test tells apart share a class. */
  private readonly bounds: Int32Array;
  private readonly asciiClass: Uint16Array;
  private readonly representative: Int32Array;
  private readonly classes: number;
  /** Per class, lazily: the states it moves forward, then the states it keeps (2 × words). */
  private readonly masks: (Uint32Array | undefined)[];
  private readonly cacheMasks: boolean;
  // DFA states: 0 is the dead state (no live NFA state), 1 the start state.
  private sets: Uint32Array[] = [];
  private accepting: boolean[] = [];
  private ids = new Map<string, number>();
  private table = new Int32Array(0);

  constructor(readonly glob: string) {
    this.nfa = parse(glob);
    const nfa = this.nfa;
    const states = nfa ? nfa.test.length : 0;
    // Only literal characters (an unclosed `[` is one): the glob is the one string it matches.
    this.literal = nfa && nfa.test.every((t, s) => t === Test.Literal || s === states - 1) ? glob : null;
    this.accept = states - 1;
    this.words = Math.max(1, Math.ceil(states / 32));

    const from: number[] = [];
    const to: number[] = [];
    this.useful = new Uint32Array(this.words);
    for (let s = 0; s < states; s++) {
      const eps = nfa!.eps[s];
      if (eps) {
        from.push(s);
        to.push(eps[0]!, eps[1] ?? -1);
      }
      if (nfa!.test[s] !== Test.None || s === this.accept) this.useful[s >>> 5]! |= 1 << (s & 31);
    }
    this.epsFrom = Int32Array.from(from);
    this.epsTo = Int32Array.from(to);

    const cuts = new Set<number>([SLASH, SLASH + 1]);
    for (let s = 0; s < states; s++) {
      if (nfa!.test[s] === Test.Literal) cuts.add(nfa!.literal[s]!).add(nfa!.literal[s]! + 1);
      const ranges = nfa!.ranges[s];
      if (ranges) for (let i = 0; i < ranges.length; i += 2) cuts.add(ranges[i]!).add(ranges[i + 1]! + 1);
    }
    cuts.delete(0);
    this.bounds = Int32Array.from(cuts).sort();
    this.classes = this.bounds.length + 1;
    this.representative = Int32Array.from({ length: this.classes }, (_, k) => (k === 0 ? 0 : this.bounds[k - 1]!));
    this.asciiClass = new Uint16Array(128);
    for (let c = 0; c < 128; c++) this.asciiClass[c] = this.searchClass(c);
    this.masks = new Array(this.classes);
    this.cacheMasks = this.classes * 2 * this.words <= MASK_BUDGET;
  }

  /** Whether the glob matches all of `value`. */
  test(value: string): boolean {
    if (this.literal !== null) return value === this.literal;
    if (this.nfa === null) return false;
    if (this.sets.length === 0) this.reset();
    let state = 1;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      const k = c < 128 ? this.asciiClass[c]! : this.searchClass(c);
      let next = this.table[state * this.classes + k]!;
      if (next === UNKNOWN) next = this.step(state, k);
      if (next === DEAD) return false;
      state = next;
    }
    return this.accepting[state]!;
  }

  /** How many DFA states are cached (for tests). */
  get dfaStates(): number {
    return this.sets.length;
  }

  private searchClass(c: number): number {
    const bounds = this.bounds;
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (bounds[mid]! <= c) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private reset(): void {
    this.sets = [];
    this.accepting = [];
    this.ids.clear();
    this.table = new Int32Array(Math.min(16, Math.max(2, Math.floor(DFA_BUDGET / (this.classes + this.words)))) * this.classes).fill(UNKNOWN);
    this.intern(new Uint32Array(this.words));
    this.table.fill(DEAD, 0, this.classes);
    const start = new Uint32Array(this.words);
    start[0] = 1;
    this.intern(this.close(start));
  }

  /** Adds the ε-closure to a set, in place, and drops the states that only branch. */
  private close(set: Uint32Array): Uint32Array {
    const from = this.epsFrom;
    const to = this.epsTo;
    for (let j = 0; j < from.length; j++) {
      const e = from[j]!;
      if ((set[e >>> 5]! & (1 << (e & 31))) === 0) continue;
      const a = to[2 * j]!;
      const b = to[2 * j + 1]!;
      set[a >>> 5]! |= 1 << (a & 31);
      if (b >= 0) set[b >>> 5]! |= 1 << (b & 31);
    }
    for (let i = 0; i < set.length; i++) set[i]! &= this.useful[i]!;
    return set;
  }

  /** The states class `k` moves forward (words 0..w-1) and keeps (words w..2w-1). */
  private masksOf(k: number): Uint32Array {
    const cached = this.masks[k];
    if (cached) return cached;
    const nfa = this.nfa!;
    const c = this.representative[k]!;
    const w = this.words;
    const masks = new Uint32Array(2 * w);
    for (let s = 0; s < nfa.test.length; s++) {
      if (nfa.test[s] === Test.None || !passes(nfa, s, c)) continue;
      const word = (nfa.out[s] === s ? w : 0) + (s >>> 5);
      masks[word]! |= 1 << (s & 31);
    }
    if (this.cacheMasks) this.masks[k] = masks;
    return masks;
  }

  /** The DFA state of a closed set, added if new. */
  private intern(set: Uint32Array, key = setKey(set)): number {
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    const id = this.sets.length;
    const needed = (id + 1) * this.classes;
    if (needed > this.table.length) {
      const grown = new Int32Array(Math.max(needed, Math.min(this.table.length * 2, DFA_BUDGET))).fill(UNKNOWN);
      grown.set(this.table);
      this.table = grown;
    }
    this.sets.push(set);
    this.accepting.push((set[this.accept >>> 5]! & (1 << (this.accept & 31))) !== 0);
    this.ids.set(key, id);
    return id;
  }

  /** Computes (and caches, budget permitting) the transition of DFA state `state` on class `k`. */
  private step(state: number, k: number): number {
    const live = this.sets[state]!;
    const masks = this.masksOf(k);
    const w = this.words;
    const next = new Uint32Array(w);
    let carry = 0;
    let any = 0;
    for (let i = 0; i < w; i++) {
      const moved = live[i]! & masks[i]!;
      next[i] = (moved << 1) | carry | (live[i]! & masks[w + i]!);
      carry = moved >>> 31;
      any |= next[i]!;
    }
    if (any === 0) {
      this.table[state * this.classes + k] = DEAD;
      return DEAD;
    }
    this.close(next);
    const key = setKey(next);
    // Out of budget: start the DFA afresh (the caller only needs the id this returns).
    if (!this.ids.has(key) && this.sets.length > 2 && (this.sets.length + 1) * (this.classes + w) > DFA_BUDGET) {
      this.reset();
      return this.intern(next, key);
    }
    const id = this.intern(next, key);
    this.table[state * this.classes + k] = id;
    return id;
  }
}

/** An exact key for a state bitset: its 16-bit halves as characters. */
function setKey(set: Uint32Array): string {
  const halves = new Uint16Array(set.buffer, set.byteOffset, set.length * 2);
  if (halves.length <= 4096) return String.fromCharCode.apply(null, halves as unknown as number[]);
  let key = "";
  for (let i = 0; i < halves.length; i += 4096) key += String.fromCharCode.apply(null, halves.subarray(i, i + 4096) as unknown as number[]);
  return key;
}

// ---------------------------------------------------------------------------------------------
// The API

/**
 * Compiled globs, cleared when full: at most 128 × (MASK_BUDGET + DFA_BUDGET words and the DFA's
 * keys), about 20 MiB in the very worst case, typically a few KiB each.
 */
const cache = new Map<string, CompiledGlob>();
const CACHE_SIZE = 128;

/** The compiled, cached matcher of a glob. Never throws; a malformed glob matches nothing or literally (see above). */
export function compileGlob(glob: string): CompiledGlob {
  const hit = cache.get(glob);
  if (hit) return hit;
  const compiled = new CompiledGlob(glob);
  if (cache.size >= CACHE_SIZE) cache.clear();
  cache.set(glob, compiled);
  return compiled;
}

export const globMatch = (glob: string, value: string): boolean => compileGlob(glob).test(value);
export const anyGlobMatch = (globs: readonly string[], value: string): boolean => globs.some((g) => globMatch(g, value));
