/**
 * `GET /docs`: the API reference, rendered on the server from the OpenAPI document into one
 * self-contained HTML page (inline CSS, no scripts, nothing fetched from a CDN or anywhere else).
 * Scalar's Hono middleware was the first choice, but its page loads the Scalar bundle from a CDN
 * (or from a URL we would have to serve, a multi-megabyte file the Worker would have to carry), so
 * the page is our own: every operation with its parameters, body and responses, and every schema.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

const esc = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
/** The little Markdown the descriptions use: `code` spans and paragraphs. */
const md = (text: string | undefined) =>
  (text ?? "")
    .split(/\n{2,}/)
    .filter((p) => p.trim() !== "")
    .map((p) => `<p>${esc(p).replace(/`([^`]+)`/g, "<code>$1</code>")}</p>`)
    .join("");
const isObj = (v: Json | undefined): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const anchor = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, "-");

/** A schema as indented JSON, with `$ref`s linked to the schema section. */
function schemaHtml(schema: Json | undefined): string {
  if (schema === undefined) return "";
  const json = esc(JSON.stringify(schema, null, 2));
  return `<pre>${json.replace(/&quot;#\/components\/schemas\/([A-Za-z0-9_.-]+)&quot;/g, (_, name: string) => `&quot;<a href="#schema-${anchor(name)}">#/components/schemas/${name}</a>&quot;`)}</pre>`;
}

function refName(schema: Json | undefined): string | null {
  return isObj(schema) && typeof schema.$ref === "string" ? schema.$ref.replace("#/components/schemas/", "") : null;
}

function contentHtml(content: Json | undefined): string {
  if (!isObj(content)) return "";
  return Object.entries(content)
    .map(([type, media]) => {
      const schema = isObj(media) ? media.schema : undefined;
      const ref = refName(schema);
      return `<div class="media"><span class="type">${esc(type)}</span> ${ref ? `<a href="#schema-${anchor(ref)}">${esc(ref)}</a>` : schemaHtml(schema)}</div>`;
    })
    .join("");
}

function operationHtml(path: string, method: string, op: Obj): string {
  const id = anchor(`${method} ${path}`);
  const params = Array.isArray(op.parameters) ? op.parameters.filter(isObj) : [];
  const paramRows = params
    .map((p) => {
      const schema = isObj(p.schema) ? p.schema : {};
      const type = typeof schema.type === "string" ? schema.type : Array.isArray(schema.type) ? schema.type.join(" | ") : "";
      return `<tr><td><code>${esc(String(p.name))}</code></td><td>${esc(String(p.in))}</td><td>${p.required ? "yes" : ""}</td><td>${esc(type)}</td><td>${md(typeof p.description === "string" ? p.description : typeof schema.description === "string" ? schema.description : "")}</td></tr>`;
    })
    .join("");
  const body = isObj(op.requestBody) ? op.requestBody : null;
  const responses = isObj(op.responses) ? op.responses : {};
  const responseRows = Object.entries(responses)
    .map(([status, r]) => (isObj(r) ? `<tr><td class="status s${status[0]}">${esc(status)}</td><td>${md(typeof r.description === "string" ? r.description : "")}</td><td>${contentHtml(r.content)}</td></tr>` : ""))
    .join("");
  const open = Array.isArray(op.security) && op.security.length === 0;
  return `<section class="op" id="${id}">
<h3><span class="method ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code> <a class="link" href="#${id}">#</a></h3>
<p class="summary">${esc(String(op.summary ?? ""))}${open ? ' <span class="open">no token</span>' : ""}</p>
${md(typeof op.description === "string" ? op.description : "")}
${paramRows ? `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>type</th><th></th></tr>${paramRows}</table>` : ""}
${body ? `<h4>Request body${body.required ? "" : " (optional)"}</h4>${contentHtml(body.content)}` : ""}
<h4>Responses</h4><table><tr><th>status</th><th></th><th>body</th></tr>${responseRows}</table>
</section>`;
}

/** The reference page for an OpenAPI 3.1 document. */
export function docsPage(document: object): string {
  const doc = document as Obj;
  const info = isObj(doc.info) ? doc.info : {};
  const paths = isObj(doc.paths) ? doc.paths : {};
  const tags = Array.isArray(doc.tags) ? doc.tags.filter(isObj) : [];
  const ops: { tag: string; path: string; method: string; op: Obj }[] = [];
  for (const [path, item] of Object.entries(paths)) {
    if (!isObj(item)) continue;
    for (const [method, op] of Object.entries(item)) {
      if (!isObj(op)) continue;
      const tag = Array.isArray(op.tags) && typeof op.tags[0] === "string" ? op.tags[0] : "other";
      ops.push({ tag, path, method, op });
    }
  }
  const tagNames = [...tags.map((t) => String(t.name)), ...new Set(ops.map((o) => o.tag))].filter((t, i, all) => all.indexOf(t) === i);
  const toc = tagNames
    .map((tag) => {
      const items = ops.filter((o) => o.tag === tag).map((o) => `<li><a href="#${anchor(`${o.method} ${o.path}`)}"><span class="method ${o.method}">${o.method.toUpperCase()}</span> ${esc(o.path)}</a></li>`);
      return items.length ? `<li><a href="#tag-${anchor(tag)}">${esc(tag)}</a><ul>${items.join("")}</ul></li>` : "";
    })
    .join("");
  const sections = tagNames
    .map((tag) => {
      const list = ops.filter((o) => o.tag === tag);
      if (list.length === 0) return "";
      const t = tags.find((x) => x.name === tag);
      return `<h2 id="tag-${anchor(tag)}">${esc(tag)}</h2>${md(typeof t?.description === "string" ? t.description : "")}${list.map((o) => operationHtml(o.path, o.method, o.op)).join("")}`;
    })
    .join("");
  const components = isObj(doc.components) ? doc.components : {};
  const schemas = isObj(components.schemas) ? components.schemas : {};
  const schemaSections = Object.entries(schemas)
    .map(([name, schema]) => `<section class="schema" id="schema-${anchor(name)}"><h3>${esc(name)}</h3>${schemaHtml(schema)}</section>`)
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(String(info.title ?? "API"))} reference</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2330;display:flex}
nav{width:300px;flex:none;height:100vh;overflow:auto;position:sticky;top:0;background:#f4f5f8;border-right:1px solid #dde;padding:12px;box-sizing:border-box;font-size:13px}
nav ul{list-style:none;padding-left:10px;margin:4px 0}nav a{color:#1d2330;text-decoration:none}nav a:hover{text-decoration:underline}
main{padding:20px 36px;max-width:1000px;min-width:0}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}pre{background:#f6f8fa;padding:10px;overflow:auto;border-radius:6px;max-height:420px}
.op{border:1px solid #dde;border-radius:8px;padding:4px 16px;margin:16px 0}.op h3{margin:10px 0 0}.summary{font-weight:600;margin:4px 0}
.method{display:inline-block;min-width:54px;text-align:center;border-radius:4px;color:#fff;font-size:12px;font-weight:700;padding:1px 4px}
.get{background:#2f7d32}.post{background:#1f5fbf}.put{background:#9a6700}.delete{background:#b42318}
table{border-collapse:collapse;width:100%;margin:6px 0 12px}td,th{border-top:1px solid #e5e7ee;padding:4px 8px;text-align:left;vertical-align:top}td p{margin:0}
.status{font-weight:700}.s2{color:#2f7d32}.s4{color:#b42318}.s5{color:#7a1d10}.type{color:#667;font-size:12px}.open{font-size:12px;color:#2f7d32;border:1px solid #2f7d32;border-radius:4px;padding:0 4px}
.link{font-size:13px;color:#aab;text-decoration:none}
</style></head>
<body><nav><strong>${esc(String(info.title ?? "API"))}</strong> ${esc(String(info.version ?? ""))}<ul>${toc}<li><a href="#schemas">schemas</a></li></ul><p><a href="/openapi.json">openapi.json</a></p></nav>
<main><h1>${esc(String(info.title ?? "API"))}</h1>${md(typeof info.description === "string" ? info.description : "")}
<p>The machine-readable description: <a href="/openapi.json"><code>/openapi.json</code></a> (OpenAPI ${esc(String(doc.openapi ?? ""))}).</p>
${sections}<h2 id="schemas">Schemas</h2>${schemaSections}</main></body></html>`;
}
