// The committee journey: the clerk signs in → their committee → schedules a meeting held two
// weeks ago → records attendance → adds an item with a paper → a motion → a vote per school →
// drafts the minutes → schedules today's meeting → approves the minutes there by a motion →
// sends them to every governing body → the governance health view shows today's quorate
// meeting. Then a governor of a member school records receipt and adoption, with JavaScript off.
import { journey } from './lib.mjs';

const iso = (d) => d.toISOString().slice(0, 10);
const today = new Date();
const earlier = new Date(today.getTime() - 14 * 24 * 3600 * 1000);
const spoken = (d) => d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });

async function recordAttendance(j, page) {
  for (const select of await page.locator('select[name^="status_"]').all()) await select.selectOption('present');
  await j.clickAndWait(page, 'button:has-text("Save attendance")');
}

async function voteAllFor(j, page, item, declared = 'carried') {
  const form = page.locator(`#item-${item} form[action$="/votes"]`);
  for (const select of await form.locator('select[name^="vote_"]').all()) await select.selectOption('for');
  await form.locator(`input[value="${declared}"]`).check();
  await Promise.all([page.waitForNavigation(), form.locator('button[type="submit"]').click()]);
}

await journey('meetings', async (j) => {
  const page = await j.newPage();
  await j.signIn(page, 'clerk');
  await j.nav(page, 'Governance');
  await Promise.all([page.waitForNavigation(), page.locator('tbody tr a').first().click()]);
  await j.shot(page, 'committee', ['Cluster committee', 'Constitution in force', 'Seats', 'People', 'synthetic', 'Constitution versions']);

  await j.clickAndWait(page, 'a:has-text("Meetings of the committee")');
  await j.shot(page, 'meetings-by-term', ['Meetings of the committee', 'Held, quorate', 'Scheduled', 'Schedule a meeting']);

  // A meeting held two weeks ago, recorded now.
  await page.fill('#date', iso(earlier));
  await page.fill('#title', 'Extraordinary meeting on transition');
  await page.fill('#location', 'The host school library');
  await j.clickAndWait(page, 'button:has-text("Schedule the meeting")');
  const first = page.url();
  await j.shot(page, 'scheduled', ['Extraordinary meeting on transition', 'No items yet', 'Not drafted']);

  await recordAttendance(j, page);
  await j.shot(page, 'attendance', ['Quorate', 'Schools represented by a voting member']);

  await page.fill('#item-title', 'Year 7 transition project');
  await page.fill('#item-paper-title', 'Transition project budget');
  await page.fill('#item-paper-text', 'Two summer-school days for every feeder primary, £3,000 in all.');
  await j.clickAndWait(page, 'button:has-text("Add the item")');
  await page.fill('#motion-1', 'That the cluster runs the Year 7 transition project.');
  await j.clickAndWait(page, '#item-1 button:has-text("Put the motion")');
  await j.shot(page, 'motion', ['Motion:', 'Record the votes', 'The result the chair declared']);

  // A declared result the votes do not give is refused, naming the rule; then the true result.
  await j.expectStatus([422], () => voteAllFor(j, page, 1, 'lost'));
  await j.shot(page, 'vote-refused', ['There is a problem', 'the votes give carried', 'Nothing was saved']);
  await voteAllFor(j, page, 1);
  await j.shot(page, 'voted', ['Carried', 'Votes, one per school:']);

  await page.click('summary:has-text("Add an action")');
  await page.fill('#action-text', 'Book the summer-school rooms');
  await page.fill('#due_on', iso(today));
  await j.clickAndWait(page, 'button:has-text("Add the action")');
  await j.clickAndWait(page, 'button:has-text("Draft the minutes from the record")');
  await j.shot(page, 'draft-minutes', ['Edit the draft', 'Present:', 'Year 7 transition project', 'Carried']);
  const text = await page.inputValue('#minutes-text');
  await page.fill('#minutes-text', `${text}\nThe chair thanked the host school for the room.`);
  await j.clickAndWait(page, 'button:has-text("Save the minutes")');
  if (!(await page.inputValue('#minutes-text')).includes('thanked the host school')) throw new Error('the edited minutes were not saved');

  // Sending before approval is not offered; the minutes are approved at the next meeting.
  if ((await page.locator('button:has-text("Send the minutes")').count()) > 0) throw new Error('minutes could be sent before approval');
  await j.clickAndWait(page, 'a.govuk-breadcrumbs__link:has-text("Meetings")');
  await page.fill('#date', iso(today));
  await page.fill('#title', 'Cluster committee meeting');
  await j.clickAndWait(page, 'button:has-text("Schedule the meeting")');
  await recordAttendance(j, page);
  await page.selectOption('#approves', { label: `Extraordinary meeting on transition, ${spoken(earlier)}` });
  await j.clickAndWait(page, 'button:has-text("Add the item")');
  await j.clickAndWait(page, '#item-1 button:has-text("Put the motion")');
  await voteAllFor(j, page, 1);
  await j.shot(page, 'minutes-approved-here', ['Approves the minutes of the meeting on', 'Carried']);

  await page.goto(first);
  await j.shot(page, 'approved', ['Approved, not yet distributed', 'Approved by the committee at its meeting on']);
  await j.clickAndWait(page, 'button:has-text("Send the minutes to every member governing body")');
  await j.shot(page, 'distributed', ['Distributed', 'The minutes at each member governing body', 'Not yet']);

  await j.clickAndWait(page, 'a:has-text("Printable minutes")');
  await j.shot(page, 'printable-minutes', ['Minutes of the', 'Present:', 'thanked the host school', 'Sent to every member governing body']);

  await page.goto(`${j.base}/governance`);
  await j.shot(page, 'health-updated', ['Governance of each cluster', spoken(today)]);

  // A governor of a member school, without JavaScript: reads the meeting, records receipt.
  const plain = await j.newPage({ javaScriptEnabled: false });
  await j.signIn(plain, 'governor');
  await plain.goto(first);
  await j.shot(plain, 'governor-reads', ['Year 7 transition project', 'Record for']);
  if ((await plain.locator('button:has-text("Save attendance")').count()) > 0) throw new Error('a governor was offered the clerk\'s forms');
  await plain.fill('#adopted_on', iso(today));
  await j.clickAndWait(plain, 'button:has-text("Record for")');
  await j.shot(plain, 'governor-recorded', ['Adopted by the governing body on']);
});
