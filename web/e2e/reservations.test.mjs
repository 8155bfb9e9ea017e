// A guest on a phone books a venue's last free time in the public widget; a second guest no longer sees that time;
// the host's day view offers seating only near a party's time; the host seats a walk-in from the page's form (its table's
// session opens for its QR orders), books a caller by phone and moves them to another time and party size.
import { test, before, after } from 'node:test';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, artifactPath, assertAccessible } from './harness.mjs';
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

/// JSON calls through a browser context's request API, failing the test on any error answer.
function caller(api) {
  return async (method, path, data, token) => {
    const response = await api.fetch(`${server.origin}${path}`, { method, data, headers: token ? { Authorization: `Bearer ${token}` } : {} });
    const text = await response.text();
    assert.ok(response.ok(), `${path} → ${response.status()}: ${text}`);
    return text ? JSON.parse(text) : {};
  };
}

/// Signs a business up and enrols its owner's authenticator: the owner's access token.
async function owner(call, business, name, email, password) {
  await call('POST', '/api/v1/signup', { business_name: business, country: 'CO', owner: { name, email, password } });
  const login = await call('POST', '/api/v1/auth/login', { email, password });
  const enrollment = await call('POST', '/api/v1/auth/mfa/totp/enroll', {}, login.enrollment_token);
  return (await call('POST', '/api/v1/auth/mfa/totp/confirm', { code: totp(enrollment.secret) }, login.enrollment_token)).access_token;
}

/// Through the JSON API: an owner with 2FA, a venue in Bogotá with one table of four, and its booking policy.
async function setUp(api) {
  const call = caller(api);
  const token = await owner(call, 'Casa Bruma', 'Lucía', 'anfitriona@example.co', 'mesas para la noche del viernes');
  const venue = await call('POST', '/api/v1/venues', { name: 'Casa Bruma', timezone: 'America/Bogota' }, token);
  const table = await call('POST', `/api/v1/venues/${venue.id}/tables`, { label: 'Mesa 1', seats: 4 }, token);
  await call('PUT', `/api/v1/venues/${venue.id}/booking-policy`, eveningPolicy('18:00', '22:00', 60), token);
  return { token, venue: venue.id, table: table.id };
}

