// Drives Debian's Chromium with playwright-core (no browser download) for the .NET tests: one JSON command
// per line on standard input, one JSON answer per line on standard output ({"seq", "ok", "value"|"error"}).
// The tests keep the logic; this only does what they ask, on pages that each have a browser context of
// their own (their own storage, as two phones would).
// usage: node browser_driver.js LIFETIME_SECONDS
const { chromium } = require('playwright-core');
const readline = require('readline');

const lifetimeMs = (+process.argv[2] || 120) * 1000;
const pages = new Map();   // name -> { context, page, errors: [] }
let browser;

function reply(seq, ok, payload) {
  process.stdout.write(JSON.stringify(ok ? { seq, ok, value: payload ?? null } : { seq, ok, error: String(payload) }) + '\n');
}

function pageOf(name) {
  const entry = pages.get(name);
  if (!entry) throw new Error(`no page named ${name}`);
  return entry;
}

// Playwright's waitForFunction compiles its predicate inside the page, which the web client's Content
// Security Policy (no 'unsafe-eval') forbids, as it should; page.evaluate goes through the DevTools protocol,
// which the policy does not cover. So the wait is ours: evaluate every 25 ms until true, at most timeoutMs.
async function waitFor(page, expr, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await page.evaluate(expr)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expr}`);
    await new Promise(r => setTimeout(r, 25));
  }
}

const ops = {
  async open({ page: name, url, width = 1024, height = 768 }) {
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    const entry = { context, page, errors: [] };
    page.on('pageerror', e => entry.errors.push(e.message));
    page.on('console', m => { if (m.type() === 'error') entry.errors.push(`${m.text()} (${m.location().url})`); });
    pages.set(name, entry);
    await page.goto(url, { timeout: 10000 });
  },
  // Typing goes through the keyboard, as a person (or a screen reader user) would: focus, keys, Enter.
  async type({ page: name, selector, text, enter = true }) {
    const { page } = pageOf(name);
    await page.focus(selector);
    await page.keyboard.insertText(text);
    if (enter) await page.keyboard.press('Enter');
  },
  async waitText({ page: name, selector, text, timeoutMs = 10000 }) {
    await waitFor(pageOf(name).page, `(e => !!e && e.textContent.includes(${JSON.stringify(text)}))(document.querySelector(${JSON.stringify(selector)}))`, timeoutMs);
  },
  async waitEval({ page: name, expr, timeoutMs = 10000 }) {
    await waitFor(pageOf(name).page, expr, timeoutMs);
  },
  async eval({ page: name, expr }) {
    return await pageOf(name).page.evaluate(expr);
  },
  async screenshot({ page: name, path }) {
    await pageOf(name).page.screenshot({ path });   // the viewport, as the screen shows it
  },
  async errors({ page: name }) {
    return pageOf(name).errors;
  },
  async close({ page: name }) {
    await pageOf(name).context.close();
    pages.delete(name);
  },
};

(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true, timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  const stop = async code => { try { await browser.close(); } finally { process.exit(code); } };
  setTimeout(() => stop(3), lifetimeMs).unref();
  process.stdout.write(JSON.stringify({ seq: 0, ok: true, value: 'ready ' + browser.version() }) + '\n');
  const lines = readline.createInterface({ input: process.stdin });
  // One command at a time, in order: each answer comes before the next command starts.
  let chain = Promise.resolve();
  lines.on('line', line => {
    chain = chain.then(async () => {
      let command;
      try { command = JSON.parse(line); } catch (e) { reply(-1, false, 'not JSON: ' + line); return; }
      const op = ops[command.op];
      if (!op) { reply(command.seq, false, 'unknown op ' + command.op); return; }
      try { reply(command.seq, true, await op(command)); } catch (e) { reply(command.seq, false, e.message); }
    });
  });
  lines.on('close', () => chain.then(() => stop(0)));
})().catch(e => { console.error(e); process.exit(1); });
