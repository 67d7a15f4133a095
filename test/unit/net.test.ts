import { describe, expect, it } from "vitest";
import { checkOutboundUrl, classifyHost, parseHostList, redactUrlCredentials } from "../../src/lib/net";

const refused = (url: string, allow: string[] = []) => {
  const check = checkOutboundUrl(url, allow);
  return check.ok ? null : check.reason;
};

describe("checkOutboundUrl: IPv4", () => {
  it.each([
    // loopback 127/8, "this network" 0/8
    ["http://127.0.0.1/", "127.0.0.0/8"],
    ["http://127.255.255.254:8080/x", "127.0.0.0/8"],
    ["http://0.0.0.0/", "0.0.0.0/8"],
    ["http://0.1.2.3/", "0.0.0.0/8"],
    // private-use
    ["http://10.0.0.1/", "10.0.0.0/8"],
    ["http://10.255.255.255/", "10.0.0.0/8"],
    ["http://172.16.0.1/", "172.16.0.0/12"],
    ["http://172.31.255.255/", "172.16.0.0/12"],
    ["http://192.168.1.1/", "192.168.0.0/16"],
    // link-local and the cloud metadata address
    ["http://169.254.169.254/latest/meta-data", "169.254.0.0/16"],
    ["http://169.254.0.1/", "169.254.0.0/16"],
    // CGNAT
    ["http://100.64.0.1/", "100.64.0.0/10"],
    ["http://100.127.255.255/", "100.64.0.0/10"],
    // multicast, reserved, broadcast
    ["http://224.0.0.1/", "224.0.0.0/4"],
    ["http://239.255.255.250/", "224.0.0.0/4"],
    ["http://240.0.0.1/", "240.0.0.0/4"],
    ["http://255.255.255.255/", "240.0.0.0/4"],
    // documentation, benchmarking, protocol assignments, 6to4 relay
    ["http://192.0.2.1/", "192.0.2.0/24"],
    ["http://198.51.100.7/", "198.51.100.0/24"],
    ["http://203.0.113.9/", "203.0.113.0/24"],
    ["http://198.18.0.1/", "198.18.0.0/15"],
    ["http://198.19.255.255/", "198.18.0.0/15"],
    ["http://192.0.0.170/", "192.0.0.0/24"],
    ["http://192.88.99.1/", "192.88.99.0/24"],
  ])("refuses %s (%s)", (url, range) => {
    expect(refused(url)).toContain(range);
  });

  it.each(["http://8.8.8.8/", "https://1.1.1.1/dns-query", "http://172.15.255.255/", "http://172.32.0.1/", "http://100.63.255.255/", "http://100.128.0.0/", "http://169.253.255.255/", "http://223.255.255.255/", "http://11.0.0.1/", "http://192.169.0.1/"])(
    "allows the public address %s",
    (url) => {
      expect(checkOutboundUrl(url, [])).toEqual({ ok: true });
    },
  );

  it.each([
    // The WHATWG URL parser (what fetch uses) reads all of these as 127.0.0.1; so does the check.
    ["http://2130706433/"],
    ["http://0x7f.1/"],
    ["http://127.1/"],
    ["http://127.0.1/"],
    ["http://0x7f000001/"],
    ["http://017700000001/"],
    ["http://0177.0.0.1/"],
    ["http://0x7F.0x0.0x0.0x1/"],
    ["http://127.0.0.1./"],
    ["http://%31%32%37.0.0.1/"],
    ["http://１２７.０.０.１/"], // full-width digits
  ])("sees through the numeric form %s", (url) => {
    expect(new URL(url).hostname).toBe("127.0.0.1"); // what fetch would connect to
    expect(refused(url)).toMatch(/^The host 127\.0\.0\.1 is in 127\.0\.0\.0\/8 \(loopback\)/);
  });

  it("reads other numeric forms as their address too", () => {
    expect(refused("http://167772161/")).toContain("10.0.0.0/8"); // 10.0.0.1
    expect(refused("http://0xa9fea9fe/")).toContain("169.254.0.0/16"); // 169.254.169.254
    expect(refused("http://0/")).toContain("0.0.0.0/8");
  });
});

