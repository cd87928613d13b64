/* skyt1 trace viewer: offline, no server. data/index.js calls SkyView.index(...); each chunk
   file calls SkyView.chunk(view, n, problems) when the page adds its <script> (file:// pages may
   load scripts, not fetch JSON). Chunks are loaded only as needed to fill the current page. */
"use strict";
const SkyView = (() => {
  const PAGE = 25;
  const MARKS = [["thought", /<\|begin_of_thought\|>([\s\S]*?)(?:<\|end_of_thought\|>|$)/],
                 ["solution", /<\|begin_of_solution\|>([\s\S]*?)(?:<\|end_of_solution\|>|$)/]];
  const MATH = [{left: "$$", right: "$$", display: true}, {left: "\\[", right: "\\]", display: true},
                {left: "\\(", right: "\\)", display: false}, {left: "$", right: "$", display: false}];
  let idx = null, generation = 0;
  const loaded = {};
  const state = {view: 0, source: "", verdict: "", reason: "", fate: "", q: "", page: 0};
  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);  // text, never HTML
    return e;
  }
  function math(node) {
    if (window.renderMathInElement) window.renderMathInElement(node, {delimiters: MATH, throwOnError: false});
  }
  // an answer written in LaTeX without delimiters (\frac{5}{6}) is shown as math
  const tex = (a) => (a !== null && a !== undefined && /\\/.test(String(a)) && !/\$/.test(String(a))
    ? "\\(" + a + "\\)" : a);
  const head = (r) => (r === null || r === undefined || r === "" ? "" : String(r).split(":")[0].trim());

  function facets(p) {
    if (!p._f) {
      p._f = {verdict: new Set(p.samples.map((s) => s.verdict)),
              reason: new Set(p.samples.map((s) => head(s.reason) || "(none)")),
              fate: new Set(p.samples.filter((s) => s.fate)
                .map((s) => (s.fate === "dropped" ? "dropped: " + s.drop : s.fate)))};
      p._hay = [p.id, p.question, p.gold || ""].concat(p.samples.map((s) => s.text + " " + (s.formatted || "")
        + " " + (s.why || "") + " " + (s.extracted ?? ""))).join("\n").toLowerCase();
    }
    return p._f;
  }
  function chunkMayMatch(c) {
    if (state.source && c.source !== state.source) return false;
    for (const k of ["verdict", "reason", "fate"]) if (state[k] && !(c[k] || {})[state[k]]) return false;
    return true;
  }
  function matches(p) {
    const f = facets(p);
    for (const k of ["verdict", "reason", "fate"]) if (state[k] && !f[k].has(state[k])) return false;
    return !state.q || p._hay.includes(state.q.toLowerCase());
  }
  function load(view, n) {
    const have = (loaded[view.key] || {})[n];
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = "data/" + view.chunks[n].file;
      s.onload = () => resolve(loaded[view.key][n]);
      s.onerror = () => reject(new Error("cannot load " + s.src));
      document.head.appendChild(s);
    });
  }

  function sections(text, kind) {
    const found = MARKS.map(([name, re]) => [name, re.exec(text)]).filter(([, m]) => m);
    if (found.length) return found.map(([name, m]) => [name, m[1].trim()]);
    const think = /<think>([\s\S]*?)<\/think>([\s\S]*)/.exec(text);
    if (think) return [["thought", think[1].trim()], ["solution", think[2].trim()]];
    return [[kind, text]];
  }
  function addSections(body, text, kind, label) {
    for (const [name, part] of sections(text, kind)) {
      const box = el("div", "section " + name + (kind === "rewritten" ? " rewritten" : ""));
      box.appendChild(el("h4", null, label + (name === kind ? "" : " - " + name)));
      box.appendChild(el("div", "text", part));
      body.appendChild(box);
    }
  }
  function sample(s) {
    const d = el("details", "sample");
    const sum = el("summary");
    sum.appendChild(el("span", null, "#" + s.i + " "));
    sum.appendChild(el("span", "badge " + s.verdict, s.verdict));
    const bits = [s.reason && "reason: " + s.reason, "extracted: " + (tex(s.extracted) ?? "none"),
                  s.tokens !== null && s.tokens !== undefined ? s.tokens + " tokens" : "",
                  s.finish && "finish: " + s.finish];
    sum.appendChild(el("span", null, " " + bits.filter(Boolean).join(" · ") + " "));
    if (s.fate) sum.appendChild(el("span", "badge " + s.fate, s.fate));
    if (s.why) sum.appendChild(el("span", "why", " " + s.why + " "));
    if (s.of) {
      const b = el("button", "link", "show " + s.of);
      b.addEventListener("click", (e) => { e.preventDefault(); $("q").value = s.of; set("q", s.of); });
      sum.appendChild(b);
    }
    d.appendChild(sum);
    d.addEventListener("toggle", () => {  // the trace and its math are drawn when opened
      if (!d.open || d.dataset.drawn) return;
      d.dataset.drawn = "1";
      const body = el("div", "body");
      addSections(body, s.text, "response", s.formatted ? "teacher's response" : "response");
      if (s.formatted) addSections(body, s.formatted, "rewritten", "rewritten (trained on)");
      d.appendChild(body);
      math(body);
    });
    return d;
  }
  function card(p) {
    const a = el("article", "problem");
    a.dataset.id = p.id;
    const h = el("header");
    h.appendChild(el("span", "pid", p.id));
    h.appendChild(el("span", "src", p.source));
    if (p.fate) h.appendChild(el("span", "badge " + p.fate, p.fate));
    const right = p.samples.filter((s) => s.verdict === "correct").length;
    h.appendChild(el("span", null, right + " of " + p.samples.length + " correct"));
    a.appendChild(h);
    a.appendChild(el("div", "question", p.question));
    if (p.gold !== null && p.gold !== undefined) a.appendChild(el("div", "gold", "gold answer: " + tex(p.gold)));
    for (const s of p.samples) a.appendChild(sample(s));
    return a;
  }

  async function render() {
    const mine = ++generation, view = idx.views[state.view], want = (state.page + 1) * PAGE + 1;
    document.body.dataset.ready = "0";
    const found = [];
    let scanned = 0, total = 0;
    for (let n = 0; n < view.chunks.length; n++) {
      if (!chunkMayMatch(view.chunks[n])) continue;
      total++;
      if (found.length >= want) continue;
      const rows = await load(view, n);
      if (mine !== generation) return;  // a newer filter took over
      scanned++;
      for (const p of rows) if (matches(p)) found.push(p);
    }
    const list = $("list");
    list.replaceChildren();
    const shown = found.slice(state.page * PAGE, (state.page + 1) * PAGE);
    for (const p of shown) list.appendChild(card(p));
    math(list);
    const all = scanned === total;
    const first = state.page * PAGE + 1, last = state.page * PAGE + shown.length;
    $("status").textContent = shown.length
      ? `problems ${first}-${last} of ${all ? found.length : "at least " + found.length} `
        + `(${view.problems} in view; ${scanned} of ${view.chunks.length} chunks read)`
      : "no problem matches";
    $("prev").disabled = state.page === 0;
    $("next").disabled = found.length <= (state.page + 1) * PAGE;
    document.body.dataset.ready = "1";
  }

  function options(id, values, counts) {
    const s = $(id);
    s.replaceChildren(el("option", null, "all"));
    s.firstChild.value = "";
    for (const v of values) {
      const o = el("option", null, counts ? `${v} (${counts[v]})` : v);
      o.value = v;
      s.appendChild(o);
    }
  }
  function fillFacets() {
    const view = idx.views[state.view], tally = {source: {}, verdict: {}, reason: {}, fate: {}};
    for (const c of view.chunks) {
      tally.source[c.source] = (tally.source[c.source] || 0) + c.n;
      for (const k of ["verdict", "reason", "fate"]) {
        for (const [v, n] of Object.entries(c[k] || {})) tally[k][v] = (tally[k][v] || 0) + n;
      }
    }
    for (const k of Object.keys(tally)) { options(k, Object.keys(tally[k]).sort(), tally[k]); state[k] = ""; }
  }
  function set(key, value) {
    state[key] = value;
    state.page = 0;
    render();
  }
  function init() {
    $("view").replaceChildren(...idx.views.map((v, i) => {
      const o = el("option", null, `${v.key} (${v.problems})`);
      o.value = i;
      return o;
    }));
    $("view").addEventListener("change", (e) => { state.view = +e.target.value; fillFacets(); set("page", 0); });
    for (const k of ["source", "verdict", "reason", "fate"]) {
      $(k).addEventListener("change", (e) => set(k, e.target.value));
    }
    let timer = null;
    $("q").addEventListener("input", (e) => {
      clearTimeout(timer);
      timer = setTimeout(() => set("q", e.target.value.trim()), 250);
    });
    $("prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); render(); });
    $("next").addEventListener("click", () => { state.page += 1; render(); });
    const want = new URLSearchParams(location.hash.slice(1));
    const v = idx.views.findIndex((x) => x.key === want.get("view"));
    if (v >= 0) { state.view = v; $("view").value = String(v); }
    fillFacets();
    if (want.get("q")) { state.q = want.get("q"); $("q").value = state.q; }
    render();
  }
  function index(data) {
    idx = data;
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
    else init();
  }
  function chunk(key, n, rows) { (loaded[key] = loaded[key] || {})[n] = rows; }
  return {index, chunk, state, render};
})();
