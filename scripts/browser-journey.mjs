// The main journey in a real browser (Debian's headless Chromium driven by playwright-core):
// sign in → overview → school list filtered → a school page → its cluster → the map →
// governance health → an import with a bad row → sign out; then search and sort with
// JavaScript off.
// Saves a full-page screenshot of each step to artifacts/screenshots/ and fails on any
// missing text, console error, CSP violation or failed request.
import { chromium } from 'playwright-core';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';

const base = process.env.CLUSTERWISE_URL;
const out = process.env.SCREENSHOT_DIR || 'artifacts/screenshots';
if (!base) throw new Error('CLUSTERWISE_URL is not set');
mkdirSync(out, { recursive: true });
// Start from an empty folder so no screenshot from an earlier run is mistaken for this one's.
for (const f of readdirSync(out)) if (f.endsWith('.png')) rmSync(`${out}/${f}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  let refusedSignIn = false; // set while a wrong password is tried on purpose
  page.on('console', (m) => {
    if (m.type() === 'error' && !(refusedSignIn && m.text().includes('status of 401'))) problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  // A refused sign-in is a 401 by design; any other 4xx or 5xx is a fault.
  page.on('response', (r) => {
    if (r.status() >= 400 && !(refusedSignIn && r.status() === 401)) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });

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
  await page.fill('#password', 'not the password');
  refusedSignIn = true;
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign in")')]);
  refusedSignIn = false;
  await shot('sign-in-error', ['There is a problem', 'The email address or password is not right']);
  if (!(await page.title()).startsWith('Error: ')) throw new Error('the error page title does not start "Error: "');
  await page.fill('#email', 'officer@demo.clusterwise.test');
  await page.fill('#password', 'clusterwise-demo');
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign in")')]);
  await shot('overview', ['Norfolk: schools and clusters', '454', 'This cluster map is illustrative', 'By district']);
  // Chromium keeps a Secure cookie from http://127.0.0.1 (loopback counts as a secure context),
  // so the demo runs with Secure cookies on.
  const session = (await page.context().cookies()).find((c) => c.name === 'clusterwise_session');
  if (!session || !session.secure || !session.httpOnly || session.sameSite !== 'Lax') {
    throw new Error(`the session cookie is not Secure, HttpOnly and SameSite=Lax: ${JSON.stringify(session)}`);
  }
  if (!(await page.evaluate(() => document.body.classList.contains('js-enabled')))) {
    throw new Error('js-enabled.js did not run');
  }

  await page.click('a.govuk-service-navigation__link:has-text("Schools")');
  await page.selectOption('#phase', 'secondary');
  await page.selectOption('#district', 'Norwich');
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Apply filters")')]);
  await shot('schools-secondary-norwich', ['schools match', 'Secondary']);
  const rows = await page.locator('tbody tr').count();
  if (rows < 1) throw new Error('the filtered school list is empty');

  await Promise.all([page.waitForNavigation(), page.locator('tbody tr th a').first().click()]);
  await shot('school', ['URN', 'LAESTAB', 'Pupils on roll by census', 'Host (fund-holder)', 'easting']);

  await Promise.all([page.waitForNavigation(), page.locator('main a[href^="/clusters/"]').first().click()]);
  await shot('cluster', ['Members', 'Total', 'This cluster map is illustrative', 'Admin funding (worked example)', 'per pupil (46 %)']);

  await page.click('a.govuk-service-navigation__link:has-text("Map")');
  await shot('map', ['Map of schools by cluster', 'Clusters on the map', '10 km']);
  const shapes = await page.locator('svg.cw-map circle, svg.cw-map rect').count();
  if (shapes < 400) throw new Error(`the map draws ${shapes} schools, expected about 454`);

  await page.click('a.govuk-service-navigation__link:has-text("Governance")');
  await shot('governance', ['Governance of each cluster', 'At risk', 'synthetic', 'Download as CSV']);

  // An import with one bad row: nothing is written and the row is named.
  await page.click('a.govuk-service-navigation__link:has-text("Import")');
  await page.check('#kind-census');
  await page.fill('#census_date', '2024-01-18');
  await page.setInputFiles('#file', {
    name: 'census-with-a-bad-row.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('urn,la_code,school_name,phase_type_grouping,pupils_headcount\n'
      + '135904,926,City Academy Norwich,State-funded secondary,700\n'
      + '135650,926,The Open Academy,State-funded secondary,lots\n'),
  });
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Import")')]);
  await page.waitForSelector('text=Nothing was written', { timeout: 20000 });
  await shot('import-report', ['Nothing was written', 'Rejected rows', 'pupils_headcount', 'lots']);

  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign out")')]);
  await shot('signed-out', ['Sign in to Clusterwise']);
  await page.goto(`${base}/schools`);
  if (!page.url().endsWith('/sign-in')) throw new Error(`signed out, /schools showed ${page.url()}`);

  // The same flow with JavaScript off: every core page works without it.
  const noJs = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
  const plain = await noJs.newPage();
  await plain.goto(`${base}/sign-in`);
  await plain.fill('#email', 'officer@demo.clusterwise.test');
  await plain.fill('#password', 'clusterwise-demo');
  await Promise.all([plain.waitForNavigation(), plain.click('button:has-text("Sign in")')]);
  await Promise.all([plain.waitForNavigation(), plain.click('a.govuk-service-navigation__link:has-text("Schools")')]);
  await plain.fill('#q', 'NR2');
  await Promise.all([plain.waitForNavigation(), plain.click('button:has-text("Apply filters")')]);
  const found = await plain.textContent('main');
  if (!found.includes('match')) throw new Error('without JavaScript the school search did not run');
  await Promise.all([plain.waitForNavigation(), plain.locator('a:has-text("Pupils")').first().click()]);
  if (!plain.url().includes('sort=pupils')) throw new Error(`sorting without JavaScript went to ${plain.url()}`);
  step += 1;
  await plain.screenshot({ path: `${out}/${String(step).padStart(2, '0')}-no-javascript-search.png`, fullPage: true });
  console.log(`ok ${step} no-javascript-search`);
  await noJs.close();

  if (problems.length) throw new Error(`problems in the browser:\n${problems.join('\n')}`);
  console.log(`browser journey passed: ${step} pages`);
} finally {
  await browser.close();
}
