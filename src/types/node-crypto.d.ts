// The part of node:crypto the Worker uses (the nodejs_compat flag provides it at run time). Typed
// here rather than through @types/node, whose globals clash with the Workers runtime types.
declare module "node:crypto" {
  interface Hash {
    update(data: string, encoding?: "utf8"): Hash;
    digest(encoding: "hex"): string;
  }
  export function createHash(algorithm: "sha256"): Hash;
}
