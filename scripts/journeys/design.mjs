// The boundary planner journey: sign in as the officer → the map's link to the demo's
// illustrative redraw → what each school would get under it → Design → a bad form named by field → run a quick scenario → wait for it
// → its map → compare it with the current map → adopt it → the clusters page shows the adopted
// map. Then a run with JavaScript off, watched through the page's own refresh.
import { journey } from './lib.mjs';

const mapShapes = async (page, selector = 'svg.cw-map') => page.locator(`${selector} path`).count();

await journey('design', async (j) => {
  const page = await j.newPage();
  await j.signIn(page, 'officer');

  await j.nav(page, 'Map');
  await j.clickAndWait(page, 'a:has-text("See the illustrative redraw scenario")');
  await j.shot(page, 'illustrative-scenario', ['This scenario is illustrative', 'Proposed clusters', 'Principles broken', 'Travel to the hub', 'The objective and its parts']);
  if ((await mapShapes(page)) < 300) throw new Error('the illustrative scenario draws too few regions');

  // What every school would get under the policy in force if this map were adopted.
  await j.clickAndWait(page, 'a:has-text("What each school would get under this map")');
  await j.shot(page, 'funding-under-the-map', ['Funding under a different cluster map', "Today's map", 'This scenario', 'Every cluster\'s budget', 'those losing most first', 'Gini']);
  await page.goBack();

  await j.nav(page, 'Design');
  await j.shot(page, 'design-list', ['Cluster design', 'Scenarios', 'Norfolk redraw', 'Run a new scenario']);

  // A form with mistakes: every one named against its field, and what was typed kept.
  await page.fill('#name', '');
  await page.fill('#max_pupils', '2,000');
  await j.expectStatus([422], () => j.clickAndWait(page, 'button:has-text("Run the planner")'));
  await j.shot(page, 'design-form-errors', ['There is a problem', 'Enter a name for the scenario', 'The largest cluster must be at least the smallest (2,500)']);

  await page.fill('#name', 'Journey redraw, seed 2');
  await page.fill('#max_pupils', '5000');
  await page.click('summary:has-text("Search settings")');
  await page.fill('#seed', '2');
  await page.fill('#max_iterations', '200000');
  await j.clickAndWait(page, 'button:has-text("Run the planner")');
  await page.waitForSelector('h1 strong.govuk-tag:has-text("Map found")', { timeout: 60000 });
  await j.shot(page, 'scenario', ['Journey redraw, seed 2', 'Map found', 'Proposed clusters', 'Objective', 'Adopt this scenario']);
  const regions = await mapShapes(page);
  if (regions < 300) throw new Error(`the scenario map draws ${regions} shapes, expected a region per school site`);
  const scenarioUrl = page.url();

  await j.clickAndWait(page, 'a:has-text("Compare with the current map")');
  await j.shot(page, 'compare', ['Current map', 'Journey redraw, seed 2', 'Hard constraints broken', 'Schools that move', 'Principles and constraints, side by side']);
  if ((await page.locator('svg.cw-map').count()) !== 2) throw new Error('the comparison does not show two maps');

  await page.goto(scenarioUrl);
  await j.clickAndWait(page, 'button:has-text("Adopt this scenario")');
  await j.shot(page, 'adopted', ['Adopted', 'the new clusters start on', 'See the clusters']);

  await j.clickAndWait(page, 'a:has-text("See the clusters")');
  await j.shot(page, 'clusters-after-adoption', ['Clusters', 'cluster']);
  const body = await page.textContent('main');
  const count = Number((body.match(/(\d+) clusters\./) || [])[1]);
  if (!(count >= 22 && count <= 32)) throw new Error(`after adopting, the clusters page lists ${count} clusters`);
  if (await page.locator('text=This cluster map is illustrative').count()) {
    throw new Error('the adopted map is still called illustrative');
  }

  // JavaScript off: a run with a time limit only, its progress page refreshing itself.
  const plain = await j.newPage({ javaScriptEnabled: false });
  await j.signIn(plain, 'officer');
  await j.nav(plain, 'Design');
  await plain.fill('#name', 'Three seconds, no JavaScript');
  await plain.click('summary:has-text("Search settings")');
  await plain.fill('#time_limit', '3');
  await j.clickAndWait(plain, 'button:has-text("Run the planner")');
  if (await plain.locator('progress').count()) {
    await j.shot(plain, 'running-without-javascript', ['Running', 'Search progress', 'This page refreshes every second']);
  }
  await plain.waitForSelector('h1 strong.govuk-tag:has-text("Map found")', { timeout: 60000 });
  await j.shot(plain, 'finished-without-javascript', ['Three seconds, no JavaScript', 'Map found']);
});
