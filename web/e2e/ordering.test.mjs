// A guest on a phone orders two dishes, one with a modifier; the kitchen display, open in another browser
// context, shows the order without reloading; the kitchen moves it to "preparing" and the guest sees it.
import { test, before, after } from 'node:test';
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

/// Through the JSON API: an owner with 2FA, a venue, a table and two dishes (one with a modifier).
async function setUp(api, email = 'rosa@example.co') {
  const json = async (response) => {
    const body = await response.json();
    assert.ok(response.ok(), `${response.url()} → ${response.status()}: ${JSON.stringify(body)}`);
    return body;
  };
  const post = (path, data, token) =>
    api.post(`${server.origin}${path}`, { data, headers: token ? { Authorization: `Bearer ${token}` } : {} }).then(json);
  const password = 'cocina abierta hasta tarde';
  await post('/api/v1/signup', { business_name: 'Fonda La Esquina', country: 'CO', owner: { name: 'Rosa', email, password } });
  const login = await post('/api/v1/auth/login', { email, password });
  const enrollment = await post('/api/v1/auth/mfa/totp/enroll', {}, login.enrollment_token);
  const session = await post('/api/v1/auth/mfa/totp/confirm', { code: totp(enrollment.secret) }, login.enrollment_token);
  const token = session.access_token;
  const venue = await post('/api/v1/venues', { name: 'Fonda La Esquina', timezone: 'America/Bogota' }, token);
  const table = await post(`/api/v1/venues/${venue.id}/tables`, { label: 'Mesa 3', seats: 4 }, token);
  const category = await post(`/api/v1/venues/${venue.id}/menu/categories`, { name: { es: 'Platos', en: 'Dishes' } }, token);
  await post(`/api/v1/venues/${venue.id}/menu/items`, {
    category_id: category.id,
    name: { es: 'Ajiaco santafereño', en: 'Bogotá chicken soup' },
    price: { amount: 2_450_000, currency: 'COP' },
    modifiers: [{ name: { es: 'Acompañamiento', en: 'Side' }, options: [{ name: { es: 'Aguacate', en: 'Avocado' }, price_delta: 350_000 }, { name: { es: 'Arroz', en: 'Rice' }, price_delta: 0 }], min: 1, max: 1 }],
  }, token);
  await post(`/api/v1/venues/${venue.id}/menu/items`, {
    category_id: category.id,
    name: { es: 'Limonada de coco', en: 'Coconut lemonade' },
    price: { amount: 900_000, currency: 'COP' },
    modifiers: [{ name: { es: 'Extras', en: 'Extras' }, options: ['Hierbabuena', 'Jengibre', 'Panela'].map((es) => ({ name: { es, en: es }, price_delta: 0 })), min: 0, max: 2 }],
  }, token);
  const tasting = await post(`/api/v1/venues/${venue.id}/menu/items`, {
    category_id: category.id,
    name: { es: 'Menú de degustación', en: 'Tasting menu' },
    price: { amount: 108_000_000, currency: 'COP' },
  }, token);
  return { token, venue: venue.id, tasting: tasting.id, guestPath: new URL(table.guest_url).pathname };
}

