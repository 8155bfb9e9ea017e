// The landing page over HTTPS in a real browser: security headers, no CSP violation, both languages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, artifactPath, assertAccessible, accessibilityViolations } from './harness.mjs';

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

async function openLanding(locale) {
  // The embedded default's certificate is self-signed for localhost: trust it for this context only.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale, viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const cspViolations = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  const response = await page.goto(`${server.origin}/`, { waitUntil: 'load' });
  return { context, page, response, cspViolations };
}

test('landing page loads over HTTPS with the security headers', async () => {
  const { context, page, response, cspViolations } = await openLanding('es-CO');
  assert.equal(response.status(), 200);
  const headers = response.headers();
  assert.equal(headers['strict-transport-security'], 'max-age=31536000; includeSubDomains; preload');
  assert.match(headers['content-security-policy'], /default-src 'none'/);
  assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
  assert.doesNotMatch(headers['content-security-policy'], /unsafe-inline|unsafe-eval/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  assert.equal(headers['referrer-policy'], 'no-referrer');
  assert.match(headers['permissions-policy'], /camera=\(\)/);

  const security = await response.securityDetails();
  assert.equal(security.protocol, 'TLS 1.3');

  assert.equal(await page.locator('h1').textContent(), 'comanda');
  assert.equal(await page.getAttribute('html', 'lang'), 'es');
  // The same-origin stylesheet applied under the strict CSP (the header is dark, not the default white).
  const headerBackground = await page.locator('header').evaluate((el) => getComputedStyle(el).backgroundColor);
  assert.equal(headerBackground, 'rgb(29, 27, 22)');
  assert.deepEqual(cspViolations, []);

  await page.screenshot({ path: artifactPath('landing-es.png'), fullPage: true });
  await assertAccessible(page, 'landing-es');
  await context.close();
});

test('landing page speaks English to an English browser', async () => {
  const { context, page, cspViolations } = await openLanding('en-US');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.match(await page.locator('.tagline').textContent(), /Order and pay at the table/);
  assert.deepEqual(cspViolations, []);
  await page.screenshot({ path: artifactPath('landing-en.png'), fullPage: true });
  await assertAccessible(page, 'landing-en');
  await context.close();
});

test('the accessibility check sees what it must (a page that breaks WCAG fails it)', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.setContent('<html><body><img src="x.png"><input type="text"><p style="color:#ccc">faint</p></body></html>');
  const rules = (await accessibilityViolations(page)).map((v) => v.rule).sort();
  assert.deepEqual(rules, ['color-contrast', 'document-title', 'html-has-lang', 'image-alt', 'label']);
  await assert.rejects(assertAccessible(page, 'a broken page'), /image-alt/);
  await context.close();
});

test('the public trust page reads to everyone, screen readers included', async () => {
  for (const locale of ['es-CO', 'en-US']) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale });
    const page = await context.newPage();
    const response = await page.goto(`${server.origin}/trust`, { waitUntil: 'load' });
    assert.equal(response.status(), 200);
    await page.screenshot({ path: artifactPath(`trust-${locale}.png`), fullPage: true });
    await assertAccessible(page, `trust page (${locale})`);
    await context.close();
  }
});

test('the browser refuses to frame the site', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${server.origin}/healthz`);
  const framed = await page.evaluate(async (origin) => {
    const frame = document.createElement('iframe');
    frame.src = `${origin}/`;
    document.body.appendChild(frame);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    try {
      return Boolean(frame.contentDocument && frame.contentDocument.querySelector('h1'));
    } catch {
      return false;
    }
  }, server.origin);
  assert.equal(framed, false);
  await context.close();
});