/// An instant's local time at the Bogotá venues of these tests, as the host page shows it ("19:45").
const hhmmIn = (instant) => new Intl.DateTimeFormat('en-GB', { timeZone: 'America/Bogota', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(instant));

/// A booking policy seating every day from `first` to `last` (local), with `notice` minutes of online notice.
function eveningPolicy(first, last, notice) {
  return {
    services: [{ weekdays: [1, 2, 3, 4, 5, 6, 7], first_seating: first, last_seating: last }],
    slot_minutes: 15,
    turn_minutes: [{ max_party: 2, minutes: 90 }, { max_party: 8, minutes: 120 }],
    buffer_minutes: 15,
    pacing: { covers_per_15_min: 12, online_covers_per_15_min: 8 },
    min_notice_minutes: notice,
    horizon_days: 30,
    max_party_size: 8,
    deposit_per_cover: null,
    cancellation_cutoff_hours: 0,
  };
}

test('a guest books the last free time, the next guest no longer sees it, and the host seats a walk-in', async () => {
  const staff = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 1280, height: 800 } });
  const { token, venue } = await setUp(staff.request);
  const cspViolations = [];
  const watch = (page) => page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });

  const phone = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const guest = await phone.newPage();
  watch(guest);
  await guest.goto(`${server.origin}/book/${venue}`);
  // The date offered first is the venue's today (its zone, its 05:00 day start) while it still has a time for two,
  // tomorrow otherwise; the rest of the test books tomorrow evening, hours away whenever it runs.
  const businessToday = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Bogota' }).format(new Date(Date.now() - 5 * 3600_000));
  const nextDay = new Date(Date.parse(`${businessToday}T12:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  const tonight = await (await staff.request.get(`${server.origin}/api/v1/venues/${venue}/availability?date=${businessToday}&party_size=2`)).json();
  const offered = tonight.slots.length > 0 ? businessToday : nextDay;
  await guest.waitForFunction((want) => document.querySelector('#search-form input[name=date]').value === want, offered, { timeout: 5000 })
    .catch(async () => assert.fail(`the date offered first: ${await guest.inputValue('#search-form input[name=date]')}, not ${offered}`));
  await guest.fill('#search-form input[name=date]', nextDay);
  // Seven fit no table here (one four-top): the guest is told so, not shown a full day and a waitlist that would
  // refuse them.
  await guest.fill('#search-form input[name=party_size]', '7');
  await guest.click('#search-form button');
  await guest.locator('.error', { hasText: 'no recibe grupos de ese tamaño' }).waitFor();
  assert.equal(await guest.isHidden('#waitlist-form'), true);
  await guest.fill('#search-form input[name=party_size]', '2');
  await guest.click('#search-form button');
  await guest.locator('#slot-list button').first().waitFor();
  const date = await guest.inputValue('#search-form input[name=date]');
  const seven = guest.locator('#slot-list button', { hasText: '19:00' });
  const start = await seven.getAttribute('data-start');
  await guest.screenshot({ path: artifactPath('booking-times.png'), fullPage: true });
  await assertAccessible(guest, 'booking-times');
  await seven.click();
  await guest.fill('#details-form input[name=name]', 'Valentina Ríos');
  await guest.fill('#details-form input[name=phone]', '123 4567');
  await guest.fill('#details-form input[name=email]', 'valentina@example.co');
  await guest.check('#details-form input[name=consent]');
  // A number that is not a Colombian one and has no country code is refused, in the page's language; a mobile
  // number as Colombians write it is taken at this Bogotá venue (the page adds +57).
  await guest.click('#details-form button[type=submit]');
  await guest.locator('.error', { hasText: 'indicativo de país' }).waitFor();
  await guest.fill('#details-form input[name=phone]', '300 123 4567');
  await guest.screenshot({ path: artifactPath('booking-details.png'), fullPage: true });
  await assertAccessible(guest, 'booking-details');
  // The privacy notice the consent box stands for (Law 1581), one tap away, in a tab of its own.
  const [notice] = await Promise.all([
    phone.waitForEvent('page'),
    guest.click('#details-form a[href*="/privacy"]'),
  ]);
  await notice.waitForLoadState();
  await notice.locator('h1', { hasText: 'Aviso de privacidad' }).waitFor();
  assert.match(await notice.locator('main').textContent(), /Superintendencia de Industria y Comercio/);
  await assertAccessible(notice, 'privacy-notice');
  await notice.close();
  await guest.click('#details-form button[type=submit]');
  await guest.locator('#confirmed').waitFor({ state: 'visible' });
  assert.match(await guest.locator('#confirmed-text').textContent(), /19:00 · 2 personas · Confirmada/);
  const width = await guest.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `no horizontal scrolling on a 360 px screen (${width})`);
  await guest.screenshot({ path: artifactPath('booking-confirmed.png'), fullPage: true });
  await assertAccessible(guest, 'booking-confirmed');

  // The confirmation's link opens the booking again.
  await guest.click('#manage-link');
  await guest.locator('#confirmed-title', { hasText: 'Tu reserva' }).waitFor();
  assert.equal(await guest.locator('#cancel-booking').isVisible(), true);
  // A tap on Cancel asks for a second one: a cancellation cannot be undone. (Not tapped again: the booking stands.)
  await guest.click('#cancel-booking');
  assert.equal(await guest.textContent('#cancel-booking'), 'Toca de nuevo para cancelar la reserva');
  assert.match(await guest.locator('#confirmed-text').textContent(), /Confirmada/);
  // A link whose token is wrong says so in Spanish, and the page still books.
  await guest.goto(`${server.origin}/book/${venue}?reservation=${new URL(guest.url()).searchParams.get('reservation')}&token=equivocado`);
  await guest.locator('.error', { hasText: 'Este enlace de la reserva no es válido' }).waitFor();
  assert.notEqual(await guest.inputValue('#search-form input[name=date]'), '');

  // A second guest, that evening, no longer sees 19:00: the only table is held.
  const secondPhone = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 360, height: 740 }, isMobile: true });
  const second = await secondPhone.newPage();
  watch(second);
  await second.goto(`${server.origin}/book/${venue}`);
  await second.fill('#search-form input[name=date]', date);
  await second.click('#search-form button');
  await second.locator('#slot-list button').first().waitFor();
  assert.equal(await second.locator(`#slot-list button[data-start="${start}"]`).count(), 0, 'the booked time is gone');

  // The host's day view: the booking on its table's lane. A party is seated from an hour before its time, so the
  // evening's booking offers no "Sentar" yet (seating keeps a deposit: never days ahead).
  await staff.addInitScript((access) => sessionStorage.setItem('comanda.access', access), token);
  const host = await staff.newPage();
  watch(host);
  await host.goto(`${server.origin}/host?venue=${venue}&date=${date}`);
  await host.locator('.lane .chip', { hasText: 'Valentina Ríos' }).waitFor();
  await host.screenshot({ path: artifactPath('host-day.png'), fullPage: true });
  await assertAccessible(host, 'host-day');
  const row = host.locator('#day-list li', { hasText: 'Valentina Ríos' });
  await row.locator('button[data-move="confirmed"]').waitFor();
  // The number she typed as Colombians do was stored with its country code.
  assert.equal(await row.locator('a[href="tel:+573001234567"]').textContent(), '+57 300 123 4567');
  // Opened without a date, the host's day is the venue's business day in Bogotá (its day starts at 05:00), not the
  // calendar day of a browser set to Tokyo.
  const tokyo = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', timezoneId: 'Asia/Tokyo' });
  await tokyo.addInitScript((access) => sessionStorage.setItem('comanda.access', access), token);
  const today = await tokyo.newPage();
  await today.goto(`${server.origin}/host?venue=${venue}`);
  await today.waitForFunction(() => document.querySelector('#day-form input[name=date]').value !== '');
  const business = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Bogota', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date(Date.now() - 5 * 3600 * 1000));
  assert.equal(await today.inputValue('#day-form input[name=date]'), business);
  await tokyo.close();
  // (The guest booked the venue's tomorrow, so 19:00 in Bogotá is always hours away.)
  assert.ok(Date.parse(start) - Date.now() > 2 * 3600_000, start);
  assert.equal(await row.locator('button[data-move="seated"]').count(), 0, 'not seated hours ahead');

  // A party walks in: the venue takes bookings all day now (an hour's notice online), with a second table. The host
  // opens the page's new-booking form and seats them now (not at the next time of the list: the host's times ignore
  // the online notice, so one is within the quarter hour), which opens their table's session.
  const call = caller(staff.request);
  await call('POST', `/api/v1/venues/${venue}/tables`, { label: 'Mesa 2', seats: 4 }, token);
  await call('PUT', `/api/v1/venues/${venue}/booking-policy`, eveningPolicy('00:00', '23:45', 60), token);
  // A day that starts at midnight, so an all-day service's every seating is on its own date's list at any hour this
  // runs (with the default 05:00 start, a walk-in at 00:45 belongs to the evening before's list).
  await call('PUT', `/api/v1/venues/${venue}/business-day`, { day_start_hour: 0 }, token);
  const venueDay = (when) => new Intl.DateTimeFormat('en-CA', { timeZone: 'America/Bogota' }).format(when);
  let slot;
  let day;
  for (const candidate of [venueDay(new Date()), venueDay(new Date(Date.now() + 86_400_000))]) {
    if (slot) break;
    slot = (await call('GET', `/api/v1/venues/${venue}/availability?date=${candidate}&party_size=2`, undefined, token)).slots[0];
    day = candidate;
  }
  assert.ok(slot && Date.parse(slot.start) - Date.now() <= 15 * 60_000, `a free time within the quarter hour: ${JSON.stringify(slot)}`);
  const online = (await call('GET', `/api/v1/venues/${venue}/availability?date=${day}&party_size=2`)).slots[0];
  assert.ok(!online || Date.parse(online.start) - Date.now() >= 60 * 60_000, `online keeps its notice: ${JSON.stringify(online)}`);
  await host.goto(`${server.origin}/host?venue=${venue}&date=${day}`);
  await host.click('#new-booking summary');
  await host.locator('#booking-form select[name=start] option').first().waitFor({ state: 'attached' });
  // A walk-in seated now leaves a name, not a phone: nobody calls them back.
  await host.fill('#booking-form input[name=name]', 'Andrés Walk-in');
  await host.check('#booking-form input[name=consent]');
  await host.screenshot({ path: artifactPath('host-new-booking.png'), fullPage: true });
  await assertAccessible(host, 'host-new-booking');
  const walkedIn = Date.now();
  await host.click('#booking-form button[name=walk_in]');
  const walkInRow = host.locator('#day-list li', { hasText: 'Andrés Walk-in' });
  await walkInRow.locator('.status', { hasText: 'En la mesa' }).waitFor();
  await host.screenshot({ path: artifactPath('host-seated.png'), fullPage: true });
  await assertAccessible(host, 'host-seated');
  const dayList = async () => (await call('GET', `/api/v1/venues/${venue}/reservations?date=${day}`, undefined, token)).items;
  const seated = (await dayList()).find((r) => r.guest_name === 'Andrés Walk-in');
  assert.equal(seated.status, 'seated');
  const started = Date.parse(seated.start);
  assert.ok(started >= walkedIn - 2_000 && started <= Date.now(), `a walk-in starts when it is seated: ${seated.start}`);
  assert.equal(seated.guest_phone, '');
  const sessions = await call('GET', `/api/v1/venues/${venue}/table-sessions`, undefined, token);
  assert.ok(sessions.items.some((s) => seated.tables.includes(s.table_id) && s.status === 'open'), JSON.stringify(sessions));

  // A caller books by phone for the day's last time, without an email; then asks for one more guest and an earlier
  // time, which the host moves on the booking's row. (A third table keeps an earlier time free for four at any hour
  // of the evening the test runs: the walk-in holds one table to the end of its turn, the booking another.)
  await call('POST', `/api/v1/venues/${venue}/tables`, { label: 'Mesa 3', seats: 4 }, token);
  await host.fill('#booking-form input[name=party_size]', '3');
  await host.locator('#booking-form input[name=party_size]').dispatchEvent('change');
  await host.locator('#booking-form select[name=start] option').first().waitFor({ state: 'attached' });
  const times = await host.locator('#booking-form select[name=start] option').evaluateAll((options) => options.map((o) => o.value));
  assert.ok(times.length >= 2, `times left: ${times}`);
  await host.selectOption('#booking-form select[name=start]', times[times.length - 1]);
  await host.fill('#booking-form input[name=name]', 'Marta por teléfono');
  // A booking needs the phone the venue reaches the guest at: the host is told, in Spanish, and nothing is booked.
  await host.fill('#booking-form input[name=note]', 'Cumpleaños, una silla para bebé');
  await host.check('#booking-form input[name=consent]');
  await host.click('#booking-form button[name=book]');
  await host.locator('.error', { hasText: 'Escribe el teléfono del cliente' }).waitFor();
  await host.fill('#booking-form input[name=name]', 'Marta por teléfono');
  await host.fill('#booking-form input[name=phone]', '+573005550102');
  await host.fill('#booking-form input[name=note]', 'Cumpleaños, una silla para bebé');
  await host.check('#booking-form input[name=consent]');
  await host.click('#booking-form button[name=book]');
  const phoned = host.locator('#day-list li', { hasText: 'Marta por teléfono' });
  await phoned.waitFor();
  assert.match(await phoned.locator('.who').textContent(), /\(3\)/);
  assert.equal(await phoned.locator('.note').textContent(), 'Nota: Cumpleaños, una silla para bebé');
  await phoned.locator('button[data-move="moved"]').click();
  const moveForm = phoned.locator('form.move-form');
  // The move opens on the booking's own time (its tables count as its own), never on the day's first time.
  await host.waitForFunction((booked) => {
    const select = document.querySelector('#day-list form.move-form select[name=start]');
    return select && select.value === booked;
  }, times[times.length - 1]);
  await moveForm.locator('input[name=party_size]').fill('4');
  await moveForm.locator('input[name=party_size]').dispatchEvent('change');
  await host.waitForFunction(() => {
    const select = document.querySelector('#day-list form.move-form select[name=start]');
    return select && select.options.length > 0 && !select.closest('form').querySelector('button[type=submit]').disabled;
  });
  const earlier = await moveForm.locator('select[name=start] option').evaluateAll((options, last) => options.map((o) => o.value).find((v) => v !== last && v !== ''), times[times.length - 1]);
  await moveForm.locator('select[name=start]').selectOption(earlier);
  await assertAccessible(host, 'host-move');
  await moveForm.locator('button[type=submit]').click();
  await host.locator('#day-list li', { hasText: 'Marta por teléfono (4)' }).waitFor();
  const moved = (await dayList()).find((r) => r.guest_name === 'Marta por teléfono');
  assert.deepEqual([moved.start, moved.party_size], [earlier, 4]);
  // Marta books again for two, the same evening, from the same phone (she forgot she had called): each booking's row
  // says the other is there, for the host to ask and cancel one.
  await call('POST', `/api/v1/venues/${venue}/reservations`, {
    start: times[times.length - 1], party_size: 2, consent: true, note: '', guest: { name: 'Marta R.', phone: '+573005550102' },
  }, token);
  await host.click('#day-form button[type=submit]');
  const twin = host.locator('#day-list li', { hasText: 'Marta R.' }).locator('.duplicate');
  await twin.waitFor();
  assert.match(await twin.textContent(), new RegExp(`mismo teléfono reservó a las ${hhmmIn(earlier)} \\(4\\)`));
  assert.match(await phoned.locator('.duplicate').textContent(), new RegExp(`a las ${hhmmIn(times[times.length - 1])} \\(2\\)`));
  await host.screenshot({ path: artifactPath('host-duplicate.png'), fullPage: true });
  await assertAccessible(host, 'host-duplicate');
  assert.deepEqual(cspViolations, []);
  await secondPhone.close();
  await phone.close();
  await staff.close();
});

