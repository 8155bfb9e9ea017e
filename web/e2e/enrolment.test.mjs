// An owner signs up in the browser, is forced into two-step enrolment, reads the secret off the page, types the
// TOTP this test computes (RFC 6238), sees the recovery codes and reaches the dashboard.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launchBrowser, artifactPath, assertAccessible } from './harness.mjs';
import { totp } from './totp.mjs';

let server;
let browser;
let ownerSecret;
let ownerPage;
// The owner's two venues (Sede Norte, Sede Sur): Luis is moved to Sede Sur.
let venueIds;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await ownerPage?.context().close();
  await browser?.close();
  await server?.stop();
});

test('totp helper matches the RFC 6238 test vector', () => {
  // RFC 6238 appendix B: SHA-1 secret "12345678901234567890", T = 59 → 94287082; six digits → 287082.
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  assert.equal(totp(secret, 59), '287082');
});

test('an owner signs up, is forced into enrolment, and reaches the dashboard', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 414, height: 900 } });
  const page = await context.newPage();
  // Requests the page knows will be refused are not sent (a 403 in the console reads as a fault).
  const refused = [];
  page.on('response', (response) => { if (response.status() === 403) refused.push(response.url()); });
  const cspViolations = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });

  await page.goto(`${server.origin}/signup`);
  await assertAccessible(page, 'sign-up form');
  await page.fill('input[name=business_name]', 'Arepas de la Abuela');
  await page.fill('input[name=name]', 'Valentina Ríos');
  await page.fill('input[name=email]', 'valentina@example.co');
  await page.fill('input[name=password]', 'mango biche con sal y limón');
  await page.click('#signup-form button');

  await page.waitForURL('**/enroll');
  await page.waitForFunction(() => document.querySelector('#totp-secret').textContent.trim().length > 0);
  const secret = (await page.locator('#totp-secret').textContent()).trim();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  ownerSecret = secret;
  assert.match(await page.getAttribute('#totp-qr', 'src'), /^data:image\/svg\+xml;base64,/);
  await page.screenshot({ path: artifactPath('enrol-qr.png'), fullPage: true });
  await assertAccessible(page, 'enrolment (QR and secret)');

  await page.fill('#confirm-form input[name=code]', totp(secret));
  await page.click('#confirm-form button');
  await page.locator('#recovery-codes li').first().waitFor();
  const codes = await page.locator('#recovery-codes li').allTextContents();
  assert.equal(codes.length, 10);
  for (const code of codes) assert.match(code, /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
  await page.screenshot({ path: artifactPath('enrol-recovery-codes.png'), fullPage: true });
  await assertAccessible(page, 'enrolment (recovery codes)');

  await page.click('#continue');
  await page.waitForURL('**/dashboard');
  await page.locator('#me-name').filter({ hasText: 'Valentina Ríos' }).waitFor();
  assert.equal(await page.locator('#me-role').textContent(), 'propietario');
  assert.match(await page.locator('#me-mfa').textContent(), /activa/);
  // Card payments wait for payout authority, and the dashboard says how to get it.
  await page.locator('#payouts-state', { hasText: 'autorización de pagos' }).waitFor();
  assert.deepEqual(refused, [], 'nothing asked that the role cannot have');
  await page.screenshot({ path: artifactPath('dashboard.png'), fullPage: true });
  await assertAccessible(page, 'dashboard');

  // The owner sets the restaurant up from the pages: a venue, its tables, and the QR codes to print.
  await page.fill('#venue-form input[name=name]', 'Casa Valentina');
  await page.fill('#venue-form input[name=address]', 'Calle 85 # 12-30, Bogotá');
  await page.click('#venue-form button');
  await page.waitForURL('**/tables?venue=*');
  await page.locator('#no-tables').waitFor({ state: 'visible' });
  for (const [label, seats] of [['Mesa 1', '4'], ['Terraza 2', '6']]) {
    await page.fill('#table-form input[name=label]', label);
    await page.fill('#table-form input[name=seats]', seats);
    await page.click('#table-form button');
    await page.locator('#tables-table tbody tr', { hasText: label }).waitFor();
  }
  assert.match(await page.locator('#tables-table tbody tr', { hasText: 'Terraza 2' }).textContent(), /6/);
  const guestLink = await page.locator('#tables-table tbody tr', { hasText: 'Mesa 1' }).locator('a').getAttribute('href');
  assert.match(guestLink, /\/t\/[^/]+$/);
  await page.screenshot({ path: artifactPath('tables.png'), fullPage: true });
  await assertAccessible(page, 'tables and QR codes');
  // A table added by mistake is renamed, then retired: it leaves the list (the confirm and prompt are the browser's).
  await page.fill('#table-form input[name=label]', 'Mesa 99');
  await page.click('#table-form button');
  page.once('dialog', (dialog) => dialog.accept('Barra'));
  await page.click('button[aria-label="Renombrar Mesa 99"]');
  await page.locator('#tables-table tbody tr', { hasText: 'Barra' }).waitFor();
  page.once('dialog', (dialog) => {
    assert.match(dialog.message(), /código QR deja de funcionar/);
    dialog.accept();
  });
  await page.click('button[aria-label="Retirar Barra"]');
  await page.locator('#tables-table tbody tr', { hasText: 'Barra' }).waitFor({ state: 'detached' });
  assert.equal(await page.locator('#tables-table tbody tr').count(), 2);
  const [pdf] = await Promise.all([page.waitForEvent('download'), page.click('#qr-pdf')]);
  assert.equal(pdf.suggestedFilename(), 'mesas-qr.pdf');
  const bytes = readFileSync(await pdf.path());
  assert.equal(bytes.subarray(0, 5).toString(), '%PDF-');
  // Back on the dashboard the venue leads to its tables, menu, kitchen and bookings.
  await page.goto(`${server.origin}/dashboard`);
  await page.locator('#venues li', { hasText: 'Casa Valentina' }).waitFor();
  assert.deepEqual(cspViolations, []);
  await context.close();
});

