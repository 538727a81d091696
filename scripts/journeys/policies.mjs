// The funding journey: an officer edits a policy (a mistake is refused naming its field and
// nothing is saved; a preview; a new version) → compares two versions in a cluster with the
// fairness summary → a school's statement (and how it prints) → the governing-body report; then
// the clerk writes the term's narrative and a headteacher reads their own statement and report.
import { journey } from './lib.mjs';

await journey('policies', async (j) => {
  const page = await j.newPage();
  await j.signIn(page, 'officer');
  await j.nav(page, 'Funding');
  await j.shot(page, 'funding', ['Funding', 'Norfolk cluster funding (illustrative)', 'Alternative: all by pupils', 'In force']);

  await j.clickAndWait(page, 'a:has-text("Norfolk cluster funding (illustrative)")');
  await j.shot(page, 'policy', ['Funding policy', 'What it gives each cluster', 'The policy\'s text', 'Versions']);

  // A mistake: a share over 100 %. The field is named and nothing is saved.
  await j.clickAndWait(page, 'a:has-text("Edit this policy")');
  const text = await page.inputValue('#body');
  if (!text.includes('share = "54"')) throw new Error('the policy text lacks the 54 % flat share');
  await page.fill('#body', text.replace('share = "54"', 'share = "154"'));
  await j.expectStatus([422], () => j.clickAndWait(page, 'button:has-text("Save as a new version")'));
  await j.shot(page, 'edit-refused', ['There is a problem: nothing was saved', 'component 1 ("flat share") share: 154% must be 0 to 100', 'How a policy is written']);
  if (!(await page.title()).startsWith('Error: ')) throw new Error('the refused edit\'s title does not start "Error: "');

  // Half flat, half by pupils: preview, then save as version 2.
  await page.fill('#body', text.replace('share = "54"', 'share = "50"').replace('share = "46"', 'share = "50"'));
  await page.fill('#note', 'Admin: half flat, half by pupils');
  await j.clickAndWait(page, 'button:has-text("Preview the allocation")');
  await j.shot(page, 'edit-preview', ['Preview: what this draft gives each cluster (not saved)', 'All clusters']);
  await j.clickAndWait(page, 'button:has-text("Save as a new version")');
  await j.shot(page, 'policy-version-2', ['(the latest)', 'Admin: half flat, half by pupils', 'Version 1']);

  // Every cluster page shows its allocation from the policy in force, school by school.
  await j.nav(page, 'Clusters');
  await j.clickAndWait(page, 'main table tbody a[href^="/clusters/"]');
  await j.shot(page, 'cluster-funding', ['Funding', 'Budget by stream and phase', 'Each school\'s allocation, with how it is worked out',
    'Gifted and talented', 'adds up to the budget of']);

  // Compare version 1 (in force) with version 2 and the alternative in a cluster.
  await page.goto(`${j.base}/funding/compare`);
  const clusters = await page.locator('#cluster option').allTextContents();
  const cluster = clusters.find((c) => c && c !== 'Choose a cluster');
  await page.selectOption('#cluster', { label: cluster });
  await page.selectOption('#a', { label: 'Norfolk cluster funding (illustrative), version 1' });
  await page.selectOption('#b', { label: 'Norfolk cluster funding (illustrative), version 2' });
  await page.selectOption('#c', { label: 'Alternative: all by pupils (illustrative), version 1' });
  await j.clickAndWait(page, 'button:has-text("Compare")');
  await j.shot(page, 'compare', ['Compare scenarios: ', 'Fairness', 'Lowest per pupil', 'Gini of per-pupil amounts',
    'Per pupil eligible for free school meals', 'Primary: share of the money', 'Secondary: share of the money', 'Difference: ']);

  // A school's statement from the comparison, and how it prints.
  await j.clickAndWait(page, 'table.cw-compare tbody tr th a');
  await j.shot(page, 'statement', ['Funding statement', 'Your school\'s allocation', 'Cluster admin', 'Gifted and talented', 'How it is worked out', 'Download as CSV']);
  const csvHref = await page.getAttribute('a:has-text("Download as CSV")', 'href');
  const csv = await page.request.get(`${j.base}${csvHref}`);
  const csvText = await csv.text();
  if (!csvText.startsWith('cluster,urn,stream,phase,component,amount_pence\n')) throw new Error(`statement CSV: ${csvText.slice(0, 80)}`);
  await page.emulateMedia({ media: 'print' });
  await j.shot(page, 'statement-print', ['Your school\'s allocation']);
  if (await page.locator('.govuk-service-navigation').isVisible()) throw new Error('the navigation prints');
  await page.emulateMedia({ media: 'screen' });

  await j.clickAndWait(page, 'a:has-text("This term\'s governing-body report")');
  await j.shot(page, 'report', ['Report to the governing body', '1. How big the budget is', '2. How it was spent',
    "As recorded in the cluster's ledger", 'Claimed, due', '3. What it changed']);

  // The clerk writes this term's narrative for the cluster.
  const clerk = await j.newPage({});
  await j.signIn(clerk, 'clerk');
  await j.nav(clerk, 'Funding');
  await j.clickAndWait(clerk, 'a:has-text("narrative")');
  await clerk.fill('#body', 'Year 6 masterclasses ran with the high school: 38 pupils from six primaries took part.\nReading ages of the pupils mentored rose by six months on average.');
  await j.clickAndWait(clerk, 'button:has-text("Save")');
  await j.shot(clerk, 'narrative-saved', ['Saved. It is in every member school', 'What the cluster\'s money changed']);

  // The head reads their own school's statement and this term's report, with the narrative.
  const head = await j.newPage({});
  await j.signIn(head, 'head');
  await j.nav(head, 'Funding');
  await j.shot(head, 'head-funding', ['Your school', 'Reports for your governing body', 'Written by the cluster\'s clerk']);
  await j.clickAndWait(head, 'a:has-text("Your school\'s funding statement")');
  await j.shot(head, 'head-statement', ['Your school\'s allocation', 'Cluster admin']);
  await head.goBack();
  await j.clickAndWait(head, 'table a:has-text("Read the")');
  await j.shot(head, 'head-report', ['Year 6 masterclasses', 'How big the budget is', 'Download this report']);
  const fileHref = await head.getAttribute('a:has-text("Download this report")', 'href');
  const file = await head.request.get(`${j.base}${fileHref}`);
  if (!(file.headers()['content-disposition'] || '').includes('attachment')) throw new Error('the report is not a download');
  if (!(await file.text()).includes('3. What it changed')) throw new Error('the report file lacks its sections');
  // The head's cluster page shows the cluster's budget and only their own school's lines.
  await head.goto(`${j.base}/funding`);
});