test('the owner asks a deposit on the settings page; a guest reads its rule, pays it with Elements, and the booking is confirmed', async () => {
  const staff = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 1280, height: 800 } });
  const api = staff.request;
  const call = caller(api);
  // An owner with 2FA and payout authority whose connected account takes cards, and a venue asking 20.000 COP per
  // cover, refundable up to 24 hours before.
  const token = await owner(call, 'Casa Niebla', 'Inés', 'deposito@example.co', 'noche de lluvia en la sierra');
  const me = await call('GET', '/api/v1/me', undefined, token);
  await call('PATCH', `/api/v1/staff/${me.user_id}`, { payout_authority: true }, token);
  const link = await call('POST', '/api/v1/payouts/onboarding', {}, token);
  assert.equal((await api.get(link.url, { maxRedirects: 0 })).status(), 303);
  for (let i = 0; !(await call('GET', '/api/v1/payouts', undefined, token)).accepts_payments; i++) {
    assert.ok(i < 100, 'the connected account becomes active');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const venue = await call('POST', '/api/v1/venues', { name: 'Casa Niebla', timezone: 'America/Bogota' }, token);
  await call('POST', `/api/v1/venues/${venue.id}/tables`, { label: 'Mesa 1', seats: 4 }, token);
  await call('POST', `/api/v1/venues/${venue.id}/tables`, { label: 'Mesa 2', seats: 4 }, token);
  // Four services and four turn rules, more than the page shows at first: saving the page keeps every one.
  const lunches = [1, 2, 3].map((day) => ({ weekdays: [day], first_seating: '12:00', last_seating: '14:00' }));
  const turns = [{ max_party: 2, minutes: 75 }, { max_party: 4, minutes: 90 }, { max_party: 6, minutes: 105 }, { max_party: 8, minutes: 120 }];
  await call('PUT', `/api/v1/venues/${venue.id}/booking-policy`, { ...eveningPolicy('18:00', '22:00', 60), turn_minutes: turns, services: [eveningPolicy('18:00', '22:00', 60).services[0], ...lunches] }, token);
  // The owner asks the deposit on the settings page: the current rules are shown, the deposit and cut-off saved.
  await staff.addInitScript((access) => sessionStorage.setItem('comanda.access', access), token);
  const settings = await staff.newPage();
  await settings.goto(`${server.origin}/booking-settings?venue=${venue.id}`);
  // The page gives the owner the public booking link to share.
  await settings.locator('#booking-link').waitFor();
  assert.equal(await settings.getAttribute('#public-booking', 'href'), `/book/${venue.id}`);
  assert.equal(await settings.textContent('#public-booking'), `${server.origin}/book/${venue.id}`);
  await settings.waitForFunction(() => document.querySelector('#policy-form input[name=horizon_days]').value === '30');
  assert.equal(await settings.isChecked('#policy-form input[name=s0d5]'), true, 'Friday is in the first service');
  // Without a deposit there is no refund cut-off to give: its field is off and the rules save as they are.
  assert.equal(await settings.isDisabled('#policy-form input[name=cancellation_cutoff_hours]'), true);
  await settings.click('#policy-form button[type=submit]');
  await settings.locator('#policy-saved').waitFor({ state: 'visible' });
  assert.equal((await call('GET', `/api/v1/venues/${venue.id}/booking-policy`, undefined, token)).policy.deposit_per_cover, null);
  await settings.evaluate(() => { document.querySelector('#policy-saved').hidden = true; });
  // Written as Colombians write pesos: the dot groups thousands (a number field read it as twenty pesos).
  await settings.fill('#policy-form input[name=deposit]', '20.000');
  await settings.fill('#policy-form input[name=cancellation_cutoff_hours]', '24');
  await settings.click('#policy-form button[type=submit]');
  await settings.locator('#policy-saved').waitFor({ state: 'visible' });
  await settings.locator('#table-settings li', { hasText: 'Mesa 1' }).waitFor();
  // Two four-tops that join for a party of eight.
  for (const box of await settings.locator('#combination-tables input').all()) await box.check();
  await settings.click('#combination-form button[type=submit]');
  await settings.locator('#combinations li', { hasText: 'Mesa 1 + Mesa 2' }).waitFor();
  await settings.screenshot({ path: artifactPath('booking-settings.png'), fullPage: true });
  await assertAccessible(settings, 'booking-settings');
  const saved = await call('GET', `/api/v1/venues/${venue.id}/booking-policy`, undefined, token);
  assert.deepEqual([saved.policy.deposit_per_cover, saved.policy.cancellation_cutoff_hours], [{ amount: 2_000_000, currency: 'COP' }, 24]);
  assert.deepEqual(saved.policy.services.slice(1), lunches, 'the fourth service survived the save');
  assert.deepEqual(saved.policy.turn_minutes, turns);
  // Shown again as written; an amount that cannot be read for sure is refused, and nothing is saved.
  await settings.reload();
  await settings.waitForFunction(() => document.querySelector('#policy-form input[name=deposit]').value === '20.000');
  await settings.fill('#policy-form input[name=deposit]', '20.5');
  await settings.click('#policy-form button[type=submit]');
  await settings.locator('.error', { hasText: 'en pesos' }).waitFor();
  const kept = await call('GET', `/api/v1/venues/${venue.id}/booking-policy`, undefined, token);
  assert.deepEqual(kept.policy.deposit_per_cover, { amount: 2_000_000, currency: 'COP' });
  assert.deepEqual(saved.combinations.map((c) => c.tables.length), [2]);
  // A combination declared by mistake is withdrawn from the same list.
  await settings.locator('#combinations li button').click();
  await settings.waitForFunction(() => document.querySelectorAll('#combinations li').length === 0);
  assert.deepEqual((await call('GET', `/api/v1/venues/${venue.id}/booking-policy`, undefined, token)).combinations, []);

  const phone = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const guest = await phone.newPage();
  const cspViolations = [];
  guest.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  await guest.goto(`${server.origin}/book/${venue.id}`);
  const later = new Date();
  later.setDate(later.getDate() + 3);
  await guest.fill('#search-form input[name=date]', isoDay(later));
  await guest.click('#search-form button');
  await guest.locator('#slot-list button', { hasText: '20:00' }).click();
  await guest.fill('#details-form input[name=name]', 'Tomás Arango');
  await guest.fill('#details-form input[name=phone]', '+573101234567');
  await guest.fill('#details-form input[name=email]', 'tomas@example.co');
  await guest.check('#details-form input[name=consent]');
  await guest.click('#details-form button[type=submit]');

  // The deposit page: the amount and the venue's rule before any card is asked.
  await guest.waitForURL(/\/deposit\?/);
  // Pesos as the rest of the site writes them: "$ 40.000" (another currency would be "20 EUR", never "$ 20 EUR").
  await guest.locator('#deposit-amount', { hasText: /^\$\s40\.000$/ }).waitFor();
  assert.match(await guest.textContent('#deposit-rule'), /Garantiza tu mesa: cuando llegas, te lo devolvemos a tu tarjeta\. Si cancelas hasta el .*, 20:00, te lo devolvemos completo; si cancelas después o no llegas, el restaurante lo conserva/);
  await guest.locator('[data-testid="pm_card_visa"]').waitFor();
  assert.equal(await guest.locator('input[autocomplete="cc-number"]').count(), 0, 'no card field on our page');
  await guest.screenshot({ path: artifactPath('booking-deposit.png'), fullPage: true });
  await assertAccessible(guest, 'booking-deposit');
  // The card is accepted, and Stripe sends the guest back as it does from a bank's page (the PaymentIntent and its
  // secret on the address) before or after comanda heard it: the page follows that payment to its end, offers no
  // card again, and keeps no secret in the address.
  const accepted = guest.waitForResponse((r) => r.url().includes('/confirm') && r.ok());
  await guest.click('#pay-deposit');
  const intent = (await (await accepted).json()).id;
  await guest.goto(`${guest.url()}&payment_intent=${intent}&payment_intent_client_secret=${intent}_secret_x&redirect_status=succeeded`);
  await guest.locator('#deposit-paid').waitFor({ state: 'visible', timeout: 15000 });
  assert.equal(await guest.isHidden('#deposit-card'), true);
  assert.doesNotMatch(guest.url(), /secret|redirect_status/);
  await guest.screenshot({ path: artifactPath('booking-deposit-paid.png'), fullPage: true });
  await assertAccessible(guest, 'booking-deposit-paid');

  // The booking's own page: confirmed, its deposit paid.
  await guest.click('#deposit-manage');
  await guest.locator('#confirmed-text', { hasText: 'Confirmada' }).waitFor();
  assert.match(await guest.textContent('#deposit-text'), /\$\u00a040\.000 · pagado/);
  assert.deepEqual(cspViolations, []);
  await phone.close();
  await staff.close();
});