test('a guest orders on a phone and the kitchen display follows it live', async () => {
  // The kitchen's tablet is set to another zone: its tickets still tell the venue's (Bogotá's) time.
  const staff = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', timezoneId: 'Asia/Tokyo', viewport: { width: 1280, height: 800 } });
  const { token, venue, guestPath } = await setUp(staff.request);

  // The kitchen display is open before the guest orders.
  await staff.addInitScript((access) => sessionStorage.setItem('comanda.access', access), token);
  const kitchen = await staff.newPage();
  await kitchen.goto(`${server.origin}/kitchen?venue=${venue}`);
  await kitchen.locator('#live').filter({ hasText: 'En vivo' }).waitFor();
  await assertAccessible(kitchen, 'kitchen display');

  const phone = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const guest = await phone.newPage();
  const cspViolations = [];
  guest.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  await guest.goto(`${server.origin}${guestPath}`);
  await guest.locator('.dish').first().waitFor();
  assert.equal(await guest.locator('#table-label').textContent(), 'Mesa 3');
  const width = await guest.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 360, `no horizontal scrolling on a 360 px screen (${width})`);
  await assertAccessible(guest, 'guest menu on a phone');

  const soup = guest.locator('.dish', { hasText: 'Ajiaco' });
  // The side's rule is on the menu before Add, and each option is a row a thumb hits alone (44 px).
  assert.equal(await soup.locator('legend').textContent(), 'Acompañamiento (elige 1)');
  const rows = await soup.locator('fieldset label').evaluateAll((labels) => labels.map((l) => l.getBoundingClientRect().height));
  assert.ok(rows.every((height) => height >= 44), `option rows ${rows}`);
  // A dish whose side must be chosen does not reach the cart without it: the guest is told, where they are.
  await soup.locator('button.add').click();
  await guest.locator('.error', { hasText: 'Elige 1 en «Acompañamiento»' }).waitFor();
  assert.equal(await guest.locator('#cart').isHidden(), true);
  await soup.getByLabel('Aguacate').check();
  await soup.locator('button.add').click();
  // A choice of several stops at its most: with two extras ticked the third waits (it was refused only at Add).
  const drink = guest.locator('.dish', { hasText: 'Limonada' });
  assert.equal(await drink.locator('legend').textContent(), 'Extras (opcional, hasta 2)');
  await drink.getByLabel('Hierbabuena').check();
  await drink.getByLabel('Jengibre').check();
  assert.equal(await drink.getByLabel('Panela').isDisabled(), true);
  await drink.getByLabel('Jengibre').uncheck();
  assert.equal(await drink.getByLabel('Panela').isDisabled(), false);
  await drink.getByLabel('Hierbabuena').uncheck();
  await drink.locator('button.add').click();
  assert.match(await guest.locator('#cart-total').textContent(), /37\.000/);
  // The cart can be fixed (one more, one less) and survives a reload.
  const lemonade = guest.locator('.cart-line', { hasText: 'Limonada' });
  await lemonade.getByRole('button', { name: /Uno más/ }).click();
  assert.doesNotMatch(await guest.locator('#cart-total').textContent(), /37\.000/);
  await lemonade.getByRole('button', { name: /Uno menos/ }).click();
  // A note for the kitchen on one line ("sin hielo"), kept with the cart.
  await lemonade.getByRole('textbox', { name: /Nota para la cocina: Limonada/ }).fill('sin hielo');
  await guest.reload();
  await guest.locator('.cart-line', { hasText: 'Limonada' }).waitFor();
  assert.match(await guest.locator('#cart-total').textContent(), /37\.000/);
  await guest.screenshot({ path: artifactPath('guest-cart.png'), fullPage: true });
  await assertAccessible(guest, 'guest cart');
  // The first answer is lost on its way back (the phone's network drops): the order reached the server, the guest
  // sees an error and taps again, and the retry is the same order (its Idempotency-Key), not a second one.
  let lost = false;
  await guest.route('**/api/v1/t/*/orders', async (route) => {
    if (route.request().method() !== 'POST' || lost) return route.continue();
    lost = true;
    await route.fetch();
    await route.abort('connectionreset');
  });
  await guest.click('#place-order');
  await guest.locator('.error').waitFor({ state: 'visible' });
  await guest.click('#place-order');
  await guest.locator('.order-status').first().waitFor();
  assert.equal(await guest.locator('.order-status').count(), 1);
  assert.match(await guest.locator('.order-status').first().textContent(), /Recibido/);
  // The guest's note is shown on its own dish, as the kitchen's ticket has it.
  assert.match(await guest.locator('.order-status').first().textContent(), /Limonada de coco «sin hielo»/);
  await guest.locator('#waiting').waitFor({ state: 'visible' });

  // The table's first order waits until staff accept the table; then the kitchen sees it without reloading.
  const pending = kitchen.locator('.pending', { hasText: 'Mesa 3' });
  await pending.waitFor({ timeout: 5000 });
  // Staff see what the table ordered and when before they accept it.
  assert.match(await pending.textContent(), /Pidió \$\s37\.000 a las \d/);
  await pending.locator('button.accept').click();
  const ticket = kitchen.locator('.ticket').first();
  await ticket.waitFor({ timeout: 3000 });
  assert.match(await ticket.textContent(), /Ajiaco santafereño \(Aguacate\)/);
  assert.match(await ticket.textContent(), /Limonada de coco — sin hielo/);
  const placed = await (await staff.request.get(`${server.origin}/api/v1/venues/${venue}/orders`, { headers: { Authorization: `Bearer ${token}` } })).json();
  assert.equal(placed.items.length, 1, `one order, not one per tap: ${JSON.stringify(placed)}`);
  const bogota = new Date(placed.items[0].placed_at).toLocaleTimeString('en-US', { hour: '2-digit', minute: '2-digit', hour12: true, timeZone: 'America/Bogota' });
  const shown = (await ticket.locator('h3').textContent()).match(/(\d{2}):(\d{2})/);
  assert.equal(shown && shown[0], bogota.slice(0, 5), `the ticket's time is Bogotá's ${bogota}: ${await ticket.locator('h3').textContent()}`);
  await kitchen.screenshot({ path: artifactPath('kitchen.png'), fullPage: true });
  await assertAccessible(kitchen, 'kitchen display with a ticket');
  await ticket.locator('button.advance').click();
  await kitchen.locator('.ticket[data-status="accepted"]').waitFor();
  // The step drawn under the finger waits a moment (a second tap meant for "Aceptado" must not skip to the next),
  // then is offered; Playwright's click waits for it.
  assert.equal(await kitchen.locator('.ticket button.advance').isDisabled(), true, 'the next step is held just after a change');
  await kitchen.locator('.ticket button.advance').click();
  await kitchen.locator('.ticket[data-status="preparing"]').waitFor();

  // The guest sees the new status.
  await guest.locator('.order-status[data-status="preparing"]').waitFor({ timeout: 5000 });
  assert.match(await guest.locator('.order-status').first().textContent(), /En preparación/);
  assert.match(await guest.locator('#bill').textContent(), /Propina sugerida \(voluntaria\) 10 %/);
  await guest.screenshot({ path: artifactPath('guest-preparing.png'), fullPage: true });
  await assertAccessible(guest, 'guest order status');
  assert.deepEqual(cspViolations, []);

  // A second order the guest then walks away from: the kitchen cancels it with its reason (the table could not
  // close with it open), and the guest sees it cancelled.
  await guest.locator('.dish', { hasText: 'Limonada' }).locator('button.add').click();
  await guest.click('#place-order');
  await guest.locator('.order-status').nth(1).waitFor();
  const second = kitchen.locator('.ticket[data-status="placed"]');
  await second.waitFor({ timeout: 5000 });
  await second.getByRole('button', { name: 'Cancelar pedido' }).click();
  await second.getByRole('textbox', { name: 'Motivo (lo ve el cliente)' }).fill('el cliente se fue');
  await assertAccessible(kitchen, 'kitchen display cancelling an order');
  await second.getByRole('button', { name: 'Cancelar este pedido' }).click();
  await second.waitFor({ state: 'detached', timeout: 5000 });
  await guest.locator('.order-status[data-status="cancelled"]').waitFor({ timeout: 5000 });

  // The kitchen runs out of lemonade ("86"): ticked on the display, it leaves the guest's menu; back once unticked.
  await kitchen.locator('#sold-out summary').click();
  const lemonadeOut = kitchen.getByRole('checkbox', { name: 'Limonada de coco' });
  await lemonadeOut.check();
  await kitchen.locator('#kitchen-status', { hasText: 'Limonada de coco: agotado' }).waitFor();
  await assertAccessible(kitchen, 'kitchen display with its sold-out dishes');
  await guest.reload();
  await guest.locator('.dish').first().waitFor();
  assert.equal(await guest.locator('.dish', { hasText: 'Limonada' }).count(), 0, 'a sold-out dish is not offered');
  await lemonadeOut.uncheck();
  await kitchen.locator('#kitchen-status', { hasText: 'Limonada de coco: otra vez en el menú' }).waitFor();
  await guest.reload();
  await guest.locator('.dish', { hasText: 'Limonada' }).waitFor();
  await kitchen.locator('#sold-out summary').click();

  // The guests pay in cash: the server records part, then the rest with a tip, and the table closes paid with one tap.
  for (const status of ['ready', 'served']) {
    await kitchen.locator('.ticket button.advance').click();
    if (status === 'ready') await kitchen.locator('.ticket[data-status="ready"]').waitFor();
  }
  await kitchen.locator('.ticket').first().waitFor({ state: 'detached', timeout: 5000 });
  const bill = kitchen.locator('.table-balance', { hasText: 'Mesa 3' });
  // Its tickets served and gone from the board, the bill still says what the table ordered (the cancelled order
  // not among it), and stays open across the bills' redraws.
  const consumption = bill.locator('details.consumption');
  await consumption.locator('summary', { hasText: /^Consumo de Mesa 3 \(\d+\)$/ }).click();
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(await consumption.evaluate((details) => details.open), true);
  const dishes = await consumption.locator('li').allTextContents();
  assert.ok(dishes.length > 0 && dishes.every((dish) => /^\d+ × .+ — \$\s[\d.]+$/.test(dish)), JSON.stringify(dishes));
  assert.deepEqual(dishes, ['1 × Ajiaco santafereño (Aguacate) — $\u00a028.000', '1 × Limonada de coco — $\u00a09.000'], 'the first order only: the second, cancelled, is not on the bill');
  await bill.getByRole('button', { name: 'Efectivo: Mesa 3' }).click();
  const desk = kitchen.locator('#cash-desk');
  await desk.waitFor();
  const amount = desk.getByRole('textbox', { name: /Parte de la cuenta pagada en efectivo/ });
  await kitchen.waitForFunction(() => document.activeElement && document.activeElement.name === 'amount');
  await amount.fill('10.000');
  await desk.getByRole('button', { name: 'Registrar efectivo' }).click();
  await desk.locator('#cash-records li').first().waitFor();
  await bill.filter({ hasText: 'efectivo $\u00a010.000' }).waitFor({ timeout: 5000 });
  await assertAccessible(kitchen, 'kitchen display with the cash desk open');
  // Emptied after a record (a second tap must not take the rest); the rest is one tap away.
  assert.equal(await amount.inputValue(), '');
  await desk.getByRole('button', { name: 'Todo lo que falta' }).click();
  assert.notEqual(await amount.inputValue(), '');
  await desk.getByRole('textbox', { name: 'Propina en efectivo' }).fill('2.000');
  await desk.getByRole('button', { name: 'Registrar efectivo' }).click();
  await desk.locator('#cash-bill').filter({ hasText: 'Pagada del todo' }).waitFor({ timeout: 5000 });
  await kitchen.locator('.table-balance[data-settled="true"]', { hasText: 'Mesa 3' }).waitFor({ timeout: 5000 });
  await desk.getByRole('button', { name: 'Listo' }).click();
  // The party moves to the terrace: its paid bill goes with it, Mesa 3 is free, and the terrace closes paid.
  const terrace = await staff.request.post(`${server.origin}/api/v1/venues/${venue}/tables`, {
    data: { label: 'Terraza 1', seats: 4 }, headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(terrace.status(), 201, await terrace.text());
  const moving = kitchen.locator('.table-balance', { hasText: 'Mesa 3' }).locator('details.move-table');
  await moving.locator('summary', { hasText: 'Cambiar de mesa' }).click();
  await moving.getByRole('combobox', { name: 'Pasar Mesa 3 a' }).selectOption({ label: 'Terraza 1' });
  await assertAccessible(kitchen, 'kitchen display moving a bill');
  await moving.getByRole('button', { name: 'Pasar la cuenta' }).click();
  await kitchen.locator('#kitchen-status', { hasText: 'Mesa 3: la cuenta está ahora en Terraza 1' }).waitFor();
  await kitchen.locator('.table-balance[data-settled="true"]', { hasText: 'Terraza 1' }).waitFor({ timeout: 5000 });
  assert.equal(await kitchen.locator('.table-balance', { hasText: 'Mesa 3' }).count(), 0);
  // The guest's phone, still on Mesa 3's page, is told where the bill is now.
  await guest.locator('#bill-at', { hasText: 'Tu cuenta está ahora en Terraza 1' }).waitFor({ timeout: 5000 });
  await kitchen.locator('.table-balance', { hasText: 'Terraza 1' }).getByRole('button', { name: 'Cerrar mesa' }).click();
  await kitchen.locator('.table-balance', { hasText: 'Terraza 1' }).waitFor({ state: 'detached', timeout: 5000 });

  // The English switch.
  await guest.click('a.switch');
  await guest.locator('.dish').first().waitFor();
  assert.match(await guest.locator('.dish').first().textContent(), /Bogotá chicken soup/);
  await phone.close();
  await staff.close();
});

test('staff edit the menu in the browser and guests see the change', async () => {
  const staff = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO' });
  const { token, venue, guestPath } = await setUp(staff.request, 'menu@example.co');
  await staff.addInitScript((access) => sessionStorage.setItem('comanda.access', access), token);
  const editor = await staff.newPage();
  await editor.goto(`${server.origin}/dashboard`);
  await editor.locator(`a[href="/menu?venue=${venue}"]`).click();
  await editor.locator('.menu-row').first().waitFor();

  await editor.fill('#category-form input[name=es]', 'Bebidas');
  await editor.fill('#category-form input[name=en]', 'Drinks');
  await editor.click('#category-form button');
  await editor.locator('#menu-editor h2', { hasText: 'Bebidas' }).waitFor();
  await editor.selectOption('#item-form select[name=category_id]', { label: 'Bebidas' });
  await editor.fill('#item-form input[name=es]', 'Jugo de lulo');
  await editor.fill('#item-form input[name=en]', 'Lulo juice');
  await editor.fill('#item-form input[name=price]', '7.000');
  await editor.click('#item-form button');
  await editor.locator('.menu-row', { hasText: 'Jugo de lulo' }).waitFor();
  assert.match(await editor.locator('.menu-row', { hasText: 'Jugo de lulo' }).textContent(), /7\.000/);

  // Listen before acting: the PATCH can answer before a listener registered afterwards would see it.
  const saved = editor.waitForResponse((r) => r.url().includes('/api/v1/menu/items/') && r.request().method() === 'PATCH');
  await editor.getByLabel('Disponible: Limonada de coco').uncheck();
  await saved;
  // The owner fixes a price and a name on the dish's own form, and takes the tasting menu off the menu.
  const soupRow = editor.locator('.menu-row', { hasText: 'Ajiaco' });
  await soupRow.locator('summary').click();
  assert.equal(await soupRow.getByLabel('Precio en pesos, impuesto incluido').inputValue(), '24500');
  await soupRow.getByLabel('Precio en pesos, impuesto incluido').fill('26.000');
  await soupRow.getByLabel('Nombre (español)').fill('Ajiaco bogotano');
  await soupRow.getByLabel('Descripción (español)').fill('Con pollo, mazorca y guascas');
  await soupRow.getByRole('button', { name: 'Guardar' }).click();
  await editor.locator('.menu-row', { hasText: 'Ajiaco bogotano · $\u00a026.000' }).waitFor();
  const tastingRow = editor.locator('.menu-row', { hasText: 'Menú de degustación' });
  await tastingRow.locator('summary').click();
  editor.once('dialog', (dialog) => dialog.accept());
  await tastingRow.getByRole('button', { name: 'Quitar del menú' }).click();
  await editor.locator('.menu-row', { hasText: 'Menú de degustación' }).waitFor({ state: 'detached' });
  // A category is renamed on its own form; one with dishes offers no removal (its dishes go first).
  const drinks = editor.locator('#menu-editor > .category-edit', { hasText: 'Bebidas' });
  await drinks.locator('summary').click();
  assert.equal(await drinks.getByRole('button', { name: 'Quitar la categoría' }).count(), 0);
  await drinks.getByLabel('Nombre (español)').fill('Jugos naturales');
  await drinks.getByRole('button', { name: 'Guardar' }).click();
  await editor.locator('#menu-editor h2', { hasText: 'Jugos naturales' }).waitFor();
  // Options are set on the dish's form: a size the guest must choose, one with an added price.
  const lulo = () => editor.locator('.menu-row', { hasText: 'Jugo de lulo' });
  await lulo().locator('summary').click();
  await lulo().getByRole('button', { name: 'Añadir un grupo de opciones' }).click();
  await lulo().getByLabel('Nombre del grupo (español)').fill('Tamaño');
  await lulo().getByLabel('Nombre del grupo (inglés)').fill('Size');
  await lulo().getByLabel('El cliente elige al menos').fill('1');
  await lulo().getByLabel('Opción (español)').fill('Vaso');
  await lulo().getByRole('button', { name: 'Añadir una opción' }).click();
  await lulo().getByLabel('Opción (español)').nth(1).fill('Jarra');
  await lulo().getByLabel('Precio adicional en pesos').nth(1).fill('8.000');
  await editor.screenshot({ path: artifactPath('menu-editor.png'), fullPage: true });
  await assertAccessible(editor, 'menu editor, a dish open');
  const optionsSaved = editor.waitForResponse((r) => r.url().includes('/api/v1/menu/items/') && r.request().method() === 'PATCH');
  await lulo().getByRole('button', { name: 'Guardar' }).click();
  assert.equal((await optionsSaved).status(), 200);
  // The soup's existing side is on its form, as the guest's menu offers it.
  await soupRow.locator('summary').click();
  assert.equal(await soupRow.getByLabel('Nombre del grupo (español)').inputValue(), 'Acompañamiento');
  assert.deepEqual(await soupRow.getByLabel('Precio adicional en pesos').evaluateAll((fields) => fields.map((f) => f.value)), ['3500', '0']);
  await assertAccessible(editor, 'menu editor');

  const phone = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 360, height: 740 } });
  const guest = await phone.newPage();
  await guest.goto(`${server.origin}${guestPath}`);
  await guest.locator('.dish', { hasText: 'Jugo de lulo' }).waitFor();
  assert.equal(await guest.locator('.dish', { hasText: 'Limonada' }).count(), 0, 'sold out: not offered');
  assert.match(await guest.locator('.dish', { hasText: 'Ajiaco bogotano' }).textContent(), /26\.000[\s\S]*Con pollo, mazorca y guascas/);
  assert.equal(await guest.locator('.dish', { hasText: 'degustación' }).count(), 0, 'removed: not offered');
  assert.equal(await guest.getByRole('heading', { name: 'Jugos naturales' }).count(), 1);
  const juice = guest.locator('.dish', { hasText: 'Jugo de lulo' });
  assert.match(await juice.getByText('Jarra').textContent(), /Jarra \+ \$\u00a08\.000/);
  assert.equal(await juice.getByLabel(/Vaso/).count(), 1);
  await phone.close();
  await staff.close();
});

