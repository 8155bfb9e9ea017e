// An owner signs up in the browser, is forced into two-step enrolment, reads the secret off the page, types the
// TOTP this test computes (RFC 6238), sees the recovery codes and reaches the dashboard.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startServer, launchBrowser, artifactPath } from './harness.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const value = alphabet.indexOf(char);
    if (value < 0) throw new Error(`not base32: ${char}`);
    bits += value.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

function totp(secret, unixSeconds = Math.floor(Date.now() / 1000)) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const hmac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = hmac[hmac.length - 1] & 0x0f;
  const number = (hmac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(number).padStart(6, '0');
}

test('totp helper matches the RFC 6238 test vector', () => {
  // RFC 6238 appendix B: SHA-1 secret "12345678901234567890", T = 59 → 94287082; six digits → 287082.
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  assert.equal(totp(secret, 59), '287082');
});

test('an owner signs up, is forced into enrolment, and reaches the dashboard', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 414, height: 900 } });
  const page = await context.newPage();
  const cspViolations = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });

  await page.goto(`${server.origin}/signup`);
  await page.fill('input[name=business_name]', 'Arepas de la Abuela');
  await page.fill('input[name=name]', 'Valentina Ríos');
  await page.fill('input[name=email]', 'valentina@example.co');
  await page.fill('input[name=password]', 'mango biche con sal y limón');
  await page.click('#signup-form button');

  await page.waitForURL('**/enroll');
  await page.waitForFunction(() => document.querySelector('#totp-secret').textContent.trim().length > 0);
  const secret = (await page.locator('#totp-secret').textContent()).trim();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  assert.match(await page.getAttribute('#totp-qr', 'src'), /^data:image\/svg\+xml;base64,/);
  await page.screenshot({ path: artifactPath('enrol-qr.png'), fullPage: true });

  await page.fill('#confirm-form input[name=code]', totp(secret));
  await page.click('#confirm-form button');
  await page.locator('#recovery-codes li').first().waitFor();
  const codes = await page.locator('#recovery-codes li').allTextContents();
  assert.equal(codes.length, 10);
  for (const code of codes) assert.match(code, /^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
  await page.screenshot({ path: artifactPath('enrol-recovery-codes.png'), fullPage: true });

  await page.click('#continue');
  await page.waitForURL('**/dashboard');
  await page.locator('#me-name').filter({ hasText: 'Valentina Ríos' }).waitFor();
  assert.equal(await page.locator('#me-role').textContent(), 'owner');
  assert.match(await page.locator('#me-mfa').textContent(), /activa/);
  await page.screenshot({ path: artifactPath('dashboard.png'), fullPage: true });
  assert.deepEqual(cspViolations, []);
  await context.close();
});

test('signing in again asks for the code', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US' });
  const page = await context.newPage();
  await page.goto(`${server.origin}/signin`);
  await page.fill('input[name=email]', 'valentina@example.co');
  await page.fill('input[name=password]', 'wrong password entirely');
  await page.click('#signin-form button');
  await page.locator('.error').waitFor();
  assert.match(await page.locator('.error').textContent(), /wrong/);
  await page.fill('input[name=password]', 'mango biche con sal y limón');
  await page.click('#signin-form button');
  await page.locator('#code-form').waitFor({ state: 'visible' });
  await context.close();
});
