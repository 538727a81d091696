// The casework journey: the demo mentor refers a pupil (the caseload warning appears), agrees a
// plan (refused without an exit strategy, then with 2 targets and one), logs sessions, reviews
// (met, with a follow-up date) and records the follow-up that closes the case. Then the head sees
// the G&T register and its representation check and exports a subject access file; the clerk
// sees only suppressed aggregates and is refused a pupil page; the DPO finds the mentor's reads of
// that pupil in the audit log with the chain verified, and runs the retention schedule.
import { journey } from './lib.mjs';

await journey('casework', async (j) => {
  const page = await j.newPage();
  // Lets a page finish loading (its icon too) before the next navigation aborts it.
  const settle = () => page.waitForLoadState('networkidle');
  const signOut = async () => {
    await settle();
    await j.clickAndWait(page, 'button:has-text("Sign out")');
    await settle();
  };
  await j.signIn(page, 'mentor');
  await j.nav(page, 'Casework');
  await j.shot(page, 'mentor-caseload', ['Learning-mentor caseload', 'Sam Reed (synthetic mentor)', 'synthetic', 'Review overdue']);
  if ((await page.textContent('body')).includes('Gifted and talented register')) {
    throw new Error('a mentor in the mentor strand should not see the G&T register');
  }

  // Referral.
  await j.clickAndWait(page, 'a:has-text("Refer a pupil to a mentor")');
  await j.shot(page, 'referral-form', ['Refer a pupil to a learning mentor', 'Able but underachieving']);
  await j.expectStatus([422], () => j.clickAndWait(page, 'button:has-text("Make the referral")'));
  await j.shot(page, 'referral-error', ['There is a problem', 'Choose']);
  const pupilValue = await page.locator('#pupil option').nth(3).getAttribute('value');
  await page.selectOption('#pupil', pupilValue);
  await page.selectOption('#mentor', { index: 1 });
  await page.check('#reason-attendance');
  await page.fill('#referred_by', 'Head of Year 9');
  await page.fill('#note', 'Late most mornings since October');
  await j.clickAndWait(page, 'button:has-text("Make the referral")');
  await j.shot(page, 'case-referred', ['Learning-mentor case', 'Referred', 'Agree the plan', 'Late most mornings since October']);
  const caseUrl = page.url();

  // The plan needs an exit strategy.
  await page.fill('#target-1', 'Arrive by 8:40 every day');
  await j.expectStatus([422], () => j.clickAndWait(page, 'button:has-text("Agree the plan")'));
  await j.shot(page, 'plan-refused', ['There is a problem', 'exit strategy: enter this']);
  await page.fill('#target-1', 'Arrive by 8:40 every day');
  await page.fill('#target-2', 'Bring the check-in card to every session');
  await page.fill('#exit_strategy', 'Step down to fortnightly once both targets hold for three weeks, then end');
  await j.clickAndWait(page, 'button:has-text("Agree the plan")');
  await j.shot(page, 'plan-agreed', ['Active', 'Arrive by 8:40 every day', 'Exit strategy', 'Log a session', 'Review']);

  // Sessions.
  for (const [minutes, note] of [['30', 'Talked through mornings'], ['25', 'Card used four days of five']]) {
    await page.fill('#minutes', minutes);
    await page.fill('#session-note', note);
    await j.clickAndWait(page, 'button:has-text("Log the session")');
    await settle();
  }
  await j.shot(page, 'sessions', ['2 sessions, 55 minutes in all', 'Card used four days of five']);

  // Review: met needs a follow-up date.
  await page.check('#outcome-met');
  await j.expectStatus([422], () => j.clickAndWait(page, 'button:has-text("Record the review")'));
  await j.shot(page, 'review-needs-follow-up', ['follow-up date: set a follow-up date']);
  const followUp = new Date(Date.now() + 42 * 86400e3).toISOString().slice(0, 10);
  await page.check('#outcome-met');
  await page.fill('#follow_up_on', followUp);
  await page.fill('#review-note', 'On time 19 days of 20');
  await j.clickAndWait(page, 'button:has-text("Record the review")');
  await j.shot(page, 'signed-off', ['Signed off (follow-up due)', 'Targets met', 'Follow-up check']);

  // Follow-up closes the case.
  await page.fill('#follow-note', 'Still on time');
  await j.clickAndWait(page, 'button:has-text("Record the follow-up and close the case")');
  await j.shot(page, 'closed', ['Closed', 'Improvement sustained', 'Still on time']);
  const pupilId = await page.locator('.govuk-breadcrumbs a[href^="/casework/pupils/"]').getAttribute('href');

  // The list view shows no casework text.
  await j.nav(page, 'Casework');
  await settle();
  const list = await page.textContent('body');
  if (list.includes('Late most mornings') || list.includes('Still on time')) throw new Error('casework notes appear in the list view');
  await signOut();

  // The head: the register and its representation check; a subject access export.
  await j.signIn(page, 'head');
  await j.nav(page, 'Casework');
  await j.shot(page, 'head-casework', ['Learning support unit placements', 'Use of the unit by gender, FSM and ethnicity', 'Acknowledge']);
  await page.goto(`${j.base}/casework/gt`);
  await j.shot(page, 'head-gt-register', ['Gifted and talented register', 'Does the register represent the school?', 'Girls', 'Minority ethnic', 'exact two-sided binomial']);
  await page.goto(`${j.base}${pupilId}/subject-access`);
  await j.shot(page, 'subject-access', ['Subject access: everything held', 'Late most mornings since October', 'Who has accessed these records', 'mentor@demo.clusterwise.test']);
  await signOut();

  // The clerk: aggregates only, suppressed; a pupil page is refused.
  await j.signIn(page, 'clerk');
  await j.nav(page, 'Casework');
  await j.shot(page, 'clerk-aggregates', ['Pupil casework across the authority', 'Pupils in each strand by cluster', 'shown as c']);
  const agg = await page.textContent('body');
  if (agg.includes('(synthetic)') && agg.match(/[A-Z][a-z]+ [A-Z][a-z]+ \(synthetic\)/)) throw new Error('a pupil name appears in the aggregates');
  await j.expectStatus([404], async () => {
    await page.goto(`${j.base}${pupilId}`);
    await j.shot(page, 'clerk-refused', ['Page not found']);
  });
  await page.goto(`${j.base}/casework`);
  await signOut();

  // The DPO: who read this pupil? The chain verifies; then the retention run.
  await j.signIn(page, 'dpo');
  await page.goto(`${j.base}/privacy/audit`);
  await settle();
  await page.fill('#pupil', `P${pupilId.split('/').pop()}`);
  await j.clickAndWait(page, 'button:has-text("Search the log")');
  await j.shot(page, 'dpo-audit', ['Chain verified', 'mentor@demo.clusterwise.test', 'refer a pupil to a learning mentor', 'clerk@demo.clusterwise.test', 'refused']);
  await page.goto(`${j.base}/privacy/retention`);
  await settle();
  await j.clickAndWait(page, 'button:has-text("Run the retention schedule now")');
  await j.shot(page, 'retention-run', ['Retention run complete', 'records removed', 'Learning-mentor case']);
  await page.goto(`${j.base}/privacy/fields`);
  await j.shot(page, 'field-inventory', ['Field inventory', 'ethnicity', 'Special category', 'Permissions matrix']);
  if (!caseUrl.includes('/casework/cases/')) throw new Error(`unexpected case address ${caseUrl}`);
});