test('the suggested tip is 10 % of the value before tax (Ley 1935)', async () => {
  const staff = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO' });
  const { tasting, guestPath } = await setUp(staff.request, 'propina@example.co');
  // 9 × 1.080.000 COP, INC 8 % contained: net 9.000.000, INC 720.000; the suggestion is 900.000, not 972.000.
  const placed = await staff.request.post(`${server.origin}/api/v1${guestPath}/orders`, { data: { items: [{ item_id: tasting, quantity: 9 }] } });
  assert.ok(placed.ok(), await placed.text());
  const overHttp = await (await staff.request.get(`${server.origin}/api/v1${guestPath}/bill`)).json();
  assert.equal(overHttp.bill.net.amount, 900_000_000);
  assert.equal(overHttp.bill.suggested_tip.amount, 90_000_000, 'the bill API suggests 900.000 COP');
  const phone = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 360, height: 740 }, isMobile: true });
  const guest = await phone.newPage();
  await guest.goto(`${server.origin}${guestPath}`);
  await guest.locator('#bill').filter({ hasText: '9.720.000' }).waitFor();
  const bill = await guest.locator('#bill').textContent();
  assert.match(bill, /Propina sugerida \(voluntaria\) 10 % del valor antes de impuestos: \$\u00a0900\.000/);
  assert.doesNotMatch(bill, /972\.000/);
  await guest.screenshot({ path: artifactPath('guest-tip-before-tax.png'), fullPage: true });
  await phone.close();
  await staff.close();
});

