// The payment pages. Card details go into Stripe Elements (Stripe's own fields); this script only ever sends comanda
// the chosen share and tip, or reads a booking's deposit. Listed with its integrity hash in
// security/payment-page-scripts.toml.
'use strict';

// An amount of pesos as people write it — "20.000", "20000", "$ 20.000", "7.500,50" (Colombia: the dot groups
// thousands, the comma marks centavos), "20,000", or with a decimal point and one or two decimals, as English
// writes it on the English page ("1500.50", "1,500.5") — in minor units; NaN for anything else, so an ambiguous amount is refused, never
// misread (a dot before exactly three digits groups thousands: a number field reads "20.000" as twenty).
function pesosToMinor(text, english = false) {
  const written = String(text).replace(/[\s$\u00a0]|COP/gi, '');
  // The decimal point only on the English page: in Spanish "2.5" is more likely 2.500 typed short than 2,50.
  const match = /^(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}))?$/.exec(written)
    || (english ? /^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$/ : /^(\d{1,3}(?:,\d{3})+)()$/).exec(written);
  if (!match) return NaN;
  return Number(match[1].replace(/[.,]/g, '')) * 100 + Number((match[2] || '').padEnd(2, '0'));
}

// An amount in minor units with its currency, as app.js writes it: pesos as Colombians write them ($ 100.000,
// centavos only when there are some), any other currency with its code (20 EUR, 10,50 EUR), never a "$" that would
// read as pesos beside another currency's code; on the English page as English writes numbers, with the currency
// named (COP 100,000), so a visitor does not read "$ 40.000" as forty dollars.
function money(amount, currency) {
  const digits = currency === 'CLP' ? 0 : 2;
  const major = amount / 10 ** digits;
  const whole = Number.isInteger(major);
  const options = { minimumFractionDigits: whole ? 0 : digits, maximumFractionDigits: digits };
  if (document.body.dataset.lang === 'en') return `${currency || 'COP'}\u00a0${major.toLocaleString('en-US', options)}`;
  const number = major.toLocaleString('es-CO', options);
  return currency === 'COP' || !currency ? '$\u00a0' + number : `${number}\u00a0${currency}`;
}

// The smallest amount people pay in, in minor units: whole pesos for COP (comanda_domain::Currency::payable_unit).
const payableUnit = (currency) => (currency === 'COP' ? 100 : 1);

// Stripe.js's own texts (its card fields, a declined card's message) in the page's language: Latin American Spanish,
// or English (https://docs.stripe.com/js/appendix/supported_locales).
const STRIPE_LOCALE = document.body.dataset.lang === 'en' ? 'en' : 'es-419';

// Waits until `done()` answers true (confirmed) or 'ended' (the payment failed or was cancelled: answers false):
// every half second for half a minute, then (a slow webhook, a dropped connection) every five seconds, after telling
// the guest once, through `#confirming`, not to pay again. A read that fails is tried again, never the end of it.
async function untilConfirmed(done) {
  for (let i = 0; ; i++) {
    const outcome = await done().catch(() => false);
    if (outcome === true || outcome === 'ended') {
      document.getElementById('confirming').hidden = true;
      return outcome === true;
    }
    if (i === 60) document.getElementById('confirming').hidden = false;
    await new Promise((resolve) => setTimeout(resolve, i < 60 ? 500 : 5000));
  }
}

// Stripe's return from a method that leaves the page (a bank's 3-D Secure page) appends the PaymentIntent and its
// client secret to the address: they are taken out of it (and out of the history), the page's own parameters kept.
function cleanStripeReturn() {
  const address = new URL(location.href);
  if (!address.searchParams.has('redirect_status')) return;
  for (const name of ['payment_intent', 'payment_intent_client_secret', 'redirect_status']) address.searchParams.delete(name);
  history.replaceState(null, '', address);
}

// The payment a tab sent to Stripe, kept until comanda hears Stripe's answer: a reload, or Stripe's return from a
// method that leaves the page, resumes waiting for it instead of offering the card again (or calling it unfinished
// and offering to cancel a payment the bank already accepted).
const CONFIRMING = 'comanda.confirming';
// A reload aborts Stripe's confirmation request mid-answer and confirmPayment reports that as an error: the payment
// may well have been accepted, so a page being left keeps it remembered.
let leavingPage = false;
addEventListener('beforeunload', () => { leavingPage = true; });
addEventListener('pagehide', () => { leavingPage = true; });
addEventListener('pageshow', () => { leavingPage = false; });
function forgetConfirmingUnlessLeaving() {
  if (!leavingPage) sessionStorage.removeItem(CONFIRMING);
}

