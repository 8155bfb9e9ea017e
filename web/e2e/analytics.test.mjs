// An owner opens the sales dashboard of a venue whose guests ordered today: the figures match the orders, the
// series and the heat map are drawn (our own SVG, no third-party script, no CSP violation), each figure explains
// itself in a tooltip, the CSV downloads, and the page reads on a phone. Screenshots in target/e2e.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { startServer, launchBrowser, artifactPath, binary, assertAccessible } from './harness.mjs';
import { totp } from './totp.mjs';

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

/// Through the JSON API: an owner with 2FA, a venue in Bogotá with two tables and two dishes, and six guest orders.
async function seeded(api) {
  const json = async (response) => {
    const body = await response.json();
    assert.ok(response.ok(), `${response.url()} → ${response.status()}: ${JSON.stringify(body)}`);
    return body;
  };
  const post = (path, data, token) =>
    api.post(`${server.origin}${path}`, { data, headers: token ? { Authorization: `Bearer ${token}` } : {} }).then(json);
  const email = 'dueña@example.co';
  const password = 'las cuentas claras del mes';
  await post('/api/v1/signup', { business_name: 'Café Aurora', country: 'CO', owner: { name: 'Marta', email, password } });
  const login = await post('/api/v1/auth/login', { email, password });
  const enrollment = await post('/api/v1/auth/mfa/totp/enroll', {}, login.enrollment_token);
  const token = (await post('/api/v1/auth/mfa/totp/confirm', { code: totp(enrollment.secret) }, login.enrollment_token)).access_token;
  const venue = await post('/api/v1/venues', { name: 'Café Aurora', timezone: 'America/Bogota' }, token);
  const category = await post(`/api/v1/venues/${venue.id}/menu/categories`, { name: { es: 'Carta', en: 'Menu' } }, token);
  const coffee = await post(`/api/v1/venues/${venue.id}/menu/items`, {
    category_id: category.id, name: { es: 'Tinto', en: 'Black coffee' }, price: { amount: 450_000, currency: 'COP' },
  }, token);
  const arepa = await post(`/api/v1/venues/${venue.id}/menu/items`, {
    category_id: category.id, name: { es: 'Arepa de choclo', en: 'Sweet corn arepa' }, price: { amount: 1_200_000, currency: 'COP' },
  }, token);
  let gross = 0;
  for (const label of ['Mesa 1', 'Mesa 2']) {
    const table = await post(`/api/v1/venues/${venue.id}/tables`, { label, seats: 4 }, token);
    const guest = new URL(table.guest_url).pathname.split('/').pop();
    for (const [item, quantity, price] of [[coffee.id, 2, 450_000], [arepa.id, 1, 1_200_000], [coffee.id, 1, 450_000]]) {
      await post(`/api/v1/t/${guest}/orders`, { items: [{ item_id: item, quantity }] });
      gross += quantity * price;
    }
  }
  return { token, venue: venue.id, gross };
}

