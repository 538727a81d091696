// Shared harness for the browser journeys (Debian's headless Chromium driven by playwright-core).
// Each journey file calls `journey(name, async (j) => { ... })`. The harness launches Chromium,
// watches every page for console errors, page errors, failed requests and unexpected 4xx/5xx
// responses, saves a full-page screenshot per step to artifacts/screenshots/<name>/, and fails
// the journey on any missing text or any problem seen.
import { chromium } from 'playwright-core';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';

export const PASSWORD = 'clusterwise-demo';

export async function journey(name, body) {
  const base = process.env.CLUSTERWISE_URL;
  if (!base) throw new Error('CLUSTERWISE_URL is not set');
  const out = `${process.env.SCREENSHOT_DIR || 'artifacts/screenshots'}/${name}`;
  mkdirSync(out, { recursive: true });
  // Start from an empty folder so no screenshot from an earlier run is mistaken for this one's.
  for (const f of readdirSync(out)) if (f.endsWith('.png')) rmSync(`${out}/${f}`);

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
  const problems = [];
  // Statuses a step expects on purpose (e.g. 401 for a refused sign-in); set with `expectStatus`.
  let expected = new Set();
  let step = 0;
  const watch = (page) => {
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const text = m.text();
      if ([...expected].some((s) => text.includes(`status of ${s}`))) return;
      problems.push(`console: ${text}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => {
      // The browser's own favicon fetch is cancelled when a step navigates on before it ends.
      if (r.url().endsWith('/assets/favicon.svg') && r.failure()?.errorText === 'net::ERR_ABORTED') return;
      problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400 && !expected.has(r.status())) problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    return page;
  };
  const j = {
    base,
    browser,
    /** A new page (own context when `options` are given, e.g. `{ javaScriptEnabled: false }`). */
    async newPage(options) {
      const viewport = { width: 1280, height: 900 };
      if (options) {
        const context = await browser.newContext({ viewport, ...options });
        return watch(await context.newPage());
      }
      return watch(await browser.newPage({ viewport }));
    },
    /** Runs `fn` while the given HTTP statuses count as expected rather than as problems. */
    async expectStatus(statuses, fn) {
      expected = new Set(statuses);
      try {
        return await fn();
      } finally {
        expected = new Set();
      }
    },
    /** Checks the page shows every text in `mustContain`, then saves a numbered screenshot. */
    async shot(page, stepName, mustContain = []) {
      const body = await page.textContent('body');
      for (const text of mustContain) {
        if (!body.includes(text)) throw new Error(`${name} / ${stepName}: page does not show ${JSON.stringify(text)}`);
      }
      step += 1;
      const file = `${out}/${String(step).padStart(2, '0')}-${stepName}.png`;
      await page.screenshot({ path: file, fullPage: true });
      console.log(`ok ${name} ${step} ${stepName} -> ${file}`);
    },
    /** Signs in as a demo account (`officer`, `clerk`, `head`, `governor`, `mentor`, ...). */
    async signIn(page, who) {
      await page.goto(`${base}/sign-in`);
      await page.fill('#email', `${who}@demo.clusterwise.test`);
      await page.fill('#password', PASSWORD);
      await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign in")')]);
      if (page.url().endsWith('/sign-in')) throw new Error(`${name}: could not sign in as ${who}`);
    },
    /** Clicks and waits for the navigation it starts. */
    async clickAndWait(page, selector) {
      await Promise.all([page.waitForNavigation(), page.click(selector)]);
    },
    /** Follows a link in the service navigation. */
    async nav(page, label) {
      await Promise.all([page.waitForNavigation(), page.click(`a.govuk-service-navigation__link:has-text("${label}")`)]);
    },
  };
  try {
    await body(j);
    if (problems.length) throw new Error(`problems in the browser:\n${problems.join('\n')}`);
    console.log(`journey ${name} passed: ${step} steps`);
  } finally {
    await browser.close();
  }
}