describe("checkOutboundUrl: IPv6", () => {
  it.each([
    ["http://[::1]/", "::1/128"],
    ["http://[::1]:8080/", "::1/128"],
    ["http://[0:0:0:0:0:0:0:1]/", "::1/128"],
    ["http://[::]/", "::/128"],
    ["http://[fc00::1]/", "fc00::/7"],
    ["http://[fd12:3456:789a::1]/", "fc00::/7"],
    ["http://[fe80::1]/", "fe80::/10"],
    ["http://[febf::1]/", "fe80::/10"],
    ["http://[fec0::1]/", "fec0::/10"],
    ["http://[ff02::1]/", "ff00::/8"],
    ["http://[2001:db8::1]/", "2001:db8::/32"],
    ["http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "2001::/23"], // Teredo
    ["http://[100::1]/", "100::/64"],
    ["http://[64:ff9b:1::a00:1]/", "64:ff9b:1::/48"],
    ["http://[::127.0.0.1]/", "::/96"], // IPv4-compatible
    ["http://[3fff::1]/", "3fff::/20"],
  ])("refuses %s (%s)", (url, range) => {
    expect(refused(url)).toContain(range);
  });

  it("refuses anything outside global unicast 2000::/3", () => {
    expect(refused("http://[4000::1]/")).toContain("2000::/3");
    expect(refused("http://[5f00::1]/")).toContain("2000::/3");
    expect(refused("http://[1::1]/")).toContain("2000::/3");
  });

  it.each([
    ["http://[::ffff:127.0.0.1]/", "IPv4-mapped", "127.0.0.0/8"],
    ["http://[::FFFF:7F00:1]/", "IPv4-mapped", "127.0.0.0/8"],
    ["http://[0:0:0:0:0:ffff:169.254.169.254]/", "IPv4-mapped", "169.254.0.0/16"],
    ["http://[::ffff:10.1.2.3]/", "IPv4-mapped", "10.0.0.0/8"],
    ["http://[64:ff9b::127.0.0.1]/", "NAT64", "127.0.0.0/8"],
    ["http://[64:ff9b::a9fe:a9fe]/", "NAT64", "169.254.0.0/16"],
    ["http://[2002:c0a8:101::1]/", "6to4", "192.168.0.0/16"],
  ])("judges %s by the IPv4 address it carries", (url, form, range) => {
    const reason = refused(url);
    expect(reason).toContain(form);
    expect(reason).toContain(range);
  });

  it.each(["http://[2606:4700:4700::1111]/", "http://[2a00:1450:4001:81b::200e]/", "http://[::ffff:8.8.8.8]/", "http://[64:ff9b::808:808]/", "http://[2002:808:808::1]/"])("allows the public address %s", (url) => {
    expect(checkOutboundUrl(url, [])).toEqual({ ok: true });
  });
});

describe("checkOutboundUrl: host names", () => {
  it.each([
    "http://localhost/",
    "http://localhost:8787/x",
    "http://LOCALHOST./",
    "http://LocalHost/",
    "http://localhost../",
    "http://api.localhost/",
    "http://a.b.localhost./",
    "http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", // IDNA maps it to "localhost"
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.GOOGLE.INTERNAL./",
    "http://ip-10-0-0-1.ec2.internal/",
    "http://printer.local/",
    "http://nas.home.arpa/",
    "http://localhost.localdomain/",
    "http://metadata/", // single-label names resolve through the local search domains
    "http://instance-data/",
    "http://intranet/",
  ])("refuses %s", (url) => {
    expect(refused(url)).not.toBeNull();
  });

  it.each(["https://example.com/hook", "https://hooks.example.com./x", "https://internal.example.com/", "https://local.example.org/", "https://localhost.example.com/", "https://my-internal-host.com/"])(
    "allows the public name %s",
    (url) => {
      expect(checkOutboundUrl(url, [])).toEqual({ ok: true });
    },
  );

  it("refuses a name whose last label still looks numeric (not a form the URL parser turned into an address)", () => {
    expect(classifyHost("1.2.3.4.5")).toContain("numeric");
    expect(classifyHost("foo.0x10")).toContain("numeric");
    expect(classifyHost("foo.123")).toContain("numeric");
  });

  it("refuses what is not an http(s) URL", () => {
    expect(refused("ftp://example.com/")).toMatch(/http/);
    expect(refused("file:///etc/passwd")).toMatch(/http/);
    expect(refused("not a url")).toMatch(/valid/);
    expect(refused("http://256.0.0.1/")).toMatch(/valid/); // the URL parser rejects it, so does fetch
  });

  it("never repeats the URL's credentials in its reason", () => {
    const reason = refused("http://admin:hunter2@10.0.0.1/");
    expect(reason).toContain("10.0.0.1");
    expect(reason).not.toContain("hunter2");
    expect(reason).not.toContain("admin");
  });
});

describe("ALLOW_PRIVATE_HOSTS", () => {
  it("parses and normalises the list", () => {
    expect(parseHostList(undefined)).toEqual([]);
    expect(parseHostList("")).toEqual([]);
    expect(parseHostList(" , ,")).toEqual([]);
    expect(parseHostList("127.0.0.1,localhost")).toEqual(["127.0.0.1", "localhost"]);
    expect(parseHostList(" LOCALHOST. , 127.1 ,0x7f.0.0.1")).toEqual(["localhost", "127.0.0.1"]);
    expect(parseHostList("::1,[fd00::1],::FFFF:127.0.0.1")).toEqual(["[::1]", "[fd00::1]", "[::ffff:7f00:1]"]);
    expect(parseHostList("localhost:8787,hooks.internal")).toEqual(["localhost", "hooks.internal"]); // ports are ignored
    expect(parseHostList("http://x/,a b,user@host,[::1")).toEqual([]); // not hosts
  });

  it("lets a listed host through, in any spelling of it, and only that host", () => {
    const allow = parseHostList("127.0.0.1,localhost");
    for (const url of ["http://127.0.0.1:1234/hook", "http://2130706433/", "http://0x7f.1/", "http://127.0.0.1./", "http://localhost:8787/", "http://LOCALHOST./"]) {
      expect(checkOutboundUrl(url, allow), url).toEqual({ ok: true });
    }
    for (const url of ["http://127.0.0.2/", "http://10.0.0.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://a.localhost/", "http://169.254.169.254/"]) {
      expect(checkOutboundUrl(url, allow).ok, url).toBe(false);
    }
  });

  it("allows IPv6 and names too", () => {
    const allow = parseHostList("::1, metadata.google.internal, hooks");
    expect(checkOutboundUrl("http://[::1]:8080/", allow)).toEqual({ ok: true });
    expect(checkOutboundUrl("http://[0:0::1]/", allow)).toEqual({ ok: true });
    expect(checkOutboundUrl("http://Metadata.Google.Internal./", allow)).toEqual({ ok: true });
    expect(checkOutboundUrl("http://hooks:9000/", allow)).toEqual({ ok: true });
    expect(checkOutboundUrl("http://other.google.internal/", allow).ok).toBe(false);
  });

  it("names the setting in its reason", () => {
    expect(refused("http://10.0.0.1/")).toContain("ALLOW_PRIVATE_HOSTS");
  });
});

describe("redactUrlCredentials", () => {
  it("replaces user:password@ with ***@ and leaves other URLs as they were", () => {
    expect(redactUrlCredentials("https://user:pass@hooks.example.com/x?y=1#z")).toBe("https://***@hooks.example.com/x?y=1#z");
    expect(redactUrlCredentials("https://token@hooks.example.com/")).toBe("https://***@hooks.example.com/");
    expect(redactUrlCredentials("https://:pw@hooks.example.com/")).toBe("https://***@hooks.example.com/");
    expect(redactUrlCredentials("https://hooks.example.com/a?b")).toBe("https://hooks.example.com/a?b");
    expect(redactUrlCredentials("http://2130706433/")).toBe("http://2130706433/");
    expect(redactUrlCredentials("weird://u:p@x y")).not.toContain("u:p");
  });
});
