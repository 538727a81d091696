// The ledger journey: the cluster clerk signs in → their cluster → budget monitoring → posts a
// payment and sees the balances change → a virement across phases is refused naming the rule →
// reverses the payment and sees it netted out; an officer records an approved exception and the
// virement then goes through once; the staff form; then the entry form without JavaScript and a
// governor's view.
import { journey } from './lib.mjs';

/** The "Spent" figure of the budget summary, in pence. */
async function spent(page) {
  const text = await page.locator('dt:has-text("Spent") + dd').first().textContent();
  return Math.round(Number(text.replace(/[£,\s]/g, '')) * 100);
}

await journey('ledger', async (j) => {
  const page = await j.newPage();
  await j.signIn(page, 'clerk');
  await j.nav(page, 'Clusters');
  // The demo clerk looks after the largest cluster.
  const href = await page.evaluate(() => {
    let best = null;
    for (const row of document.querySelectorAll('tbody tr')) {
      const pupils = Number(row.cells[3].textContent.replace(/,/g, ''));
      if (!best || pupils > best.pupils) best = { pupils, href: row.querySelector('a').getAttribute('href') };
    }
    return best.href;
  });
  await page.waitForLoadState('networkidle');
  await page.goto(`${j.base}${href}`);
  await j.clickAndWait(page, 'a:has-text("Budget monitoring")');
  await j.shot(page, 'budget', ['Cluster budget monitoring', 'Budget by stream and phase', 'By school',
    'Staff paid from cluster money', 'Contract runs past the horizon', 'The entries in this ledger are synthetic',
    'Reversed by no.', 'Virement rules in force', 'Learning mentors and LSU are one stream']);
  const before = await spent(page);

  // A payment from a school's admin allocation.
  await j.clickAndWait(page, 'a:has-text("Post an entry")');
  await page.check('#kind-payment');
  await page.selectOption('#fence', 'all:Cluster admin funding');
  const school = await page.locator('#holder option').nth(1).getAttribute('value');
  await page.selectOption('#holder', school);
  await page.fill('#amount', '£125.40');
  await page.fill('#memo', 'Printing for the cluster conference');
  await j.shot(page, 'payment-form', ['Post an entry', 'Kind of entry', 'Spending beyond the allocation']);
  await j.clickAndWait(page, 'button:has-text("Post the entry")');
  await j.shot(page, 'payment-posted', ['Success', 'posted: payment, £125.40', 'Printing for the cluster conference']);
  const after = await spent(page);
  if (after - before !== 12540) throw new Error(`spent went from ${before} to ${after}, not up by 12540p`);

  // A virement across phases of gifted and talented: refused, and the rule is named.
  await j.clickAndWait(page, 'a:has-text("Post an entry")');
  await page.check('#kind-virement');
  await page.selectOption('#fence', 'primary:Gifted and talented');
  await page.selectOption('#holder', 'central');
  await page.selectOption('#to_fence', 'secondary:Gifted and talented');
  await page.selectOption('#to_holder', 'central');
  await page.fill('#amount', '500');
  await page.fill('#memo', 'Move primary money to the secondary pot');
  await j.expectStatus([422], () => j.clickAndWait(page, 'button:has-text("Post the entry")'));
  await j.shot(page, 'virement-refused', ['There is a problem', 'rule ring-fence: by default no money moves between streams or between primary and secondary',
    'Gifted and talented (primary) to Gifted and talented (secondary)']);
  if (!(await page.title()).startsWith('Error: ')) throw new Error('the refused form title does not start "Error: "');
  if ((await page.inputValue('#memo')) !== 'Move primary money to the secondary pot') throw new Error('the form lost what was typed');

  // Reverse the payment: the newest entry is first in the journal.
  await page.waitForLoadState('networkidle');
  await page.goto(`${j.base}${href}/budget`);
  await j.clickAndWait(page, '#journal ~ table a:has-text("Reverse")');
  await j.shot(page, 'reverse-form', ['Reverse entry no.', 'Printing for the cluster conference', 'can be reversed once']);
  await page.fill('#memo', 'Charged to the wrong school');
  await j.clickAndWait(page, 'button:has-text("Reverse this entry")');
  await j.shot(page, 'reversed', ['Success', 'posted: reversal, £125.40', 'Reverses no.', 'Charged to the wrong school']);
  const reversed = await spent(page);
  if (reversed !== before) throw new Error(`after the reversal spent is ${reversed}, not ${before}`);

  // An authority officer records an approved exception; the same virement then goes through once.
  const officer = await j.newPage();
  await j.signIn(officer, 'officer');
  await officer.goto(`${j.base}${href}/budget`);
  await j.clickAndWait(officer, 'a:has-text("Record an approved exception")');
  await officer.selectOption('#from_fence', 'primary:Gifted and talented');
  await officer.selectOption('#to_fence', 'secondary:Gifted and talented');
  await officer.fill('#amount', '500');
  await officer.fill('#reason', 'Year 6 to 7 summer school run by the high school');
  await officer.fill('#approver', 'Head of school improvement');
  await j.shot(officer, 'exception-form', ['Record an approved exception', 'lets one virement']);
  await j.clickAndWait(officer, 'button:has-text("Record the exception")');
  await j.shot(officer, 'exception-recorded', ['The approved exception is recorded', 'Approved exceptions', 'Not yet used']);
  await officer.waitForLoadState('networkidle');

  await page.goto(`${j.base}${href}/budget/entries/new`);
  await page.check('#kind-virement');
  await page.selectOption('#fence', 'primary:Gifted and talented');
  await page.selectOption('#holder', 'central');
  await page.selectOption('#to_fence', 'secondary:Gifted and talented');
  await page.selectOption('#to_holder', 'central');
  await page.selectOption('#exception', { index: 1 });
  await page.fill('#amount', '500');
  await page.fill('#memo', 'Summer school, under the approved exception');
  await j.clickAndWait(page, 'button:has-text("Post the entry")');
  await j.shot(page, 'virement-under-exception', ['posted: virement, £500.00', 'Under approved exception', 'By entry no.']);

  // The clerk's staff and horizon form.
  await j.clickAndWait(page, 'a:has-text("Record a staff post or a horizon")');
  await j.shot(page, 'staff-form', ['Record a staff post', 'Funding horizon', 'the end of the financial year']);
  await page.waitForLoadState('networkidle');

  // Without JavaScript the budget page and the form work the same.
  const plain = await j.newPage({ javaScriptEnabled: false });
  await j.signIn(plain, 'clerk');
  await plain.waitForLoadState('networkidle');
  await plain.goto(`${j.base}${href}/budget`);
  await j.clickAndWait(plain, 'a:has-text("Post an entry")');
  await plain.check('#kind-payment');
  await plain.selectOption('#fence', 'all:Cluster admin funding');
  await plain.selectOption('#holder', school);
  await plain.fill('#amount', 'lots');
  await plain.fill('#memo', 'A typo');
  await j.expectStatus([422], () => j.clickAndWait(plain, 'button:has-text("Post the entry")'));
  await j.shot(plain, 'no-javascript-error', ['There is a problem', 'Amount must be an amount of money like £1,234.56']);

  // A governor sees their school's part and no forms.
  const governor = await j.newPage();
  await j.signIn(governor, 'governor');
  await governor.waitForLoadState('networkidle');
  await governor.goto(`${j.base}${href}/budget`);
  await governor.waitForLoadState('networkidle');
  await j.shot(governor, 'governor-view', ['You see the cluster', 'Budget by stream and phase']);
  if (await governor.locator('a:has-text("Post an entry")').count()) throw new Error('a governor is offered the entry form');
});