function isoDay(date) {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
}

test('with no time free a guest joins the waitlist; the host cancels a booking and the guest accepts the offered table', async () => {
  const staff = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 1280, height: 800 } });
  const call = caller(staff.request);
  // One table and one seating a night (19:00): a single booking fills the evening.
  const token = await owner(call, 'Casa Única', 'Rosa', 'lista@example.co', 'una sola mesa por noche');
  const venue = (await call('POST', '/api/v1/venues', { name: 'Casa Única', timezone: 'America/Bogota' }, token)).id;
  await call('POST', `/api/v1/venues/${venue}/tables`, { label: 'Mesa 1', seats: 4 }, token);
  await call('PUT', `/api/v1/venues/${venue}/booking-policy`, { ...eveningPolicy('19:00', '19:00', 60), turn_minutes: [{ max_party: 8, minutes: 120 }] }, token);
  const later = new Date();
  later.setDate(later.getDate() + 3);
  const date = isoDay(later);
  const [slot] = (await call('GET', `/api/v1/venues/${venue}/availability?date=${date}&party_size=2`)).slots;
  await call('POST', `/api/v1/venues/${venue}/reservations`, {
    start: slot.start, party_size: 2, consent: true, note: '',
    guest: { name: 'Andrés Mejía', phone: '+573005550101', email: 'andres@example.co' },
  });

  const phone = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const guest = await phone.newPage();
  await guest.goto(`${server.origin}/book/${venue}`);
  await guest.fill('#search-form input[name=date]', date);
  await guest.click('#search-form button');
  await guest.locator('#no-slots').waitFor({ state: 'visible' });
  await guest.locator('#waitlist-form').waitFor({ state: 'visible' });
  await guest.fill('#waitlist-form input[name=earliest]', '18:00');
  await guest.fill('#waitlist-form input[name=latest]', '20:00');
  await guest.fill('#waitlist-form input[name=name]', 'Camila Ortiz');
  await guest.fill('#waitlist-form input[name=phone]', '+573005550202');
  await guest.fill('#waitlist-form input[name=email]', 'camila@example.co');
  await guest.check('#waitlist-form input[name=consent]');
  await guest.click('#waitlist-form button[type=submit]');
  await guest.locator('#waitlist-joined').waitFor({ state: 'visible' });
  // A guest who finds a table elsewhere can leave the list from here (not now: the offer comes below).
  assert.equal(await guest.isVisible('#leave-waitlist'), true);
  await guest.screenshot({ path: artifactPath('booking-waitlist.png'), fullPage: true });
  await assertAccessible(guest, 'booking-waitlist');
  // The guest is told by mail they are on the list, with a link that opens the page ready to leave it.
  const mailed = (needle) => {
    for (const name of readdirSync(join(server.dataDir, 'outbox'))) {
      const text = readFileSync(join(server.dataDir, 'outbox', name), 'utf8');
      if (text.includes('camila@example.co') && text.includes(needle)) return (text.match(/https:\/\/\S+\/book\/\S+token=[^\s]+/) || [null])[0];
    }
    return null;
  };
  let leaveLink = null;
  for (let i = 0; i < 100 && !leaveLink; i++) {
    leaveLink = mailed('Estás en la lista de espera');
    if (!leaveLink) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.match(leaveLink || '', /\?waitlist=[0-9a-f-]+&token=/);
  const fromMail = await phone.newPage();
  await fromMail.goto(leaveLink.replace(/^https:\/\/[^/]+/, server.origin));
  await fromMail.locator('#leave-waitlist').waitFor({ state: 'visible' });
  assert.match(await fromMail.textContent('#waitlist-joined'), /Estás en la lista de espera/);
  await fromMail.close();

  // The host cancels the evening's booking; the waitlist's first party is offered the table at once.
  await staff.addInitScript((access) => sessionStorage.setItem('comanda.access', access), token);
  const host = await staff.newPage();
  await host.goto(`${server.origin}/host?venue=${venue}&date=${date}`);
  await host.locator('#waitlist li', { hasText: 'Camila Ortiz' }).waitFor();
  const row = host.locator('#day-list li', { hasText: 'Andrés Mejía' });
  // A cancellation asks a second tap (it cannot be undone from the page).
  await row.locator('button[data-move="cancelled"]').click();
  assert.equal(await row.locator('button[data-move="cancelled"]').textContent(), 'Cancelar: toca otra vez');
  await row.locator('button[data-move="cancelled"]').click();
  await host.locator('#waitlist li', { hasText: 'mesa ofrecida' }).waitFor();
  await host.screenshot({ path: artifactPath('host-waitlist.png'), fullPage: true });
  await assertAccessible(host, 'host-waitlist');

  // The offer's mail carries the link; the guest accepts the table there.
  let link = null;
  for (let i = 0; i < 100 && !link; i++) {
    for (const name of readdirSync(join(server.dataDir, 'outbox'))) {
      const text = readFileSync(join(server.dataDir, 'outbox', name), 'utf8');
      if (text.includes('camila@example.co') && text.includes('Se liberó una mesa')) link = (text.match(/https:\/\/\S+\/book\/\S+token=[^\s]+/) || [null])[0];
    }
    if (!link) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(link, 'the offer was mailed with its link');
  await guest.goto(link.replace(/^https:\/\/[^/]+/, server.origin));
  await guest.locator('#accept-offer').waitFor({ state: 'visible' });
  await guest.click('#accept-offer');
  await guest.locator('#confirmed-text', { hasText: 'Confirmada' }).waitFor();
  await guest.screenshot({ path: artifactPath('booking-offer-accepted.png'), fullPage: true });
  await assertAccessible(guest, 'booking-offer-accepted');
  await phone.close();
  await staff.close();
});

