/**
 * Which outbound URLs the kernel may call on a tenant's behalf (webhook hooks now, MCP servers next).
 *
 * A tenant admin chooses these URLs, so without a rule they would let a tenant make the kernel probe
 * or call whatever the kernel's host can reach: loopback services, the private network, cloud
 * metadata endpoints (169.254.169.254, metadata.google.internal). The rule: the URL must be http(s)
 * and its host must not be a loopback, private, link-local, shared (CGNAT), multicast, broadcast,
 * documentation or otherwise reserved address, nor a local-only host name, unless the operator lists
 * the host in `ALLOW_PRIVATE_HOSTS` (comma-separated, e.g. `127.0.0.1,localhost`; tests and local
 * development use it).
 *
 * How hosts are read:
 * - Every URL goes through the WHATWG URL parser first, as `fetch` does, so the odd numeric forms it
 *   accepts are judged as the address they mean: `http://2130706433/`, `http://0x7f.1/`,
 *   `http://127.1/`, `http://0177.0.0.1/`, full-width digits and IDNA-mapped letters
 *   (`http://ⓛocalhost/`) all become `127.0.0.1` / `localhost` before any check. What is left to
 *   classify is a dotted-quad IPv4, a bracketed canonical IPv6, or a domain name. A domain whose last
 *   label still looks numeric is refused rather than guessed at.
 * - Case and one or more trailing dots do not matter (`LOCALHOST.` is `localhost`).
 * - IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`,
 *   6to4 `2002::/16`) are judged by that IPv4 address; the other special IPv6 ranges are refused
 *   outright, and so is anything outside global unicast `2000::/3`.
 *
 * Not covered, by design: DNS names that resolve to private addresses (`127.0.0.1.nip.io`, a
 * rebinding domain). A Worker has no resolver to ask, and checking before the call would race the
 * resolution `fetch` does anyway. That is acceptable because deployed Workers cannot reach private
 * networks or the host's loopback at all (Cloudflare's edge refuses such subrequests); the names
 * and addresses checked here are what matters when the kernel runs on workerd elsewhere (`wrangler
 * dev`, self-hosted workerd), and they stop the obvious probes everywhere. Redirects are never
 * followed by the callers (`redirect: "manual"`), so a public URL cannot bounce a call inward.
 *
 * Written by hand rather than with a library (e.g. ipaddr.js): after the URL parser has
 * canonicalised the host, parsing is trivial, and the policy itself (which ranges, how embedded
 * IPv4 is treated, which names count as local) is the part that needs reviewing; it sits in the
 * tables below. No runtime dependency is added to the Worker.
 */

export type OutboundCheck = { ok: true } | { ok: false; reason: string };

/** Host names (and their subdomains) that only mean something on a local network. */
const LOCAL_NAME_SUFFIXES = [
  "localhost", // RFC 6761
  "localdomain",
  "local", // mDNS, RFC 6762
  "internal", // ICANN private-use TLD; metadata.google.internal, *.ec2.internal
  "home.arpa", // RFC 8375
  "intranet",
  "private",
  "corp",
  "home",
  "lan", // RFC 6762 appendix G: names commonly used privately
];

type V4Range = { cidr: string; net: number; bits: number; what: string };
/** IANA IPv4 special-purpose, multicast and reserved blocks a webhook has no business calling. */
const V4_REFUSED: readonly V4Range[] = [
  v4("0.0.0.0/8", "this network"),
  v4("10.0.0.0/8", "private-use"),
  v4("100.64.0.0/10", "shared address space, CGNAT"),
  v4("127.0.0.0/8", "loopback"),
  v4("169.254.0.0/16", "link-local, incl. cloud metadata 169.254.169.254"),
  v4("172.16.0.0/12", "private-use"),
  v4("192.0.0.0/24", "IETF protocol assignments"),
  v4("192.0.2.0/24", "documentation, TEST-NET-1"),
  v4("192.88.99.0/24", "6to4 relay anycast"),
  v4("192.168.0.0/16", "private-use"),
  v4("198.18.0.0/15", "benchmarking"),
  v4("198.51.100.0/24", "documentation, TEST-NET-2"),
  v4("203.0.113.0/24", "documentation, TEST-NET-3"),
  v4("224.0.0.0/4", "multicast"),
  v4("240.0.0.0/4", "reserved, incl. broadcast 255.255.255.255"),
];