// The deposit page (/book/{venue}/deposit): a booking's deposit, its rule shown before the card is asked.
(() => {
  const root = document.getElementById('deposit');
  if (!root) return;
  const english = document.body.dataset.lang === 'en';
  const $ = (selector) => document.querySelector(selector);
  const params = new URLSearchParams(location.search);
  const id = params.get('reservation') || '';
  const token = params.get('token') || '';
  cleanStripeReturn();
  const path = `/api/v1/reservations/${encodeURIComponent(id)}?token=${encodeURIComponent(token)}`;
  const showError = (problem) => {
    const box = $('.error');
    box.textContent = spoken(problem, english);
    box.hidden = false;
    // A phone's screen shows the bottom of the form that was sent: the refusal is brought into view.
    box.scrollIntoView({ block: 'nearest' });
  };
  // The booking is read again while the payment is confirmed; the PaymentIntent's secret once, from its own route,
  // so that polling the booking never makes comanda ask Stripe.
  const read = async (suffix = '') => {
    const url = suffix ? path.replace('?', `${suffix}?`) : path;
    const response = await fetch(url, { headers: { Accept: 'application/json' } });
    const json = await response.json().catch(() => ({}));
    if (!response.ok) throw Object.assign(new Error('request'), { problem: json });
    return json;
  };
  // An instant at the venue's offset (the booking's `local` carries it), whatever zone the guest's phone is in.
  const atVenue = (instant, offset) => {
    const sign = offset.startsWith('-') ? -1 : 1;
    const minutes = offset === 'Z' ? 0 : sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
    const shifted = new Date(Date.parse(instant) + minutes * 60000);
    const day = shifted.toLocaleDateString(english ? 'en' : 'es-CO', { weekday: 'long', day: 'numeric', month: 'long', timeZone: 'UTC' });
    return `${day}, ${shifted.toISOString().slice(11, 16)}`;
  };
  $('#deposit-manage').href = `/book/${encodeURIComponent(root.dataset.venue)}?reservation=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`;
  (async () => {
    let booking;
    try {
      booking = await read();
    } catch (error) {
      return showError(error.problem);
    }
    const deposit = booking.deposit;
    if (!deposit) return showError({ detail: english ? 'This booking has no deposit.' : 'Esta reserva no tiene depósito.' });
    const offset = booking.local.slice(19) || 'Z';
    $('#deposit-booking').textContent = `${atVenue(booking.start, offset)} · ${booking.party_size} ${english ? (booking.party_size === 1 ? 'guest' : 'guests') : (booking.party_size === 1 ? 'persona' : 'personas')}`;
    $('#deposit-amount').textContent = money(deposit.amount, deposit.currency);
    const until = atVenue(deposit.refundable_until, offset);
    // A booking made inside the venue's cut-off has no refundable time left: say so before the card is asked,
    // rather than name a deadline already past.
    const lapsed = new Date(deposit.refundable_until) <= new Date();
    $('#deposit-rule').textContent = lapsed
      ? (english
        ? 'It guarantees your table: when you come, it is refunded to your card. This booking is already inside the restaurant\'s cancellation period: if you cancel or do not come, the restaurant keeps it.'
        : 'Garantiza tu mesa: cuando llegas, te lo devolvemos a tu tarjeta. Esta reserva ya está dentro del plazo de cancelación del restaurante: si cancelas o no llegas, el restaurante lo conserva.')
      : (english
        ? `It guarantees your table: when you come, it is refunded to your card. Cancel by ${until} and it is refunded in full; cancel later, or do not come, and the restaurant keeps it.`
        : `Garantiza tu mesa: cuando llegas, te lo devolvemos a tu tarjeta. Si cancelas hasta el ${until}, te lo devolvemos completo; si cancelas después o no llegas, el restaurante lo conserva.`);
    let payment = null;
    if (deposit.status === 'awaiting') {
      try {
        payment = await read('/deposit/payment');
      } catch (error) {
        // 409: paid or released in the meantime, which the closed or paid notice below tells.
        if (!error.problem || error.problem.status !== 409) return showError(error.problem);
      }
    }
    if (!payment) {
      if (sessionStorage.getItem(CONFIRMING) === `deposit:${id}`) sessionStorage.removeItem(CONFIRMING);
      $(deposit.status === 'paid' ? '#deposit-paid' : '#deposit-closed').hidden = false;
      return;
    }
    $('#deposit-hold').textContent = english
      ? `Pay by ${atVenue(deposit.hold_expires_at, offset)}, or the table is released.`
      : `Paga antes del ${atVenue(deposit.hold_expires_at, offset)}; si no, la mesa se libera.`;
    // Confirmed once Stripe's webhook reached comanda.
    const awaitDeposit = async () => {
      const confirmed = await untilConfirmed(async () => {
        const status = (await read()).status;
        return status === 'confirmed' || (['cancelled', 'expired', 'released'].includes(status) ? 'ended' : false);
      });
      sessionStorage.removeItem(CONFIRMING);
      $('#deposit-card').hidden = true;
      $('#deposit-hold').hidden = true;
      if (confirmed) $('#deposit-paid').hidden = false;
      else $('#deposit-closed').hidden = false;
    };
    if (sessionStorage.getItem(CONFIRMING) === `deposit:${id}`) {
      $('#confirming').hidden = false;
      return awaitDeposit();
    }
    const stripe = window.Stripe(payment.publishable_key, { locale: STRIPE_LOCALE });
    const elements = stripe.elements({ clientSecret: payment.client_secret });
    elements.create('payment').mount('#payment-element');
    $('#pay-deposit').textContent = `${english ? 'Pay' : 'Pagar'} ${money(deposit.amount, deposit.currency)}`;
    $('#deposit-card').hidden = false;
    $('#pay-deposit').addEventListener('click', async () => {
      $('#pay-deposit').disabled = true;
      $('.error').hidden = true;
      // Remembered before Stripe is asked: a method that leaves the page does so inside confirmPayment.
      sessionStorage.setItem(CONFIRMING, `deposit:${id}`);
      const result = await stripe.confirmPayment({ elements, redirect: 'if_required', confirmParams: { return_url: location.href } });
      if (result.error) {
        forgetConfirmingUnlessLeaving();
        $('#pay-deposit').disabled = false;
        // Disabled while it was being confirmed, the button lost the focus: it gets it back, under the error.
        $('#pay-deposit').focus();
        return showError({ detail: result.error.message });
      }
      await awaitDeposit();
    });
  })();
})();