test('an owner reads the sales dashboard over real orders, on a laptop and on a phone', async () => {
  const laptop = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const { token, venue, gross } = await seeded(laptop.request);
  await laptop.addInitScript((access) => sessionStorage.setItem('comanda.access', access), token);
  const page = await laptop.newPage();
  const cspViolations = [];
  const foreign = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  page.on('request', (r) => { if (!r.url().startsWith(server.origin) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) foreign.push(r.url()); });

  await page.goto(`${server.origin}/analytics?venue=${venue}`);
  const grossShown = page.locator('#summary dd[data-figure=gross]');
  await grossShown.waitFor();
  assert.equal(await page.locator('#summary dd[data-figure=orders]').textContent(), '6');
  // 6 × … COP as the page writes pesos: "$ 42.000", a no-break space after the sign so the amount never wraps away from it.
  assert.equal(await grossShown.textContent(), `$\u00a0${(gross / 100).toLocaleString('es-CO')}`);
  // Figures derived from tax-inclusive prices (net, tax, averages) are shown in whole pesos, never centavos.
  for (const figure of ['net', 'tax', 'net_tax', 'average_order', 'average_ticket']) {
    assert.match(await page.locator(`#summary dd[data-figure=${figure}]`).textContent(), /^\$\u00a0\d{1,3}(\.\d{3})*$/, figure);
  }
  // No party seated and no no-show, no card payment ended: no rate to give, "—" rather than a "0 %" that reads as
  // every payment failing.
  assert.equal(await page.locator('#summary dd[data-figure=no_show_rate]').textContent(), '—');
  assert.equal(await page.locator('#summary dd[data-figure=payment_success]').textContent(), '—');
  const tooltip = await page.locator('#summary dt', { hasText: 'Propinas' }).getAttribute('title');
  assert.match(tooltip, /Ley 1935/);
  assert.match(await page.textContent('#zone-note'), /America\/Bogota/);
  // Seven daily bars, today's the only one with sales; the heat map has its 168 cells, one of them lit.
  assert.equal(await page.locator('#series-chart rect.bar').count(), 7);
  const heights = await page.locator('#series-chart rect.bar').evaluateAll((bars) => bars.map((b) => Number(b.getAttribute('height'))));
  assert.equal(heights.filter((h) => h > 0).length, 1, `${heights}`);
  assert.equal(await page.locator('#heat-chart rect.cell').count(), 168);
  // What the bars' titles tell a mouse is a table for a screen reader and a keyboard: seven days, the day with
  // sales written as the summary writes it; the heat map's lit hour; the definitions in words, not only tooltips.
  for (const summary of await page.locator('details summary').all()) await summary.click();
  const seriesRows = page.locator('#series-data tbody tr');
  assert.equal(await seriesRows.count(), 7);
  const seriesValues = await seriesRows.evaluateAll((rows) => rows.map((r) => r.children[1].textContent));
  assert.ok(seriesValues.includes(await grossShown.textContent()), `${seriesValues}`);
  assert.equal(await page.locator('#heat-data tbody tr').count(), 1);
  assert.equal(await page.locator('#mix-data tbody tr').count() > 0, true);
  assert.match(await page.textContent('#definitions'), /Ley 1935/);
  await page.screenshot({ path: artifactPath('analytics.png'), fullPage: true });
  await assertAccessible(page, 'analytics');

  // Hourly over the business day that has the sales (Bogotá's, which is not always the machine's date).
  const title = await page.locator('#series-chart rect.bar').nth(heights.findIndex((h) => h > 0)).locator('title').textContent();
  const salesDay = title.slice(0, 10);
  await page.selectOption('#range-form select[name=granularity]', 'hour');
  await page.fill('#range-form input[name=from]', salesDay);
  await page.fill('#range-form input[name=to]', salesDay);
  await page.click('#range-form button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#series-chart rect.bar').length >= 23);
  await page.screenshot({ path: artifactPath('analytics-hourly.png'), fullPage: true });
  await assertAccessible(page, 'analytics-hourly');

  // The series as CSV, with the zone and the amounts in minor units and written out — from the Spanish page, as
  // Excel in es-CO opens it by a double click: a byte-order mark (else "día" reads "dÃ­a"), ";" between cells (the
  // locale's list separator) and a decimal comma; the header row and the figure's name in Spanish, for the owner.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv-series')]);
  // Named with its period: a second day's or month's download does not overwrite the first.
  assert.equal(download.suggestedFilename(), `ventas-serie-${salesDay}.csv`);
  const csv = readFileSync(await download.path(), 'utf8');
  assert.match(csv, /^\uFEFFInicio \(hora local\);Día de operación;Zona horaria;Cifra;Valor \(centavos\);Valor;Moneda;Días de operación\r\n/);
  assert.match(csv, new RegExp(`;America/Bogota;Ventas brutas;${gross};${(gross / 100).toFixed(2).replace('.', ',')};COP;1\\r\\n`));
  // The month's tip ledger for payroll, from the same page (it was API-only): the range's month, every venue.
  const [tipsFile] = await Promise.all([page.waitForEvent('download'), page.click('#csv-tips')]);
  assert.equal(tipsFile.suggestedFilename(), `propinas-${salesDay.slice(0, 7)}.csv`);
  assert.match(readFileSync(await tipsFile.path(), 'utf8'), /^\uFEFFMomento;ID del local;/);
  // The API's plain CSV for programs is RFC 4180 as before.
  const plain = await (await laptop.request.get(`${server.origin}/api/v1/venues/${venue}/analytics/timeseries?metric=gross&granularity=${await page.inputValue('#range-form [name=granularity]')}&from=${await page.inputValue('#range-form [name=from]')}&to=${await page.inputValue('#range-form [name=to]')}&format=csv`, { headers: { Authorization: `Bearer ${token}` } })).text();
  assert.match(plain, /^start_local,business_day,timezone,metric,value_minor,value,currency,days\r\n/);
  assert.match(plain, new RegExp(`,America/Bogota,gross,${gross},${(gross / 100).toFixed(2)},COP,1\\r\\n`));

  // Opened without a venue (a bookmark), the page takes the partner's only venue rather than failing.
  await page.goto(`${server.origin}/analytics`);
  await page.locator('#summary dd[data-figure=orders]').filter({ hasText: '6' }).waitFor();
  assert.equal(new URL(page.url()).searchParams.get('venue'), venue);

  // A bad range is refused naming the field, on the page.
  await page.fill('#range-form input[name=from]', '2026-12-31');
  await page.fill('#range-form input[name=to]', '2026-01-01');
  await page.click('#range-form button[type=submit]');
  await page.locator('.error').waitFor();
  assert.equal(await page.textContent('.error'), 'La fecha final no puede ser anterior a la inicial.');
  // The figures of the range before do not stay under the refused dates.
  assert.equal(await page.locator('#summary dd').count(), 0);

  // The owner reads the staff pages in English although the browser says Spanish: the switch keeps the venue, and
  // the next page stays in English until switched back.
  await page.click('a.switch');
  await page.waitForURL((url) => url.searchParams.get('lang') === 'en' && url.searchParams.get('venue') === venue);
  await page.locator('#summary dt', { hasText: 'Gross sales' }).waitFor();
  await page.goto(`${server.origin}/host?venue=${venue}`);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.locator('h1', { hasText: "Today's bookings" }).waitFor();
  await assertAccessible(page, 'host-english');
  await page.click('a.switch');
  await page.waitForURL((url) => url.searchParams.get('lang') === 'es' && url.searchParams.get('venue') === venue);
  assert.equal(await page.getAttribute('html', 'lang'), 'es');

  const phone = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US', viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  await phone.addInitScript((access) => sessionStorage.setItem('comanda.access', access), token);
  const small = await phone.newPage();
  small.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  await small.goto(`${server.origin}/analytics?venue=${venue}`);
  await small.locator('#summary dd[data-figure=orders]').waitFor();
  assert.equal(await small.locator('#summary dt', { hasText: 'Gross sales' }).count(), 1);
  // In English, amounts are written as English writes them and name their currency: "$ 42.000" beside "91.67 %"
  // read as dollars and cents.
  assert.match(await small.locator('#summary dd[data-figure=gross]').textContent(), /^COP\u00a0\d{1,3}(,\d{3})*$/);
  const overflow = await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways on a phone by ${overflow}px`);
  await small.screenshot({ path: artifactPath('analytics-phone.png'), fullPage: true });
  await assertAccessible(small, 'analytics-phone');

  assert.deepEqual(cspViolations, []);
  assert.deepEqual(foreign, [], 'no third-party request');
  await laptop.close();
  await phone.close();
});

test('an owner reads the dashboard over sixty days of history made by comanda seed', async () => {
  const password = 'semillas de sesenta días';
  const seeded = spawnSync(binary, [
    'seed', '--data-dir', server.dataDir, '--orders', '6000', '--days', '60', '--orders-per-venue-day', '50',
    '--venues-per-partner', '1', '--seed', '5', '--password', password,
  ], { encoding: 'utf8' });
  assert.equal(seeded.status, 0, seeded.stderr);
  const [, , , email, , venues] = seeded.stdout.split('\n').find((l) => l.startsWith('partner ')).split(' ');
  const venue = venues.split(',')[0];
  const laptop = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 1280, height: 900 } });
  const post = async (path, data, token) => {
    const response = await laptop.request.post(`${server.origin}${path}`, { data, headers: token ? { Authorization: `Bearer ${token}` } : {} });
    const body = await response.json();
    assert.ok(response.ok(), `${path} → ${response.status()}: ${JSON.stringify(body)}`);
    return body;
  };
  const login = await post('/api/v1/auth/login', { email, password });
  const enrollment = await post('/api/v1/auth/mfa/totp/enroll', {}, login.enrollment_token);
  const token = (await post('/api/v1/auth/mfa/totp/confirm', { code: totp(enrollment.secret) }, login.enrollment_token)).access_token;
  await laptop.addInitScript((access) => sessionStorage.setItem('comanda.access', access), token);
  const page = await laptop.newPage();
  const cspViolations = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  // The seed's sixty business days end yesterday in Bogotá.
  const bogota = new Date(Date.now() - 5 * 3600_000);
  const last = new Date(bogota.getTime() - 86400_000).toISOString().slice(0, 10);
  const first = new Date(bogota.getTime() - 60 * 86400_000).toISOString().slice(0, 10);
  await page.goto(`${server.origin}/analytics?venue=${venue}&from=${first}&to=${last}`);
  await page.locator('#mix-chart rect.bar').first().waitFor();
  const orders = Number(await page.locator('#summary dd[data-figure=orders]').textContent());
  assert.ok(orders > 2_800 && orders <= 3_000, `one venue's orders: ${orders}`);
  // Each reservation rate with its count: the seed's no-shows and cancellations, "7,12 % (41)", "120 (10,4 %)".
  assert.match(await page.locator('#summary dd[data-figure=no_show_rate]').textContent(), /^[1-9][\d,]* % \(\d+\)$/);
  assert.match(await page.locator('#summary dd[data-figure=cancellations]').textContent(), /^[1-9]\d* \([\d,]+ %\)$/);
  assert.match(await page.locator('#summary dd[data-figure=bookings]').textContent(), /^[1-9]\d*$/);
  // The seeded tables turn more than once a day, for more than a few minutes each.
  assert.match(await page.locator('#summary dd[data-figure=turnover]').textContent(), /^[1-9]\d*,\d\d ×$/);
  assert.match(await page.locator('#summary dd[data-figure=average_turn]').textContent(), /^[1-9]\d+ min$/);
  // Week over week: the sixty days before the seeded history sold nothing, and the tooltip names them.
  const change = page.locator('#summary dd[data-change=gross]');
  assert.equal(await change.evaluate((d) => d.firstChild.textContent), '▲ nuevo');
  assert.match(await change.getAttribute('title'), /semanas completas antes/);
  assert.match(await change.textContent(), /nuevo/);
  assert.match(await change.locator('.visually-hidden').textContent(), /^ \(antes \$\u00a00, /);
  // The owner and three servers accepted the seeded tables: four lines whose orders add up, each with tips.
  const serverRows = page.locator('#servers-table tbody tr');
  assert.equal(await serverRows.count(), 4);
  const served = await serverRows.evaluateAll((rows) => rows.map((r) => Number(r.children[1].textContent)));
  assert.equal(served.reduce((a, b) => a + b, 0), orders, `${served}`);
  assert.match(await serverRows.first().locator('td').nth(4).textContent(), /^\$\u00a0[1-9]/);
  // Sixty daily bars, every day with sales; lunch and dinner lit on the heat map; ten best sellers.
  const heights = await page.locator('#series-chart rect.bar').evaluateAll((bars) => bars.map((b) => Number(b.getAttribute('height'))));
  assert.equal(heights.length, 60);
  assert.ok(heights.every((h) => h > 0), `${heights}`);
  const lit = await page.locator('#heat-chart rect.cell').evaluateAll((cells) => cells.filter((c) => Number(c.getAttribute('fill-opacity')) > 0.5).length);
  assert.ok(lit >= 7, `busy hours on the heat map: ${lit}`);
  assert.equal(await page.locator('#mix-chart rect.bar').count(), 10);
  assert.match(await page.textContent('#mix-bottom'), /Lo que menos se vende/);
  await page.screenshot({ path: artifactPath('analytics-seeded.png'), fullPage: true });
  await assertAccessible(page, 'analytics-seeded');
  assert.deepEqual(cspViolations, []);
  await laptop.close();
});