type V6Range = { cidr: string; prefix: number[]; bits: number; what: string; embedsV4?: (h: number[]) => number };
const hi32 = (h: number[], i: number) => ((h[i]! << 16) | h[i + 1]!) >>> 0;
/** IPv6 special-purpose blocks, most specific first; anything else outside 2000::/3 is refused too. */
const V6_SPECIAL: readonly V6Range[] = [
  v6("::/128", "unspecified"),
  v6("::1/128", "loopback"),
  v6("::ffff:0:0/96", "IPv4-mapped", (h) => hi32(h, 6)),
  v6("::/96", "IPv4-compatible, deprecated"),
  v6("::ffff:0:0:0/96", "IPv4-translated"),
  v6("64:ff9b::/96", "NAT64", (h) => hi32(h, 6)),
  v6("64:ff9b:1::/48", "local-use NAT64"),
  v6("100::/64", "discard-only"),
  v6("2001:db8::/32", "documentation"),
  v6("2001::/23", "IETF protocol assignments: Teredo, benchmarking, ORCHID"),
  v6("2002::/16", "6to4", (h) => hi32(h, 1)),
  v6("3fff::/20", "documentation"),
  v6("fc00::/7", "unique local"),
  v6("fe80::/10", "link-local"),
  v6("fec0::/10", "site-local, deprecated"),
  v6("ff00::/8", "multicast"),
];

/**
 * The setting's hosts, normalised as `checkOutboundUrl` compares them: lowercase, no trailing dot,
 * IP addresses in canonical form (`127.1` → `127.0.0.1`, `[::1]` and `::1` → `[::1]`). Entries are
 * hosts, not URLs; a port given with one is ignored (the host is allowed on every port). Empty and
 * unparseable entries are dropped. No wildcards.
 */
