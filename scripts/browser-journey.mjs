// The main journey in a real browser (Debian's headless Chromium driven by playwright-core):
// sign in → overview → school list filtered → a school page → its cluster → the map →
// governance health.
// Saves a full-page screenshot of each step to artifacts/screenshots/ and fails on any
// missing text, console error, CSP violation or failed request.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const base = process.env.CLUSTERWISE_URL;
const out = process.env.SCREENSHOT_DIR || 'artifacts/screenshots';
if (!base) throw new Error('CLUSTERWISE_URL is not set');
mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });

  let step = 0;
  const shot = async (name, mustContain) => {
    for (const text of mustContain) {
      const body = await page.textContent('body');
      if (!body.includes(text)) throw new Error(`${name}: page does not show ${JSON.stringify(text)}`);
    }
    step += 1;
    const file = `${out}/${String(step).padStart(2, '0')}-${name}.png`;
    await page.screenshot({ path: file, fullPage: true });
    console.log(`ok ${step} ${name} -> ${file}`);
  };

  await page.goto(`${base}/`);
  await shot('sign-in', ['Sign in to Clusterwise', 'This is the demo']);
  await page.fill('#email', 'officer@demo.clusterwise.test');
  await page.fill('#password', 'clusterwise-demo');
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign in")')]);
  await shot('overview', ['Norfolk: schools and clusters', '454', 'This cluster map is illustrative', 'By district']);

  await page.click('a.govuk-service-navigation__link:has-text("Schools")');
  await page.selectOption('#phase', 'secondary');
  await page.selectOption('#district', 'Norwich');
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Apply filters")')]);
  await shot('schools-secondary-norwich', ['schools match', 'Secondary']);
  const rows = await page.locator('tbody tr').count();
  if (rows < 1) throw new Error('the filtered school list is empty');

  await Promise.all([page.waitForNavigation(), page.locator('tbody tr td a').first().click()]);
  await shot('school', ['URN', 'Pupils on roll by census', 'Host (fund-holder)']);

  await Promise.all([page.waitForNavigation(), page.locator('a[href^="/clusters/"]').first().click()]);
  await shot('cluster', ['Members', 'Total', 'This cluster map is illustrative', 'Admin funding (worked example)', 'per pupil (46 %)']);

  await page.click('a.govuk-service-navigation__link:has-text("Map")');
  await shot('map', ['Map of schools by cluster', 'Clusters on the map']);
  const circles = await page.locator('svg.cw-map circle, svg.cw-map rect').count();
  if (circles < 400) throw new Error(`the map draws ${circles} schools, expected about 454`);

  await page.click('a.govuk-service-navigation__link:has-text("Governance")');
  await shot('governance', ['Governance of each cluster', 'At risk', 'synthetic', 'Download as CSV']);

  if (problems.length) throw new Error(`problems in the browser:\n${problems.join('\n')}`);
  console.log(`browser journey passed: ${step} pages`);
} finally {
  await browser.close();
}