test('signing in again asks for the code', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US' });
  const page = await context.newPage();
  await page.goto(`${server.origin}/signin`);
  assert.equal(await page.locator('#code-form').isVisible(), false, 'the code step waits for the password');
  await page.fill('input[name=email]', 'valentina@example.co');
  await page.fill('input[name=password]', 'wrong password entirely');
  await page.click('#signin-form button');
  await page.locator('.error').waitFor();
  assert.match(await page.locator('.error').textContent(), /wrong/);
  await assertAccessible(page, 'sign-in with its error');
  await page.fill('input[name=password]', 'mango biche con sal y limón');
  await page.click('#signin-form button');
  await page.locator('#code-form').waitFor({ state: 'visible' });
  await assertAccessible(page, 'sign-in code step');
  await context.close();
});

async function invitationLink(email) {
  const outbox = join(server.dataDir, 'outbox');
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const name of existsSync(outbox) ? readdirSync(outbox) : []) {
      const text = readFileSync(join(outbox, name), 'utf8');
      const link = text.match(/https:\/\/\S+\/invitations\/inv_[A-Za-z0-9_-]+/);
      if (text.includes(`To: ${email}`) && link) return new URL(link[0]).pathname;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no invitation mail for ${email}`);
}

test('the owner invites a member from the staff page and changes their role', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US' });
  const page = await context.newPage();
  await page.goto(`${server.origin}/signin`);
  await page.fill('input[name=email]', 'valentina@example.co');
  await page.fill('input[name=password]', 'mango biche con sal y limón');
  await page.click('#signin-form button');
  await page.locator('#code-form').waitFor({ state: 'visible' });
  // The next step's code: the current step was spent at enrolment.
  await page.fill('#code-form input[name=code]', totp(ownerSecret, Math.floor(Date.now() / 1000) + 30));
  await page.click('#code-form button');
  await page.waitForURL('**/dashboard', { timeout: 5000 }).catch(async (error) => {
    throw new Error(`${error.message}; page says: ${await page.locator('.error').textContent()}`);
  });

  await page.goto(`${server.origin}/staff`);
  await page.locator('#staff-table tbody tr').first().waitFor();
  await page.fill('#invite-form input[name=name]', 'Luis Pérez');
  await page.fill('#invite-form input[name=email]', 'luis@example.co');
  await page.selectOption('#invite-form select[name=role]', 'server');
  await page.click('#invite-form button');
  await page.locator('#invite-sent').waitFor({ state: 'visible' });
  // The invitation waits in the list until it is accepted (or withdrawn).
  await page.locator('#invitation-list li', { hasText: 'luis@example.co' }).waitFor();
  await assertAccessible(page, 'staff page');

  const invitee = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO' });
  const invitePage = await invitee.newPage();
  const link = await invitationLink('luis@example.co');
  await invitePage.goto(`${server.origin}${link}`);
  // Whose team, as what, for which address: said before a password is chosen.
  assert.match(await invitePage.textContent('#invited-as'), /te invitó a su equipo en comanda como mesero, con el correo luis@example\.co/);
  await assertAccessible(invitePage, 'invitation acceptance');
  await invitePage.fill('#accept-form input[name=password]', 'arroz con coco y patacón');
  await invitePage.click('#accept-form button');
  // Sent to sign in, told they joined, their email written for them.
  await invitePage.waitForURL('**/signin?joined=*');
  await invitePage.locator('[role=status]', { hasText: 'Ya eres parte del equipo' }).waitFor();
  assert.equal(await invitePage.inputValue('#signin-form input[name=email]'), 'luis@example.co');
  // The link used once says so at once, before any password is typed.
  await invitePage.goto(`${server.origin}${link}`);
  await invitePage.locator('#invitation-closed', { hasText: 'Esta invitación ya se usó o venció' }).waitFor();
  assert.equal(await invitePage.locator('#accept-form').count(), 0);
  await invitee.close();

  await page.reload();
  const luis = page.locator('select[aria-label="luis@example.co"]');
  await luis.waitFor();
  assert.equal(await luis.inputValue(), 'server');
  assert.equal(await page.locator('#pending-invitations').isHidden(), true, 'accepted: no longer pending');
  // The owner gives themselves payout authority here, which connecting card payments needs.
  const mine = page.locator('#staff-table tbody tr').first().getByRole('checkbox');
  const granted = page.waitForResponse((r) => r.url().includes('/api/v1/staff/') && r.request().method() === 'PATCH');
  await mine.check();
  assert.equal((await granted).status(), 200);
  // Listen before acting: the PATCH can answer before a listener registered afterwards would see it.
  const saved = page.waitForResponse((r) => r.url().includes('/api/v1/staff/') && r.request().method() === 'PATCH');
  await luis.selectOption('kitchen');
  await saved;
  await page.reload();
  await page.locator('select[aria-label="luis@example.co"]').waitFor();
  assert.equal(await page.locator('select[aria-label="luis@example.co"]').inputValue(), 'kitchen');
  // With two venues, the owner sends Luis to one of them from his row; his venues say so after a reload.
  venueIds = await page.evaluate(async () => {
    const ids = [];
    for (const name of ['Sede Norte', 'Sede Sur']) {
      const response = await fetch('/api/v1/venues', {
        method: 'POST',
        headers: { authorization: `Bearer ${sessionStorage.getItem('comanda.access')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name, timezone: 'America/Bogota' }),
      });
      ids.push((await response.json()).id);
    }
    return ids;
  });
  assert.equal(venueIds.length, 2);
  await page.reload();
  const luisRow = page.locator('#staff-table tbody tr', { hasText: 'luis@example.co' });
  await luisRow.locator('summary').click();
  await luisRow.getByRole('checkbox', { name: 'Sede Sur: Luis Pérez' }).check();
  const placed = page.waitForResponse((r) => r.url().includes('/api/v1/staff/') && r.request().method() === 'PATCH');
  await luisRow.getByRole('button', { name: 'Save venues' }).click();
  assert.equal((await placed).status(), 200);
  await page.reload();
  await page.locator('#staff-table tbody tr', { hasText: 'luis@example.co' }).locator('td', { hasText: /^Sede Sur/ }).waitFor();
  // The owner's own row says every venue, with nothing to change (owners work at all of them).
  const ownerRow = page.locator('#staff-table tbody tr').first();
  assert.equal(await ownerRow.locator('summary').count(), 0);
  await ownerRow.locator('td', { hasText: /^All$/ }).waitFor();
  await assertAccessible(page, 'staff page with venues');
  await page.screenshot({ path: artifactPath('staff.png'), fullPage: true });
  // The next test goes on from this signed-in staff page (another sign-in would need a TOTP step not yet spent).
  ownerPage = page;
});