export function parseHostList(setting: string | undefined | null): string[] {
  if (!setting) return [];
  const hosts = new Set<string>();
  for (const raw of setting.split(",")) {
    const entry = raw.trim();
    if (!entry || /[\s/?#@\\]/.test(entry)) continue;
    // A bare IPv6 address (several colons, no brackets) gets brackets so the URL parser reads it.
    const bracketed = !entry.startsWith("[") && (entry.match(/:/g)?.length ?? 0) > 1 ? `[${entry}]` : entry;
    const host = hostOf(`http://${bracketed}/`);
    if (host) hosts.add(host);
  }
  return [...hosts];
}

/**
 * `{ok: true}` when the kernel may call `url`: http(s), and a host that is public or listed in
 * `allowPrivateHosts` (as returned by `parseHostList`). Otherwise `{ok: false, reason}`, a sentence
 * fit for an API error's details (it names the host and why, never the URL's credentials).
 */
export function checkOutboundUrl(url: string, allowPrivateHosts: readonly string[]): OutboundCheck {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: "The URL is not a valid absolute URL." };
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return { ok: false, reason: "Only http and https URLs can be called." };
  const host = normaliseHostname(parsed.hostname);
  if (!host) return { ok: false, reason: "The URL has no host." };
  if (allowPrivateHosts.includes(host)) return { ok: true };
  const why = classifyHost(host);
  if (why === null) return { ok: true };
  return { ok: false, reason: `The host ${host} is ${why}; loopback, private, link-local and other non-public hosts are refused unless the operator lists them in ALLOW_PRIVATE_HOSTS.` };
}

/**
 * Why a normalised host (as `URL.hostname` gives it, lowercased, without trailing dots) is not a
 * public one, as words that follow "The host <host> is", e.g. `"in 127.0.0.0/8 (loopback)"`;
 * `null` when it is public.
 */
export function classifyHost(host: string): string | null {
  if (host.startsWith("[") && host.endsWith("]")) {
    const hextets = parseIPv6(host.slice(1, -1));
    return hextets ? classifyIPv6(hextets) : "not a valid IPv6 address";
  }
  const v4 = parseIPv4(host);
  if (v4 !== null) return classifyIPv4(v4);
  const labels = host.split(".");
  const last = labels[labels.length - 1] ?? "";
  // The URL parser turns every numeric host it accepts into a dotted quad; one that is left looking
  // numeric is a form some other resolver might read as an address. Refuse rather than guess.
  if (/^(0x[0-9a-f]*|[0-9]+)$/.test(last)) return "a numeric host that is not a plain IPv4 address";
  for (const suffix of LOCAL_NAME_SUFFIXES) {
    if (host === suffix || host.endsWith(`.${suffix}`)) return `a local-only name (.${suffix})`;
  }
  if (labels.length === 1) return "a single-label name, which resolves through the local network's search domains";
  if (labels.some((l) => l === "")) return "not a valid host name";
  return null;
}

/**
 * `url` as it may be shown (hook views, audit entries, messages): any `user:password@` is replaced
 * by `***@`. A URL without credentials comes back unchanged, character for character.
 */
export function redactUrlCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = "***";
    parsed.password = "";
    return parsed.toString();
  } catch {
    // Not parseable: blank out anything that looks like userinfo after the scheme.
    return url.replace(/^([a-z][a-z0-9+.-]*:\/*)[^/?#]*@/i, "$1***@");
  }
}

// ---------------------------------------------------------------------------------------------

/** The URL's host, normalised; null when the URL does not parse. */
function hostOf(url: string): string | null {
  try {
    return normaliseHostname(new URL(url).hostname) || null;
  } catch {
    return null;
  }
}

const normaliseHostname = (hostname: string) => hostname.toLowerCase().replace(/\.+$/, "");

/** A dotted quad with decimal parts 0-255 (the URL parser's output form), as a uint32; else null. */
function parseIPv4(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  let n = 0;
  for (const part of m.slice(1)) {
    const octet = Number(part);
    if (octet > 255 || (part.length > 1 && part.startsWith("0"))) return null;
    n = n * 256 + octet;
  }
  return n;
}

const formatIPv4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

function classifyIPv4(addr: number): string | null {
  for (const range of V4_REFUSED) {
    if (inV4(addr, range)) return `in ${range.cidr} (${range.what})`;
  }
  return null;
}

const inV4 = (addr: number, { net, bits }: { net: number; bits: number }) => bits === 0 || addr >>> (32 - bits) === net >>> (32 - bits);

/** Eight 16-bit groups, accepting `::` and a dotted-quad tail; null when malformed. */
function parseIPv6(text: string): number[] | null {
  if (!/^[0-9a-f:.]+$/i.test(text)) return null;
  let tail: number[] = [];
  let body = text;
  if (text.includes(".")) {
    // "::ffff:1.2.3.4": the last 32 bits written as IPv4.
    const lastColon = text.lastIndexOf(":");
    const v4 = lastColon < 0 ? null : parseIPv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [v4 >>> 16, v4 & 0xffff];
    const head = text.slice(0, lastColon + 1);
    body = head.endsWith("::") ? head : head.slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const given = head.length + rest.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return null;
  const parse = (g: string) => (/^[0-9a-f]{1,4}$/i.test(g) ? Number.parseInt(g, 16) : Number.NaN);
  const out = [...head.map(parse), ...new Array<number>(8 - given).fill(0), ...rest.map(parse), ...tail];
  return out.some(Number.isNaN) ? null : out;
}

function classifyIPv6(h: number[]): string | null {
  for (const range of V6_SPECIAL) {
    if (!inV6(h, range)) continue;
    if (range.embedsV4) {
      const inner = range.embedsV4(h);
      const why = classifyIPv4(inner);
      return why === null ? null : `the ${range.what} form of ${formatIPv4(inner)}, which is ${why}`;
    }
    return `in ${range.cidr} (${range.what})`;
  }
  if (h[0]! >>> 13 !== 0b001) return "outside IPv6 global unicast (2000::/3)";
  return null;
}

function inV6(h: number[], { prefix, bits }: { prefix: number[]; bits: number }): boolean {
  for (let i = 0; i < 8 && bits > 0; i++, bits -= 16) {
    const take = Math.min(16, bits);
    const mask = (0xffff << (16 - take)) & 0xffff;
    if ((h[i]! & mask) !== (prefix[i]! & mask)) return false;
  }
  return true;
}

function v4(cidr: string, what: string): V4Range {
  const [addr, bits] = cidr.split("/") as [string, string];
  return { cidr, net: parseIPv4(addr)!, bits: Number(bits), what };
}

function v6(cidr: string, what: string, embedsV4?: (h: number[]) => number): V6Range {
  const [addr, bits] = cidr.split("/") as [string, string];
  const prefix = parseIPv6(addr);
  if (!prefix) throw new Error(`bad IPv6 range ${cidr}`);
  return { cidr, prefix, bits: Number(bits), what, ...(embedsV4 ? { embedsV4 } : {}) };
}