test('a party waits at the bar: the host puts it on the list by phone, the table frees up, and the host accepts it for them', async () => {
  const staff = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 1280, height: 800 } });
  const call = caller(staff.request);
  const token = await owner(call, 'Casa Barra', 'Julián', 'barra@example.co', 'sillas altas junto al mostrador');
  const venue = (await call('POST', '/api/v1/venues', { name: 'Casa Barra', timezone: 'America/Bogota' }, token)).id;
  await call('POST', `/api/v1/venues/${venue}/tables`, { label: 'Mesa 1', seats: 4 }, token);
  await call('PUT', `/api/v1/venues/${venue}/booking-policy`, eveningPolicy('18:00', '22:00', 60), token);
  // The one table is taken by a party that walked in.
  const seatedFirst = await call('POST', `/api/v1/venues/${venue}/reservations`, {
    party_size: 4, consent: true, walk_in: true, guest: { name: 'Grupo de la mesa' },
  }, token);
  await call('POST', `/api/v1/reservations/${seatedFirst.reservation_id}/transitions`, { to: 'seated' }, token);

  await staff.addInitScript((access) => sessionStorage.setItem('comanda.access', access), token);
  const host = await staff.newPage();
  await host.goto(`${server.origin}/host?venue=${venue}`);
  await host.locator('#day-list li', { hasText: 'Grupo de la mesa' }).waitFor();
  await host.click('#new-wait summary');
  // The window opens on now and the hour after, in the venue's time (filled on the details' toggle event, which
  // the browser fires a task after the click: read once it is there, not at once).
  await host.waitForFunction(() => document.querySelector('#wait-form input[name=earliest]').value !== '');
  assert.match(await host.inputValue('#wait-form input[name=earliest]'), /^\d\d:\d\d$/);
  await host.fill('#wait-form input[name=party_size]', '2');
  await host.fill('#wait-form input[name=name]', 'Familia Pérez');
  await host.fill('#wait-form input[name=phone]', '300 555 0123');
  await host.check('#wait-form input[name=consent]');
  await host.screenshot({ path: artifactPath('host-wait-form.png'), fullPage: true });
  await assertAccessible(host, 'host-wait-form');
  await host.click('#wait-form button[type=submit]');
  const waiting = host.locator('#waitlist li', { hasText: 'Familia Pérez' });
  await waiting.filter({ hasText: 'esperando' }).waitFor();
  // The phone is a link that calls, written the Colombian way.
  assert.equal(await waiting.locator('a[href="tel:+573005550123"]').textContent(), '+57 300 555 0123');
  // The form is ready for the next party, its window set again.
  assert.match(await host.inputValue('#wait-form input[name=latest]'), /^\d\d:\d\d$/);

  // The party at the table leaves: the host marks it finished, and the table is offered to the Pérez at once.
  await host.locator('#day-list li', { hasText: 'Grupo de la mesa' }).locator('button[data-move="finished"]').click();
  await waiting.filter({ hasText: 'mesa ofrecida' }).filter({ hasText: 'Mesa 1' }).waitFor();
  assert.match(await waiting.textContent(), /guardada hasta las \d\d:\d\d/);
  await host.screenshot({ path: artifactPath('host-wait-offered.png'), fullPage: true });
  await assertAccessible(host, 'host-wait-offered');
  // A party that wants another table can say so and keep its place (the API's test follows the table to the next).
  assert.equal(await waiting.locator('button', { hasText: 'Quiere otra mesa (sigue esperando)' }).count(), 1);
  // The host calls them; they come: accepted for them, booked from now, and seated from the day's list.
  await waiting.locator('button', { hasText: 'La acepta' }).click();
  await waiting.filter({ hasText: 'reservó' }).waitFor();
  const booked = host.locator('#day-list li', { hasText: 'Familia Pérez' });
  await booked.locator('button[data-move="seated"]').click();
  await booked.locator('.status', { hasText: 'En la mesa' }).waitFor();
  // Two more friends, and then three: more than Mesa 1 seats asks a second tap before it is written.
  await booked.locator('details.resize summary').click();
  await booked.locator('details.resize input[name=party_size]').fill('5');
  await booked.locator('details.resize button[type=submit]').click();
  await host.locator('.error', { hasText: 'Sus mesas son para 4' }).waitFor();
  assert.equal((await call('GET', `/api/v1/venues/${venue}/reservations?date=${await host.inputValue('#day-form input[name=date]')}`, undefined, token)).items.find((r) => r.guest_name === 'Familia Pérez').party_size, 2);
  await booked.locator('details.resize button[type=submit]').click();
  await host.locator('#day-list li', { hasText: 'Familia Pérez (5)' }).waitFor();
  // On a later day the window opens on that day's first seating, not on today's clock.
  const today = await host.inputValue('#day-form input[name=date]');
  const later = new Date(`${today}T12:00:00Z`);
  later.setUTCDate(later.getUTCDate() + 1);
  await host.fill('#day-form input[name=date]', later.toISOString().slice(0, 10));
  await host.click('#day-form button[type=submit]');
  await host.fill('#wait-form input[name=earliest]', '');
  await host.fill('#wait-form input[name=latest]', '');
  if (await host.locator('#new-wait').evaluate((d) => d.open)) await host.click('#new-wait summary');
  await host.click('#new-wait summary');
  await host.waitForFunction(() => document.querySelector('#wait-form input[name=earliest]').value === '18:00', undefined, { timeout: 5000 });
  assert.equal(await host.inputValue('#wait-form input[name=latest]'), '19:00');
  await staff.close();
});