// What a refusal says: the API's problem `type` and field are stable, its words English and written for any client
// (minor units, field names), so the common refusals of the payment pages are said here for a guest, in Spanish or
// English, and the rest in the server's words.
const PAYMENT_REFUSALS = {
  fields: {
    amount: ['Revisa el valor a pagar: no puede pasar de lo que falta por pagar.', 'Check the amount to pay: it cannot be more than what is left to pay.'],
    tip: ['Revisa la propina: es voluntaria, no puede ser negativa ni mayor que lo que pagas.', 'Check the tip: it is voluntary, and it cannot be negative or more than what you pay.'],
    split: ['Revisa cómo dividir la cuenta: en partes iguales entre 2 y 20, o elige los platos.', 'Check how to split the bill: equal parts, 2 to 20, or choose the dishes.'],
  },
  types: {
    'bill-covered': ['Lo que elegiste ya está pagado o lo están pagando: elige lo que falta por pagar.', 'What you chose is paid or being paid already: choose what is left to pay.'],
    'share-changed': ['La cuenta cambió y tu parte ahora es otra: revisa el nuevo valor y confírmalo.', 'The bill changed and your share with it: check the new amount and confirm it.'],
    'payments-unavailable': ['Este restaurante no puede recibir pagos con tarjeta ahora; pregunta al personal.', 'This restaurant cannot take card payments right now; ask the staff.'],
    'no-open-bill': ['Tu mesa aún no tiene la cuenta abierta: el personal debe aceptar la mesa primero. Pídeselo al mesero.', 'Your table\'s bill is not open yet: the staff accept the table first. Ask your server.'],
    'not-found': ['Este código QR ya no es válido: pide al personal el código de tu mesa.', 'This QR code is not valid any more: ask the staff for your table\'s code.'],
    'payment-provider': ['El procesador de pagos no respondió; inténtalo de nuevo.', 'The payment processor did not answer; try again.'],
    'rate-limited': ['Demasiados intentos seguidos; espera un momento y vuelve a intentarlo.', 'Too many attempts in a row; wait a moment and try again.'],
  },
};
function spoken(problem, english) {
  if (!problem || typeof problem !== 'object') return english ? 'Something went wrong; try again.' : 'Algo salió mal; inténtalo de nuevo.';
  const field = problem.errors && problem.errors[0];
  // Dishes are not marked paid by a share or by "what is left": chosen dishes can come to more than is left.
  if (/^the chosen lines come to more than is left to pay/.test(String(problem.detail || ''))) {
    return english
      ? 'The dishes you chose come to more than is left to pay: part of the bill was paid in shares, not by dish. Choose "What is left".'
      : 'Los platos que elegiste pasan de lo que falta por pagar: parte de la cuenta se pagó en partes, no por platos. Elige «Lo que falta».';
  }
  // The deposit page is opened from a booking's link, not a table's QR code.
  if (!field && String(problem.type || '').endsWith('/not-found') && document.getElementById('deposit')) {
    return english
      ? 'This booking link is not valid or has expired: open it again from your confirmation email.'
      : 'Este enlace de la reserva no es válido o ya venció: ábrelo de nuevo desde el correo de confirmación.';
  }
  const said = field
    ? PAYMENT_REFUSALS.fields[String(field.field).split(/[.[]/)[0]]
    : PAYMENT_REFUSALS.types[String(problem.type || '').split('/').pop()];
  if (said) return said[english ? 1 : 0];
  return field ? `${field.field}: ${field.message}` : problem.detail || problem.title || (english ? 'Something went wrong.' : 'Algo salió mal.');
}

// The table's payment page (/t/{token}/pay).
(() => {
  const root = document.getElementById('pay');
  if (!root) return;
  // Back then forward brings the page back as it was left (a choice ticked, its list or amount gone): it starts
  // again from the bill as it stands instead.
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) location.reload();
  });
  const token = root.dataset.token;
  const english = document.body.dataset.lang === 'en';
  const $ = (selector) => document.querySelector(selector);
  const base = `/api/v1/t/${encodeURIComponent(token)}`;
  let device = localStorage.getItem('comanda.device');
  if (!device) {
    device = crypto.randomUUID();
    localStorage.setItem('comanda.device', device);
  }
  let bill = null;
  let payment = null;
  let stripe = null;
  // The venue's IANA zone once the table is read (until then the phone's own): clock times are the venue's.
  let venueZone;
  let elements = null;

  const showError = (problem) => {
    const box = $('.error');
    box.textContent = spoken(problem, english);
    box.hidden = false;
    // A phone's screen shows the bottom of the form that was sent: the refusal is brought into view.
    box.scrollIntoView({ block: 'nearest' });
  };
  // One Idempotency-Key per distinct request until it succeeds: tapping again after a lost answer (a phone's
  // network dropping mid-request) asks for the same payment, which the server answers once (API.md), not a second.
  let kept = null;
  const call = async (method, path, body) => {
    const headers = { 'X-Guest-Device': device };
    if (body !== undefined) {
      const asked = `${method} ${path} ${JSON.stringify(body)}`;
      if (!kept || kept.asked !== asked) kept = { asked, key: crypto.randomUUID() };
      headers['Content-Type'] = 'application/json';
      headers['Idempotency-Key'] = kept.key;
    }
    const response = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = await response.json().catch(() => ({}));
    if (!response.ok) throw Object.assign(new Error('request'), { problem: json });
    if (body !== undefined) kept = null;
    return json;
  };

  const chosenSplit = () => {
    const kind = new FormData($('#share-form')).get('split');
    if (kind === 'equal') return { kind, parts: Number($('input[name=parts]').value) };
    if (kind === 'items') {
      const items = [...document.querySelectorAll('#item-choices input[type=checkbox]:checked')].map((box) => ({
        order_id: box.dataset.order, line: Number(box.dataset.line), ...lineFraction(box.closest('li').querySelector('select').value),
      }));
      return { kind, items };
    }
    return { kind };
  };

  // A fraction chosen for a line, written `numerator/denominator` in the option's value.
  const lineFraction = (value) => {
    const [numerator, denominator] = String(value).split('/').map(Number);
    return { numerator, denominator };
  };
  // What a guest may pay of a line: all of it; for several of a dish (up to 20, the API's largest denominator),
  // some of them ("2 of 3" beers, the rest a friend's); and an equal part among people sharing it. A part equal to
  // one already offered is not offered twice (1/3 of 3 beers is "1 of 3").
  const lineFractions = (quantity) => {
    const fractions = [[1, 1]];
    if (quantity > 1 && quantity <= 20) {
      for (let some = quantity - 1; some >= 1; some -= 1) fractions.push([some, quantity]);
    }
    for (const parts of [2, 3, 4, 5, 6, 8, 10]) {
      if (!fractions.some(([n, d]) => n * parts === d)) fractions.push([1, parts]);
    }
    return fractions;
  };
  // Parts of a line in exact integers: a line is LINE_WHOLE, the least common multiple of every denominator (1 to 20).
  const LINE_WHOLE = 232792560;
  const lineParts = (share) => LINE_WHOLE / share.denominator * share.numerator;
  const claimedParts = (order, line) => (bill.claims || [])
    .filter((c) => c.order_id === order && c.line === line)
    .reduce((taken, c) => taken + lineParts(c), 0);

  // The share as the server will compute it (the server decides; this only shows it before anything is charged).
  const previewShare = () => {
    const split = chosenSplit();
    const total = bill.balance.total.amount;
    const remaining = bill.balance.remaining.amount;
    if (split.kind === 'full') return total;
    if (split.kind === 'remaining') return remaining;
    if (split.kind === 'equal') return Math.min(remaining, equalPart(split));
    return chosenParts(split).reduce((sum, part) => sum + part.amount, 0);
  };
  // One equal part of the bill's total, rounded up to the currency's payable unit (whole pesos:
  // comanda_domain::payment::split_share); never more than is left to pay.
  const equalPart = (split) => {
    const unit = payableUnit(bill.balance.total.currency);
    return Math.ceil(Math.ceil(bill.balance.total.amount / Math.max(2, split.parts || 2)) / unit) * unit;
  };
  // The parts of dishes a split by dish pays, each with whether its line carries the venue's tax. Each part of a line
  // is rounded half up to whole pesos (comanda_domain::payment::payable_fraction_of; a line of centavos to the
  // centavo); the part that completes a line pays what its other parts left of it
  // (comanda_domain::payment::line_claim_amount), so three thirds are the whole line.
  const chosenParts = (split) => {
    const parts = [];
    split.items.forEach((item, index) => {
      const order = bill.orders.find((o) => o.id === item.order_id);
      const line = order && order.lines[item.line];
      if (!line) return;
      const total = line.unit_price.amount * line.quantity;
      const unit = total % payableUnit(line.unit_price.currency) === 0 ? payableUnit(line.unit_price.currency) : 1;
      const own = (share) => Math.floor((total * share.numerator * 2 + share.denominator * unit) / (2 * share.denominator * unit)) * unit;
      // A part charged before parts' amounts were kept, as it was charged then (to the minor unit).
      const part = (share) => Math.floor((total * share.numerator * 2 + share.denominator) / (2 * share.denominator));
      const before = [...(bill.claims || []), ...split.items.slice(0, index)]
        .filter((c) => c.order_id === item.order_id && c.line === item.line);
      const whole = before.reduce((taken, c) => taken + lineParts(c), 0) + lineParts(item) === LINE_WHOLE;
      // What the bill's other parts were charged (`amount`), else their own rounding.
      const amount = whole ? total - before.reduce((taken, c) => taken + (c.amount ?? part(c)), 0) : own(item);
      parts.push({ amount, taxed: line.taxed });
    });
    return parts;
  };
  // Ley 1935 de 2018: the suggestion is 10 % of the value of the service, before tax, rounded down so it never
  // exceeds the cap. Paid by dish, the value before tax of exactly those dishes (an exempt drink carries no tax:
  // comanda_domain::bill::suggested_tip_on_lines); a share of the total, its part of the bill's net
  // (comanda_domain::bill::suggested_tip), same arithmetic.
  const suggestedTip = (share) => {
    const { subtotal, net } = bill.bill;
    if (subtotal.amount <= 0 || share <= 0) return 0;
    const split = chosenSplit();
    if (split.kind === 'items') {
      const rate = BigInt((bill.bill.taxes[0] || { rate_bp: 0 }).rate_bp);
      const parts = chosenParts(split);
      const taxed = BigInt(parts.filter((p) => p.taxed).reduce((sum, p) => sum + p.amount, 0));
      const untaxed = BigInt(parts.filter((p) => !p.taxed).reduce((sum, p) => sum + p.amount, 0));
      const bp = BigInt(Math.min(bill.bill.suggested_tip_bp, 1000));
      const tip = Number(((taxed * 10000n + untaxed * (10000n + rate)) * bp) / ((10000n + rate) * 10000n));
      return tip - (tip % payableUnit(subtotal.currency));
    }
    const scaled = BigInt(share) * BigInt(net.amount) * BigInt(bill.bill.suggested_tip_bp);
    const tip = Number(scaled / (BigInt(subtotal.amount) * 10000n));
    return tip - (tip % payableUnit(subtotal.currency));
  };
  const chosenTip = (share) => {
    const choice = new FormData($('#share-form')).get('tip');
    if (choice === 'suggested') return suggestedTip(share);
    const field = $('input[name=tip_amount]');
    field.setCustomValidity('');
    if (choice !== 'custom' || field.value.trim() === '') return 0;
    const tip = pesosToMinor(field.value, english);
    if (Number.isNaN(tip)) {
      field.setCustomValidity(english ? 'Write the tip as an amount, e.g. 5,000' : 'Escribe la propina como un valor, por ejemplo 5.000');
      return 0;
    }
    // A tip is given in what people pay in (whole pesos; the server refuses centavos as it does for cash).
    if (tip % payableUnit(bill.bill.currency) !== 0) {
      field.setCustomValidity(english ? 'Write the tip in whole pesos, e.g. 2,500' : 'Escribe la propina en pesos enteros, por ejemplo 2.500');
      return 0;
    }
    return tip;
  };
  const renderSummary = () => {
    if (!bill) return;
    const currency = bill.bill.currency;
    const share = previewShare();
    const tip = chosenTip(share);
    $('#tip-suggested').textContent = `${bill.bill.suggested_tip_bp / 100} % ${english ? 'of the value before tax' : 'del valor antes de impuestos'} (${money(suggestedTip(share), currency)})`;
    // An equal part larger than what is left (others paid more than theirs, or by dish) is what is left: said, so
    // the guest does not read it as the bill's half.
    const split = chosenSplit();
    const part = split.kind === 'equal' ? equalPart(split) : 0;
    const capped = part > share
      ? (english
        ? ` (an equal part would be ${money(part, currency)}, but only ${money(share, currency)} is left to pay)`
        : ` (una parte igual sería ${money(part, currency)}, pero solo faltan ${money(share, currency)})`)
      : '';
    // A tip is at most the amount it tips on (the server refuses more), and a share of nothing pays nothing: both
    // said here, before Continue, instead of a refusal after it.
    const tooMuchTip = tip > share
      ? (english ? ` · The tip can be at most your share (${money(share, currency)}).` : ` · La propina puede ser como máximo tu parte (${money(share, currency)}).`)
      : '';
    const nothing = share <= 0
      ? (english ? ' · Choose what you pay: a share, what is left, or dishes.' : ' · Elige qué pagas: una parte, lo que falta o platos.')
      : '';
    $('#summary').textContent = `${english ? 'You pay' : 'Pagas'} ${money(share, currency)} + ${english ? 'tip' : 'propina'} ${money(tip, currency)} = ${money(share + tip, currency)}${capped}${tooMuchTip}${nothing}`;
    $('#continue').disabled = Boolean(tooMuchTip || nothing);
  };

  const renderBill = async () => {
    bill = await call('GET', '/bill');
    const currency = bill.bill.currency;
    $('#bill-total').textContent = money(bill.balance.total.amount, currency);
    $('#bill-paid').textContent = money(bill.balance.paid.amount, currency);
    $('#bill-progress').textContent = money(bill.balance.in_progress.amount, currency);
    $('#bill-remaining').textContent = money(bill.balance.remaining.amount, currency);
    $('#bill-refunded').textContent = money(bill.balance.refunded.amount, currency);
    // A payment this phone started and left (Back, a closed card step): the rest of the table sees it in progress
    // until it lapses, so it is named with a way to give it up. Not while its own card step is open.
    const unfinished = bill.unfinished;
    // The payment on this card step ended elsewhere (the waiter took the rest in cash and cancelled it, another tab
    // replaced it): its Pay button would only be refused, in Stripe's words. Asked once it is no longer this phone's
    // payment in progress; the guest chooses again, or sees the bill paid.
    const cardStepOpen = !$('#card-step').hidden && payment && sessionStorage.getItem(CONFIRMING) !== payment.payment_id;
    if (cardStepOpen && !(unfinished && unfinished.payment_id === payment.payment_id)) {
      const ended = await call('GET', `/payments/${payment.payment_id}`).then((p) => ['cancelled', 'failed'].includes(p.status), () => false);
      if (ended && !$('#card-step').hidden) {
        $('#card-step').hidden = true;
        $('#share-form').hidden = false;
        showError({ detail: english
          ? 'This payment was cancelled (the table paid another way, or another tab replaced it); nothing was charged.'
          : 'Este pago se canceló (la mesa pagó de otra forma, u otra pestaña lo reemplazó); no se cobró nada.' });
      }
    }
    const onCardStep = !$('#card-step').hidden && payment && unfinished && payment.payment_id === unfinished.payment_id;
    const confirming = unfinished && unfinished.payment_id === sessionStorage.getItem(CONFIRMING);
    $('#unfinished').hidden = !unfinished || onCardStep || confirming;
    if (unfinished) {
      const lapses = new Date(unfinished.expires_at).toLocaleTimeString(english ? 'en' : 'es-CO', { hour: '2-digit', minute: '2-digit', timeZone: venueZone });
      $('#unfinished-text').textContent = english
        ? `You started a payment of ${money(unfinished.total.amount, unfinished.total.currency)} on this phone and did not finish it: the others at the table see it in progress until ${lapses}. Paying again here replaces it.`
        : `Empezaste un pago de ${money(unfinished.total.amount, unfinished.total.currency)} en este teléfono y no lo terminaste: el resto de la mesa lo ve en curso hasta las ${lapses}; si pagas de nuevo aquí, lo reemplaza.`;
    }
    for (const part of document.querySelectorAll('.bill-refunded')) part.hidden = bill.balance.refunded.amount === 0;
    // An empty bill (nothing ordered yet, or every order cancelled) is not "paid": it has nothing to pay.
    const empty = bill.balance.total.amount <= 0;
    $('#settled').hidden = !bill.balance.settled || empty;
    $('#nothing-to-pay').hidden = !empty;
    root.dataset.settled = String(bill.balance.settled);
    // Nothing left to pay (settled, empty, or the rest held by other guests' payments): no form offering to pay
    // nothing. It comes back if a held payment lapses. The focus, if it was in the form, moves to the status that
    // says why.
    const form = $('#share-form');
    const nothingLeft = bill.balance.remaining.amount <= 0;
    const othersPaying = nothingLeft && !bill.balance.settled && bill.balance.in_progress.amount > 0;
    $('#all-in-progress').hidden = !othersPaying;
    if (nothingLeft && !form.hidden) {
      const hadFocus = form.contains(document.activeElement);
      form.hidden = true;
      form.dataset.nothingLeft = 'true';
      if (hadFocus) (othersPaying ? $('#all-in-progress') : empty ? $('#nothing-to-pay') : $('#settled')).focus();
    } else if (!nothingLeft && form.dataset.nothingLeft === 'true') {
      form.hidden = false;
      delete form.dataset.nothingLeft;
    }
    // The lines to choose from follow the bill: a friend's new order appears, a cancelled one goes; what the guest
    // already ticked stays ticked.
    const list = $('#item-choices');
    const lines = bill.orders.filter((o) => o.status !== 'cancelled');
    const shape = lines.map((o) => `${o.id}:${o.lines.length}`).join(',');
    if (list.dataset.shape !== shape) {
      const kept = new Map([...list.querySelectorAll('li')].map((li) => {
        const box = li.querySelector('input');
        return [`${box.dataset.order}:${box.dataset.line}`, { checked: box.checked, parts: li.querySelector('select').value }];
      }));
      list.replaceChildren();
      list.dataset.shape = shape;
      for (const order of lines) {
        order.lines.forEach((line, index) => {
          const item = document.createElement('li');
          const box = document.createElement('input');
          box.type = 'checkbox';
          box.dataset.order = order.id;
          box.dataset.line = String(index);
          const fraction = document.createElement('select');
          const named = (text) => (english && text.en ? text.en : text.es);
          // With its options: two lines of the same dish are told apart by what was chosen.
          const extras = (line.modifiers || []).map(named).join(', ');
          const dish = `${named(line.name)}${extras ? ` (${extras})` : ''}`;
          fraction.setAttribute('aria-label', english ? `How much of ${dish} you pay` : `Cuánto pagas de ${dish}`);
          for (const [numerator, denominator] of lineFractions(line.quantity)) {
            const option = document.createElement('option');
            option.value = `${numerator}/${denominator}`;
            option.textContent = denominator === 1 ? (english ? 'all of it' : 'completo')
              : numerator > 1 || denominator === line.quantity ? (english ? `${numerator} of ${denominator}` : `${numerator} de ${denominator}`)
                : `1/${denominator}`;
            fraction.appendChild(option);
          }
          const label = document.createElement('label');
          label.className = 'inline';
          const taken = document.createElement('span');
          taken.className = 'line-taken';
          // The line's words beside its checkbox on a narrow phone, not below it (site.css, `.choice`).
          const words = document.createElement('span');
          words.className = 'choice';
          words.append(`${line.quantity} × ${dish} — ${money(line.unit_price.amount * line.quantity, currency)} `, taken);
          label.append(box, ' ', words);
          const before = kept.get(`${order.id}:${index}`);
          if (before) {
            box.checked = before.checked;
            fraction.value = before.parts;
          }
          item.append(label, fraction);
          list.appendChild(item);
        });
      }
    }
    renderUnmarked();
    // The whole bill is a choice only while nobody has paid or is paying any of it (the API refuses it after).
    const full = $('#share-form input[name=split][value=full]');
    const started = bill.balance.paid.amount + bill.balance.in_progress.amount > 0;
    full.disabled = started;
    // A greyed choice says why, and which one to take instead.
    const fullChoice = full.parentElement.querySelector('.choice');
    fullChoice.dataset.base ??= fullChoice.textContent;
    fullChoice.textContent = started
      ? `${fullChoice.dataset.base} ${english ? '(part of it is paid or being paid: choose “What is left”)' : '(ya hay una parte pagada o en pago: elige «Lo que falta»)'}`
      : fullChoice.dataset.base;
    if (started && full.checked) {
      full.checked = false;
      $('#share-form input[name=split][value=remaining]').checked = true;
      $('#item-choices').hidden = true;
    }
    // Lines other guests paid or are paying, whole or in part, say so; a line taken whole cannot be chosen.
    for (const box of list.querySelectorAll('input[type=checkbox]')) {
      const taken = claimedParts(box.dataset.order, Number(box.dataset.line));
      const note = box.parentElement.querySelector('.line-taken');
      if (taken >= LINE_WHOLE) {
        box.checked = false;
        box.disabled = true;
        note.textContent = english ? '(paid or being paid)' : '(pagado o en pago)';
      } else {
        box.disabled = false;
        note.textContent = taken > 0 ? (english ? '(partly paid)' : '(pagado en parte)') : '';
      }
      // A part larger than what others left of the line is not offered (the server would refuse it): of 3 beers
      // with 1 paid, "2 of 3" and less; the part chosen falls to the largest still open.
      const select = box.closest('li').querySelector('select');
      for (const option of select.options) option.disabled = taken + lineParts(lineFraction(option.value)) > LINE_WHOLE;
      if (select.selectedOptions[0] && select.selectedOptions[0].disabled) {
        const open = [...select.options].filter((option) => !option.disabled);
        const largest = open.sort((a, b) => lineParts(lineFraction(b.value)) - lineParts(lineFraction(a.value)))[0];
        if (largest) select.value = largest.value;
      }
    }
    renderSummary();
  };


  // Money paid by a share, by "what is left" or in cash claims no dish: while some was, the dishes' list says so
  // (a dish shown unpaid may be paid already, and what is left is what can still be paid).
  const renderUnmarked = () => {
    if (!bill) return;
    const byItems = $('#share-form input[name=split][value=items]').checked;
    // `paid` holds cash already; a dish paid before parts' amounts were kept (`amount` null) says nothing here.
    const claims = bill.claims || [];
    const byDish = claims.reduce((sum, claim) => sum + (claim.amount || 0), 0);
    const { paid, in_progress: inProgress, remaining } = bill.balance;
    const unmarked = claims.every((claim) => claim.amount != null) && paid.amount + inProgress.amount - byDish > 0;
    const note = $('#items-unmarked');
    note.hidden = !(byItems && unmarked);
    note.textContent = english
      ? `Part of the bill was paid in shares, not by dish, so no dish shows it: ${money(remaining.amount, remaining.currency)} is left to pay.`
      : `Parte de la cuenta se pagó en partes, no por platos, y ningún plato lo muestra: faltan ${money(remaining.amount, remaining.currency)} por pagar.`;
  };
  $('#share-form').addEventListener('change', () => {
    $('#item-choices').hidden = new FormData($('#share-form')).get('split') !== 'items';
    renderUnmarked();
    renderSummary();
  });
  // A tip typed in "Other" is that tip, and a number of parts typed is an equal split, whether or not the guest
  // tapped the choice first (Tab goes from "No tip" straight into the field, passing the radio): typing selects it.
  // Only typing: a keyboard or a phone's "next" passing through the field changes nobody's choice.
  const choosing = (field, group, value) => {
    const chosen = $(`#share-form input[name=${group}][value=${value}]`);
    $(`#share-form input[name=${field}]`).addEventListener('input', () => {
      if (!chosen.checked) {
        chosen.checked = true;
        chosen.dispatchEvent(new Event('change', { bubbles: true }));
      }
    });
  };
  choosing('tip_amount', 'tip', 'custom');
  choosing('parts', 'split', 'equal');
  $('#share-form').addEventListener('input', renderSummary);
  // The way of splitting survives a reload (this tab): a guest who chose three parts saw half the bill again.
  const splitKey = `comanda.split.${location.pathname}`;
  const keepSplit = () => sessionStorage.setItem(splitKey, JSON.stringify({
    kind: ($('input[name=split]:checked') || {}).value,
    parts: $('input[name=parts]').value,
  }));
  $('#share-form').addEventListener('input', keepSplit);
  $('#share-form').addEventListener('change', keepSplit);
  const restoreSplit = () => {
    let kept = null;
    try { kept = JSON.parse(sessionStorage.getItem(splitKey) || 'null'); } catch { kept = null; }
    if (!kept) return;
    if (/^\d{1,2}$/.test(String(kept.parts))) $('input[name=parts]').value = kept.parts;
    if (['full', 'equal', 'items', 'remaining'].includes(kept.kind)) {
      const radio = $(`input[name=split][value=${kept.kind}]`);
      if (radio && !radio.disabled) radio.checked = true;
    }
    // As if chosen: the dishes' list opens for "items", and the summary follows.
    $('#share-form').dispatchEvent(new Event('change', { bubbles: true }));
  };
  // The browser's own check stopped the send (a number of parts out of range): an earlier refusal no longer applies.
  $('#share-form').addEventListener('invalid', () => { $('.error').hidden = true; }, true);
  $('#share-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('.error').hidden = true;
    const share = previewShare();
    const tip = chosenTip(share);
    if (!$('#share-form').reportValidity()) return;
    // One request at a time: a second tap would start a second payment while the first is being created.
    $('#continue').disabled = true;
    try {
      payment = await call('POST', '/payments', { split: chosenSplit(), tip, amount: share });
    } catch (error) {
      await renderBill().catch(() => {});
      return showError(error.problem);
    } finally {
      $('#continue').disabled = false;
    }
    stripe = window.Stripe(payment.publishable_key, { locale: STRIPE_LOCALE });
    elements = stripe.elements({ clientSecret: payment.client_secret });
    $('#payment-element').replaceChildren();
    elements.create('payment').mount('#payment-element');
    $('#pay-now').textContent = `${english ? 'Pay' : 'Pagar'} ${money(payment.total.amount, payment.total.currency)}`;
    $('#share-form').hidden = true;
    $('#card-step').hidden = false;
    // The form the focus was in is hidden: the focus goes to the card step that replaced it.
    $('#card-step').focus();
  });
  $('#pay-now').addEventListener('click', async () => {
    $('#pay-now').disabled = true;
    $('.error').hidden = true;
    // Remembered before Stripe is asked: a method that leaves the page does so inside confirmPayment.
    sessionStorage.setItem(CONFIRMING, payment.payment_id);
    const result = await stripe.confirmPayment({ elements, redirect: 'if_required', confirmParams: { return_url: location.href } });
    if (result.error) {
      forgetConfirmingUnlessLeaving();
      $('#pay-now').disabled = false;
      $('#pay-now').focus();
      // A PaymentIntent cancelled meanwhile (Stripe's code payment_intent_unexpected_state): said the guest's way.
      if (result.error.code === 'payment_intent_unexpected_state') {
        await renderBill().catch(() => {});
        return showError({ detail: english
          ? 'This payment can no longer be made (it was cancelled); nothing was charged. Choose again.'
          : 'Este pago ya no se puede hacer (se canceló); no se cobró nada. Elige de nuevo.' });
      }
      return showError({ detail: result.error.message });
    }
    // The card was accepted; the payment is the guest's once Stripe's webhook reached comanda.
    $('#cancel-payment').hidden = true;
    await awaitConfirmation(payment.payment_id);
  });
  // Waits for Stripe's answer to reach comanda, then thanks the guest, or (Stripe did not take it after all) lets them
  // choose again.
  const awaitConfirmation = async (paymentId) => {
    let seen = null;
    const confirmed = await untilConfirmed(async () => {
      seen = await call('GET', `/payments/${paymentId}`);
      const status = seen.status;
      return status === 'succeeded' || (['failed', 'cancelled'].includes(status) ? 'ended' : false);
    });
    sessionStorage.removeItem(CONFIRMING);
    $('#card-step').hidden = true;
    $('#cancel-payment').hidden = false;
    if (confirmed) {
      // What the guest keeps of it (a screenshot, a print): what was charged, its parts, where, when, and the
      // payment's reference the venue finds it by.
      const { total, amount, tip } = seen;
      const when = new Date(seen.succeeded_at || Date.now()).toLocaleString(english ? 'en' : 'es-CO', { dateStyle: 'long', timeStyle: 'short', timeZone: venueZone });
      const where = `${$('#venue-name').textContent} · ${$('#table-label').textContent}`;
      $('#receipt').textContent = english
        ? `Charged to your card: ${money(total.amount, total.currency)} (your share ${money(amount.amount, amount.currency)} + voluntary tip ${money(tip.amount, tip.currency)}). ${where} · ${when} · reference ${seen.payment_id}`
        : `Cobrado a tu tarjeta: ${money(total.amount, total.currency)} (tu parte ${money(amount.amount, amount.currency)} + propina voluntaria ${money(tip.amount, tip.currency)}). ${where} · ${when} · referencia ${seen.payment_id}`;
      // The card step the focus was in is gone: the focus goes to the thanks, which a screen reader then reads.
      $('#paid-message').hidden = false;
      $('#paid-message').focus();
    } else {
      // Stripe did not take it after all: the guest chooses again.
      $('#share-form').hidden = false;
      showError({ detail: english ? 'The payment did not go through; nothing was charged. Choose again.' : 'El pago no se completó; no se cobró nada. Elige de nuevo.' });
    }
    await renderBill().catch(() => {});
  };
  // Back on the page while a payment this tab sent is being confirmed (reloaded, or returned from the bank's page).
  const resumeConfirmation = async () => {
    cleanStripeReturn();
    const pending = sessionStorage.getItem(CONFIRMING);
    if (!pending || pending.startsWith('deposit:')) return;
    // A payment this bill no longer knows (another table's link, a rotated code) is not waited for.
    const known = await call('GET', `/payments/${pending}`).then(() => true, () => false);
    if (!known) return sessionStorage.removeItem(CONFIRMING);
    $('#share-form').hidden = true;
    $('#confirming').hidden = false;
    await awaitConfirmation(pending);
  };
  $('#cancel-unfinished').addEventListener('click', async () => {
    $('.error').hidden = true;
    try { await call('POST', `/payments/${bill.unfinished.payment_id}/cancel`); } catch (error) { showError(error.problem); }
    await renderBill().catch(() => {});
    // The note and its button are gone: the focus goes on to the choice of what to pay.
    if (!$('#share-form').hidden) $('#share-form input[name=split]:checked').focus();
  });
  $('#cancel-payment').addEventListener('click', async () => {
    // A declined card's message belongs to the payment being cancelled.
    $('.error').hidden = true;
    try { await call('POST', `/payments/${payment.payment_id}/cancel`); } catch (error) { showError(error.problem); }
    $('#card-step').hidden = true;
    $('#share-form').hidden = false;
    await renderBill().catch(() => {});
    // Back to choosing: the focus goes where the guest continues from (or to the status, if nothing is left).
    if (!$('#share-form').hidden) $('#continue').focus();
  });

  (async () => {
    try {
      const view = await call('GET', '');
      $('#venue-name').textContent = view.venue.name;
      $('#where-separator').hidden = false;
      venueZone = view.venue.timezone;
      $('#table-label').textContent = view.table;
      await renderBill();
      restoreSplit();
    } catch (error) {
      showError(error.problem);
      // A link that names no table (mistyped, or its code was replaced): nothing to show or pay, only the refusal.
      if (String((error.problem || {}).type || '').endsWith('/not-found')) {
        $('dl.balance').hidden = true;
        $('#share-form').hidden = true;
        return;
      }
    }
    setInterval(() => renderBill().catch(() => {}), 3000);
    await resumeConfirmation();
  })();
})();
