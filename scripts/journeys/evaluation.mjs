// The evaluation journey: the clerk opens the cluster's plan → asks the target helper → adds a
// target (a bad one first) → the officer imports metrics (a file with a bad row is refused whole,
// then a good one) → the clerk opens this round's FADE report, pre-filled, writes the evaluation
// and records the cluster's judgement → the adviser records the authority's → the officer reads
// the authority summary and the snapshot; a head answers the questionnaire; the report reads
// with JavaScript off.
import { journey } from './lib.mjs';

const now = new Date();
const start = now.getUTCMonth() >= 8 ? now.getUTCFullYear() : now.getUTCFullYear() - 1;
const code = (y) => `${y}${String((y + 1) % 100).padStart(2, '0')}`;
const lastYear = code(start - 1);

await journey('evaluation', async (j) => {
  // Sign out and let the sign-in page finish loading (its favicon too) before the next sign-in.
  const signOut = async (page) => {
    await j.clickAndWait(page, 'button:has-text("Sign out")');
    await page.waitForLoadState('networkidle');
  };
  // Go to a page once the current one has finished loading (so no request of it is cut off).
  const go = async (page, url) => {
    await page.waitForLoadState('networkidle');
    await page.goto(url);
  };
  const page = await j.newPage();
  await j.signIn(page, 'clerk');
  await j.nav(page, 'Evaluation');
  await j.shot(page, 'hub', ['Plans, monitoring and evaluation', 'improvement plan', 'FADE reports', 'snapshot']);

  await j.clickAndWait(page, 'a:has-text("improvement plan")');
  await j.shot(page, 'plan', ['Improvement plan', 'Priorities', 'Close the gap for disadvantaged pupils', 'Targets', 'synthetic', 'Effect so far']);
  const planUrl = page.url();
  if (!(await page.locator('.govuk-warning-text').count())) throw new Error('no redirect prompt on the plan');

  // The target helper: attendance for the whole cluster, with the weak +1 figure beside it.
  await page.selectOption('#helper-measure', 'attendance');
  await page.selectOption('#helper-group', 'all');
  await j.clickAndWait(page, 'button:has-text("Suggest a target")');
  await j.shot(page, 'target-helper', ['From prior attainment and trend', 'Weak method, for comparison only: last year + 1 point', 'Not recommended']);

  // A target below its baseline for attendance is refused, naming the field; then a good one.
  await page.fill('#target-target', '1');
  await j.expectStatus([422], () => j.clickAndWait(page, 'button:has-text("Add target")'));
  await j.shot(page, 'target-error', ['There is a problem', 'The target must be above the baseline']);
  const baseline = Number(await page.inputValue('#target-baseline'));
  await page.fill('#target-target', String((baseline + 0.8).toFixed(1)));
  await j.clickAndWait(page, 'button:has-text("Add target")');
  await j.shot(page, 'target-added', ['Attendance: % of sessions attended', 'Whole cluster']);
  await signOut(page);

  // The officer imports metrics: one bad row means nothing is written, and the row is named.
  await j.signIn(page, 'officer');
  await go(page, `${j.base}/metrics/import`);
  await j.shot(page, 'metrics-import', ['Import metrics', 'time_period,school_urn,measure,group,value', 'low']);
  const header = 'time_period,school_urn,measure,group,value\n';
  await page.setInputFiles('#file', {
    name: 'wellbeing-with-a-bad-row.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from(`${header}${lastYear},136515,wellbeing,all,3.9\n${lastYear},136515,wellbeing,fsm,\n${lastYear},136515,wellbeing,girls,7\n`),
  });
  await j.expectStatus([422], () => j.clickAndWait(page, 'button:has-text("Import metrics")'));
  await j.shot(page, 'metrics-refused', ['Nothing was written', 'Rejected rows', 'a value is required', 'must be on the scale from 1 to 5']);
  await page.setInputFiles('#file', {
    name: 'wellbeing.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from(`${header}${code(start - 2)},136515,wellbeing,all,3.6\n${lastYear},136515,wellbeing,all,3.9\n${lastYear},136515,wellbeing,fsm,c\n`),
  });
  await j.clickAndWait(page, 'button:has-text("Import metrics")');
  await j.shot(page, 'metrics-imported', ['Metrics imported', '3 values saved']);
  await signOut(page);

  // The clerk's FADE report for this round is pre-filled from the plan and the data.
  await j.signIn(page, 'clerk');
  await go(page, planUrl.replace(/\/plan.*$/, '/fade'));
  await j.shot(page, 'fade-list', ['FADE reports', 'Rounds, newest first', 'Both judgements recorded']);
  const current = page.locator('tbody tr', { hasText: 'Not started' }).last();
  await Promise.all([page.waitForNavigation(), current.locator('a').click()]);
  await j.shot(page, 'fade-report', ['F — Focus', 'A — Analysis', 'D — Develop / Do', 'E — Evaluation', 'Close the gap for disadvantaged pupils', 'the rest of the authority', 'Spend to date', "as recorded in the host school's ledger", 'Pupil wellbeing survey']);
  if ((await page.locator('svg.cw-chart__svg').count()) < 2) throw new Error('the FADE report draws fewer than two charts');
  if (!(await page.locator('td:text-is("c")').count())) throw new Error('no suppressed count on the FADE report');
  await page.fill('#evaluation-text', 'Reading catch-up is working; the attendance officer post needs a rethink.');
  await j.clickAndWait(page, 'button:has-text("Save the report")');
  await j.expectStatus([422], () => j.clickAndWait(page, 'button:has-text("Record the cluster")'));
  await j.shot(page, 'judgement-error', ['There is a problem', 'Choose a judgement from the scale']);
  await page.check('#cluster-level-3');
  await j.clickAndWait(page, 'button:has-text("Record the cluster")');
  await j.shot(page, 'cluster-judged', ['Saved.', 'Strong', 'Not judged yet', 'Reading catch-up is working']);
  const reportUrl = page.url().replace(/\?.*$/, '');
  await signOut(page);

  // The adviser records the authority's judgement beside it.
  await j.signIn(page, 'adviser');
  await go(page, reportUrl);
  await page.check('#authority-level-2');
  await page.fill('#authority_comment', 'Evidence of impact on attendance is thin.');
  await j.clickAndWait(page, 'button:has-text("Record the authority")');
  await j.shot(page, 'authority-judged', ['Satisfactory', 'Strong', 'Evidence of impact on attendance is thin.']);
  await signOut(page);

  // The officer's authority summary, like the consortium's FADE 2 table, with the agreement.
  await j.signIn(page, 'officer');
  await j.nav(page, 'Evaluation');
  await j.clickAndWait(page, 'a:has-text("FADE judgements across the authority")');
  await j.shot(page, 'summary', ['clusters by judgement', 'Very Good', 'Not judged', 'How far the cluster and the authority agree', 'Quadratic weights', 'Confusion matrix']);
  await page.selectOption('#round', reportUrl.split('/').pop());
  await j.clickAndWait(page, 'button:has-text("Show round")');
  await j.shot(page, 'summary-this-round', ['clusters by judgement', 'differs']);
  await go(page, reportUrl.replace(/\/fade\/.*$/, '/snapshot'));
  await j.shot(page, 'snapshot', ['Cluster snapshot', 'Register', 'Funding', 'Governance', 'Key metrics', 'Latest FADE report']);
  await page.emulateMedia({ media: 'print' });
  await j.shot(page, 'snapshot-print', ['Key metrics']);
  await page.emulateMedia({ media: 'screen' });
  await signOut(page);

  // The host school's head checks a register's make-up, then answers the questionnaire.
  await j.signIn(page, 'head');
  await go(page, `${j.base}/evaluation/representation`);
  for (const [id, v] of [['selected', '20'], ['pupils', '1000'], ['on_girls', '4'], ['school_girls', '500'], ['on_boys', '16'], ['school_boys', '500'], ['on_fsm', '2'], ['school_fsm', '180']]) {
    await page.fill(`#${id}`, v);
  }
  await j.clickAndWait(page, 'button:has-text("Check the register")');
  await j.shot(page, 'representation', ['The register against the school', 'Under-represented', 'Over-represented']);
  await go(page, `${j.base}/questionnaires`);
  await j.shot(page, 'questionnaires', ['Evaluation questionnaires', 'Awaiting your answers']);
  await Promise.all([page.waitForNavigation(), page.locator('tbody a').first().click()]);
  for (const c of ['planning', 'teaching', 'partnership', 'management', 'objectives', 'connections', 'standards', 'inclusion']) {
    await page.check(`#${c}-3`);
  }
  await j.expectStatus([422], () => j.clickAndWait(page, 'button:has-text("Save your answers")'));
  await j.shot(page, 'questionnaire-error', ['There is a problem', 'cost effective']);
  await page.check('#value-dk');
  await j.clickAndWait(page, 'button:has-text("Save your answers")');
  await j.shot(page, 'questionnaire-answered', ['Your answers are saved', 'Typical answer']);

  // With JavaScript off the report still reads and its forms still post.
  const plain = await j.newPage({ javaScriptEnabled: false });
  await j.signIn(plain, 'evaluator');
  await go(plain, reportUrl);
  await j.shot(plain, 'report-no-js-evaluator', ['A — Analysis', 'school-by-school figures are not shown to evaluators']);
  if (await plain.locator('summary:has-text("School by school")').count()) throw new Error('an evaluator sees school-by-school figures');
});