test('a member promoted while signed in confirms their password before enrolling', async () => {
  // Luis (kitchen, no second factor) is signed in on his phone.
  const member = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US' });
  const phone = await member.newPage();
  await phone.goto(`${server.origin}/signin`);
  await phone.fill('input[name=email]', 'luis@example.co');
  await phone.fill('input[name=password]', 'arroz con coco y patacón');
  await phone.click('#signin-form button');
  await phone.waitForURL('**/dashboard');
  await phone.locator('#me-role').filter({ hasText: 'kitchen' }).waitFor();
  // The kitchen does not manage the team: the staff page says who does and offers nothing (it offered the invite
  // form and every role, each refused on use).
  await phone.goto(`${server.origin}/staff`);
  await phone.locator('#role-note', { hasText: 'Managing the team is for owners and managers' }).waitFor();
  assert.equal(await phone.locator('#invite-form').isHidden(), true);
  assert.equal(await phone.locator('#staff-table').isHidden(), true);
  await assertAccessible(phone, 'staff page for a role that does not manage the team');
  await phone.goto(`${server.origin}/dashboard`);
  await phone.locator('#me-role').filter({ hasText: 'kitchen' }).waitFor();

  // The owner makes him a manager, a role that needs two-step sign-in.
  const luis = ownerPage.locator('select[aria-label="luis@example.co"]');
  const saved = ownerPage.waitForResponse((r) => r.url().includes('/api/v1/staff/') && r.request().method() === 'PATCH');
  await luis.selectOption('manager');
  assert.equal((await saved).status(), 200);

  // His next request sends him to enrolment, which first asks for his password: his access token alone is not
  // enough to add an authenticator.
  await phone.reload();
  await phone.waitForURL('**/enroll');
  await phone.locator('#password-step').waitFor({ state: 'visible' });
  assert.equal(await phone.locator('#enroll-step').isVisible(), false);
  await phone.fill('#password-form input[name=password]', 'not my password');
  await phone.click('#password-form button');
  await phone.locator('.error').waitFor();
  assert.equal(await phone.locator('#enroll-step').isVisible(), false);
  await phone.fill('#password-form input[name=password]', 'arroz con coco y patacón');
  await phone.click('#password-form button');
  await phone.waitForFunction(() => document.querySelector('#totp-secret').textContent.trim().length > 0);
  const secret = (await phone.locator('#totp-secret').textContent()).trim();
  await phone.fill('#confirm-form input[name=code]', totp(secret));
  await phone.click('#confirm-form button');
  await phone.locator('#recovery-codes li').first().waitFor();
  assert.equal(await phone.locator('#recovery-codes li').count(), 10);
  // A manager invites and manages the floor roles only: owners, managers and payout authority are not offered, and
  // the owner's row is shown, not offered for change.
  await phone.goto(`${server.origin}/staff`);
  await phone.locator('#staff-table tbody tr').first().waitFor();
  const offered = await phone.locator('#invite-form select[name=role] option').evaluateAll((options) => options.map((o) => o.value));
  assert.deepEqual(offered, ['server', 'kitchen', 'host', 'analyst']);
  assert.equal(await phone.locator('#invite-form input[name=payout_authority]').isHidden(), true);
  const ownerRow = phone.locator('#staff-table tbody tr', { hasText: 'owner' }).first();
  assert.equal(await ownerRow.locator('select').isDisabled(), true);
  assert.equal(await ownerRow.getByRole('button', { name: /^Remove/ }).count(), 0);
  // A manager of Sede Sur only hires for it (none ticked is theirs), and a page of Sede Norte says it is not theirs
  // and offers nothing.
  await phone.locator('#invite-venues-hint', { hasText: 'None ticked: your venues.' }).waitFor();
  await phone.goto(`${server.origin}/kitchen?venue=${venueIds[0]}`);
  await phone.locator('#role-note', { hasText: 'This venue is not one of yours' }).waitFor();
  assert.equal(await phone.locator('main h2').first().isHidden(), true);
  await assertAccessible(phone, 'a page of a venue that is not the member\'s');
  await phone.goto(`${server.origin}/kitchen?venue=${venueIds[1]}`);
  await phone.locator('#live').filter({ hasText: 'Live' }).waitFor();
  await member.close();
});
