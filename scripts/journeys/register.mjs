// The register journey: sign in → overview → school list filtered → a school page → its
// cluster → the map → governance health → an import with a bad row → sign out; then search and
// sort with JavaScript off.
import { journey } from './lib.mjs';

await journey('register', async (j) => {
  const page = await j.newPage();
  await page.goto(`${j.base}/`);
  await j.shot(page, 'sign-in', ['Sign in to Clusterwise', 'This is the demo']);
  await page.fill('#email', 'officer@demo.clusterwise.test');
  await page.fill('#password', 'not the password');
  await j.expectStatus([401], () => j.clickAndWait(page, 'button:has-text("Sign in")'));
  await j.shot(page, 'sign-in-error', ['There is a problem', 'The email address or password is not right']);
  if (!(await page.title()).startsWith('Error: ')) throw new Error('the error page title does not start "Error: "');
  await j.signIn(page, 'officer');
  await j.shot(page, 'overview', ['Norfolk: schools and clusters', '454', 'This cluster map is illustrative', 'By district']);
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
  await j.clickAndWait(page, 'button:has-text("Apply filters")');
  await j.shot(page, 'schools-secondary-norwich', ['schools match', 'Secondary']);
  if ((await page.locator('tbody tr').count()) < 1) throw new Error('the filtered school list is empty');

  await Promise.all([page.waitForNavigation(), page.locator('tbody tr th a').first().click()]);
  await j.shot(page, 'school', ['URN', 'LAESTAB', 'Pupils on roll by census', 'Host (fund-holder)', 'easting']);

  await Promise.all([page.waitForNavigation(), page.locator('main a[href^="/clusters/"]').first().click()]);
  await j.shot(page, 'cluster', ['Members', 'Total', 'This cluster map is illustrative', 'Funding', 'Budget by stream and phase', 'Cluster admin']);

  await page.click('a.govuk-service-navigation__link:has-text("Map")');
  await j.shot(page, 'map', ['Map of schools by cluster', 'Clusters on the map', '10 km']);
  const shapes = await page.locator('svg.cw-map circle, svg.cw-map rect').count();
  if (shapes < 400) throw new Error(`the map draws ${shapes} schools, expected about 454`);

  await j.nav(page, 'Governance');
  await j.shot(page, 'governance', ['Governance of each cluster', 'At risk', 'synthetic', 'Download as CSV']);

  // An import with one bad row: nothing is written and the row is named.
  await j.nav(page, 'Import');
  await page.check('#kind-census');
  await page.fill('#census_date', '2024-01-18');
  await page.setInputFiles('#file', {
    name: 'census-with-a-bad-row.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('urn,la_code,school_name,phase_type_grouping,pupils_headcount\n'
      + '135904,926,City Academy Norwich,State-funded secondary,700\n'
      + '135650,926,The Open Academy,State-funded secondary,lots\n'),
  });
  await j.clickAndWait(page, 'button:has-text("Import")');
  await page.waitForSelector('text=Nothing was written', { timeout: 20000 });
  await j.shot(page, 'import-report', ['Nothing was written', 'Rejected rows', 'pupils_headcount', 'lots']);

  await j.clickAndWait(page, 'button:has-text("Sign out")');
  await j.shot(page, 'signed-out', ['Sign in to Clusterwise']);
  await page.goto(`${j.base}/schools`);
  if (!page.url().endsWith('/sign-in')) throw new Error(`signed out, /schools showed ${page.url()}`);

  // The same flow with JavaScript off: every core page works without it.
  const plain = await j.newPage({ javaScriptEnabled: false });
  await j.signIn(plain, 'officer');
  await j.nav(plain, 'Schools');
  await plain.fill('#q', 'NR2');
  await j.clickAndWait(plain, 'button:has-text("Apply filters")');
  if (!(await plain.textContent('main')).includes('match')) throw new Error('without JavaScript the school search did not run');
  await Promise.all([plain.waitForNavigation(), plain.locator('a:has-text("Pupils")').first().click()]);
  if (!plain.url().includes('sort=pupils')) throw new Error(`sorting without JavaScript went to ${plain.url()}`);
  await j.shot(plain, 'no-javascript-search', ['match']);
});