test('a party at joined tables orders from both; each ticket says where the dishes go and whose bill it is', async () => {
  const staff = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'es-CO', viewport: { width: 1280, height: 800 } });
  const { token, venue } = await setUp(staff.request, 'juntas@example.co');
  const call = async (method, path, data) => {
    const response = await staff.request.fetch(`${server.origin}${path}`, { method, data, headers: { Authorization: `Bearer ${token}` } });
    const text = await response.text();
    assert.ok(response.ok(), `${method} ${path} → ${response.status()}: ${text}`);
    return text ? JSON.parse(text) : {};
  };
  const four = await call('POST', `/api/v1/venues/${venue}/tables`, { label: 'Mesa 4', seats: 3 });
  const five = await call('POST', `/api/v1/venues/${venue}/tables`, { label: 'Mesa 5', seats: 3 });
  await call('PUT', `/api/v1/venues/${venue}/booking-policy`, {
    services: [{ weekdays: [1, 2, 3, 4, 5, 6, 7], first_seating: '00:00', last_seating: '23:45' }],
    slot_minutes: 15, turn_minutes: [{ max_party: 8, minutes: 120 }], buffer_minutes: 15,
    pacing: { covers_per_15_min: 12, online_covers_per_15_min: 8 }, min_notice_minutes: 60, horizon_days: 30,
    max_party_size: 8, deposit_per_cover: null, cancellation_cutoff_hours: 0,
  });
  await call('PUT', `/api/v1/venues/${venue}/business-day`, { day_start_hour: 0 });
  await call('POST', `/api/v1/venues/${venue}/table-combinations`, { tables: [four.id, five.id] });
  // A party of five walks in: only the two three-tops joined hold it (Mesa 3 seats four); seated at once.
  const booked = await call('POST', `/api/v1/venues/${venue}/reservations`, {
    party_size: 5, guest: { name: 'Familia Rojas', phone: '+573005550199' }, consent: true, walk_in: true,
  });
  const held = await call('GET', `/api/v1/reservations/${booked.reservation_id}?token=${booked.manage_token}`);
  assert.deepEqual(held.tables, [four.id, five.id], JSON.stringify(held));
  await call('POST', `/api/v1/reservations/${booked.reservation_id}/transitions`, { to: 'seated' });
  const menu = await call('GET', `/api/v1/venues/${venue}/menu`);
  const lemonade = menu.categories.flatMap((c) => c.items).find((i) => i.name.es === 'Limonada de coco');
  await staff.addInitScript((access) => sessionStorage.setItem('comanda.access', access), token);
  const kitchen = await staff.newPage();
  await kitchen.goto(`${server.origin}/kitchen?venue=${venue}`);
  await kitchen.locator('#live').filter({ hasText: 'En vivo' }).waitFor();
  for (const table of [five, four]) {
    const ordered = await staff.request.post(`${server.origin}/api/v1${new URL(table.guest_url).pathname}/orders`, { data: { items: [{ item_id: lemonade.id, quantity: 1 }] } });
    assert.ok(ordered.ok(), await ordered.text());
  }
  // The order from Mesa 5 goes to Mesa 5, on the party's bill at Mesa 4 (the ticket said "Mesa 4" for both).
  await kitchen.locator('.ticket h3', { hasText: /^Mesa 5 \(cuenta Mesa 4\) · / }).waitFor();
  await kitchen.locator('.ticket h3', { hasText: /^Mesa 4 · / }).waitFor();
  await kitchen.screenshot({ path: artifactPath('kitchen-joined-tables.png'), fullPage: true });
  await assertAccessible(kitchen, 'kitchen display with a joined party');
  await staff.close();
});
