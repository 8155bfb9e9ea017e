// comanda staff pages: a thin client of the JSON API. Loaded from our own origin (CSP script-src 'self');
// no inline script, no third-party code. Tokens live in sessionStorage for the tab's lifetime only.
'use strict';

const store = {
  get: (key) => sessionStorage.getItem('comanda.' + key),
  set: (key, value) => (value == null ? sessionStorage.removeItem('comanda.' + key) : sessionStorage.setItem('comanda.' + key, value)),
};

const page = document.body.dataset.page;
const english = document.body.dataset.lang === 'en';
const $ = (selector) => document.querySelector(selector);

// One Idempotency-Key per distinct request until it succeeds: a guest who taps again after a lost answer (a phone's
// network dropping mid-request) sends the same request, which the server answers once (API.md), instead of a second
// order or booking; a changed request gets a new key.
function requestKey() {
  let kept = null;
  return {
    for(body) {
      const asked = JSON.stringify(body);
      if (!kept || kept.asked !== asked) kept = { asked, key: crypto.randomUUID() };
      return kept.key;
    },
    succeeded() { kept = null; },
  };
}

// What a refusal says on a Spanish page. The API's problem `type` and field names are stable and its messages
// English (RFC 9457 leaves `detail` to the server, and the page, not the browser's Accept-Language, knows which
// language the guest chose), so the pages say the common refusals in Spanish themselves and show the server's
// words for the rest.
const spanishFields = {
  'guest.phone': 'Escribe el teléfono con su indicativo de país, por ejemplo +57 300 123 4567.',
  contact_phone: 'Escribe el teléfono del restaurante con su indicativo de país, por ejemplo +57 300 123 4567.',
  contact_email: 'Revisa el correo del restaurante: debe ser como reservas@turestaurante.co.',
  'guest.email': 'Revisa el correo electrónico: debe ser como nombre@correo.co.',
  email: 'Revisa el correo electrónico: debe ser como nombre@correo.co.',
  'guest.name': 'Escribe tu nombre.',
  consent: 'Para guardar tus datos necesitamos que aceptes el aviso de privacidad.',
  party_size: 'El restaurante no recibe grupos de ese tamaño en línea; llámalo para reservar.',
  start: 'Esa hora ya no se puede reservar; elige otra.',
  date: 'Elige una fecha válida dentro de las que el restaurante recibe reservas.',
  earliest: 'Revisa la franja de espera: desde qué hora puedes llegar.',
  latest: 'Revisa la franja de espera: la hora final debe ser posterior a la inicial.',
  note: 'La nota es demasiado larga.',
  items: 'Tu pedido está vacío o tiene demasiados platos.',
  'items[].quantity': 'Cada plato va de 1 a 50 unidades por pedido: revisa las cantidades.',
  'items[].item_id': 'Un plato de tu pedido ya no está disponible; recarga el menú.',
  'items[].modifiers': 'Revisa las opciones elegidas para un plato.',
  'items[].note': 'La nota de un plato es demasiado larga (máximo 300 caracteres) o tiene caracteres no válidos.',
  'items[].version': 'Un plato de tu pedido cambió en el menú (precio u opciones): lo quitamos, vuelve a elegirlo.',
};
// The host page speaks to the host, not the guest.
const hostSpanishFields = {
  'guest.name': 'Escribe el nombre del cliente.',
  'guest.phone': 'Escribe el teléfono del cliente con su indicativo, por ejemplo +57 300 123 4567 (solo un cliente sin reserva que se sienta ya puede quedar sin teléfono).',
  party_size: 'El restaurante no tiene mesa para un grupo de ese tamaño; revisa las personas.',
  start: 'Esa hora ya no está libre para ese grupo; elige otra.',
  consent: 'Confirma que el cliente aceptó el aviso de privacidad.',
};
const hostEnglishFields = {
  'guest.name': "Write the guest's name.",
  'guest.phone': "Write the guest's phone number with its country code, for example +57 300 123 4567 (only a walk-in seated now may go without one).",
  party_size: 'The restaurant has no table for a party of that size; check the number of guests.',
  start: 'That time is no longer free for this party; choose another.',
  consent: 'Confirm the guest accepted the privacy notice.',
};
// A field's path said in words, for English refusals no sentence above rewrites: `items[0].quantity` → "Item 1
// quantity", `guest.phone` → "Guest phone" (the API's path stays in the response for programs).
function fieldWords(path) {
  const words = String(path)
    .replace(/s?\[(\d+)\]/g, (_, n) => ` ${Number(n) + 1}`)
    .replace(/[._]+/g, ' ')
    .trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
const spanishTypes = {
  'slot-taken': 'No hay mesa libre para ese grupo a esa hora (otra reserva la tiene o se acaba de ocupar); elige otra.',
  'rate-limited': 'Demasiados intentos seguidos; espera un momento y vuelve a intentarlo.',
  'not-found': 'No encontramos lo que buscas: revisa el enlace o la dirección.',
  'bill-covered': 'Lo que elegiste ya está pagado o lo están pagando: elige lo que falta por pagar.',
  'share-changed': 'La cuenta cambió y tu parte ahora es otra: revisa el nuevo valor y confírmalo.',
  'payments-unavailable': 'Este restaurante no puede recibir pagos con tarjeta ahora; pregunta al personal.',
  'payment-provider': 'El procesador de pagos no respondió; inténtalo de nuevo.',
  'bill-not-settled': 'La cuenta no está pagada del todo.',
  'step-up-failed': 'La contraseña o el código no son correctos.',
  'card-data-refused': 'No escribas números de tarjeta aquí: la tarjeta se escribe solo en el formulario de pago seguro.',
  'payload-too-large': 'El texto enviado es demasiado largo.',
  unavailable: 'El servicio no está disponible en este momento; inténtalo de nuevo en un minuto.',
  internal: 'Algo salió mal de nuestro lado; inténtalo de nuevo.',
};

// Refunds said to staff in the page's words, not the API's (minor units, states): Spanish, English.
const refundDetails = [
  [/^this refund needs a second person with payout authority to approve it, and nobody else has it/,
    'Esta devolución necesita que otra persona con autoridad de pagos la apruebe, y nadie más la tiene: el propietario se la da a otro miembro en la página Equipo; luego pídela de nuevo.',
    'This refund needs a second person with payout authority to approve it, and nobody else has it: the owner gives it to another member on the Staff page; then ask again.'],
  [/^amount: must be a multiple of \d+ minor units: \w+ refunds are in whole pesos/,
    'Las devoluciones son en pesos enteros: escribe el valor sin centavos.',
    'Refunds are in whole pesos: write the amount without cents.'],
  [/^the refund exceeds what is left of the payment/,
    'Es más de lo que queda por devolver de este pago (otra devolución pudo adelantarse): el pago se muestra de nuevo como está ahora.',
    'That is more than is left to refund of this payment (another refund may have come first): the payment is shown again as it is now.'],
  [/^only a succeeded payment can be refunded/,
    'Solo se devuelve un pago completado.',
    'Only a completed payment can be refunded.'],
  [/^a second person with payout authority must approve this refund/,
    'La aprueba otra persona con autoridad de pagos, no quien la pidió.',
    'Another person with payout authority approves it, not the one who asked.'],
  [/^this refund is not awaiting approval/,
    'Esa devolución ya no espera aprobación: alguien más la aprobó, la rechazó o la retiró.',
    'That refund no longer awaits approval: someone else approved, declined or withdrew it.'],
  [/^only its requester or someone with payout authority declines a refund/,
    'Solo quien la pidió o alguien con autoridad de pagos rechaza una devolución.',
    'Only the one who asked for it or someone with payout authority declines a refund.'],
  [/^this refund was refused by the payment provider/,
    'El procesador de pagos rechazó la devolución; no se devolvió nada.',
    'The payment provider refused the refund; nothing was refunded.'],
  [/^amount: must be more than zero/,
    'Escribe un valor mayor que cero.',
    'Write an amount above zero.'],
];

// Refusals whose words say more than their field or type (which password rule, which conflict), recognised by the
// API's English words — stable, the edge tests hold them — and said in Spanish; checked before the field's generic text.
const spanishDetails = [
  [/^email: is already on your team/, 'Esa persona ya está en tu equipo: cambia su rol en la lista de abajo.'],
  [/^the invitation was already used or has expired/, 'Esta invitación ya se usó o venció: pide a quien te invitó una nueva.'],
  [/^(?:owner\.|new_)?password: must have at least (\d+) characters$/, 'La contraseña debe tener al menos $1 caracteres.'],
  [/^(?:owner\.|new_)?password: must have at most (\d+) characters$/, 'La contraseña debe tener como máximo $1 caracteres.'],
  [/^(?:owner\.|new_)?password: is too common/, 'Esa contraseña es demasiado común: aparece en listas de contraseñas filtradas. Elige otra.'],
  [/^(?:owner\.|new_)?password: is a repeated or sequential pattern/, 'La contraseña es un patrón repetido o una secuencia: usa una frase de varias palabras.'],
  [/^(?:owner\.|new_)?password: must not contain your name/, 'La contraseña no puede contener tu nombre, tu correo ni el nombre del negocio.'],
  [/^code: is not the current code/, 'El código no es el que muestra ahora tu aplicación autenticadora.'],
  [/^email: already has an account: sign in/, 'Ese correo ya tiene una cuenta: inicia sesión con él.'],
  [/^email: already has an account/, 'Ese correo ya pertenece a otra cuenta.'],
  [/^email or password is wrong$/, 'El correo o la contraseña no son correctos.'],
  [/already has a table labelled/, 'Este local ya tiene una mesa con ese nombre.'],
  [/^pacing\.online_covers_per_15_min: must not exceed/, 'Los cubiertos en línea por 15 minutos no pueden superar los cubiertos totales por 15 minutos.'],
  [/^(\d+) order\(s\) are neither served nor cancelled$/, '$1 pedido(s) sin servir ni cancelar: sírvelos o cancélalos antes de cerrar la mesa.'],
  [/a server, manager or owner closes a table whose bill is not paid in full$/, 'Una mesa cuya cuenta no está pagada del todo la cierra un mesero, un gerente o el propietario, no la cocina.'],
  [/^this table has no open bill$/, 'Esta mesa no tiene una cuenta abierta.'],
  [/^amount: that is more than is left to pay on this bill.*held by a card payment in progress/, 'Es más de lo que falta: un pago con tarjeta en curso retiene parte de la cuenta. Marca «Cancelar primero el pago con tarjeta en curso» para registrar el efectivo.'],
  [/^cash recorded at the table pays for this order/, 'El efectivo registrado paga este pedido: primero anula ese registro (y devuelve el efectivo), luego cancélalo.'],
  [/^amount: that is more than is left to pay on this bill/, 'Es más de lo que falta por pagar en esta cuenta: lo que el cliente dio de más es cambio.'],
  [/^amount: record the cash taken/, 'Escribe el efectivo recibido: una parte de la cuenta, una propina o ambas.'],
  [/^tip: a cash tip must not be negative, and the bill's cash tips not more than the whole bill/, 'Las propinas en efectivo de la cuenta no pueden sumar más que toda la cuenta.'],
  [/^this cash record was voided already$/, 'Ese registro de efectivo ya estaba anulado.'],
  [/^this bill is closed: its cash records stand/, 'Esa cuenta ya está cerrada: su efectivo queda como se registró.'],
  [/^accept the table first/, 'Acepta la mesa primero: su cuenta se abre cuando el personal la acepta.'],
  [/^your role does not allow this$/, 'Tu rol no permite hacer esto; pídeselo a un gerente o al propietario.'],
  [/^your role cannot make this change$/, 'Tu rol no permite hacer este cambio; pídeselo al propietario.'],
  [/^your role cannot grant this role$/, 'Tu rol no puede dar ese rol; pídeselo al propietario.'],
  [/^you work at some venues only: you manage the staff of those venues/, 'Trabajas solo en algunas sedes: gestionas el equipo de esas sedes, no de otras.'],
  [/^this is for members of every venue of the business/, 'Esto es para quienes trabajan en todas las sedes del negocio (reportes entre sedes, propinas del mes, disputas, una sede nueva), y tú trabajas solo en algunas.'],
  [/^you work at some venues only, and a person's records span every venue/, 'Trabajas solo en algunas sedes, y los datos de una persona abarcan todas: las solicitudes sobre otras personas las atiende el propietario.'],
  [/^venues: names a venue that is not one of yours/, 'Esa sede no es de tu negocio.'],
  [/^venues: name at least one venue/, 'Marca al menos una sede.'],
  [/^venues: owners work at every venue/, 'Los propietarios trabajan en todas las sedes.'],
  [/^venues: payout authority spans every venue/, 'La autoridad sobre pagos abarca todas las sedes: quien la tiene trabaja en todas.'],
  [/^email: has a pending invitation to a role or venues yours cannot grant/, 'Ese correo tiene una invitación pendiente a un rol o a sedes que tú no puedes dar: la retira o la cambia quien la envió.'],
  [/^a partner always keeps at least one owner$/, 'El negocio siempre conserva al menos un propietario: nombra a otro antes.'],
  [/^guests have paid for this order: ([\d,]+(?:\.\d+)?) COP more.*: refund ([\d,]+(?:\.\d+)?) COP of their payments/, 'Los clientes ya pagaron este pedido: primero devuélveles $ $2 de sus pagos en «Pagos y devoluciones» (así vuelven $ $1 de la cuenta, y con ellos su parte de la propina), luego cancélalo.'],
  [/^guests have paid for this order/, 'Los clientes ya pagaron este pedido: primero devuélveles el pago, luego cancélalo.'],
  [/^reason: only a cancellation takes a reason/, 'Solo una cancelación lleva motivo.'],
  [/^reason: /, 'Escribe el motivo, en máximo 500 caracteres.'],
  [/^a table has a bill open: change the tax regime/, 'Hay una mesa con la cuenta abierta: cambia el impuesto cuando todas las mesas estén cerradas.'],
  [/^no table that seats this party is free for its whole turn from now/, 'No hay mesa libre ahora para ese grupo durante todo su turno (hay un grupo sentado o una reserva la tiene dentro del turno): ofrécele la lista de espera o una reserva más tarde.'],
  [/^latest: is already past/, 'Esa franja ya pasó: elige una hora final más tarde.'],
  [/^date: bookings open (\d+) days ahead/, 'El restaurante recibe reservas con hasta $1 días de anticipación: elige una fecha más cercana.'],
  [/^to: must not be before from/, 'La fecha final no puede ser anterior a la inicial.'],
  [/^to: a range covers at most (\d+) days/, 'Un rango cubre como máximo $1 días: acórtalo.'],
  [/^(?:code: )?the code is wrong or was already used/, 'El código no es correcto o ya se usó: escribe el que muestra ahora tu aplicación autenticadora.'],
  [/^too many attempts/, 'Demasiados intentos seguidos; espera un momento y vuelve a intentarlo.'],
  [/^the venue's pacing lets no more guests arrive/, 'El ritmo de llegadas del local no admite más personas en ese cuarto de hora (puede haber mesa libre, pero la cocina llegó a su límite): elige otra hora.'],
  [/^another party is still seated at this table/, 'Otro grupo sigue sentado en esa mesa: márcalo como terminado, o mueve esta reserva (moverla a la misma hora le da una mesa libre, si la hay).'],
  [/^the table still has another party's open bill/, 'La mesa aún tiene la cuenta abierta de otro grupo: ciérrala cuando esté pagada, o mueve esta reserva a otra mesa.'],
  [/^its table was given to another party after the no-show/, 'Su mesa se le dio a otro grupo después del «no llegó»: siéntalo como cliente sin reserva («Sentar ahora»).'],
  [/^the booking's time has come: the venue can still cancel it/, 'Ya llegó la hora de tu reserva: ahora solo el restaurante puede cancelarla.'],
  [/^a party is seated from an hour before its time/, 'Un grupo se sienta desde una hora antes de su reserva: mueve la reserva para sentarlo antes.'],
  [/^a party is late 15 minutes after its start/, 'Un grupo está «tarde» 15 minutos después de su hora, no antes.'],
  [/^this party has no table offered to decline/, 'Ese grupo ya no tiene una mesa ofrecida: la oferta venció o ya se respondió.'],
  [/^this party is no longer waiting \(booked\)/, 'Ya no estás en la lista de espera: aceptaste una mesa (la reserva está en tu correo, y se cancela desde allí).'],
  [/^this party is no longer waiting/, 'Ya no estás en la lista de espera: la oferta venció o tu franja pasó.'],
  [/^a party is a no-show only 15 minutes after its start/, 'Un grupo es «no llegó» solo 15 minutos después de su hora (hasta entonces aún puede llegar).'],
  [/^the party's booked time is over: seat it as a walk-in/, 'Ya pasó la hora reservada: siéntalo como cliente sin reserva (resérvalo ahora por el tiempo que se quede).'],
  [/^the party is no longer seated/, 'El grupo ya no está sentado.'],
  [/^a seated party keeps its time/, 'Un grupo sentado conserva su hora: cambia solo las personas.'],
  ...refundDetails.map(([pattern, es]) => [pattern, es]),
  [/^this reservation is [\w ]+ now: it cannot/, 'Esa reserva ya no admite ese cambio: alguien más la cambió, o ya pasó su momento.'],
];

// The booking page in English speaks to a guest, not in the API's field names.
const englishGuestDetails = [
  [/^latest: is already past/, 'That window is already over: choose a later end time.'],
  [/^date: bookings open (\d+) days ahead/, 'The restaurant takes bookings up to $1 days ahead: choose an earlier date.'],
  [/^guest\.phone: /, 'Write the phone number with its country code, for example +57 300 123 4567.'],
  [/^guest\.email: /, 'Write a valid email address: the confirmation and the link to manage the booking go there.'],
  [/^guest\.name: /, 'Write your name.'],
  [/^consent: /, 'Accept the privacy notice to book: the restaurant keeps your contact details only with it.'],
  [/^the venue's pacing lets no more guests arrive/, 'The restaurant takes no more arrivals at that time; choose another time.'],
];

// The guest's page speaks to the guest: refusals written for staff (what to refund, which state an order is in)
// or in the API's words are said the guest's way, in Spanish or English.
const guestDetails = [
  [/^guests have paid for this order/, 'Este pedido ya está pagado: para cambiarlo, habla con el mesero.', 'This order is paid already: to change it, speak to your server.'],
  [/^the kitchen has already accepted it/, 'La cocina ya aceptó tu pedido: para cambiarlo, habla con el mesero.', 'The kitchen has accepted your order already: to change it, speak to your server.'],
  [/^this table code is not valid any more/, 'Este código QR ya no es válido: pide al personal el código de tu mesa.', 'This QR code is not valid any more: ask the staff for your table\'s code.'],
];

function problemText(problem) {
  if (!problem || typeof problem !== 'object') return english ? 'Something went wrong; try again.' : 'Algo salió mal; inténtalo de nuevo.';
  const field = problem.errors && problem.errors[0];
  if (page === 'guest') {
    const detail = String(problem.detail || '');
    const found = guestDetails.find(([pattern]) => pattern.test(detail));
    if (found) return found[english ? 2 : 1];
  }
  // The venue's largest party, named: the guest knows when to call, the host what the settings allow.
  const largest = field && field.field === 'party_size' && String(field.message).match(/^the venue seats parties of 1 to (\d+)/);
  if (largest && page !== 'host') {
    // The number to call, when the venue gave one in its booking settings.
    const phone = (document.getElementById('booking') || { dataset: {} }).dataset.contactPhone;
    return english
      ? `The restaurant takes parties of 1 to ${largest[1]} here; call them${phone ? ` at ${phone}` : ''} for a larger one.`
      : `El restaurante recibe aquí grupos de 1 a ${largest[1]} personas; para uno más grande, llámalo${phone ? ` al ${phone}` : ''}.`;
  }
  if (largest) {
    return english
      ? `The restaurant takes parties of 1 to ${largest[1]} (the largest is set in the reservation settings).`
      : `El restaurante recibe grupos de 1 a ${largest[1]} personas (el máximo está en la configuración de reservas).`;
  }
  if (!english) {
    const words = field ? `${field.field}: ${field.message}` : String(problem.detail || '');
    for (const [pattern, spanish] of spanishDetails) {
      const found = words.match(pattern);
      // A captured amount is written the Colombian way: 15,000.50 → 15.000,50.
      if (found) return spanish.replace(/\$(\d)/g, (_, n) => (found[Number(n)] || '').replace(/[.,]/g, (c) => (c === ',' ? '.' : ',')));
    }
    const name = field && field.field.replace(/\[\d+\]/g, '[]');
    const said = field ? (page === 'host' && hostSpanishFields[name]) || spanishFields[name] : spanishTypes[String(problem.type || '').split('/').pop()];
    if (said) return said;
  }
  // The booking page speaks to a guest, in English too, of a party the venue does not take online.
  if (english && page === 'booking' && field && field.field === 'party_size') return 'The restaurant does not take parties of that size online; call them to book.';
  if (english && page === 'booking') {
    const words = field ? `${field.field}: ${field.message}` : String(problem.detail || '');
    const found = englishGuestDetails.find(([pattern]) => pattern.test(words));
    if (found) return found[1].replace(/\$(\d)/g, (_, n) => (words.match(found[0]) || [])[Number(n)] || '');
  }
  if (english && page === 'payments') {
    const words = field ? `${field.field}: ${field.message}` : String(problem.detail || '');
    const found = refundDetails.find(([pattern]) => pattern.test(words));
    if (found) return found[2];
  }
  if (english && field) {
    const name = field.field.replace(/\[\d+\]/g, '[]');
    if (page === 'host' && hostEnglishFields[name]) return hostEnglishFields[name];
    return `${fieldWords(field.field)}: ${field.message}`;
  }
  return field ? `${field.field}: ${field.message}` : problem.detail || problem.title || (english ? 'Something went wrong' : 'Algo salió mal');
}

function showError(problem) {
  const box = $('.error');
  if (!box) return;
  box.textContent = problemText(problem);
  box.hidden = false;
  // A phone's screen shows the bottom of the form that was sent: the refusal is brought into view.
  box.scrollIntoView({ block: 'nearest' });
}

function clearError() {
  const box = $('.error');
  if (box) box.hidden = true;
}

async function api(method, path, body, token, extraHeaders = {}) {
  const headers = { Accept: 'application/json', ...extraHeaders };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error((data && data.detail) || response.statusText);
    error.problem = data;
    error.status = response.status;
    throw error;
  }
  return data;
}

function keepTokens(tokens) {
  store.set('access', tokens.access_token);
  store.set('refresh', tokens.refresh_token);
  store.set('enroll', null);
  store.set('mfa', null);
}

// Calls the API with the access token, refreshing it once when it has expired.
async function authed(method, path, body, headers = {}) {
  try {
    return await api(method, path, body, store.get('access'), headers);
  } catch (error) {
    if (error.status !== 401 || !store.get('refresh')) throw error;
    await refreshTokens();
    return api(method, path, body, store.get('access'), headers);
  }
}

// One refresh at a time: a page whose calls all meet an expired token at once (the kitchen's stream and its
// bills every two seconds) rotates the refresh token once, not once per call.
let refreshing = null;
function refreshTokens() {
  refreshing ??= api('POST', '/api/v1/auth/refresh', { refresh_token: store.get('refresh') })
    .then(keepTokens)
    .finally(() => { refreshing = null; });
  return refreshing;
}

// Every list answers one page at a time (`{items, next_cursor}`); a view that shows the whole list follows the
// cursors to the end instead of showing the first page as if it were everything.
// A staff page is about one venue, named in its address (`?venue=…`). Opened without one (a bookmark, an address
// typed by hand), it takes the partner's only venue, or sends to the dashboard that lists them (a signed-in member
// was sent to sign in again, or shown a page of errors). Answers the venue's id, or null when it navigated away.
// The member's venues, read once per page: by the venue chooser, and by the pages that need their venue's zone or
// currency. `null` when they could not be read.
let venuesOfMember;
const memberVenues = () => (venuesOfMember ??= allPages('/api/v1/venues').catch(() => null));

async function chosenVenue() {
  const venue = new URLSearchParams(location.search).get('venue');
  const venues = await memberVenues();
  if (venue) {
    // A venue the member does not work at (another venue of the business, or none): said, and nothing offered.
    if (venues && !venues.some((v) => v.id === venue)) {
      notForYou(notYourVenue());
      return null;
    }
    return venue;
  }
  if (venues && venues.length === 1) {
    const url = new URL(location.href);
    url.searchParams.set('venue', venues[0].id);
    history.replaceState(null, '', url);
    return venues[0].id;
  }
  location.replace('/dashboard');
  return null;
}

// A staff page a member's role only reads (a server on /menu or /tables) or cannot use at all (a server on /staff):
// what the role may not do is not offered (the server refuses it anyway), and the page says who does it. Answers
// the member (`/api/v1/me`), or null when it could not be read.
async function roleLimits(permission, readOnly, refused) {
  const me = await authed('GET', '/api/v1/me').catch(() => null);
  if (!me || (me.permissions || []).includes(permission)) return me;
  if (readOnly) {
    roleNote(readOnly);
    document.querySelector('main').classList.add('read-only');
  } else {
    notForYou(refused);
  }
  return me;
}

// A checkbox in its inline label ("☐ Sede Norte"), and the box; `ariaLabel` names it apart from its text.
function tickBox(text, checked, ariaLabel) {
  const label = document.createElement('label');
  label.className = 'inline';
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.checked = checked;
  if (ariaLabel) box.setAttribute('aria-label', ariaLabel);
  label.append(box, ` ${text}`);
  return [label, box];
}

// The note under the page's heading that says why it offers less (or nothing).
function roleNote(text) {
  const main = document.querySelector('main');
  let note = $('#role-note');
  if (!note) {
    note = document.createElement('p');
    note.className = 'hint';
    note.id = 'role-note';
    (main.querySelector('h1') || main.firstChild).after(note);
  }
  note.textContent = text;
}

// A page the member cannot use (their role, or a venue that is not theirs): the note, and nothing it would refuse.
function notForYou(text) {
  roleNote(text);
  const main = document.querySelector('main');
  main.classList.add('not-for-role');
  for (const part of main.querySelectorAll('h2, form, section, details, .card, .table-scroll, label, p:not(#role-note):not(.error):not(.switch-line)')) part.hidden = true;
}

const notYourVenue = () => english
  ? 'This venue is not one of yours (or no longer is): go back to the dashboard and choose one of your venues.'
  : 'Esta sede no está entre las tuyas (o ya no lo está): vuelve al panel y elige una de tus sedes.';
// In a read-only page nothing that would change it is offered: its forms hidden, and the controls `controls` names
// hidden or disabled (called again after each render, which draws them anew).
function lockReadOnly(controls, hide = '') {
  const main = document.querySelector('main.read-only');
  if (!main) return;
  for (const form of main.querySelectorAll('form')) {
    form.hidden = true;
    // The heading that introduced a form ("Nueva mesa") goes with it.
    const before = form.previousElementSibling;
    if (before && /^H[23]$/.test(before.tagName)) before.hidden = true;
  }
  for (const part of hide ? main.querySelectorAll(hide) : []) part.hidden = true;
  // A button that only changes things goes; a checkbox stays, disabled, for what it shows (a dish available).
  for (const control of main.querySelectorAll(controls)) {
    if (control.tagName === 'BUTTON') control.hidden = true;
    else control.disabled = true;
  }
}

async function allPages(path) {
  const items = [];
  let cursor = null;
  do {
    const query = `limit=200${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`;
    const page = await authed('GET', `${path}${path.includes('?') ? '&' : '?'}${query}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

function afterSignIn(outcome) {
  if (outcome.access_token) {
    keepTokens(outcome);
    location.assign('/dashboard');
  } else if (outcome.enrollment_token) {
    store.set('enroll', outcome.enrollment_token);
    location.assign('/enroll');
  } else if (outcome.mfa_token) {
    store.set('mfa', outcome.mfa_token);
    $('#signin-form').hidden = true;
    $('#code-form').hidden = false;
    $('#code-form input').focus();
  }
}

// A guest's phone as the API takes it (E.164: "+" and the country code). At a venue in Colombia (the page says so in
// `data-calling-code`) a national number as Colombians write it — a mobile "300 123 4567" or a landline "601 234 5678"
// (10 digits since 2021) — gets +57; "00" before a country code is the international prefix. Anything else is sent
// as typed, and the server's answer says what is missing.
function phoneForApi(typed, callingCode) {
  const phone = typed.replace(/[\s().-]/g, '');
  if (phone.startsWith('+')) return phone;
  if (phone.startsWith('00')) return '+' + phone.slice(2);
  if (callingCode === '57' && /^(3\d{9}|60\d{8})$/.test(phone)) return '+57' + phone;
  return phone;
}

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function onSubmit(selector, handler) {
  const form = $(selector);
  if (!form) return;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError();
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await handler(formValues(form), form);
    } catch (error) {
      showError(error.problem);
    } finally {
      button.disabled = false;
    }
  });
}

const pages = {
  signup() {
    onSubmit('#signup-form', async (v) => {
      await api('POST', '/api/v1/signup', {
        business_name: v.business_name,
        country: v.country,
        owner: { name: v.name, email: v.email, password: v.password },
      });
      afterSignIn(await api('POST', '/api/v1/auth/login', { email: v.email, password: v.password }));
    });
  },

  signin() {
    // Straight from accepting an invitation: told they joined, their email written for them.
    const joined = new URLSearchParams(location.search).get('joined');
    if (joined) {
      $('#signin-form').elements.email.value = joined;
      const told = document.createElement('p');
      told.className = 'ok';
      told.setAttribute('role', 'status');
      told.textContent = english ? 'You joined the team: sign in with your new password.' : 'Ya eres parte del equipo: entra con tu nueva contraseña.';
      $('#signin-form').before(told);
      $('#signin-form').elements.password.focus();
    }
    onSubmit('#signin-form', async (v) => afterSignIn(await api('POST', '/api/v1/auth/login', v)));
    onSubmit('#code-form', async (v) => {
      keepTokens(await api('POST', '/api/v1/auth/mfa/verify', { mfa_token: store.get('mfa'), code: v.code }));
      location.assign('/dashboard');
    });
  },

  async enroll() {
    const enrolling = store.get('enroll');
    const token = enrolling || store.get('access');
    if (!token) return location.assign('/signin');
    const start = async (body) => {
      const enrollment = await api('POST', '/api/v1/auth/mfa/totp/enroll', body, token);
      $('#totp-qr').src = 'data:image/svg+xml;base64,' + btoa(enrollment.qr_svg);
      $('#totp-secret').textContent = enrollment.secret;
      $('#password-step').hidden = true;
      $('#enroll-step').hidden = false;
    };
    if (enrolling) {
      // The sign-in that issued the enrolment token has just checked the password.
      try {
        await start({});
      } catch (error) {
        showError(error.problem);
      }
    } else {
      // From a signed-in session the server asks for the password again before a factor is added.
      $('#enroll-step').hidden = true;
      $('#password-step').hidden = false;
      onSubmit('#password-form', (v) => start({ password: v.password }));
    }
    onSubmit('#confirm-form', async (v) => {
      const confirmed = await api('POST', '/api/v1/auth/mfa/totp/confirm', { code: v.code }, token);
      keepTokens(confirmed);
      const list = $('#recovery-codes');
      for (const code of confirmed.recovery_codes) {
        const item = document.createElement('li');
        item.textContent = code;
        list.appendChild(item);
      }
      $('#enroll-step').hidden = true;
      $('#recovery-step').hidden = false;
    });
    $('#continue').addEventListener('click', () => location.assign('/dashboard'));
  },

  async dashboard() {
    if (!store.get('access')) return location.assign('/signin');
    let me = null;
    try {
      me = await authed('GET', '/api/v1/me');
      $('#me-name').textContent = me.name;
      $('#me-role').textContent = roleName(me.role);
      // The staff page is for those who manage staff.
      $('#staff-link').hidden = !(me.permissions || []).includes('manage_staff');
      $('#me-mfa').textContent = me.mfa.enabled
        ? (english ? 'Two-step verification is on.' : 'La verificación en dos pasos está activa.')
        : (english ? 'Two-step verification is off.' : 'La verificación en dos pasos está apagada.');
    } catch (error) {
      if (error.problem && error.problem.type === 'https://comanda.dev/problems/mfa-enrollment-required') {
        return location.assign('/enroll');
      }
      showError(error.problem);
    }
    const renderVenues = async () => {
      const venues = await allPages('/api/v1/venues');
      $('#venues').replaceChildren();
      for (const venue of venues) {
        const item = document.createElement('li');
        const tables = document.createElement('a');
        tables.href = `/tables?venue=${venue.id}`;
        tables.textContent = english ? 'tables and QR codes' : 'mesas y códigos QR';
        const menu = document.createElement('a');
        menu.href = `/menu?venue=${venue.id}`;
        menu.textContent = `${venue.name}: ${english ? 'menu' : 'menú'}`;
        const kitchen = document.createElement('a');
        kitchen.href = `/kitchen?venue=${venue.id}`;
        kitchen.textContent = english ? 'kitchen' : 'cocina';
        const host = document.createElement('a');
        host.href = `/host?venue=${venue.id}`;
        host.textContent = english ? 'bookings' : 'reservas';
        const settings = document.createElement('a');
        settings.href = `/booking-settings?venue=${venue.id}`;
        settings.textContent = english ? 'booking settings' : 'ajustes de reservas';
        const sales = document.createElement('a');
        sales.href = `/analytics?venue=${venue.id}`;
        sales.textContent = english ? 'sales' : 'ventas';
        const payments = document.createElement('a');
        payments.href = `/payments?venue=${venue.id}`;
        payments.textContent = english ? 'payments and refunds' : 'pagos y devoluciones';
        // Only the pages the member's role can use: a server is not sent to a menu editor that refuses each change.
        const may = (permission) => !me || (me.permissions || []).includes(permission);
        const name = document.createElement('strong');
        name.textContent = venue.name;
        const links = [
          [menu, may('manage_venues')],
          [tables, may('manage_venues')],
          [kitchen, may('view_kitchen') || may('manage_orders')],
          [host, may('manage_reservations')],
          [settings, may('manage_venues')],
          [sales, may('view_analytics')],
          [payments, may('issue_refunds')],
        ].filter(([, allowed]) => allowed).map(([link]) => link);
        menu.textContent = english ? 'menu' : 'menú';
        item.append(name, ': ', ...links.flatMap((link, i) => (i ? [' · ', link] : [link])));
        // A typo in the name or address, or another tax regime, is corrected here (the time zone and currency stay).
        if (may('manage_venues')) {
          const edit = document.createElement('details');
          const summary = document.createElement('summary');
          summary.textContent = english ? `Edit ${venue.name}` : `Editar ${venue.name}`;
          const editForm = document.createElement('form');
          const field = (text, input) => {
            const label = document.createElement('label');
            label.append(text, input);
            return label;
          };
          const nameInput = Object.assign(document.createElement('input'), { name: 'name', value: venue.name, required: true, maxLength: 200 });
          const addressInput = Object.assign(document.createElement('input'), { name: 'address', value: venue.address || '', maxLength: 500 });
          const kind = document.createElement('select');
          kind.name = 'tax_kind';
          kind.add(new Option(english ? 'Consumption tax (INC)' : 'Impuesto al consumo (INC)', 'inc', false, venue.tax.kind === 'inc'));
          kind.add(new Option('IVA', 'iva', false, venue.tax.kind === 'iva'));
          const rate = Object.assign(document.createElement('input'), { name: 'tax_rate', type: 'number', min: 0, max: 100, step: 0.01, value: venue.tax.rate_bp / 100, required: true, inputMode: 'decimal' });
          const save = Object.assign(document.createElement('button'), { type: 'submit', textContent: english ? 'Save' : 'Guardar' });
          const saved = Object.assign(document.createElement('p'), { className: 'ok', hidden: true, textContent: english ? 'Saved.' : 'Guardado.' });
          saved.setAttribute('role', 'status');
          editForm.append(
            field(english ? 'Name' : 'Nombre', nameInput),
            field(english ? 'Address' : 'Dirección', addressInput),
            field(english ? 'Tax' : 'Impuesto', kind),
            field(english ? 'Tax rate (%), included in prices' : 'Tarifa del impuesto (%), incluida en los precios', rate),
            save,
            saved,
          );
          editForm.addEventListener('submit', async (event) => {
            event.preventDefault();
            clearError();
            saved.hidden = true;
            try {
              await authed('PATCH', `/api/v1/venues/${encodeURIComponent(venue.id)}`, {
                name: nameInput.value,
                address: addressInput.value,
                tax: { kind: kind.value, rate_bp: Math.round(Number(rate.value) * 100) },
              });
              saved.hidden = false;
              name.textContent = nameInput.value.trim();
              summary.textContent = english ? `Edit ${name.textContent}` : `Editar ${name.textContent}`;
            } catch (error) {
              showError(error.problem);
            }
          });
          edit.append(summary, editForm);
          item.appendChild(edit);
        }
        $('#venues').appendChild(item);
      }
    };
    // Roles without venue access simply see no venues.
    await renderVenues().catch(() => {});
    // Setting up (owners and managers): a venue, then its tables and menu; and the card payments (Stripe).
    if (me && ['owner', 'manager'].includes(me.role)) {
      $('#setup').hidden = false;
      const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : ['America/Bogota'];
      $('#zones').replaceChildren(...zones.map((zone) => Object.assign(document.createElement('option'), { value: zone })));
      onSubmit('#venue-form', async (v, form) => {
        const venue = await authed('POST', '/api/v1/venues', { name: v.name, timezone: v.timezone.trim(), address: v.address });
        form.reset();
        location.assign(`/tables?venue=${encodeURIComponent(venue.id)}`);
      });
      // A manager of some venues only opens no new one (the business's owner does): the form is not offered.
      if (me.venues) $('#setup').hidden = true;
      const payoutsState = $('#payouts-state');
      $('#payouts').hidden = false;
      try {
        // Without payout authority the answer is known: not asked (a 403 in the console reads as a fault).
        if (!me.payout_authority) throw Object.assign(new Error('payout authority'), { status: 403 });
        const payouts = await authed('GET', '/api/v1/payouts');
        payoutsState.textContent = payouts.accepts_payments
          ? (english ? 'Guests can pay by card at your tables.' : 'Tus clientes ya pueden pagar con tarjeta en la mesa.')
          : payouts.onboarded
            ? (english ? 'Stripe is still checking your details: finish or review them.' : 'Stripe aún revisa tus datos: complétalos o revísalos.')
            : (english ? 'Connect your business to Stripe so guests can pay by card.' : 'Conecta tu negocio con Stripe para que tus clientes paguen con tarjeta.');
        $('#payouts-connect').hidden = payouts.accepts_payments;
      } catch (error) {
        // Payouts need payout authority, which no role carries by itself.
        payoutsState.textContent = error.status === 403
          ? (english
            ? 'Card payments need payout authority: an owner grants it on the Staff page (a second factor is then required).'
            : 'Los cobros con tarjeta necesitan autorización de pagos: un propietario la da en la página Equipo (y entonces se pide la verificación en dos pasos).')
          : problemText(error.problem);
        $('#payouts-connect').hidden = true;
      }
      const connect = async () => {
        clearError();
        $('#payouts-connect').disabled = true;
        try {
          const link = await authed('POST', '/api/v1/payouts/onboarding');
          location.assign(link.url);
        } catch (error) {
          $('#payouts-connect').disabled = false;
          showError(error.problem);
        }
      };
      $('#payouts-connect').addEventListener('click', connect);
      // Stripe sends the owner back here; an expired link (`refresh`) asks for a new one at once.
      if (new URLSearchParams(location.search).get('payouts') === 'refresh' && !$('#payouts-connect').hidden) connect();
    }
    const signOut = (path) => async () => {
      try { await authed('POST', path, {}); } finally { store.set('access', null); store.set('refresh', null); location.assign('/signin'); }
    };
    $('#signout').addEventListener('click', signOut('/api/v1/auth/logout'));
    $('#signout-all').addEventListener('click', signOut('/api/v1/auth/logout-all'));
  },

  async staff() {
    if (!store.get('access')) return location.assign('/signin');
    const me = await roleLimits('manage_staff', null, english
      ? 'Managing the team is for owners and managers: ask one of them.'
      : 'Gestionar el equipo es de propietarios y gerentes: pídeselo a uno de ellos.');
    if (me && !(me.permissions || []).includes('manage_staff')) return;
    // A manager manages the floor roles only and never grants payout authority (the server refuses the rest):
    // owners, managers and payout authority are not offered to them.
    const owner = !me || me.role === 'owner';
    const floor = (member) => !member.payout_authority && !['owner', 'manager'].includes(member.role);
    if (!owner) {
      for (const option of [...$('#invite-form select[name=role]').options]) {
        if (['owner', 'manager'].includes(option.value)) option.remove();
      }
      $('#invite-form input[name=payout_authority]').closest('label').hidden = true;
    }
    // Where each member works: every venue (owners and payout authority always), or some. A member limited to some
    // venues sees and grants only those; the choices are the caller's own venues.
    const venues = await allPages('/api/v1/venues').catch(() => []);
    const venueNames = new Map(venues.map((venue) => [venue.id, venue.name]));
    const mine = me ? me.venues : null;
    const choosable = venues.length > 1 || Boolean(mine);
    const venuesText = (ids) => ids
      ? ids.map((id) => venueNames.get(id) || (english ? 'another venue' : 'otra sede')).join(', ')
      : (english ? 'All' : 'Todas');
    const everyVenue = (role, payout) => role === 'owner' || payout;
    // Whether every venue of `theirs` (null: every venue) is one of the caller's: a manager of some venues manages the
    // staff of those only (the server refuses the rest).
    const covers = (theirs) => !mine || Boolean(theirs && theirs.every((id) => mine.includes(id)));
    // Owners and payout authority work at every venue: given to a member of some, that is said and asked first.
    const widening = (member) => {
      if (!member.venues) return {};
      const asked = english
        ? `${member.name} works at ${venuesText(member.venues)} only. Owners and payout authority work at every venue: give it and let them work at every venue?`
        : `${member.name} trabaja solo en ${venuesText(member.venues)}. Los propietarios y la autoridad sobre pagos trabajan en todas las sedes: ¿dárselo y que trabaje en todas?`;
      return window.confirm(asked) ? { venues: null } : null;
    };
    // Checkboxes without a name, so `formValues` leaves them out; `chosen` reads them.
    const venueChoices = (container, checked, label) => {
      container.replaceChildren();
      for (const venue of venues) {
        const [choice, box] = tickBox(venue.name, checked.includes(venue.id), label && `${venue.name}: ${label}`);
        box.value = venue.id;
        container.appendChild(choice);
      }
    };
    const chosen = (container) => [...container.querySelectorAll('input:checked')].map((box) => box.value);
    const inviteVenues = $('#invite-venues');
    if (choosable) {
      inviteVenues.hidden = false;
      venueChoices(inviteVenues.querySelector('.venue-choices'), []);
      $('#invite-venues-hint').textContent = mine
        ? (english ? 'None ticked: your venues.' : 'Sin marcar: tus sedes.')
        : (english ? 'None ticked: every venue, also those you open later.' : 'Sin marcar: todas las sedes, también las que abras después.');
      // Owners and payout authority work at every venue: nothing to choose for them.
      const inviteForm = $('#invite-form');
      const lockVenues = () => {
        const every = everyVenue(inviteForm.role.value, inviteForm.payout_authority.checked);
        for (const box of inviteVenues.querySelectorAll('input')) {
          box.disabled = every;
          if (every) box.checked = false;
        }
      };
      inviteForm.role.addEventListener('change', lockVenues);
      inviteForm.payout_authority.addEventListener('change', lockVenues);
    }
    const render = async () => {
      const list = { items: await allPages('/api/v1/staff') };
      const body = $('#staff-table tbody');
      body.replaceChildren();
      const roles = ['owner', 'manager', 'server', 'kitchen', 'host', 'analyst'];
      for (const member of list.items) {
        const row = document.createElement('tr');
        for (const value of [member.name, member.email]) {
          const cell = document.createElement('td');
          cell.textContent = value;
          row.appendChild(cell);
        }
        const roleCell = document.createElement('td');
        const select = document.createElement('select');
        select.setAttribute('aria-label', member.email);
        for (const role of roles) {
          if (!owner && ['owner', 'manager'].includes(role) && role !== member.role) continue;
          const option = new Option(roleName(role), role, false, role === member.role);
          select.add(option);
        }
        // Whom a manager may not change (an owner, a manager, anyone with payout authority, anyone working at a venue
        // not theirs) is shown, not offered.
        const untouchable = (!owner && !floor(member)) || !covers(member.venues);
        select.disabled = untouchable;
        select.addEventListener('change', async () => {
          clearError();
          const wider = select.value === 'owner' ? widening(member) : {};
          if (!wider) {
            select.value = member.role;
            return;
          }
          try {
            await authed('PATCH', `/api/v1/staff/${member.id}`, { role: select.value, ...wider });
            // The row's venues may have changed with the role: drawn again from what the server keeps.
            await render();
          } catch (error) {
            showError(error.problem);
            select.value = member.role;
          }
        });
        roleCell.appendChild(select);
        row.appendChild(roleCell);
        const venuesCell = document.createElement('td');
        const where = document.createElement('span');
        where.textContent = venuesText(member.venues);
        venuesCell.appendChild(where);
        if (choosable && !untouchable && !everyVenue(member.role, member.payout_authority)) {
          const change = document.createElement('details');
          const summary = document.createElement('summary');
          summary.textContent = english ? 'Change' : 'Cambiar';
          summary.setAttribute('aria-label', `${summary.textContent}: ${english ? 'venues of' : 'sedes de'} ${member.name}`);
          const choices = document.createElement('div');
          venueChoices(choices, member.venues || [], member.name);
          const save = document.createElement('button');
          save.type = 'button';
          save.className = 'secondary';
          save.textContent = english ? 'Save venues' : 'Guardar sedes';
          save.addEventListener('click', async () => {
            clearError();
            const ids = chosen(choices);
            // None ticked is every venue, which only a member of every venue may give.
            if (ids.length === 0 && mine) {
              showError({ detail: english ? 'Tick at least one venue.' : 'Marca al menos una sede.' });
              return;
            }
            try {
              const saved = await authed('PATCH', `/api/v1/staff/${member.id}`, { venues: ids.length ? ids : null });
              await render();
              $('#staff-status').textContent = `${member.name}: ${venuesText(saved.venues)}`;
              // The row was drawn anew: the focus goes back to its venues' disclosure.
              const again = [...document.querySelectorAll('#staff-table summary')].find((s) => s.getAttribute('aria-label') === summary.getAttribute('aria-label'));
              if (again) again.focus();
            } catch (error) {
              showError(error.problem);
            }
          });
          const hint = document.createElement('p');
          hint.className = 'hint';
          hint.textContent = mine ? '' : (english ? 'None ticked: every venue.' : 'Sin marcar: todas las sedes.');
          change.append(summary, choices, hint, save);
          venuesCell.appendChild(change);
        }
        row.appendChild(venuesCell);
        // Payout authority (Stripe onboarding, payouts, big refunds' second person), given or taken here: an owner
        // starts without it, and needs it to connect card payments from the dashboard.
        const payoutCell = document.createElement('td');
        const payout = document.createElement('input');
        payout.type = 'checkbox';
        payout.checked = member.payout_authority;
        payout.setAttribute('aria-label', `${english ? 'Payout authority' : 'Autoridad sobre pagos'}: ${member.name}`);
        let held = member.payout_authority;
        payout.addEventListener('change', async () => {
          clearError();
          const wider = payout.checked ? widening(member) : {};
          if (!wider) {
            payout.checked = held;
            return;
          }
          try {
            const saved = await authed('PATCH', `/api/v1/staff/${member.id}`, { payout_authority: payout.checked, ...wider });
            held = saved.payout_authority;
            // The row's venues and what may be changed follow payout authority: drawn again from the server.
            await render();
            $('#staff-status').textContent = `${member.name}: ${held ? (english ? 'payout authority given' : 'autoridad sobre pagos dada') : (english ? 'payout authority taken away' : 'autoridad sobre pagos quitada')}`;
          } catch (error) {
            showError(error.problem);
          }
          payout.checked = held;
        });
        payout.disabled = !owner;
        payoutCell.appendChild(payout);
        row.appendChild(payoutCell);
        const mfa = document.createElement('td');
        mfa.textContent = member.mfa_enabled ? '✓' : '—';
        row.appendChild(mfa);
        // Someone who left: a first tap asks, a second removes (their sessions end at once).
        const actions = document.createElement('td');
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'link';
        const removeText = english ? 'Remove' : 'Quitar';
        remove.textContent = removeText;
        remove.setAttribute('aria-label', `${removeText}: ${member.name}`);
        remove.addEventListener('click', async () => {
          clearError();
          if (remove.dataset.confirming !== 'true') {
            remove.dataset.confirming = 'true';
            remove.textContent = english ? `Remove ${member.name}? Tap again` : `¿Quitar a ${member.name}? Toca otra vez`;
            // Its name is what a screen reader says: it asks the same question.
            remove.setAttribute('aria-label', remove.textContent);
            return;
          }
          try {
            await authed('DELETE', `/api/v1/staff/${member.id}`);
            await render();
            $('#staff-status').textContent = `${member.name}: ${english ? 'removed' : 'quitado del equipo'}`;
            // The row the focus was in is gone: the focus goes to the list.
            $('#staff-table').focus();
          } catch (error) {
            showError(error.problem);
            remove.dataset.confirming = 'false';
            remove.textContent = removeText;
            remove.setAttribute('aria-label', `${removeText}: ${member.name}`);
          }
        });
        if (!untouchable) actions.appendChild(remove);
        row.appendChild(actions);
        body.appendChild(row);
      }
      // Invitations not accepted yet: who, as what, until when; withdrawn with one tap (the link stops working).
      const pending = await allPages('/api/v1/invitations').catch(() => []);
      const invitations = $('#invitation-list');
      invitations.replaceChildren();
      $('#pending-invitations').hidden = pending.length === 0;
      for (const invitation of pending) {
        const item = document.createElement('li');
        const who = document.createElement('span');
        who.className = 'who';
        const until = new Date(invitation.expires_at).toLocaleDateString(english ? 'en' : 'es-CO');
        const at = choosable ? ` · ${english ? 'venues' : 'sedes'}: ${venuesText(invitation.venues)}` : '';
        who.textContent = `${invitation.name} <${invitation.email}> — ${roleName(invitation.role)}${at} · ${english ? 'valid until' : 'válida hasta'} ${until}`;
        const withdraw = document.createElement('button');
        withdraw.type = 'button';
        withdraw.className = 'secondary';
        withdraw.textContent = english ? 'Withdraw' : 'Retirar';
        withdraw.setAttribute('aria-label', `${withdraw.textContent}: ${invitation.email}`);
        withdraw.addEventListener('click', async () => {
          clearError();
          try {
            await authed('DELETE', `/api/v1/invitations/${invitation.id}`);
            await render();
            $('#staff-status').textContent = `${invitation.email}: ${english ? 'invitation withdrawn' : 'invitación retirada'}`;
            $('#staff-table').focus();
          } catch (error) {
            showError(error.problem);
          }
        });
        // One to a venue not theirs is its inviter's to withdraw (a manager of some venues sees those to every venue).
        if (owner || covers(invitation.venues)) item.append(who, withdraw);
        else item.append(who);
        invitations.appendChild(item);
      }
    };
    try { await render(); } catch (error) { showError(error.problem); }
    onSubmit('#invite-form', async (v, form) => {
      const invitation = { name: v.name, email: v.email, role: v.role, payout_authority: v.payout_authority === 'on' };
      const ids = choosable ? chosen(inviteVenues) : [];
      if (ids.length) invitation.venues = ids;
      await authed('POST', '/api/v1/staff', invitation);
      form.reset();
      $('#invite-sent').hidden = false;
      await render();
    });
  },

  invitation() {
    onSubmit('#accept-form', async (v, form) => {
      await api('POST', `/api/v1/staff/invitations/${encodeURIComponent(form.dataset.token)}/accept`, { password: v.password });
      location.assign(`/signin?joined=${encodeURIComponent(form.dataset.email || '')}`);
    });
  },
};


// ----- guest and kitchen -----

// An amount of pesos as people write it — "20.000", "20000", "$ 20.000", "7.500,50" (Colombia: the dot groups
// thousands, the comma marks centavos), or "20,000" — in minor units; NaN for anything else ("20.5"), so an
// ambiguous amount is refused, never misread (a number field reads "20.000" as twenty). The payment page's script has the same reader.
function pesosToMinor(text) {
  const written = String(text).replace(/[\s$\u00a0]|COP/gi, '');
  const match = /^(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}))?$/.exec(written) || /^(\d{1,3}(?:,\d{3})+)()$/.exec(written);
  if (!match) return NaN;
  return Number(match[1].replace(/[.,]/g, '')) * 100 + Number((match[2] || '').padEnd(2, '0'));
}

// The refusal of an amount `pesosToMinor` could not read, as `onSubmit` shows it.
function unreadableAmount(example) {
  return Object.assign(new Error('amount'), {
    problem: { detail: english ? `Write the amount in pesos, e.g. ${example}` : `Escribe el valor en pesos, por ejemplo ${example}` },
  });
}

const roleNames = {
  es: { owner: 'propietario', manager: 'gerente', server: 'mesero', kitchen: 'cocina', host: 'anfitrión', analyst: 'analista' },
  en: { owner: 'owner', manager: 'manager', server: 'server', kitchen: 'kitchen', host: 'host', analyst: 'analyst' },
};
const roleName = (role) => roleNames[english ? 'en' : 'es'][role] || role;

// A file the API answers to a signed-in member (a CSV, the QR codes' PDF), saved under `filename`.
async function download(path, filename) {
  clearError();
  const response = await fetch(path, { headers: { Authorization: 'Bearer ' + store.get('access') } });
  if (!response.ok) {
    showError(await response.json().catch(() => null));
    return;
  }
  const link = document.createElement('a');
  link.href = URL.createObjectURL(await response.blob());
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// An amount a person typed, in minor units (`null` when it is not one): es-CO writes 45.000 or 45.000,50, English
// 45,000.50; a last separator followed by two digits is the decimal one, the others group thousands. In pesos one
// digit after a separator is no amount ("50.5" is neither $ 50,50 nor 50.500: nobody pays centavos in cash).
function parseMoneyInput(text, currency) {
  const digits = currency === 'CLP' ? 0 : 2;
  const clean = String(text || '').replace(/[\s$\u00a0]|COP/gi, '');
  if (!clean) return 0;
  const found = clean.match(/^(\d{1,3}(?:[.,]\d{3})+|\d+)(?:[.,](\d{1,2}))?$/);
  if (!found || (digits === 0 && found[2]) || (currency === 'COP' && found[2] && found[2].length === 1)) return null;
  const minor = Number(found[1].replace(/[.,]/g, '')) * 10 ** digits + (found[2] ? Number(found[2].padEnd(2, '0')) : 0);
  return Number.isSafeInteger(minor) ? minor : null;
}

// An amount as a field holds it: whole pesos without grouping, centavos after a comma.
function moneyInputValue(money) {
  const digits = money.currency === 'CLP' ? 0 : 2;
  const major = money.amount / 10 ** digits;
  return Number.isInteger(major) ? String(major) : major.toFixed(digits).replace('.', english ? '.' : ',');
}

// An amount with its currency: pesos as Colombians write them ($ 100.000, centavos only when there are some), any
// other currency with its code (20 EUR, 10,50 EUR), never a bare "$" that would read as pesos. English pages write
// numbers as English does and name the currency (COP 100,000; EUR 10.50): "$ 722.400" beside an English "91.67 %"
// read as 722 dollars and 40 cents.
function formatMoney(money) {
  const digits = money.currency === 'CLP' ? 0 : 2;
  const major = money.amount / 10 ** digits;
  const whole = Number.isInteger(major);
  const options = { minimumFractionDigits: whole ? 0 : digits, maximumFractionDigits: digits };
  if (english) return `${money.currency || 'COP'}\u00a0${major.toLocaleString('en-US', options)}`;
  const number = major.toLocaleString('es-CO', options);
  return money.currency === 'COP' || !money.currency ? '$\u00a0' + number : `${number}\u00a0${money.currency}`;
}

// An amount as a figure people read (a day's sales, the tax a price contains): pesos whole, other currencies as
// they are. Amounts paid or owed keep their exact value (formatMoney).
function formatWholeMoney(money) {
  return formatMoney(money.currency === 'COP' ? { ...money, amount: Math.round(money.amount / 100) * 100 } : money);
}

// The most of one line an order takes (comanda_domain::menu::MAX_QUANTITY): the cart stops there instead of
// sending an order the server refuses.
const MAX_QUANTITY = 50;

const statusNames = {
  es: { placed: 'Recibido', accepted: 'Aceptado', preparing: 'En preparación', ready: 'Listo', served: 'Servido', cancelled: 'Cancelado' },
  en: { placed: 'Received', accepted: 'Accepted', preparing: 'Preparing', ready: 'Ready', served: 'Served', cancelled: 'Cancelled' },
};
const statusName = (status) => statusNames[english ? 'en' : 'es'][status] || status;
const localized = (text) => (english && text.en ? text.en : text.es);

// How many options of a group a guest picks, in words: "elige 1", "opcional, hasta 2", "elige de 1 a 3".
function choiceRule(group) {
  if (group.min === 0) {
    if (group.max === 1) return english ? 'optional' : 'opcional';
    return english ? `optional, up to ${group.max}` : `opcional, hasta ${group.max}`;
  }
  if (group.min === group.max) return english ? `choose ${group.min}` : `elige ${group.min}`;
  return english ? `choose ${group.min} to ${group.max}` : `elige de ${group.min} a ${group.max}`;
}

function guestDevice() {
  let device = localStorage.getItem('comanda.device');
  if (!device) {
    device = crypto.randomUUID();
    localStorage.setItem('comanda.device', device);
  }
  return device;
}

pages.guest = async () => {
  const root = $('#guest');
  const token = root.dataset.token;
  const device = guestDevice();
  // The cart survives a reload and a change of language (this tab only): what was chosen — dish, options,
  // quantity — is kept, and its names and prices are read from the menu each time it is drawn.
  const cartKey = `comanda.cart.${token}`;
  let cart = [];
  try {
    cart = JSON.parse(sessionStorage.getItem(cartKey) || '[]').filter((line) => line && line.item_id && line.quantity > 0 && Array.isArray(line.modifiers));
  } catch {
    cart = [];
  }
  const saveCart = () => sessionStorage.setItem(cartKey, JSON.stringify(cart.map(({ item_id, quantity, modifiers, version, note }) => ({ item_id, quantity, modifiers, version, note }))));
  let view;
  // A cart line as the menu describes it now: its name with the options chosen, and its unit price; null when the
  // dish or an option is no longer on the menu.
  const describe = (line) => {
    const item = view.menu.categories.flatMap((c) => c.items).find((i) => i.id === line.item_id);
    // The options are kept by position: against a dish changed since (another option at that place), never.
    if (!item || (line.version && line.version !== item.version)) return null;
    const options = line.modifiers.map(([g, o]) => item.modifiers[g] && item.modifiers[g].options[o]);
    if (options.some((option) => !option)) return null;
    return {
      label: [localized(item.name), ...options.map((option) => localized(option.name))].join(' + '),
      unit: item.price.amount + options.reduce((sum, option) => sum + option.price_delta, 0),
    };
  };

  const renderCart = () => {
    // The lines are drawn again: the button that had the focus gets it back (or the list, when its line went).
    const active = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.step : undefined;
    const kept = cart.filter((line) => describe(line));
    if (kept.length < cart.length) {
      showError({ detail: english
        ? 'A dish in your order changed on the menu or is no longer served: we took it out, choose it again.'
        : 'Un plato de tu pedido cambió en el menú o ya no se sirve: lo quitamos, vuelve a elegirlo.' });
    }
    cart = kept;
    saveCart();
    $('#cart').hidden = cart.length === 0;
    const list = $('#cart-lines');
    list.replaceChildren();
    let total = 0;
    cart.forEach((line) => {
      const { label, unit } = describe(line);
      const item = document.createElement('li');
      item.className = 'cart-line';
      const text = document.createElement('span');
      text.textContent = `${line.quantity} × ${label} — ${formatMoney({ amount: unit * line.quantity, currency: view.venue.currency })}`;
      const step = (delta, sign, name) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'step';
        button.textContent = sign;
        button.setAttribute('aria-label', `${name}: ${label}`);
        button.dataset.step = `${line.item_id}:${JSON.stringify(line.modifiers)}:${delta}`;
        if (delta > 0 && line.quantity >= MAX_QUANTITY) button.disabled = true;
        button.addEventListener('click', () => {
          line.quantity = Math.min(line.quantity + delta, MAX_QUANTITY);
          if (line.quantity <= 0) cart.splice(cart.indexOf(line), 1);
          renderCart();
          $('#cart-status').textContent = `${Math.max(line.quantity, 0)} × ${label}`;
        });
        return button;
      };
      item.append(step(-1, '−', english ? 'One less' : 'Uno menos'), text, step(1, '+', english ? 'One more' : 'Uno más'));
      // What the kitchen must know of this line: "sin cebolla", an allergy. Shown on its ticket.
      const note = document.createElement('input');
      note.className = 'line-note';
      note.maxLength = 300;
      note.value = line.note || '';
      note.placeholder = english ? 'Note for the kitchen (optional)' : 'Nota para la cocina (opcional)';
      note.setAttribute('aria-label', `${english ? 'Note for the kitchen' : 'Nota para la cocina'}: ${label}`);
      note.addEventListener('input', () => {
        line.note = note.value;
        saveCart();
      });
      item.appendChild(note);
      list.appendChild(item);
      total += unit * line.quantity;
    });
    $('#cart-total').textContent = formatMoney({ amount: total, currency: view.venue.currency });
    if (active !== undefined) {
      const again = [...list.querySelectorAll('button.step')].find((button) => button.dataset.step === active);
      if (again) again.focus();
      else if (cart.length) list.querySelector('button.step').focus();
      else $('#menu').querySelector('button.add')?.focus();
    }
  };

  const renderOrders = async () => {
    const response = await fetch(`/api/v1/t/${encodeURIComponent(token)}/bill`, { headers: { 'X-Guest-Device': device } });
    const bill = await response.json();
    if (!response.ok) throw Object.assign(new Error('bill'), { problem: bill });
    $('#orders').hidden = bill.orders.length === 0;
    $('#waiting').hidden = !(bill.session && bill.session.status === 'pending');
    // Staff moved the party's bill to another table: this phone, still on the old table's code, is told where.
    const billAt = bill.bill_at
      ? (english ? `Your bill is now at ${bill.bill_at}: scan that table's code to go on ordering and to pay.`
        : `Tu cuenta está ahora en ${bill.bill_at}: escanea el código de esa mesa para seguir pidiendo y pagar.`)
      : '';
    if ($('#bill-at').textContent !== billAt) $('#bill-at').textContent = billAt;
    // Paying needs an open bill: not before the first order, nor while staff have not accepted the table.
    // Paying needs something to pay too: an empty bill (every order cancelled) offers no payment.
    // A bill paid in full has no Pay button: the bill line says it is paid. (One being paid keeps it: the guest who
    // left a payment on the card step finds it again there.)
    $('#pay-link').hidden = !(bill.session && bill.session.status === 'open' && bill.bill.subtotal.amount > 0 && !bill.balance.settled);
    const list = $('#order-list');
    // Redrawn only when an order changed: a redraw every two seconds would take the focus from a guest's keyboard or
    // screen reader on the Cancel button. The focus on an order's line or button stays on it across a redraw.
    const shape = JSON.stringify(bill.orders.map((o) => [o.id, o.status, o.mine, o.cancellable, o.lines.length]));
    if (list.dataset.shape === shape) return renderBillLine(bill);
    list.dataset.shape = shape;
    const focused = document.activeElement && list.contains(document.activeElement)
      ? document.activeElement.closest('li')?.dataset.order : null;
    // A change of status is said to a screen reader as it is shown ("2 × Ajiaco — Listo"): the list itself is
    // redrawn, which a reader does not announce.
    const before = new Map([...list.querySelectorAll('li')].map((li) => [li.dataset.order, li.dataset.status]));
    const changed = [];
    list.replaceChildren();
    for (const order of bill.orders) {
      const item = document.createElement('li');
      item.className = 'order-status';
      item.dataset.status = order.status;
      item.dataset.order = order.id;
      item.tabIndex = -1;
      // With the options chosen, as the kitchen's ticket shows them: two steaks are told apart by how they are cooked.
      // The guest's own notes to the kitchen are shown back on their orders, each on its dish as the kitchen's
      // ticket has it (an allergy note on the ajiaco read as the beer's when all came after the last dish), and a
      // cancelled order says why, when the kitchen said; the guest's own cancellation in the page's words.
      const lines = (withNotes) => order.lines.map((l) => {
        const extras = (l.modifiers || []).map((m) => localized(m)).join(', ');
        const note = withNotes && order.mine && l.note ? ` «${l.note}»` : '';
        return `${l.quantity} × ${localized(l.name)}${extras ? ` (${extras})` : ''}${note}`;
      }).join(', ');
      const names = lines(false);
      const noted = lines(true);
      const reason = order.cancel_reason === 'cancelled by the guest' ? (english ? 'cancelled by you' : 'lo cancelaste tú') : order.cancel_reason;
      const why = order.status === 'cancelled' && reason ? ` (${reason})` : '';
      item.textContent = `${noted} — ${statusName(order.status)}${why}`;
      if (before.has(order.id) && before.get(order.id) !== order.status) changed.push(`${names} — ${statusName(order.status)}${why}`);
      // Not once the bill's payments cover it (the venue refunds first): a button that is always refused is no choice.
      if (order.cancellable) {
        const cancel = document.createElement('button');
        cancel.type = 'button';
        cancel.className = 'cancel link';
        cancel.textContent = english ? 'Cancel' : 'Cancelar';
        cancel.setAttribute('aria-label', `${english ? 'Cancel the order' : 'Cancelar el pedido'}: ${names}`);
        cancel.addEventListener('click', async () => {
          const reply = await fetch(`/api/v1/t/${encodeURIComponent(token)}/orders/${order.id}/cancel`, { method: 'POST', headers: { 'X-Guest-Device': device } });
          if (!reply.ok) showError(await reply.json());
          await renderOrders();
          // The button is gone with the redraw: the focus goes to the order's line, which now says it is cancelled.
          list.querySelector(`li[data-order="${order.id}"]`)?.focus();
        });
        item.append(' ', cancel);
      }
      list.appendChild(item);
    }
    if (focused) {
      const again = list.querySelector(`li[data-order="${focused}"]`);
      (again?.querySelector('button') || again)?.focus();
    }
    if (changed.length) $('#order-said').textContent = changed.join('. ');
    renderBillLine(bill);
  };
  const renderBillLine = (bill) => {
    const b = bill.bill;
    // The tax contained in the prices is said in whole pesos, as a receipt says it (8/108 of a price is rarely whole).
    const tax = b.taxes.map((t) => `${t.kind === 'inc' ? (english ? 'Consumption tax' : 'Impuesto al consumo') : 'IVA'} ${t.rate_bp / 100} % ${english ? 'included' : 'incluido'}: ${formatWholeMoney(t.amount)}`).join(' · ');
    // Once some of it is paid (another guest's share, cash), what is paid and what is left, as the pay page says.
    const balance = bill.balance;
    const held = balance && balance.in_progress.amount > 0
      ? ` · ${english ? 'Being paid' : 'Pagándose'}: ${formatMoney(balance.in_progress)}` : '';
    const paid = !balance || balance.paid.amount + balance.in_progress.amount === 0 ? ''
      : balance.settled ? ` · ${english ? 'Paid in full' : 'Cuenta pagada'}`
        : ` · ${english ? 'Paid' : 'Pagado'}: ${formatMoney(balance.paid)}${held} · ${english ? 'Left to pay' : 'Falta'}: ${formatMoney(balance.remaining)}`;
    $('#bill').textContent = `${english ? 'Bill total' : 'Total de la cuenta'}: ${formatMoney(b.subtotal)}${paid} · ${tax} · ${english ? 'Suggested tip (voluntary)' : 'Propina sugerida (voluntaria)'} ${b.suggested_tip_bp / 100} % ${english ? 'of the value before tax' : 'del valor antes de impuestos'}: ${formatMoney(b.suggested_tip)}`;
  };

  try {
    view = await api('GET', `/api/v1/t/${encodeURIComponent(token)}`);
  } catch (error) {
    return showError(error.problem);
  }
  $('#venue-name').textContent = view.venue.name;
  // The separator only between a venue and a table: a code that opens nothing showed a stray "·".
  $('#where-separator').hidden = false;
  $('#table-label').textContent = view.table;
  const notice = sessionStorage.getItem('comanda.notice');
  if (notice) {
    sessionStorage.removeItem('comanda.notice');
    showError({ detail: notice });
  }
  const menu = $('#menu');
  for (const category of view.menu.categories) {
    const heading = document.createElement('h2');
    heading.textContent = localized(category.name);
    menu.appendChild(heading);
    for (const item of category.items) {
      const card = document.createElement('article');
      card.className = 'dish card';
      card.dataset.item = item.id;
      const title = document.createElement('h3');
      title.textContent = `${localized(item.name)} · ${formatMoney(item.price)}`;
      card.appendChild(title);
      if (localized(item.description)) {
        const description = document.createElement('p');
        description.textContent = localized(item.description);
        card.appendChild(description);
      }
      item.modifiers.forEach((group, g) => {
        const fieldset = document.createElement('fieldset');
        const legend = document.createElement('legend');
        // The group's rule is said before the guest taps Add (a required side was found only by the refusal).
        const rule = document.createElement('span');
        rule.className = 'rule';
        rule.textContent = ` (${choiceRule(group)})`;
        legend.append(localized(group.name), rule);
        fieldset.appendChild(legend);
        // An optional choice of one: radios cannot be unchosen, so "none" is a choice of its own, chosen at first.
        if (group.max === 1 && group.min === 0) {
          const label = document.createElement('label');
          label.className = 'inline';
          const none = document.createElement('input');
          none.type = 'radio';
          none.name = `${item.id}-${g}`;
          none.value = '';
          none.checked = true;
          none.dataset.none = 'true';
          label.append(none, ` ${english ? 'None' : 'Ninguno'}`);
          fieldset.appendChild(label);
        }
        group.options.forEach((option, o) => {
          const label = document.createElement('label');
          label.className = 'inline';
          const input = document.createElement('input');
          input.type = group.max === 1 ? 'radio' : 'checkbox';
          input.name = `${item.id}-${g}`;
          input.value = `${g}:${o}`;
          input.dataset.delta = option.price_delta;
          input.dataset.label = localized(option.name);
          label.append(input, ` ${localized(option.name)}${option.price_delta ? ' + ' + formatMoney({ amount: option.price_delta, currency: item.price.currency }) : ''}`);
          fieldset.appendChild(label);
        });
        // A choice of several stops at its most: the other options wait until one is unticked (a third extra was
        // refused only at Add).
        if (group.max > 1) {
          fieldset.addEventListener('change', () => {
            const boxes = [...fieldset.querySelectorAll('input[type=checkbox]')];
            const ticked = boxes.filter((box) => box.checked).length;
            for (const box of boxes) box.disabled = !box.checked && ticked >= group.max;
          });
        }
        card.appendChild(fieldset);
      });
      const add = document.createElement('button');
      add.type = 'button';
      add.className = 'add';
      add.textContent = english ? 'Add' : 'Agregar';
      // Named with its dish: a screen reader's list of buttons is otherwise "Add, Add, Add".
      add.setAttribute('aria-label', `${english ? 'Add' : 'Agregar'} ${localized(item.name)}`);
      add.addEventListener('click', () => {
        clearError();
        const chosen = [...card.querySelectorAll('input:checked')].filter((input) => input.value !== '');
        const modifiers = chosen.map((input) => input.value.split(':').map(Number));
        // Each group's own rule, before the dish reaches the cart: the kitchen refuses an order without it.
        for (const [g, group] of item.modifiers.entries()) {
          const count = modifiers.filter(([chosenGroup]) => chosenGroup === g).length;
          if (count < group.min || count > group.max) {
            const name = localized(group.name);
            const many = group.min === group.max ? `${group.min}`
              : group.min === 0 ? (english ? `up to ${group.max}` : `hasta ${group.max}`) : `${group.min}–${group.max}`;
            showError({ detail: english ? `Choose ${many} in “${name}”.` : `Elige ${many} en «${name}».` });
            return;
          }
        }
        // The same dish with the same options adds to its line.
        // A line with a note for the kitchen stays as it is: one "sin cebolla" is not every portion's.
        const same = cart.find((line) => line.item_id === item.id && JSON.stringify(line.modifiers) === JSON.stringify(modifiers) && !(line.note && line.note.trim()));
        if (same) same.quantity = Math.min(same.quantity + 1, MAX_QUANTITY);
        else cart.push({ item_id: item.id, quantity: 1, modifiers, version: item.version });
        renderCart();
        for (const input of chosen) input.checked = false;
        for (const box of card.querySelectorAll('input[type=checkbox]')) box.disabled = false;
        for (const none of card.querySelectorAll('input[data-none]')) none.checked = true;
        // Said where the guest's finger is (the cart is further down the page), and to a screen reader.
        add.textContent = english ? 'Added ✓' : 'Agregado ✓';
        add.setAttribute('aria-label', `${add.textContent} ${localized(item.name)}`);
        $('#cart-status').textContent = `${english ? 'Added' : 'Agregado'}: ${describe(same || cart[cart.length - 1]).label}`;
        setTimeout(() => {
          add.textContent = english ? 'Add' : 'Agregar';
          add.setAttribute('aria-label', `${add.textContent} ${localized(item.name)}`);
        }, 1500);
      });
      card.appendChild(add);
      menu.appendChild(card);
    }
  }
  renderCart();
  const orderKey = requestKey();
  $('#place-order').addEventListener('click', async () => {
    clearError();
    const button = $('#place-order');
    button.disabled = true;
    try {
      const body = { items: cart.map(({ item_id, quantity, modifiers, version, note }) => ({ item_id, quantity, modifiers, version, ...(note && note.trim() ? { note: note.trim() } : {}) })) };
      const response = await fetch(`/api/v1/t/${encodeURIComponent(token)}/orders`, {
        method: 'POST',
        headers: { 'Idempotency-Key': orderKey.for(body), 'Content-Type': 'application/json', 'X-Guest-Device': device },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw Object.assign(new Error('order'), { problem: await response.json() });
      const placed = await response.json().catch(() => ({}));
      orderKey.succeeded();
      cart = [];
      renderCart();
      await renderOrders();
      // The cart the focus was in is empty: the focus goes to the order just sent, which says where it stands.
      $('#order-list').querySelector(`li[data-order="${placed.id}"]`)?.focus();
    } catch (error) {
      // Dishes changed since this menu was loaded: they leave the cart, and the page loads the menu as it is now
      // (the notice is shown again after the reload).
      const changed = new Set(((error.problem && error.problem.errors) || [])
        .map((e) => /^items\[(\d+)\]\.version$/.exec(e.field || ''))
        .filter(Boolean)
        .map((match) => Number(match[1])));
      if (changed.size > 0) {
        cart = cart.filter((_, index) => !changed.has(index));
        saveCart();
        sessionStorage.setItem('comanda.notice', problemText(error.problem));
        location.reload();
        return;
      }
      showError(error.problem);
    } finally {
      button.disabled = false;
    }
  });
  await renderOrders();
  setInterval(() => renderOrders().catch(() => {}), 2000);
};

// Reads a Server-Sent Events response body (fetch, so the bearer token can be sent) and calls `onEvent`.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
      const id = frame.split('\n').find((l) => l.startsWith('id:'));
      if (data) onEvent(JSON.parse(data), id ? id.slice(3).trim() : null);
    }
  }
}

pages.kitchen = async () => {
  if (!store.get('access')) return location.assign('/signin');
  const venue = await chosenVenue();
  if (!venue) return;
  // A role without the kitchen display (a host, an analyst) is told who uses it, and nothing is polled.
  const viewer = await roleLimits('view_kitchen', null, english
    ? 'The kitchen display is for the kitchen, servers, managers and owners.'
    : 'La pantalla de cocina es de la cocina, los meseros, los gerentes y el propietario.');
  if (viewer && !(viewer.permissions || []).includes('view_kitchen')) {
    $('#live').textContent = '';
    return;
  }
  const board = $('#kitchen-orders');
  board.tabIndex = -1;
  const next = { placed: 'accepted', accepted: 'preparing', preparing: 'ready', ready: 'served' };
  const cards = new Map();
  // A ticket names its table: the labels are read once, and again when an order comes from a table added since.
  let tableLabels = new Map();
  const readTables = async () => {
    const tables = await allPages(`/api/v1/venues/${venue}/tables`).catch(() => []);
    tableLabels = new Map(tables.map((t) => [t.id, t.label]));
  };
  await readTables();
  // Clock times on tickets and cash records are the venue's, whatever zone the kitchen's tablet is set to.
  const venueZone = (((await memberVenues()) || []).find((v) => v.id === venue) || {}).timezone;
  const clockTime = (instant) => new Date(instant).toLocaleTimeString(english ? 'en' : 'es-CO', { hour: '2-digit', minute: '2-digit', timeZone: venueZone });
  // Who may close a bill not paid in full (servers, managers, owners; not the kitchen): the others are told who does,
  // instead of a button that is refused on its second tap.
  const mayClose = await authed('GET', '/api/v1/me')
    .then((me) => (me.permissions || []).includes('settle_bills'))
    .catch(() => true);

  // How long a ticket has waited, said on it and kept current: one not ready after LATE_MINUTES is marked late, so
  // a cook sees at a glance which table has waited longest.
  const LATE_MINUTES = 20;
  const showAge = (card) => {
    const minutes = Math.max(0, Math.floor((Date.now() - Date.parse(card.dataset.placed)) / 60000));
    const late = minutes >= LATE_MINUTES && card.dataset.status !== 'ready';
    card.classList.toggle('late', late);
    const text = minutes < 1
      ? (english ? 'placed under a minute ago' : 'pedido hace menos de 1 min')
      : (english ? `placed ${minutes} min ago` : `pedido hace ${minutes} min`);
    card.querySelector('.ticket-age').textContent = late ? `${text} · ${english ? 'late' : 'atrasado'}` : text;
  };
  setInterval(() => cards.forEach(showAge), 30000);
  // When each ticket last changed status: its next step is offered only 800 ms after (the answer to a tap and the
  // feed's echo of it draw the ticket twice; the lock must outlast both).
  const changedAt = new Map();
  // Every order of the open tables seen, served ones too: the bills list what their table ordered.
  const known = new Map();
  const render = (order) => {
    known.set(order.id, order);
    let card = cards.get(order.id);
    // The status this ticket showed before, when it changed (another display, or this one's own tap).
    const moved = card && card.dataset.status !== order.status ? card.dataset.status : null;
    if (moved) changedAt.set(order.id, Date.now());
    if (!card) {
      card = document.createElement('article');
      card.className = 'ticket card';
      card.dataset.order = order.id;
      cards.set(order.id, card);
      board.appendChild(card);
    }
    card.dataset.status = order.status;
    card.replaceChildren();
    const served = order.served_table_id || order.table_id;
    if (!tableLabels.has(served)) readTables().then(() => { if (tableLabels.has(served)) render(order); });
    const title = document.createElement('h3');
    const placed = clockTime(order.placed_at);
    // The dishes go to the guest's table; at a party's joined table the bill is on the party's first table.
    const bill = served === order.table_id ? '' : ` (${english ? 'bill' : 'cuenta'} ${tableLabels.get(order.table_id) || '…'})`;
    title.textContent = `${tableLabels.get(served) || '…'}${bill} · ${placed}`;
    const status = document.createElement('p');
    status.className = 'ticket-status';
    status.textContent = statusName(order.status);
    const age = document.createElement('p');
    age.className = 'ticket-age';
    card.dataset.placed = order.placed_at;
    card.append(title, status, age);
    showAge(card);
    const lines = document.createElement('ul');
    for (const line of order.lines) {
      const item = document.createElement('li');
      const extras = line.modifiers.map((m) => localized(m)).join(', ');
      item.textContent = `${line.quantity} × ${localized(line.name)}${extras ? ' (' + extras + ')' : ''}${line.note ? ' — ' + line.note : ''}`;
      lines.appendChild(item);
    }
    card.appendChild(lines);
    if (next[order.status]) {
      const advance = document.createElement('button');
      advance.type = 'button';
      advance.className = 'advance';
      advance.textContent = `→ ${statusName(next[order.status])}`;
      // A ticket that just moved offers its next step only after a moment: a tap meant for the step it showed (on
      // two displays at once, or a double tap) must not land on the step drawn under the finger and skip one.
      const settling = 800 - (Date.now() - (changedAt.get(order.id) || 0));
      if (settling > 0) {
        advance.disabled = true;
        setTimeout(() => { advance.disabled = false; }, settling);
      }
      advance.addEventListener('click', async () => {
        advance.disabled = true;
        try {
          render(await authed('POST', `/api/v1/orders/${order.id}/transitions`, { to: next[order.status] }));
        } catch (error) {
          showError(error.problem);
          advance.disabled = false;
        }
      });
      card.appendChild(advance);
    }
    // An order that will not go out (the guest left, a dish ran out) is cancelled with its reason, before it is
    // served: the table cannot close while it is open, and marking it served would count a sale that never was.
    if (order.status !== 'served' && order.status !== 'cancelled') {
      const cancel = document.createElement('button');
      cancel.type = 'button';
      cancel.className = 'link';
      cancel.textContent = english ? 'Cancel order' : 'Cancelar pedido';
      const why = document.createElement('form');
      why.className = 'inline';
      why.hidden = true;
      const label = document.createElement('label');
      // The guest's page shows it beside the cancelled order: the kitchen writes it knowing so.
      label.textContent = english ? 'Why (the guest sees it)' : 'Motivo (lo ve el cliente)';
      const reason = document.createElement('input');
      reason.name = 'reason';
      reason.required = true;
      reason.maxLength = 500;
      reason.placeholder = english ? 'the guest left' : 'el cliente se fue';
      label.appendChild(reason);
      const confirm = document.createElement('button');
      confirm.type = 'submit';
      confirm.className = 'secondary';
      confirm.textContent = english ? 'Cancel this order' : 'Cancelar este pedido';
      why.append(label, confirm);
      cancel.addEventListener('click', () => {
        why.hidden = false;
        cancel.hidden = true;
        reason.focus();
      });
      why.addEventListener('submit', async (event) => {
        event.preventDefault();
        confirm.disabled = true;
        try {
          render(await authed('POST', `/api/v1/orders/${order.id}/transitions`, { to: 'cancelled', reason: reason.value.trim() }));
          $('#kitchen-status').textContent = `${tableLabels.get(order.served_table_id || order.table_id) || ''}: ${english ? 'order cancelled' : 'pedido cancelado'}`;
          // Its ticket is gone: the focus goes to the next ticket's first button, or to the board.
          (board.querySelector('.ticket button') || board).focus();
        } catch (error) {
          showError(error.problem);
          confirm.disabled = false;
        }
      });
      card.append(cancel, why);
    }
    // A ticket that leaves because its order was cancelled (by the guest, or at another display) says so: a cook
    // must not wonder where it went.
    if (order.status === 'cancelled' && moved) {
      // The server's own reason for a guest's cancellation is English; the staff's reasons are their words.
      const reason = order.cancel_reason === 'cancelled by the guest' && !english ? 'la canceló el cliente' : order.cancel_reason;
      const why = reason ? ` (${reason})` : '';
      $('#kitchen-status').textContent = `${tableLabels.get(served) || ''}: ${english ? 'order cancelled' : 'pedido cancelado'}${why}`;
    }
    if (order.status === 'served' || order.status === 'cancelled') {
      card.remove();
      cards.delete(order.id);
    }
  };

  const pendingBox = $('#pending-tables');
  const balancesBox = $('#table-balances');
  // Cash at the table: one desk outside the cards (they are drawn again every two seconds), for one bill at a time.
  // It reads its bill again with every refresh of the cards; what the server typed is never overwritten.
  const desk = $('#cash-desk');
  const deskForm = $('#cash-form');
  const deskSend = deskForm.querySelector('button[type=submit]');
  let deskTable = null;
  let deskBalance = null;
  // The bill the desk was opened for: cash typed for it never lands on the next party's bill.
  let deskSession = null;
  // A record being sent: the refresh must not offer the button again meanwhile.
  let deskBusy = false;
  // One Idempotency-Key per cash record being entered: a retry of the same request answers the first record.
  let deskKey = null;
  // Records whose first tap on "void" was taken.
  const confirmingVoid = new Set();
  const cashPath = () => `/api/v1/venues/${venue}/tables/${encodeURIComponent(deskTable.id)}/cash`;
  const closedDesk = (text) => {
    deskBalance = null;
    $('#cash-bill').textContent = text;
    $('#cash-records').replaceChildren();
    $('#cash-cancel-card').hidden = true;
    deskSend.disabled = true;
  };
  const renderDesk = (list) => {
    if (deskSession && list.session_id !== deskSession) {
      closedDesk(english
        ? 'This bill was closed and the table has a new party\'s bill: press Done and open the desk again for it.'
        : 'Esta cuenta se cerró y la mesa tiene la cuenta de otro grupo: pulsa Listo y abre de nuevo el efectivo para ella.');
      return;
    }
    deskSession = list.session_id;
    const { balance } = list;
    deskBalance = balance;
    deskSend.disabled = deskBusy;
    $('#cash-bill').textContent = balance.settled
      ? (english ? 'Paid in full: the table can close.' : 'Pagada del todo: la mesa puede cerrarse.')
      : `${english ? 'Left to pay' : 'Falta por pagar'} ${formatMoney(balance.remaining)}${balance.in_progress.amount > 0
        ? ` (${english ? 'a guest is paying' : 'un cliente está pagando'} ${formatMoney(balance.in_progress)})` : ''}`;
    // A card payment in progress (a declined card holds its part for 15 minutes) can be cancelled first.
    const holding = balance.in_progress.amount > 0;
    $('#cash-cancel-card').hidden = !holding;
    if (!holding) deskForm.elements.cancel_payments.checked = false;
    const records = $('#cash-records');
    const focusedVoid = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.voidCash : undefined;
    records.replaceChildren();
    for (const cash of list.items) {
      const item = document.createElement('li');
      const when = clockTime(cash.created_at);
      const text = document.createElement('span');
      text.textContent = `${when} · ${formatMoney(cash.amount)}${cash.tip.amount > 0 ? ` + ${english ? 'tip' : 'propina'} ${formatMoney(cash.tip)}` : ''}`;
      item.appendChild(text);
      if (cash.voided_at) {
        text.textContent += english ? ' — voided' : ' — anulado';
      } else {
        // Voiding takes a second tap: the first says, on the button and to a screen reader, what the second does.
        const undo = document.createElement('button');
        undo.type = 'button';
        undo.className = 'secondary';
        undo.dataset.voidCash = cash.id;
        const label = () => (confirmingVoid.has(cash.id)
          ? (english ? 'Tap again to void' : 'Toca otra vez para anular')
          : (english ? 'Void' : 'Anular'));
        undo.textContent = label();
        undo.setAttribute('aria-label', `${label()}: ${text.textContent}`);
        undo.addEventListener('click', async () => {
          if (!confirmingVoid.has(cash.id)) {
            confirmingVoid.add(cash.id);
            undo.textContent = label();
            undo.setAttribute('aria-label', `${label()}: ${text.textContent}`);
            $('#kitchen-status').textContent = `${text.textContent}: ${label()}`;
            return;
          }
          confirmingVoid.delete(cash.id);
          undo.disabled = true;
          clearError();
          try {
            renderDesk(await authed('DELETE', `${cashPath()}/${encodeURIComponent(cash.id)}`).then(() => authed('GET', cashPath())));
            $('#kitchen-status').textContent = `${deskTable.label}: ${english ? 'cash voided' : 'efectivo anulado'} ${text.textContent}`;
            deskForm.elements.amount.focus();
            refreshSessions();
          } catch (error) {
            undo.disabled = false;
            showError(error.problem);
            loadDesk();
          }
        });
        item.appendChild(undo);
      }
      records.appendChild(item);
      // Drawn again every two seconds: the void button that had the focus keeps it (once it is on the page).
      if (focusedVoid === cash.id) item.querySelector('button')?.focus();
    }
  };
  // Reads the desk's bill again; a bill closed meanwhile takes no more cash.
  const loadDesk = async () => {
    if (!deskTable) return;
    try {
      renderDesk(await authed('GET', cashPath()));
    } catch (error) {
      if (error.status !== 422) throw error;
      closedDesk(english ? 'This table has no open bill (closed, or not accepted yet).' : 'Esta mesa no tiene una cuenta abierta (se cerró, o aún no se acepta).');
    }
  };
  const fillRest = () => {
    if (!deskBalance) return;
    deskKey = crypto.randomUUID();
    const freed = deskForm.elements.cancel_payments.checked ? deskBalance.in_progress.amount : 0;
    deskForm.elements.amount.value = moneyInputValue({ ...deskBalance.remaining, amount: deskBalance.remaining.amount + freed });
  };
  const openDesk = async (table) => {
    clearError();
    confirmingVoid.clear();
    deskTable = table;
    deskBalance = null;
    deskSession = null;
    deskKey = crypto.randomUUID();
    $('#cash-title').textContent = `${table.label} — ${english ? 'cash' : 'efectivo'}`;
    deskForm.elements.cancel_payments.checked = false;
    deskForm.elements.tip.value = '0';
    await loadDesk();
    // Opened for the bill: what is left to pay, the usual case (the guest pays the rest in cash).
    fillRest();
    desk.hidden = false;
  };
  deskForm.elements.cancel_payments.addEventListener('change', fillRest);
  $('#cash-rest').addEventListener('click', () => {
    fillRest();
    deskForm.elements.amount.focus();
  });
  deskForm.addEventListener('input', () => {
    deskKey = crypto.randomUUID();
  });
  deskForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError();
    const currency = deskBalance ? deskBalance.total.currency : 'COP';
    const amount = parseMoneyInput(deskForm.elements.amount.value, currency);
    const tip = parseMoneyInput(deskForm.elements.tip.value, currency);
    // Pesos have no centavos in cash: refused before sending (the exact rest of an old bill of centavos aside).
    const cashInPesos = english ? 'Cash is recorded in whole pesos (no centavos), unless it is exactly what is left to pay.' : 'El efectivo se registra en pesos enteros (sin centavos), salvo que sea exactamente lo que falta por pagar.';
    const unit = currency === 'COP' ? 100 : 1;
    const rest = deskBalance ? deskBalance.remaining.amount : null;
    if ((amount !== null && amount % unit !== 0 && amount !== rest) || (tip !== null && tip % unit !== 0)) {
      const field = amount % unit !== 0 && amount !== rest ? deskForm.elements.amount : deskForm.elements.tip;
      field.setAttribute('aria-invalid', 'true');
      showError({ detail: cashInPesos });
      field.focus();
      return;
    }
    if (amount === null || tip === null) {
      const field = amount === null ? deskForm.elements.amount : deskForm.elements.tip;
      field.setAttribute('aria-invalid', 'true');
      showError({ detail: english ? `${amount === null ? 'Amount' : 'Tip'}: write amounts like 45000 or 45,000` : `${amount === null ? 'Monto' : 'Propina'}: escribe montos como 45000 o 45.000` });
      field.focus();
      return;
    }
    deskForm.elements.amount.removeAttribute('aria-invalid');
    deskForm.elements.tip.removeAttribute('aria-invalid');
    deskSend.disabled = true;
    deskBusy = true;
    try {
      const cancelFirst = deskForm.elements.cancel_payments.checked ? '?cancel_payments=true' : '';
      const body = deskSession ? { amount, tip, session_id: deskSession } : { amount, tip };
      const answer = await authed('POST', `${cashPath()}${cancelFirst}`, body, { 'Idempotency-Key': deskKey });
      deskBusy = false;
      deskKey = crypto.randomUUID();
      const tipped = answer.cash.tip.amount > 0 ? ` + ${english ? 'tip' : 'propina'} ${formatMoney(answer.cash.tip)}` : '';
      $('#kitchen-status').textContent = `${deskTable.label}: ${english ? 'cash recorded' : 'efectivo registrado'} ${formatMoney(answer.cash.amount)}${tipped}`;
      // Emptied, not refilled with the rest: a second tap must not record money nobody handed over.
      deskForm.elements.amount.value = '';
      deskForm.elements.tip.value = '0';
      deskForm.elements.cancel_payments.checked = false;
      renderDesk(await authed('GET', cashPath()));
      deskForm.elements.amount.focus();
      refreshSessions();
    } catch (error) {
      deskBusy = false;
      deskSend.disabled = false;
      const problem = error.problem || {};
      const type = String(problem.type || '').split('/').pop();
      const field = problem.errors && problem.errors[0] && problem.errors[0].field;
      await loadDesk().catch(() => {});
      const held = deskBalance && deskBalance.in_progress.amount > 0;
      const said = {
        'bill-covered': deskBalance && (deskBalance.remaining.amount === 0 && held
          ? (english ? 'A card payment in progress holds the whole bill: tick the box to cancel it first.'
            : 'Un pago con tarjeta en curso retiene toda la cuenta: marca la casilla para cancelarlo primero.')
          : english
            ? `That is more than is left to pay (${formatMoney(deskBalance.remaining)}); what the guest gave beyond it is change.${held ? ' A card payment in progress holds the rest: tick the box to cancel it first.' : ''}`
            : `Es más de lo que falta por pagar (${formatMoney(deskBalance.remaining)}); lo que el cliente dio de más es cambio.${held ? ' Un pago con tarjeta en curso retiene el resto: marca la casilla para cancelarlo primero.' : ''}`),
        'no-open-bill': english ? 'This table has no open bill.' : 'Esta mesa no tiene una cuenta abierta.',
        'business-rule': /whole units/.test(String(problem && problem.errors && problem.errors[0] && problem.errors[0].message))
          ? cashInPesos
          : field === 'tip'
          ? (english ? 'The bill\'s cash tips would come to more than the whole bill: check the tip.' : 'Las propinas en efectivo de la cuenta sumarían más que toda la cuenta: revisa la propina.')
          : field === 'amount'
            ? (english ? 'Write the cash taken: part of the bill, a tip, or both.' : 'Escribe el efectivo recibido: una parte de la cuenta, una propina o ambas.')
            : null,
        conflict: field === 'session_id'
          ? (english ? 'This bill was closed and the table has a new party\'s bill: nothing was recorded.' : 'Esta cuenta se cerró y la mesa tiene la cuenta de otro grupo: no se registró nada.')
          : null,
      }[type];
      showError(said ? { detail: said } : problem);
      deskForm.elements.amount.focus();
    }
  });
  $('#cash-done').addEventListener('click', () => {
    clearError();
    desk.hidden = true;
    const back = deskTable && balancesBox.querySelector(`[data-cash-table="${deskTable.id}"]`);
    deskTable = null;
    deskBalance = null;
    (back || balancesBox).focus();
  });
  // Bills whose first tap on "close" was taken (kept here: the cards are drawn again every two seconds).
  const confirmingClose = new Set();
  // The bills whose list of dishes a server opened.
  const openConsumption = new Set();
  // The bills a server is moving to another table, with the table chosen (kept across the redraws), and the venue's
  // tables, read when a move is opened (a manager may have added one since the display started).
  const openMove = new Map();
  let venueTables = [];
  const moveControl = (session, sessions) => {
    const move = document.createElement('details');
    move.className = 'move-table';
    move.open = openMove.has(session.id);
    const summary = document.createElement('summary');
    summary.textContent = english ? 'Move to another table' : 'Cambiar de mesa';
    move.append(summary);
    move.addEventListener('toggle', async () => {
      if (!move.open) { openMove.delete(session.id); return; }
      if (openMove.has(session.id)) return;
      openMove.set(session.id, '');
      try {
        venueTables = await allPages(`/api/v1/venues/${venue}/tables`);
        await refreshSessions();
      } catch (error) {
        showError(error.problem);
      }
    });
    if (!move.open) return move;
    const busy = new Set(sessions.map((s) => s.table_id));
    const free = venueTables.filter((t) => !busy.has(t.id));
    if (free.length === 0) {
      const none = document.createElement('p');
      none.className = 'hint';
      none.textContent = english ? 'Every table has a bill of its own.' : 'Todas las mesas tienen su propia cuenta.';
      move.append(none);
      return move;
    }
    const label = document.createElement('label');
    label.textContent = english ? `Move ${session.table} to` : `Pasar ${session.table} a`;
    const choice = document.createElement('select');
    for (const table of free) {
      const option = document.createElement('option');
      option.value = table.id;
      option.textContent = table.label;
      choice.append(option);
    }
    if (free.some((t) => t.id === openMove.get(session.id))) choice.value = openMove.get(session.id);
    openMove.set(session.id, choice.value);
    choice.addEventListener('change', () => openMove.set(session.id, choice.value));
    label.append(choice);
    const go = document.createElement('button');
    go.type = 'button';
    go.className = 'secondary';
    go.textContent = english ? 'Move the bill' : 'Pasar la cuenta';
    go.addEventListener('click', async () => {
      go.disabled = true;
      try {
        const moved = await authed('POST', `/api/v1/table-sessions/${session.id}/move`, { table_id: choice.value });
        openMove.delete(session.id);
        $('#kitchen-status').textContent = english
          ? `${session.table}: the bill is now at ${moved.table}; its guests scan that table's code`
          : `${session.table}: la cuenta está ahora en ${moved.table}; sus clientes escanean el código de esa mesa`;
        await refreshSessions();
      } catch (error) {
        go.disabled = false;
        showError(error.problem);
      }
    });
    move.append(label, go);
    return move;
  };
  const refreshSessions = async () => {
    const sessions = await allPages(`/api/v1/venues/${venue}/table-sessions`);
    // Drawn again every two seconds: the close button that had the focus keeps it.
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.closeTable : undefined;
    const focusedCash = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.cashTable : undefined;
    balancesBox.replaceChildren();
    // Every open bill, an empty one too (every order cancelled, or a seated party that has not ordered yet): a bill
    // left open would take the table's next party's orders.
    for (const session of sessions.filter((s) => s.status === 'open')) {
      const empty = session.balance.total.amount === 0;
      const card = document.createElement('article');
      card.className = 'table-balance card';
      card.dataset.session = session.id;
      card.dataset.settled = String(session.balance.settled);
      const paid = empty
        ? (english ? 'nothing to pay' : 'sin consumo')
        : session.balance.settled
        ? (english ? 'paid in full' : 'pagada')
        : `${english ? 'paid' : 'pagado'} ${formatMoney(session.balance.paid)} / ${formatMoney(session.balance.total)}`;
      const refunded = session.balance.refunded.amount > 0
        ? ` · ${english ? 'refunded' : 'devuelto'} ${formatMoney(session.balance.refunded)}`
        : '';
      const inCash = session.balance.cash.amount > 0
        ? ` · ${english ? 'cash' : 'efectivo'} ${formatMoney(session.balance.cash)}`
        : '';
      // Card payments under way hold their part of the bill (up to 15 minutes for one a guest left): said, so staff
      // know why the others cannot pay it.
      const held = session.balance.in_progress.amount > 0
        ? ` · ${english ? 'being paid by card' : 'pagándose con tarjeta'} ${formatMoney(session.balance.in_progress)}`
        : '';
      const text = document.createElement('p');
      text.textContent = `${session.table} — ${paid}${held}${inCash}${refunded}`;
      card.append(text);
      // What the table ordered, for the server at it (served tickets leave the board): opened, it stays open across
      // the redraws every two seconds.
      const lines = [...known.values()]
        .filter((o) => o.table_id === session.table_id && o.status !== 'cancelled'
          && Date.parse(o.placed_at) >= Date.parse(session.created_at))
        .flatMap((o) => o.lines);
      if (lines.length > 0) {
        const consumption = document.createElement('details');
        consumption.className = 'consumption';
        consumption.open = openConsumption.has(session.id);
        consumption.addEventListener('toggle', () => {
          if (consumption.open) openConsumption.add(session.id);
          else openConsumption.delete(session.id);
        });
        const summary = document.createElement('summary');
        const dishes = lines.reduce((count, line) => count + line.quantity, 0);
        summary.textContent = english ? `What ${session.table} ordered (${dishes})` : `Consumo de ${session.table} (${dishes})`;
        const list = document.createElement('ul');
        for (const line of lines) {
          const item = document.createElement('li');
          const extras = (line.modifiers || []).map((m) => localized(m)).join(', ');
          const total = { amount: line.unit_price.amount * line.quantity, currency: line.unit_price.currency };
          item.textContent = `${line.quantity} × ${localized(line.name)}${extras ? ` (${extras})` : ''} — ${formatMoney(total)}`;
          list.appendChild(item);
        }
        consumption.append(summary, list);
        card.append(consumption);
      }
      // Closing ends the party's bill: the next guests at the table start their own. A bill not paid in full (cash,
      // a guest who left) asks a second tap.
      const close = document.createElement('button');
      close.type = 'button';
      close.className = 'secondary';
      close.dataset.closeTable = session.table_id;
      // A guest who started paying and left holds part of the bill for 15 minutes: the second tap cancels that
      // payment (a card Stripe already took stays, and so does the table).
      const paying = session.balance.in_progress.amount > 0;
      const unpaidWarning = paying
        ? (english ? `A guest is paying ${formatMoney(session.balance.in_progress)}: tap again to cancel that payment and close`
          : `Un cliente está pagando ${formatMoney(session.balance.in_progress)}: toca otra vez para cancelar ese pago y cerrar`)
        : (english ? 'Not fully paid: tap again to close' : 'No está pagada del todo: toca otra vez para cerrar');
      close.textContent = confirmingClose.has(session.id) ? unpaidWarning : (english ? 'Close table' : 'Cerrar mesa');
      const who = document.createElement('p');
      if (!mayClose && !empty && !session.balance.settled) {
        close.hidden = true;
        who.className = 'hint';
        who.textContent = english
          ? 'Not fully paid: a server, manager or owner closes this table.'
          : 'No está pagada del todo: esta mesa la cierra un mesero, un gerente o el propietario.';
      }
      close.addEventListener('click', async () => {
        if ((paying || (!empty && !session.balance.settled)) && !confirmingClose.has(session.id)) {
          confirmingClose.add(session.id);
          close.textContent = unpaidWarning;
          $('#kitchen-status').textContent = `${session.table}: ${unpaidWarning}`;
          return;
        }
        confirmingClose.delete(session.id);
        close.disabled = true;
        try {
          // The second tap said so: the API closes a bill not paid in full only when asked to (audited).
          const flags = [paying ? 'cancel_payments=true' : '', !empty && !session.balance.settled ? 'unpaid=true' : '']
            .filter(Boolean).join('&');
          await authed('POST', `/api/v1/venues/${venue}/tables/${encodeURIComponent(session.table_id)}/close${flags ? `?${flags}` : ''}`);
          // The question asked before the second tap is answered: the status says the table closed.
          $('#kitchen-status').textContent = `${session.table}: ${english ? 'table closed' : 'mesa cerrada'}`;
          await refreshSessions();
        } catch (error) {
          close.disabled = false;
          showError(error.problem);
        }
      });
      card.append(close);
      // A guest who left the card step holds their part for 15 minutes: staff who settle bills release it when the
      // table wants to pay now (cancelled at Stripe first).
      if (mayClose && paying) {
        const release = document.createElement('button');
        release.type = 'button';
        release.className = 'secondary';
        release.textContent = english ? 'Release the card payment' : 'Liberar el pago con tarjeta';
        release.setAttribute('aria-label', `${release.textContent}: ${session.table}`);
        release.addEventListener('click', async () => {
          release.disabled = true;
          try {
            const answer = await authed('POST', `/api/v1/venues/${venue}/tables/${encodeURIComponent(session.table_id)}/card-holds/release`);
            $('#kitchen-status').textContent = `${session.table}: ${answer.released > 0
              ? (english ? 'card payment released; the table can pay again' : 'pago con tarjeta liberado; la mesa puede pagar de nuevo')
              : (english ? 'the payment had already ended' : 'el pago ya había terminado')}`;
            await refreshSessions();
          } catch (error) {
            release.disabled = false;
            showError(error.problem);
          }
        });
        card.append(release);
      }
      // A server takes cash at the table: recorded, it pays the bill so the table closes paid.
      if (mayClose && !empty) {
        const cash = document.createElement('button');
        cash.type = 'button';
        cash.className = 'secondary';
        cash.dataset.cashTable = session.table_id;
        cash.textContent = english ? 'Cash' : 'Efectivo';
        cash.setAttribute('aria-label', `${cash.textContent}: ${session.table}`);
        cash.addEventListener('click', async () => {
          try {
            await openDesk({ id: session.table_id, label: session.table });
            deskForm.elements.amount.focus();
            desk.scrollIntoView({ block: 'nearest' });
          } catch (error) {
            showError(error.problem);
          }
        });
        card.append(cash);
        if (focusedCash === session.table_id) queueMicrotask(() => cash.focus());
      }
      // The party changes tables: its bill, orders and cash go with it to a table with no bill of its own.
      if (mayClose) card.append(moveControl(session, sessions));
      if (who.textContent) card.append(who);
      balancesBox.appendChild(card);
      if (focused === session.table_id) close.focus();
    }
    pendingBox.replaceChildren();
    for (const session of sessions.filter((s) => s.status === 'pending')) {
      const card = document.createElement('article');
      card.className = 'pending card';
      card.dataset.session = session.id;
      const title = document.createElement('h3');
      title.textContent = `${session.table} — ${english ? 'new table, waiting for you' : 'mesa nueva, espera aceptación'}`;
      // What the phone ordered and when, so staff accept a table they can see someone at, not a code photographed
      // and used from elsewhere.
      const ordered = document.createElement('p');
      ordered.textContent = english
        ? `Ordered ${formatMoney(session.balance.total)} at ${clockTime(session.created_at)}: accept it once someone is seated there.`
        : `Pidió ${formatMoney(session.balance.total)} a las ${clockTime(session.created_at)}: acéptala si hay alguien sentado ahí.`;
      // Accepting a table is taking it as its server (its tips are credited to them): the kitchen sees who waits,
      // and a server accepts it.
      if (!mayClose) {
        const who = document.createElement('p');
        who.className = 'hint';
        who.textContent = english ? 'A server accepts it.' : 'La acepta un mesero.';
        card.append(title, ordered, who);
        pendingBox.appendChild(card);
        continue;
      }
      const accept = document.createElement('button');
      accept.type = 'button';
      accept.className = 'accept';
      accept.textContent = english ? 'Accept table' : 'Aceptar mesa';
      accept.addEventListener('click', async () => {
        accept.disabled = true;
        try { await authed('POST', `/api/v1/table-sessions/${session.id}/accept`, {}); } catch (error) { showError(error.problem); }
        await refreshSessions();
      });
      card.append(title, ordered, accept);
      pendingBox.appendChild(card);
    }
  };
  // A venue taken from the member while the display is open answers 404 from then on: the display stops, empties
  // and says so, rather than showing its last orders as live.
  let gone = false;
  const venueGone = () => {
    gone = true;
    clearInterval(following);
    $('#live').textContent = '';
    for (const box of [board, balancesBox, pendingBox]) box.replaceChildren();
    notForYou(notYourVenue());
  };
  // The kitchen's "86": each dish of the menu, ticked when sold out (read when the list is opened: a manager may
  // have changed the menu since the display started).
  const soldOut = $('#sold-out');
  soldOut.addEventListener('toggle', async () => {
    if (!soldOut.open) return;
    const box = $('#sold-out-dishes');
    try {
      const menu = await authed('GET', `/api/v1/venues/${venue}/menu`);
      box.replaceChildren();
      for (const category of menu.categories) {
        if (!category.items.length) continue;
        const group = document.createElement('fieldset');
        const legend = document.createElement('legend');
        legend.textContent = category.name[english ? 'en' : 'es'] || category.name.es;
        group.appendChild(legend);
        for (const dish of category.items) {
          const name = dish.name[english ? 'en' : 'es'] || dish.name.es;
          const [label, box86] = tickBox(name, !dish.available);
          box86.addEventListener('change', async () => {
            clearError();
            try {
              const saved = await authed('PUT', `/api/v1/menu/items/${dish.id}/availability`, { available: !box86.checked });
              box86.checked = !saved.available;
              $('#kitchen-status').textContent = `${name}: ${saved.available ? (english ? 'back on the menu' : 'otra vez en el menú') : (english ? 'sold out' : 'agotado')}`;
            } catch (error) {
              box86.checked = !box86.checked;
              showError(error.problem);
            }
          });
          group.appendChild(label);
        }
        box.appendChild(group);
      }
    } catch (error) {
      showError(error.problem);
    }
  });
  // The cards and the open cash desk follow the bills every two seconds (another server's record, a guest paying).
  const following = setInterval(() => {
    // A server choosing the table to move a bill to keeps the list open: the cards wait for the choice.
    const choosing = document.activeElement && document.activeElement.tagName === 'SELECT'
      && balancesBox.contains(document.activeElement);
    if (!choosing) refreshSessions().catch((error) => { if (error.status === 404) venueGone(); });
    if (deskTable && !desk.hidden) loadDesk().catch(() => {});
  }, 2000);
  refreshSessions().catch(() => {});
  // The whole queue, however long: a busy night must not show the first page as the kitchen's every order.
  const loadQueue = async () => {
    const open = await allPages(`/api/v1/venues/${venue}/orders`);
    for (const order of open) known.set(order.id, order);
    open.filter((o) => o.status !== 'served' && o.status !== 'cancelled').forEach(render);
  };
  try {
    await loadQueue();
  } catch (error) {
    return showError(error.problem);
  }
  let lastEventId = null;
  let failures = 0;
  let refreshed = false;
  while (!gone) {
    // After a restart every display of every venue reconnects at once: waits grow with each failure and are
    // spread at random, and a Retry-After from the server is honoured, so the displays do not return in lockstep.
    let wait = Math.min(30000, 1000 * 2 ** failures) * (0.5 + Math.random());
    try {
      const headers = { Authorization: 'Bearer ' + store.get('access'), Accept: 'text/event-stream' };
      if (lastEventId) headers['Last-Event-ID'] = lastEventId;
      const response = await fetch(`/api/v1/venues/${venue}/orders/stream`, { headers });
      if (response.status === 401 && store.get('refresh') && !refreshed) {
        // The access token expired (the feed ends when it does): refreshed, and the feed resumes at once where it
        // stopped (once: a second 401 waits like any failure).
        refreshed = true;
        await refreshTokens();
        continue;
      }
      refreshed = false;
      if (response.status === 404) return venueGone();
      if (!response.ok) {
        const retryAfter = Number(response.headers.get('retry-after'));
        if (retryAfter > 0) wait = retryAfter * 1000 * (1 + Math.random());
        throw new Error('stream ' + response.status);
      }
      failures = 0;
      // A feed without Last-Event-ID starts at the newest change: what changed before it opened (since the queue
      // was read, or while it was down before any change reached it) is read again from the queue.
      if (!lastEventId) await loadQueue();
      $('#live').textContent = english ? 'Live' : 'En vivo';
      await readEvents(response, (event, id) => {
        if (id) lastEventId = id;
        render(event.order);
      });
      wait = 1000 * (0.5 + Math.random());
    } catch (error) {
      failures = Math.min(failures + 1, 5);
      $('#live').textContent = english ? 'Reconnecting…' : 'Reconectando…';
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
};

// ----- reservations -----

const hhmm = (rfc3339) => rfc3339.slice(11, 16);
// Whom the host sees on a row: the guest's name, or why there is none (an erased guest's name and phone are
// gone for good; a walk-in may have given none).
const guestLabel = (r) => r.guest_erased
  ? (english ? 'Guest data erased on request' : 'Datos del cliente borrados a su pedido')
  : (r.guest_name || (english ? 'No name given' : 'Sin nombre'));
// A party's size in words: "1 persona", "4 personas" ("1 guest", "4 guests").
const guestCount = (n) => `${n} ${english ? (n === 1 ? 'guest' : 'guests') : (n === 1 ? 'persona' : 'personas')}`;
const isoDate = (date) => `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
// The venue's business day now: its wall clock in its own time zone, less the hours before its day starts (at 00:30
// on a Saturday, a venue whose day starts at 05:00 is still on Friday's service), whatever the browser's zone.
const businessDay = (venue) => {
  const startHour = Number(venue.day_start_hour) || 0;
  const moved = new Date(Date.now() - startHour * 3600 * 1000);
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: venue.timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(moved);
  } catch {
    return isoDate(moved);
  }
};
// The venue's own weekday and date of an RFC 3339 instant with its offset (`local`), e.g. "sábado, 6 de diciembre".
const localDay = (local) => new Date(`${local.slice(0, 10)}T12:00:00Z`).toLocaleDateString(english ? 'en' : 'es-CO', { weekday: 'long', day: 'numeric', month: 'long', timeZone: 'UTC' });
const bookingStatusNames = {
  es: { offered: 'Mesa ofrecida', awaiting_deposit: 'Pendiente del depósito', booked: 'Reservada', confirmed: 'Confirmada', late: 'Tarde', seated: 'En la mesa', finished: 'Terminada', cancelled: 'Cancelada', no_show: 'No llegó', lapsed: 'No concretada' },
  en: { offered: 'Table offered', awaiting_deposit: 'Awaiting its deposit', booked: 'Booked', confirmed: 'Confirmed', late: 'Late', seated: 'Seated', finished: 'Finished', cancelled: 'Cancelled', no_show: 'No-show', lapsed: 'Not taken up' },
};
const bookingStatus = (status) => bookingStatusNames[english ? 'en' : 'es'][status] || status;
const depositStatusNames = {
  es: { awaiting: 'por pagar', paid: 'pagado', refund_due: 'en devolución', refunded: 'devuelto', keep_due: 'lo conserva el restaurante', kept: 'lo conserva el restaurante', released: 'sin pagar' },
  en: { awaiting: 'to pay', paid: 'paid', refund_due: 'being refunded', refunded: 'refunded', keep_due: 'kept by the restaurant', kept: 'kept by the restaurant', released: 'not paid' },
};
// A refund the card's bank returned: the deposit is still "refunded" at Stripe's end, but the guest has not got it.
const depositStatus = (deposit) => deposit.refund_failure
  ? (english ? 'the refund did not reach the card: the restaurant gives it back another way' : 'la devolución no llegó a la tarjeta: el restaurante la devuelve de otra forma')
  : depositStatusNames[english ? 'en' : 'es'][deposit.status] || deposit.status;

// The guest's words for their booking: booked or confirmed is confirmed to them (the host's "confirmed" is the
// venue's own call to the guest); a lapsed one says what lapsed, an offer or a deposit hold.
const guestBookingStatus = (r) => {
  if (['booked', 'confirmed'].includes(r.status)) return english ? 'Confirmed' : 'Confirmada';
  if (r.status === 'lapsed' && r.deposit) return english ? 'Not confirmed: the deposit was not paid' : 'Sin confirmar: el depósito no se pagó';
  if (r.status === 'lapsed') return english ? 'Table offer declined or expired' : 'Oferta de mesa rechazada o vencida';
  return bookingStatus(r.status);
};

pages.booking = async () => {
  const root = $('#booking');
  // A venue not taking bookings (or no such venue): the page says so itself, there is nothing to drive.
  if (!root) return;
  const venue = root.dataset.venue;
  const params = new URLSearchParams(location.search);
  const showBooking = (reservation, token) => {
    $('#search-form').hidden = true;
    $('#slots').hidden = true;
    $('#details-form').hidden = true;
    $('#confirmed').hidden = false;
    // The venue's own date and time (`local` carries its offset), whatever zone the guest's phone is in.
    const when = `${localDay(reservation.local)}, ${hhmm(reservation.local)}`;
    $('#confirmed-text').textContent = `${when} · ${guestCount(reservation.party_size)} · ${guestBookingStatus(reservation)}`;
    const manage = `/book/${encodeURIComponent(venue)}?reservation=${encodeURIComponent(reservation.reservation_id || reservation.id)}&token=${encodeURIComponent(token)}${english ? '&lang=en' : ''}`;
    $('#manage-link').href = manage;
    // The page's own address becomes the booking's: a reload (or the back button from the deposit page) shows it
    // again instead of an empty search.
    history.replaceState(null, '', manage);
    // The language switch keeps the booking on screen.
    const switcher = document.querySelector('a.switch');
    if (switcher) switcher.href = `${manage.replace(/&lang=en$/, '')}&lang=${english ? 'es' : 'en'}`;
    // A cancelled booking has nothing left to manage: no link to keep.
    const ended = ['cancelled', 'lapsed', 'no_show', 'finished'].includes(reservation.status);
    $('#keep-link').hidden = ended;
    $('#manage-line').hidden = ended;
    const id = reservation.reservation_id || reservation.id;
    const deposit = reservation.deposit;
    $('#deposit-text').hidden = !deposit;
    if (deposit) {
      $('#deposit-text').textContent = `${english ? 'Deposit' : 'Depósito'}: ${formatMoney(deposit)} · ${depositStatus(deposit)}`;
    }
    const pay = $('#pay-deposit-link');
    pay.hidden = reservation.status !== 'awaiting_deposit';
    pay.href = `/book/${encodeURIComponent(venue)}/deposit?reservation=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`;
    // Once its time has come only the venue cancels it (the API refuses the guest): no button that can only fail,
    // and the line about the link no longer says it cancels.
    const cancellable = ['offered', 'awaiting_deposit', 'booked', 'confirmed', 'late'].includes(reservation.status)
      && (reservation.status === 'offered' || new Date(reservation.start).getTime() > Date.now());
    $('#cancel-booking').hidden = !cancellable;
    if (!cancellable && !ended) {
      $('#keep-link').textContent = english
        ? 'This link shows your booking. Its time has come: to change or cancel it, speak to the restaurant.'
        : 'Este enlace muestra tu reserva. Ya llegó su hora: para cambiarla o cancelarla, habla con el restaurante.';
    }
    $('#accept-offer').hidden = reservation.status !== 'offered';
    $('#accept-offer').onclick = async () => {
      clearError();
      try {
        const accepted = await api('POST', `/api/v1/reservations/${encodeURIComponent(id)}/accept?token=${encodeURIComponent(token)}`, {});
        if (accepted.status === 'awaiting_deposit') {
          location.assign(`/book/${encodeURIComponent(venue)}/deposit?reservation=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`);
          return;
        }
        $('#confirmed-title').textContent = english ? 'Booking confirmed' : 'Reserva confirmada';
        showBooking(accepted, token);
      } catch (error) {
        showError(error.problem);
      }
    };
    const cancelButton = $('#cancel-booking');
    const offered = reservation.status === 'offered';
    cancelButton.textContent = offered
      ? (english ? 'Decline the table' : 'No quiero la mesa')
      : (english ? 'Cancel the booking' : 'Cancelar la reserva');
    delete cancelButton.dataset.confirm;
    cancelButton.onclick = async () => {
      clearError();
      // A paid deposit the venue keeps on a late cancellation (its policy): the guest is told how much, and taps
      // again to cancel anyway.
      const forfeited = deposit && deposit.status === 'paid' && Date.now() > Date.parse(deposit.refundable_until);
      if (forfeited && cancelButton.dataset.confirm !== 'yes') {
        cancelButton.dataset.confirm = 'yes';
        const amount = formatMoney(deposit);
        cancelButton.textContent = english
          ? `Cancel anyway: the restaurant keeps the ${amount} deposit`
          : `Cancelar de todos modos: el restaurante conserva el depósito de ${amount}`;
        showError({ detail: english
          ? `It is past the time to cancel with a refund: the restaurant keeps your ${amount} deposit. Tap again to cancel.`
          : `Ya pasó el plazo para cancelar con devolución: el restaurante conserva tu depósito de ${amount}. Toca de nuevo para cancelar.` });
        return;
      }
      // A cancellation cannot be undone (the table may go to someone else at once): a second tap confirms it.
      if (cancelButton.dataset.confirm !== 'yes') {
        cancelButton.dataset.confirm = 'yes';
        cancelButton.textContent = offered
          ? (english ? 'Tap again to decline the table' : 'Toca de nuevo para rechazar la mesa')
          : (english ? 'Tap again to cancel the booking' : 'Toca de nuevo para cancelar la reserva');
        return;
      }
      delete cancelButton.dataset.confirm;
      try {
        const cancelled = await api('POST', `/api/v1/reservations/${encodeURIComponent(id)}/cancel?token=${encodeURIComponent(token)}`, {});
        // A declined offer was never a booking: it is not "cancelled" to the guest either.
        const title = cancelled.status === 'lapsed' && !cancelled.deposit
          ? (english ? 'Table offer declined' : 'Oferta de mesa rechazada')
          : (english ? 'Booking cancelled' : 'Reserva cancelada');
        showBooking(cancelled, token);
        $('#confirmed-title').textContent = title;
      } catch (error) {
        showError(error.problem);
      }
    };
  };
  // The guest who finds a table elsewhere leaves the list, so the venue does not hold one for nobody: right after
  // joining, or later by the link in the mail that said they joined.
  const offerLeaving = (id, token) => {
    $('#waitlist-joined').hidden = false;
    const leave = $('#leave-waitlist');
    leave.hidden = false;
    leave.onclick = async () => {
      clearError();
      leave.disabled = true;
      try {
        await api('POST', `/api/v1/waitlist/${encodeURIComponent(id)}/leave?token=${encodeURIComponent(token)}`);
        leave.hidden = true;
        $('#waitlist-joined').textContent = english ? 'You left the waitlist.' : 'Saliste de la lista de espera.';
      } catch (error) {
        showError(error.problem);
      } finally {
        leave.disabled = false;
      }
    };
  };
  if (params.get('waitlist') && params.get('token')) offerLeaving(params.get('waitlist'), params.get('token'));
  if (params.get('reservation') && params.get('token')) {
    try {
      const reservation = await api('GET', `/api/v1/reservations/${encodeURIComponent(params.get('reservation'))}?token=${encodeURIComponent(params.get('token'))}`);
      $('#confirmed-title').textContent = english ? 'Your booking' : 'Tu reserva';
      showBooking(reservation, params.get('token'));
      return;
    } catch (error) {
      // A link that is wrong or gone: said so, in the guest's words, and the page still books a table.
      const gone = error.problem && String(error.problem.type || '').endsWith('/not-found');
      showError(gone
        ? { detail: english ? 'This booking link is not valid or has expired: open it again from your confirmation email, or book again here.' : 'Este enlace de la reserva no es válido o ya venció: ábrelo de nuevo desde el correo de confirmación, o reserva otra vez aquí.' }
        : error.problem);
    }
  }
  const form = $('#search-form');
  // Today at the venue (its zone and day start, whatever the phone's say) while it still has a time for the party,
  // tomorrow otherwise: a guest booking for tonight should not have to change the date first.
  const today = businessDay({ timezone: root.dataset.timezone, day_start_hour: root.dataset.dayStart });
  const tomorrow = new Date(Date.parse(`${today}T12:00:00Z`) + 86400000).toISOString().slice(0, 10);
  form.date.value = tomorrow;
  api('GET', `/api/v1/venues/${encodeURIComponent(venue)}/availability?date=${today}&party_size=${Number(form.party_size.value) || 2}`)
    .then((tonight) => {
      // Unless the guest chose a date meanwhile.
      if (tonight.slots.length > 0 && form.date.value === tomorrow) form.date.value = today;
    })
    .catch(() => {});
  // Yesterday too: past midnight, the evening's late seatings are still yesterday's service (the server decides).
  form.date.min = isoDate(new Date(Date.now() - 86400000));
  let chosen = null;
  const search = async () => {
    clearError();
    $('#details-form').hidden = true;
    const party = Number(form.party_size.value);
    try {
      const answer = await api('GET', `/api/v1/venues/${encodeURIComponent(venue)}/availability?date=${form.date.value}&party_size=${party}`);
      const list = $('#slot-list');
      list.replaceChildren();
      const counts = {};
      for (const slot of answer.slots) counts[hhmm(slot.local)] = (counts[hhmm(slot.local)] || 0) + 1;
      for (const slot of answer.slots) {
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.start = slot.start;
        // A local time repeated by a fall-back night shows its offset, so the two are told apart; a time after
        // midnight (the evening's late service) names the day it falls on.
        const nextDay = slot.local.slice(0, 10) !== form.date.value;
        button.textContent = counts[hhmm(slot.local)] > 1 ? `${hhmm(slot.local)} (${slot.local.slice(19)})` : hhmm(slot.local);
        if (nextDay) button.textContent += ` (${localDay(slot.local).split(/[ ,]/)[0]})`;
        button.setAttribute('aria-pressed', 'false');
        button.addEventListener('click', () => {
          for (const other of list.querySelectorAll('button')) other.setAttribute('aria-pressed', 'false');
          button.setAttribute('aria-pressed', 'true');
          chosen = { start: slot.start, party, label: hhmm(slot.local), date: slot.local.slice(0, 10) };
          $('#chosen').textContent = `${localDay(slot.local)} · ${chosen.label} · ${guestCount(party)}`;
          $('#details-form').hidden = false;
          $('#details-form').name.focus();
        });
        list.appendChild(button);
      }
      $('#no-slots').hidden = answer.slots.length > 0;
      $('#slots').hidden = false;
      // Nothing free: the guest can wait for a table that comes free in a window of their choice. Tonight, a window
      // already under way starts at the next quarter hour, not at a time already past.
      $('#waitlist-form').hidden = answer.slots.length > 0;
      waitlistParty = party;
      if (form.date.value === today) {
        const w = $('#waitlist-form');
        const dayStart = root.dataset.dayStart;
        const now = proposedWindow(root.dataset.timezone, dayStart, true, 120);
        if (businessMinutes(w.earliest.value, dayStart) < businessMinutes(now.earliest, dayStart)) w.earliest.value = now.earliest;
        if (businessMinutes(w.latest.value, dayStart) <= businessMinutes(w.earliest.value, dayStart)) w.latest.value = now.latest;
      }
    } catch (error) {
      // No times, and no waitlist, for a question refused (a party the venue never seats online, a date past).
      $('#slots').hidden = true;
      $('#waitlist-form').hidden = true;
      showError(error.problem);
    }
  };
  form.addEventListener('submit', (event) => { event.preventDefault(); search(); });
  let waitlistParty = 2;
  const waitlistKey = requestKey();
  $('#waitlist-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError();
    const w = $('#waitlist-form');
    const submit = w.querySelector('button[type="submit"]');
    if (submit) submit.disabled = true;
    const body = {
      date: form.date.value,
      party_size: waitlistParty,
      earliest: w.earliest.value,
      latest: w.latest.value,
      guest: { name: w.name.value, phone: phoneForApi(w.phone.value, root.dataset.callingCode), email: w.email.value },
      consent: w.consent.checked,
    };
    try {
      // A retry after a lost answer is the same place in the queue, not another.
      const joined = await api('POST', `/api/v1/venues/${encodeURIComponent(venue)}/waitlist`, body, undefined, { 'Idempotency-Key': waitlistKey.for(body) });
      waitlistKey.succeeded();
      w.hidden = true;
      offerLeaving(joined.id, joined.manage_token);
    } catch (error) {
      showError(error.problem);
    } finally {
      if (submit) submit.disabled = false;
    }
  });
  const details = $('#details-form');
  const bookingKey = requestKey();
  details.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError();
    if (!chosen) return;
    const submit = details.querySelector('button[type="submit"]');
    const body = {
      start: chosen.start,
      party_size: chosen.party,
      guest: { name: details.name.value, phone: phoneForApi(details.phone.value, root.dataset.callingCode), email: details.email.value },
      consent: details.consent.checked,
      note: details.note.value,
    };
    if (submit) submit.disabled = true;
    try {
      const response = await fetch(`/api/v1/venues/${encodeURIComponent(venue)}/reservations`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Idempotency-Key': bookingKey.for(body) },
        body: JSON.stringify(body),
      }).finally(() => { if (submit) submit.disabled = false; });
      const data = await response.json();
      if (response.ok) bookingKey.succeeded();
      if (!response.ok) {
        // Another guest took the time first: the free times are read again, and the guest is told why the form
        // went (the new search clears the old message, so the refusal is shown after it).
        if (response.status === 409) await search();
        showError(data);
        return;
      }
      if (data.status === 'awaiting_deposit') {
        // The venue asks a deposit: its page shows the rule, then the card. This page's address becomes the
        // booking's first, so Back from the deposit page shows the booking, not an empty search.
        history.replaceState(null, '', `/book/${encodeURIComponent(venue)}?reservation=${encodeURIComponent(data.reservation_id)}&token=${encodeURIComponent(data.manage_token)}${english ? '&lang=en' : ''}`);
        location.assign(`/book/${encodeURIComponent(venue)}/deposit?reservation=${encodeURIComponent(data.reservation_id)}&token=${encodeURIComponent(data.manage_token)}${english ? '&lang=en' : ''}`);
        return;
      }
      showBooking(data, data.manage_token);
    } catch (error) {
      showError(null);
    }
  });
};

// ----- sales dashboard (docs/analytics.md) -----

const figureNames = {
  es: { gross: 'Ventas brutas', tax: 'Impuesto', refund_tax: 'Impuesto reembolsado', net_tax: 'Impuesto neto', refunds: 'Reembolsos', net: 'Ventas netas', tips: 'Propinas', collected: 'Cobrado con tarjeta', cash: 'Efectivo', unpaid: 'Sin pagar', orders: 'Pedidos', average_order: 'Pedido promedio', bookings: 'Reservas', cancellations: 'Cancelaciones', covers_booked: 'Cubiertos reservados', no_show_rate: 'No llegaron', deposits_kept: 'Depósitos retenidos', turnover: 'Rotación de mesas', average_turn: 'Tiempo por mesa', checks: 'Cuentas', average_ticket: 'Cuenta promedio', payment_success: 'Pagos exitosos' },
  en: { gross: 'Gross sales', tax: 'Tax', refund_tax: 'Tax refunded', net_tax: 'Net tax', refunds: 'Refunds', net: 'Net sales', tips: 'Tips', collected: 'Collected by card', cash: 'Cash', unpaid: 'Unpaid', orders: 'Orders', average_order: 'Average order', bookings: 'Bookings', cancellations: 'Cancellations', covers_booked: 'Covers booked', no_show_rate: 'No-shows', deposits_kept: 'Deposits kept', turnover: 'Table turnover', average_turn: 'Turn time', checks: 'Checks', average_ticket: 'Average check', payment_success: 'Payment success' },
};
// Each figure's definition, shown as its tooltip: the same words as docs/analytics.md.
const figureDefinitions = {
  es: {
    gross: 'Pedidos hechos en el periodo y no cancelados, con impuesto incluido; de un pedido cancelado después de que sus clientes pagaron y recibieron el reembolso, la parte pagada (el reembolso la descuenta de las ventas netas).',
    tax: 'El impuesto al consumo (o IVA) contenido en las ventas brutas; nunca sumado encima.',
    refund_tax: 'El impuesto que devolvieron los reembolsos completados en el periodo, el día del reembolso.',
    net_tax: 'Impuesto de las ventas menos el impuesto reembolsado: el impuesto de lo que quedó vendido.',
    refunds: 'La parte de ventas de los reembolsos completados en el periodo (impuesto incluido), el día del reembolso.',
    net: 'Ventas brutas sin impuesto, menos los reembolsos sin el impuesto que devuelven.',
    tips: 'Propinas de pagos exitosos y en efectivo, menos la parte de propina de los reembolsos y del efectivo anulado. Nunca son ventas (Ley 1935 de 2018).',
    collected: 'Pagos con tarjeta exitosos (parte más propina), el día en que se cobraron, antes de reembolsos.',
    cash: 'Efectivo que el personal registró en las mesas (parte de la cuenta más propina), menos lo anulado.',
    unpaid: 'Lo que les faltaba a las cuentas cerradas sin pagar del todo, el día del cierre: está en las ventas, nunca entró dinero.',
    orders: 'Pedidos hechos y no cancelados, y los cancelados después de que sus clientes pagaron y recibieron el reembolso.',
    average_order: 'Ventas brutas ÷ pedidos.',
    bookings: 'Reservas que empiezan en el periodo, canceladas y no llegadas incluidas. No son reservas los clientes sin reserva sentados al llegar (tampoco los de la lista de espera sentados así), ni una oferta de la lista de espera rechazada o vencida, ni una reserva cuyo depósito no se pagó.',
    cancellations: 'Reservas canceladas, por el cliente o por el local, y su parte de las reservas (tasa de cancelación).',
    covers_booked: 'Personas de esas reservas (canceladas y no llegadas incluidas).',
    no_show_rate: 'Reservas que no llegaron, y su parte de las que debían llegar: no llegaron ÷ (sentadas + terminadas + no llegaron).',
    deposits_kept: 'Depósitos de reservas que el local retiene (no llegaron, o cancelaron después del plazo). No son ventas.',
    turnover: 'Mesas sentadas por el personal y cerradas en el periodo ÷ (mesas × días).',
    average_turn: 'Minutos promedio de sentada a cerrada.',
    checks: 'Mesas cerradas en el periodo con al menos un pedido que cuenta.',
    average_ticket: 'Ventas brutas de esas cuentas ÷ cuentas.',
    payment_success: 'Pagos exitosos ÷ pagos iniciados en el periodo que ya terminaron (exitosos, fallidos o cancelados); no cuenta un pago que reemplazó otro pago del mismo cliente o el efectivo que recibió el personal.',
    change: 'Frente al mismo número de días, semanas completas antes (los mismos días de la semana).',
    rounding: 'Los pesos se muestran enteros, redondeados; las descargas CSV traen los valores exactos, con centavos.',
  },
  en: {
    gross: 'Orders placed in the period and not cancelled, tax included; of an order cancelled after its guests paid and were refunded, the part paid (the refund takes it out of net sales).',
    tax: 'The consumption tax (or VAT) contained in gross sales; never added on top.',
    refund_tax: 'The tax given back by refunds completed in the period, on the day of the refund.',
    net_tax: 'Tax on sales less the tax refunded: the tax of what stayed sold.',
    refunds: 'The sales part of refunds completed in the period (tax included), on the day of the refund.',
    net: 'Gross sales before tax, minus refunds before the tax they give back.',
    tips: 'Tips of succeeded payments and cash tips, minus the tip part of refunds and of voided cash. Never sales (Colombian Law 1935 of 2018).',
    collected: 'Succeeded card payments (share plus tip), on the day they succeeded, before refunds.',
    cash: 'Cash staff recorded at the tables (bill part plus tip), less what was voided.',
    unpaid: 'What bills closed without being paid in full still lacked, on the day of the close: in the sales, never money taken.',
    orders: 'Orders placed and not cancelled, and those cancelled after their guests paid and were refunded.',
    average_order: 'Gross sales ÷ orders.',
    bookings: 'Bookings starting in the period, cancellations and no-shows included. Walk-ins seated on arrival (waitlist parties seated so too), waitlist offers declined or expired, and bookings whose deposit was never paid are not bookings.',
    cancellations: 'Bookings cancelled, by the guest or the venue, and their share of the bookings (cancellation rate).',
    covers_booked: 'Party sizes of those bookings (cancellations and no-shows included).',
    no_show_rate: 'Bookings that did not come, and their share of those due: no-shows ÷ (seated + finished + no-shows).',
    deposits_kept: 'Booking deposits the venue keeps (no-shows, cancellations after the cut-off). Not sales.',
    turnover: 'Tables seated by staff and closed in the period ÷ (tables × days).',
    average_turn: 'Mean minutes from seated to closed.',
    checks: 'Tables closed in the period with at least one counted order.',
    average_ticket: 'Gross sales of those checks ÷ checks.',
    payment_success: 'Succeeded payments ÷ payments started in the period that ended (succeeded, failed or cancelled); a payment replaced by the same guest\'s next one, or by cash staff took, is not counted.',
    change: 'Against as many days, whole weeks earlier (the same weekdays).',
    rounding: 'Pesos are shown whole, rounded; the CSV downloads carry the exact amounts, with centavos.',
  },
};

const svgNs = 'http://www.w3.org/2000/svg';
function svgElement(name, attributes, text) {
  const element = document.createElementNS(svgNs, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

// A week the range cuts holds fewer days than the weeks beside it: said, so it is not read as a slow week.
const partOfWeek = (point, granularity) => (granularity === 'week' && point.days < 7 ? (english ? ` (${point.days} ${point.days === 1 ? 'day' : 'days'})` : ` (${point.days} ${point.days === 1 ? 'día' : 'días'})`) : '');

// A bar per bucket, scaled between the smallest (or zero) and the largest value; every bar has its value as a title.
function drawSeries(svg, points, label, granularity) {
  svg.replaceChildren();
  const width = 640, height = 240, top = 10, bottom = 200, left = 8;
  const values = points.map((p) => p.value);
  const max = Math.max(1, ...values), min = Math.min(0, ...values);
  const y = (v) => top + ((max - v) / (max - min)) * (bottom - top);
  const step = (width - left) / Math.max(1, points.length);
  const every = Math.ceil(points.length / 8);
  // Hourly buckets share a business day: label them by local time; days and weeks by their date.
  const hourly = points.length > 1 && points[0].day === points[1].day;
  points.forEach((point, i) => {
    const x = left + i * step;
    const bar = svgElement('rect', { class: 'bar', x: x + step * 0.1, width: Math.max(1, step * 0.8), y: Math.min(y(point.value), y(0)), height: Math.abs(y(0) - y(point.value)) });
    bar.appendChild(svgElement('title', {}, `${point.start.slice(0, 16).replace('T', ' ')}${partOfWeek(point, granularity)}: ${label(point.value)}`));
    svg.appendChild(bar);
    if (i % every === 0) {
      // "28 nov" / "Nov 28", never "11-28" (which a Colombian reads as the 11th of some month).
      const text = hourly
        ? point.start.slice(11, 16)
        : new Date(`${point.day}T12:00:00Z`).toLocaleDateString(english ? 'en' : 'es-CO', { day: 'numeric', month: 'short', timeZone: 'UTC' });
      svg.appendChild(svgElement('text', { class: 'axis', x, y: height - 22 }, text));
    }
  });
  svg.appendChild(svgElement('line', { x1: left, x2: width, y1: y(0), y2: y(0), stroke: '#6b6357' }));
}

// Seven rows (Monday first) of 24 local hours; a cell's strength is its share of the busiest cell.
function drawHeatMap(svg, cells, label) {
  svg.replaceChildren();
  const left = 34, top = 4, cellWidth = (640 - left) / 24, cellHeight = 24;
  const days = english ? ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] : ['Lun', 'Mar', 'Mié', 'Jue', 'Vie', 'Sáb', 'Dom'];
  const max = Math.max(1, ...cells.map((c) => Math.abs(c.value)));
  for (const cell of cells) {
    const rect = svgElement('rect', {
      class: 'cell', x: left + cell.hour * cellWidth + 1, y: top + (cell.weekday - 1) * cellHeight + 1,
      width: cellWidth - 2, height: cellHeight - 2, 'fill-opacity': (0.06 + 0.94 * Math.abs(cell.value) / max).toFixed(2),
    });
    rect.appendChild(svgElement('title', {}, `${days[cell.weekday - 1]} ${String(cell.hour).padStart(2, '0')}:00 — ${label(cell.value)}`));
    svg.appendChild(rect);
  }
  days.forEach((day, i) => svg.appendChild(svgElement('text', { class: 'axis', x: 0, y: top + i * cellHeight + 16 }, day)));
  for (let hour = 0; hour < 24; hour += 3) {
    svg.appendChild(svgElement('text', { class: 'axis', x: left + hour * cellWidth, y: top + 7 * cellHeight + 12 }, `${String(hour).padStart(2, '0')}h`));
  }
}

// The product mix: the ten best sellers as horizontal bars (name, value as text and title), then the items that
// sold least, named below the chart.
function drawMix(svg, items, label, bottomList) {
  svg.replaceChildren();
  const top = items.slice(0, 10);
  const max = Math.max(1, ...top.map((item) => item.sales));
  const nameOf = (item) => (item.name ? (english && item.name.en) || item.name.es : english ? '(deleted item)' : '(plato eliminado)');
  top.forEach((item, i) => {
    const y = 6 + i * 28;
    svg.appendChild(svgElement('text', { class: 'axis', x: 0, y: y + 15 }, nameOf(item)));
    const bar = svgElement('rect', { class: 'bar', x: 210, y, height: 20, width: Math.max(1, (330 * item.sales) / max) });
    bar.appendChild(svgElement('title', {}, `${nameOf(item)}: ${item.quantity} × — ${label(item.sales)}`));
    svg.appendChild(bar);
    svg.appendChild(svgElement('text', { class: 'axis', x: 215 + (330 * item.sales) / max, y: y + 15 }, label(item.sales)));
  });
  const bottom = items.slice(Math.max(10, items.length - 5)).reverse();
  bottomList.textContent = bottom.length
    ? `${english ? 'Selling least' : 'Lo que menos se vende'}: ${bottom.map((item) => `${nameOf(item)} (${item.quantity})`).join(', ')}`
    : '';
}

// A chart's values as a table (under its "show the data" disclosure): what the bars' titles tell a mouse, for a
// screen reader and a keyboard. `amounts` marks the columns aligned as figures.
function fillDataTable(table, headers, rows, amounts = []) {
  const head = document.createElement('thead');
  const headRow = document.createElement('tr');
  headers.forEach((text, i) => {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = text;
    if (amounts.includes(i)) th.className = 'amount';
    headRow.appendChild(th);
  });
  head.appendChild(headRow);
  const body = document.createElement('tbody');
  for (const cells of rows) {
    const row = document.createElement('tr');
    cells.forEach((text, i) => {
      const cell = document.createElement(i === 0 ? 'th' : 'td');
      if (i === 0) cell.scope = 'row';
      cell.textContent = text;
      if (amounts.includes(i)) cell.className = 'amount';
      row.appendChild(cell);
    });
    body.appendChild(row);
  }
  table.replaceChildren(head, body);
}

// A CSV answer saved as a file: the API needs the bearer token, which a plain link cannot carry.

pages.analytics = async () => {
  if (!store.get('access')) return location.assign('/signin');
  const params = new URLSearchParams(location.search);
  const chosen = await chosenVenue();
  if (!chosen) return;
  const venue = encodeURIComponent(chosen);
  const base = `/api/v1/venues/${venue}/analytics`;
  const form = $('#range-form');
  // The last seven business days of the venue (its zone and day start), whatever the device's clock and zone say.
  const here = ((await memberVenues()) || []).find((v) => v.id === chosen);
  const today = here ? businessDay(here) : isoDate(new Date());
  const weekAgo = new Date(Date.parse(`${today}T12:00:00Z`) - 6 * 86400000).toISOString().slice(0, 10);
  form.from.value = params.get('from') || weekAgo;
  form.to.value = params.get('to') || today;
  const query = () => {
    const values = formValues(form);
    return new URLSearchParams({ from: values.from, to: values.to }).toString();
  };
  const names = figureNames[english ? 'en' : 'es'];
  const definitions = figureDefinitions[english ? 'en' : 'es'];
  const render = async () => {
    clearError();
    const values = formValues(form);
    const range = query();
    const series = `metric=${values.metric}&granularity=${values.granularity}&${range}`;
    try {
      const [summary, points, heat, mix, servers] = await Promise.all([
        authed('GET', `${base}/summary?${range}`),
        authed('GET', `${base}/timeseries?${series}`),
        authed('GET', `${base}/heatmap?metric=${values.metric}&${range}`),
        authed('GET', `${base}/product-mix?${range}`),
        authed('GET', `${base}/servers?${range}`),
      ]);
      // Pesos on the dashboard are whole (nobody counts centavos in a day's sales; the figures derived from a
      // tax-inclusive price — net, tax, averages — would otherwise all show them). The CSV keeps the exact amounts.
      const money = (amount) => formatWholeMoney({ amount, currency: summary.currency });
      // A rate in basis points, as a percentage in the page's language ("28,57 %").
      const percent = (bp) => `${(bp / 100).toLocaleString(english ? 'en' : 'es-CO')} %`;
      const label = values.metric === 'orders' ? (v) => String(v) : money;
      $('#zone-note').textContent = english
        ? `Business days in ${summary.timezone}, from ${String(summary.day_start_hour).padStart(2, '0')}:00 to the next day's start.`
        : `Días de negocio en ${summary.timezone}, desde las ${String(summary.day_start_hour).padStart(2, '0')}:00 hasta el inicio del día siguiente.`;
      const list = $('#summary');
      list.replaceChildren();
      const shown = {
        ...Object.fromEntries(['gross', 'net', 'tax', 'refund_tax', 'refunds', 'tips', 'collected', 'cash', 'unpaid', 'average_order'].map((k) => [k, money(summary[k])])),
        net_tax: money(summary.tax - summary.refund_tax),
        orders: String(summary.orders),
        bookings: String(summary.reservations.bookings),
        covers_booked: String(summary.reservations.covers_booked),
        // A rate of nothing is no figure: "—", not "0 %" (which reads as every payment failing, nobody coming). A
        // rate goes with its count: "40 % (2)", not a bare percentage that reads as a head count.
        cancellations: summary.reservations.bookings === 0 ? '—' : `${summary.reservations.cancellations} (${percent(summary.reservations.cancellation_rate_bp)})`,
        no_show_rate: summary.reservations.covers_seated + summary.reservations.no_shows === 0 ? '—' : `${percent(summary.reservations.no_show_rate_bp)} (${summary.reservations.no_shows})`,
        deposits_kept: money(summary.reservations.deposits_kept),
        turnover: `${(summary.turnover.turns_per_table_day_x100 / 100).toLocaleString(english ? 'en' : 'es-CO', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ×`,
        average_turn: `${summary.turnover.average_turn_minutes} min`,
        checks: String(summary.checks),
        average_ticket: money(summary.average_ticket),
        payment_success: summary.payments_ended === 0 ? '—' : percent(summary.payment_success_rate_bp),
      };
      // Week over week: the change against the compared period, for the figures it carries.
      const previous = summary.previous;
      const change = (key) => {
        if (!previous || !(key in previous)) return null;
        const before = previous[key], now = summary[key];
        const text = before === 0 ? (now === 0 ? '=' : `▲ ${english ? 'new' : 'nuevo'}`) : `${now >= before ? '▲' : '▼'} ${Math.round(Math.abs(now - before) * 100 / before)} %`;
        const note = document.createElement('dd');
        note.className = 'change';
        note.dataset.change = key;
        note.textContent = text;
        note.title = `${definitions.change} ${previous.from} – ${previous.to}: ${key === 'orders' ? before : money(before)}`;
        // The title is for a mouse; the same words, unseen, for a screen reader.
        const said = document.createElement('span');
        said.className = 'visually-hidden';
        said.textContent = ` (${english ? 'was' : 'antes'} ${key === 'orders' ? before : money(before)}, ${previous.from} – ${previous.to})`;
        note.appendChild(said);
        return note;
      };
      for (const key of ['gross', 'net', 'tax', 'refund_tax', 'net_tax', 'refunds', 'tips', 'collected', 'cash', 'unpaid', 'orders', 'average_order', 'checks', 'average_ticket', 'payment_success', 'bookings', 'covers_booked', 'cancellations', 'no_show_rate', 'deposits_kept', 'turnover', 'average_turn']) {
        const item = document.createElement('div');
        const term = document.createElement('dt');
        term.textContent = names[key];
        term.title = definitions[key];
        const value = document.createElement('dd');
        value.dataset.figure = key;
        value.textContent = shown[key];
        item.append(term, value);
        const changed = change(key);
        if (changed) item.appendChild(changed);
        list.appendChild(item);
      }
      const glossary = Object.keys(names).filter((key) => definitions[key]).map((key) => [names[key], definitions[key]]);
      glossary.push([english ? 'Change (▲ ▼)' : 'Cambio (▲ ▼)', definitions.change]);
      if (summary.currency === 'COP') glossary.push([english ? 'Rounding' : 'Redondeo', definitions.rounding]);
      $('#definitions').replaceChildren(...glossary.flatMap(([name, meaning]) => {
        const term = document.createElement('dt');
        term.textContent = name;
        const said = document.createElement('dd');
        said.textContent = meaning;
        return [term, said];
      }));
      drawSeries($('#series-chart'), points.points, label, points.granularity);
      const hourly = points.points.length > 1 && points.points[0].day === points.points[1].day;
      fillDataTable($('#series-data'), [english ? 'From' : 'Desde', $('#range-form').metric.selectedOptions[0].textContent],
        points.points.map((p) => [hourly ? p.start.slice(0, 16).replace('T', ' ') : `${p.day}${partOfWeek(p, points.granularity)}`, label(p.value)]), [1]);
      drawHeatMap($('#heat-chart'), heat.cells, label);
      const weekdays = english ? ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] : ['lunes', 'martes', 'miércoles', 'jueves', 'viernes', 'sábado', 'domingo'];
      fillDataTable($('#heat-data'), [english ? 'Weekday and hour' : 'Día y hora', $('#range-form').metric.selectedOptions[0].textContent],
        heat.cells.filter((c) => c.value !== 0).map((c) => [`${weekdays[c.weekday - 1]} ${String(c.hour).padStart(2, '0')}:00`, label(c.value)]), [1]);
      drawMix($('#mix-chart'), mix.items, money, $('#mix-bottom'));
      fillDataTable($('#mix-data'), [english ? 'Item' : 'Plato', english ? 'Quantity' : 'Cantidad', english ? 'Sales' : 'Ventas'],
        mix.items.map((item) => [item.name ? (english && item.name.en) || item.name.es : english ? '(deleted item)' : '(plato eliminado)', String(item.quantity), money(item.sales)]), [1, 2]);
      const rows = servers.servers.map((line) => {
        const row = document.createElement('tr');
        const who = line.name || (line.member_id ? (english ? '(former member)' : '(ya no está)') : (english ? '(not assigned)' : '(sin asignar)'));
        for (const [text, amount] of [[who, false], [String(line.orders), true], [money(line.gross), true], [money(line.average_order), true], [money(line.tips), true], [money(line.cash), true]]) {
          const cell = document.createElement('td');
          cell.textContent = text;
          if (amount) cell.className = 'amount';
          row.appendChild(cell);
        }
        return row;
      });
      $('#servers-table tbody').replaceChildren(...rows);
    } catch (error) {
      // The figures of the range before are not left standing under dates they do not belong to.
      for (const stale of ['#summary', '#definitions', '#series-chart', '#heat-chart', '#mix-chart', '#servers-table tbody']) {
        const node = $(stale);
        if (node) node.replaceChildren();
      }
      showError(error.problem);
    }
  };
  form.addEventListener('submit', (event) => { event.preventDefault(); render(); });
  // The downloads are opened in a spreadsheet: in Spanish, the one a Spanish-speaking locale's Excel opens by a
  // double click (byte-order mark, ";", decimal comma); the API's plain CSV otherwise.
  const csv = english ? 'csv' : 'csv-es';
  // Each file is named with its period, so a second month's download does not overwrite the first.
  const file = (name) => {
    const values = formValues(form);
    return `${name}-${values.from}${values.to === values.from ? '' : `_${values.to}`}.csv`;
  };
  $('#csv-summary').addEventListener('click', () => download(`${base}/summary?${query()}&format=${csv}`, file(english ? 'sales-summary' : 'ventas-resumen')));
  $('#csv-series').addEventListener('click', () => {
    const values = formValues(form);
    download(`${base}/timeseries?metric=${values.metric}&granularity=${values.granularity}&${query()}&format=${csv}`, file(english ? 'sales-series' : 'ventas-serie'));
  });
  $('#csv-mix').addEventListener('click', () => download(`${base}/product-mix?${query()}&format=${csv}`, file(english ? 'product-mix' : 'ventas-platos')));
  $('#csv-servers').addEventListener('click', () => download(`${base}/servers?${query()}&format=${csv}`, file(english ? 'sales-servers' : 'ventas-meseros')));
  $('#csv-cash').addEventListener('click', () => download(`${base}/cash?${query()}&format=${csv}`, file(english ? 'cash' : 'efectivo')));
  $('#csv-heat').addEventListener('click', () => download(`${base}/heatmap?metric=${formValues(form).metric}&${query()}&format=${csv}`, file(english ? 'sales-heatmap' : 'ventas-mapa')));
  // The month's tip ledger for payroll (Ley 1935 de 2018): every venue of the partner, the month of the range's
  // first day, each venue by its own business month. It spans every venue: not offered to a member of some only.
  authed('GET', '/api/v1/me').then((me) => { if (me.venues) $('#csv-tips').hidden = true; }).catch(() => {});
  $('#csv-tips').addEventListener('click', () => {
    const month = formValues(form).from.slice(0, 7);
    download(`/api/v1/tips?month=${month}&format=${csv}`, `${english ? 'tips' : 'propinas'}-${month}.csv`);
  });
  await render();
};

// The venue's wall clock now, HH:MM in its own zone (the browser's when the zone is unknown).
function venueClock(timezone) {
  try {
    return new Intl.DateTimeFormat('en-GB', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date());
  } catch {
    return new Date().toTimeString().slice(0, 5);
  }
}

// Minutes into the business day of a local HH:MM: a time before the day start is the night after midnight.
function businessMinutes(hhmm, dayStartHour) {
  const minutes = Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
  return minutes < (Number(dayStartHour) || 0) * 60 ? minutes + 1440 : minutes;
}

// A waitlist window proposed from the venue's clock now (from the next quarter hour when `nextQuarter`), `length`
// minutes long, as local HH:MM, ending within the business day: a window crossing the day start (05:00 by default)
// would end on the day before it began, and the server refuses it.
function proposedWindow(timezone, dayStartHour, nextQuarter, length) {
  const local = venueClock(timezone);
  const clock = (m) => `${String(Math.floor(m / 60) % 24).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  const now = businessMinutes(local, dayStartHour);
  const from = nextQuarter ? Math.ceil((now + 1) / 15) * 15 : now;
  return { earliest: clock(from), latest: clock(Math.min(from + length, (Number(dayStartHour) || 0) * 60 + 1439)) };
}

// The host's waitlist window on `date` (local YYYY-MM-DD): on the venue's today, the one `proposed` from its clock
// (a party at the bar waits from now, and walk-ins are seated outside the booking services too); on a later day, the
// hour from that day's first seating — the clock's time of today meant nothing there.
function serviceWindow(proposed, services, date, today, dayStartHour, length) {
  if (date === today) return proposed;
  const weekday = ((new Date(`${date}T12:00:00Z`).getUTCDay() + 6) % 7) + 1;
  const first = (services || [])
    .filter((service) => (service.weekdays || []).includes(weekday))
    .map((service) => businessMinutes(service.first_seating, dayStartHour))
    .sort((a, b) => a - b)[0];
  if (first === undefined) return proposed;
  const clock = (m) => `${String(Math.floor(m / 60) % 24).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  return { earliest: clock(first), latest: clock(Math.min(first + length, (Number(dayStartHour) || 0) * 60 + 1439)) };
}

// A guest's phone as the host calls it: a tel: link (a tap on a tablet or phone calls), written the Colombian way
// for +57 numbers ("+57 300 123 4567").
function phoneLink(e164) {
  const link = document.createElement('a');
  link.href = `tel:${e164}`;
  link.textContent = /^\+57\d{10}$/.test(e164) ? `+57 ${e164.slice(3, 6)} ${e164.slice(6, 9)} ${e164.slice(9)}` : e164;
  return link;
}

pages.host = async () => {
  if (!store.get('access')) return location.assign('/signin');
  const params = new URLSearchParams(location.search);
  const venue = await chosenVenue();
  if (!venue) return;
  const form = $('#day-form');
  const here = ((await memberVenues()) || []).find((v) => v.id === venue);
  form.date.value = params.get('date') || (here ? businessDay(here) : isoDate(new Date()));
  $('#settings-link').href = `/booking-settings?venue=${encodeURIComponent(venue)}`;
  // The settings are the owner's and managers' (`manage_venues`): a host is not sent to a page that refuses each save.
  authed('GET', '/api/v1/me')
    .then((me) => { $('#settings-link').parentElement.hidden = !(me.permissions || []).includes('manage_venues'); })
    .catch(() => {});
  const tables = await allPages(`/api/v1/venues/${encodeURIComponent(venue)}/tables`).catch(() => []);
  // The times the host can give a party on the page's day (every table, no notice: the host's availability), as
  // the options of `select`; the option `keep` stays chosen while it is still free. Answers how many there are.
  // `moving`: a booking being moved, whose own tables count as free (its current time is offered too).
  const fillTimes = async (select, party, keep, moving) => {
    const answer = await authed('GET', `/api/v1/venues/${encodeURIComponent(venue)}/availability?date=${form.date.value}&party_size=${party}${moving ? `&moving=${encodeURIComponent(moving)}` : ''}`);
    const counts = {};
    for (const slot of answer.slots) counts[hhmm(slot.local)] = (counts[hhmm(slot.local)] || 0) + 1;
    select.replaceChildren(...answer.slots.map((slot) => {
      const option = document.createElement('option');
      option.value = slot.start;
      // A local time repeated by a fall-back night shows its offset, so the two are told apart.
      option.textContent = counts[hhmm(slot.local)] > 1 ? `${hhmm(slot.local)} (${slot.local.slice(19)})` : hhmm(slot.local);
      return option;
    }));
    if (answer.slots.some((slot) => slot.start === keep)) select.value = keep;
    return answer.slots.length;
  };
  const labelled = (text, control) => {
    const label = document.createElement('label');
    label.className = 'inline';
    label.append(text, control);
    return label;
  };
  const moveNames = {
    es: { confirmed: 'Confirmar', seated: 'Sentar', late: 'Tarde', no_show: 'No llegó', cancelled: 'Cancelar', finished: 'Terminar' },
    en: { confirmed: 'Confirm', seated: 'Seat', late: 'Late', no_show: 'No-show', cancelled: 'Cancel', finished: 'Finish' },
  };
  const render = async () => {
    clearError();
    // The control the host was on (a row's Seat button) gets the focus back once the list is drawn again, not the
    // page's top: a keyboard or screen-reader host keeps their place.
    const focused = document.activeElement;
    const focusedRow = focused && focused.closest && focused.closest('#day-list li');
    const keep = focusedRow ? { id: focusedRow.dataset.reservation, move: focused.dataset.move } : null;
    let day;
    try {
      day = { items: await allPages(`/api/v1/venues/${encodeURIComponent(venue)}/reservations?date=${form.date.value}`) };
    } catch (error) {
      return showError(error.problem);
    }
    const items = day.items;
    const holding = items.filter((r) => !['cancelled', 'lapsed', 'no_show'].includes(r.status));
    // The timeline spans the day's bookings (or the evening), whole hours, in the venue's local time.
    // A seating after midnight belongs to the evening before (the business day): it is placed after 24:00.
    const minutes = (r) => (r.local.slice(0, 10) > form.date.value ? 1440 : 0) + Number(r.local.slice(11, 13)) * 60 + Number(r.local.slice(14, 16));
    const starts = holding.map(minutes);
    // On the venue's business day, a line at its clock's time across every table: what is free now reads at a glance.
    const nowAt = here && form.date.value === businessDay(here) ? businessMinutes(venueClock(here.timezone), here.day_start_hour) : null;
    // Where a party's chip ends: a party that left, when it left (its table is free from then); a party still seated
    // past its planned end, now (its table is not free yet); the others, at the end of their turn.
    const ends = (r) => {
      const start = Date.parse(r.start);
      let end = Date.parse(r.until);
      if (r.status === 'finished' && r.finished_at) end = Math.min(end, Date.parse(r.finished_at));
      const length = (end - start) / 60000;
      return Math.max(minutes(r) + length, r.status === 'seated' && nowAt !== null ? nowAt : 0);
    };
    const from = Math.floor(Math.min(17 * 60, ...starts, nowAt ?? Infinity) / 60) * 60;
    const until = Math.ceil(Math.max(23 * 60, ...starts.map((m) => m + 150), ...holding.map(ends), nowAt === null ? 0 : nowAt + 30) / 60) * 60;
    const at = (m) => `${((m - from) / (until - from)) * 100}%`;
    const timeline = $('#timeline');
    // A refresh keeps where the host scrolled the evening to (on a phone it scrolls sideways); the first drawing of
    // the business day opens on now.
    const scrolled = timeline.dataset.day === form.date.value ? timeline.scrollLeft : null;
    timeline.dataset.day = form.date.value;
    timeline.replaceChildren();
    const hours = document.createElement('div');
    hours.className = 'hours';
    const hoursTrack = document.createElement('div');
    hoursTrack.className = 'hours-track';
    // On a phone the hours would run into each other ("07:0008:00…"): every other one is labelled there.
    const labelEvery = timeline.clientWidth / ((until - from) / 60) < 48 ? 120 : 60;
    for (let m = from; m <= until; m += 60) {
      const mark = document.createElement('span');
      mark.style.left = at(m);
      // The track's end is not labelled: centred on it, its label spilled past the page's edge.
      mark.textContent = (m - from) % labelEvery === 0 && m < until ? `${String(Math.floor(m / 60) % 24).padStart(2, '0')}:00` : '';
      hoursTrack.appendChild(mark);
    }
    hours.append(document.createElement('span'), hoursTrack);
    timeline.appendChild(hours);
    const nowLine = (track) => {
      if (nowAt === null || nowAt < from || nowAt > until) return;
      const line = document.createElement('div');
      line.className = 'now-line';
      line.style.left = at(nowAt);
      line.setAttribute('aria-hidden', 'true');
      track.appendChild(line);
    };
    nowLine(hoursTrack);
    for (const table of tables) {
      const lane = document.createElement('div');
      lane.className = 'lane';
      const label = document.createElement('span');
      label.className = 'lane-label';
      label.textContent = table.label;
      const track = document.createElement('div');
      track.className = 'lane-track';
      for (const r of holding.filter((r) => r.tables.includes(table.id))) {
        const chip = document.createElement('div');
        chip.className = 'chip';
        chip.dataset.status = r.status;
        const start = minutes(r);
        chip.style.left = at(start);
        chip.style.width = `calc(${at(ends(r))} - ${at(start)})`;
        // The party's size before the name: a short chip cuts the name, not the size.
        chip.textContent = `${hhmm(r.local)} · ${r.party_size} · ${guestLabel(r)}`;
        chip.title = `${bookingStatus(r.status)}`;
        // The status is read too, not only shown on hover.
        const said = document.createElement('span');
        said.className = 'visually-hidden';
        said.textContent = ` · ${bookingStatus(r.status)}`;
        chip.appendChild(said);
        track.appendChild(chip);
      }
      nowLine(track);
      lane.append(label, track);
      timeline.appendChild(lane);
    }
    const line = timeline.querySelector('.lane .now-line');
    if (scrolled !== null) timeline.scrollLeft = scrolled;
    else if (line) {
      const x = line.getBoundingClientRect().left - timeline.getBoundingClientRect().left + timeline.scrollLeft;
      timeline.scrollLeft = Math.max(0, x - timeline.clientWidth / 3);
    }
    // A guest who booked twice (the widget and a call, two tabs) holds two tables: bookings still to come that share
    // a phone are flagged on each other's row, for the host to ask and cancel one.
    const upcoming = ['offered', 'awaiting_deposit', 'booked', 'confirmed', 'late'];
    const samePhone = (r) => (r.guest_phone && upcoming.includes(r.status)
      ? items.filter((other) => other.id !== r.id && other.guest_phone === r.guest_phone && upcoming.includes(other.status))
      : []);
    const list = $('#day-list');
    list.replaceChildren();
    // A waitlist offer that lapsed was never a booking: the party is on the waitlist below (still waiting, or gone),
    // and a party at the bar re-offered every ten minutes would leave a dead row each time. A deposit hold that
    // lapsed stays: the host may call the guest who did not pay.
    const rows = items.filter((r) => !(r.status === 'lapsed' && !r.deposit));
    for (const r of rows) {
      const row = document.createElement('li');
      row.dataset.reservation = r.id;
      const who = document.createElement('span');
      who.className = 'who';
      const names = r.tables.map((id) => (tables.find((t) => t.id === id) || { label: '?' }).label).join(' + ');
      who.textContent = [`${hhmm(r.local)} · ${guestLabel(r)} (${r.party_size})`, names].filter(Boolean).join(' · ');
      if (r.guest_phone) who.append(' · ', phoneLink(r.guest_phone));
      const status = document.createElement('strong');
      status.className = 'status';
      status.textContent = bookingStatus(r.status);
      row.append(who, status);
      const twins = samePhone(r);
      if (twins.length > 0) {
        const twin = document.createElement('span');
        twin.className = 'duplicate';
        twin.textContent = english
          ? `Possible duplicate: the same phone booked ${twins.map((o) => `${hhmm(o.local)} (${o.party_size})`).join(', ')}`
          : `¿Reserva duplicada? El mismo teléfono reservó a las ${twins.map((o) => `${hhmm(o.local)} (${o.party_size})`).join(', ')}`;
        row.append(twin);
      }
      // The guest's note (a birthday, a high chair, an allergy) is what the host acts on.
      if (r.note) {
        const note = document.createElement('span');
        note.className = 'note';
        note.textContent = `${english ? 'Note' : 'Nota'}: ${r.note}`;
        row.append(note);
      }
      if (r.deposit) {
        const deposit = document.createElement('span');
        deposit.className = 'hint';
        deposit.textContent = `${english ? 'deposit' : 'depósito'} ${formatMoney(r.deposit)}: ${depositStatus(r.deposit)}`;
        row.append(deposit);
      }
      // A party just past its time is not late yet: the host reads when "late" and "no-show" come.
      const lateAt = Date.parse(r.start) + 15 * 60000;
      if (['booked', 'confirmed'].includes(r.status) && Date.now() >= Date.parse(r.start) && Date.now() < lateAt) {
        const wait = document.createElement('span');
        wait.className = 'hint';
        const [h, m] = hhmm(r.local).split(':').map(Number);
        const at = `${String(Math.floor((h * 60 + m + 15) / 60) % 24).padStart(2, '0')}:${String((m + 15) % 60).padStart(2, '0')}`;
        wait.textContent = english ? `"Late" and "No-show" from ${at}` : `«Tarde» y «No llegó» desde las ${at}`;
        row.append(wait);
      }
      // An offer is answered on the waitlist below, where the party waits.
      if (r.status === 'offered') {
        const answer = document.createElement('a');
        answer.href = '#waitlist';
        answer.textContent = english ? 'Answer it on the waitlist' : 'Responder en la lista de espera';
        row.append(answer);
      }
      // The server says which moves the host can make now (a party is seated from an hour before its time).
      for (const to of r.moves.filter((move) => move !== 'moved')) {
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.move = to;
        button.textContent = moveNames[english ? 'en' : 'es'][to];
        // Every row has the same buttons: each says whose booking it acts on.
        button.setAttribute('aria-label', `${moveNames[english ? 'en' : 'es'][to]}: ${guestLabel(r)}, ${hhmm(r.local)}`);
        if (to !== 'seated') button.className = 'secondary';
        button.addEventListener('click', async () => {
          // Cancelling and marking a no-show cannot be undone from here (the table goes to the next party): a
          // second tap confirms them.
          if (['cancelled', 'no_show'].includes(to) && button.dataset.confirm !== 'yes') {
            button.dataset.confirm = 'yes';
            button.textContent = `${moveNames[english ? 'en' : 'es'][to]}: ${english ? 'tap again' : 'toca otra vez'}`;
            return;
          }
          // One tap, one move: a double tap does not send the move twice (the second was refused as a conflict).
          if (button.disabled) return;
          button.disabled = true;
          try {
            const moved = await authed('POST', `/api/v1/reservations/${encodeURIComponent(r.id)}/transitions`, { to });
            await render();
            $('#day-said').textContent = `${guestLabel(r)}: ${bookingStatus(moved.status)}`;
          } catch (error) {
            button.disabled = false;
            showError(error.problem);
          }
        });
        row.appendChild(button);
      }
      // A seated party that grows (two more friends) or shrinks: its covers change, its tables and time stay.
      if (r.status === 'seated') {
        const resize = document.createElement('form');
        resize.className = 'inline';
        const party = document.createElement('input');
        Object.assign(party, { type: 'number', name: 'party_size', min: 1, max: 100, required: true, value: r.party_size, inputMode: 'numeric' });
        const apply = document.createElement('button');
        apply.type = 'submit';
        apply.className = 'secondary';
        apply.textContent = english ? 'Change guests' : 'Cambiar personas';
        apply.setAttribute('aria-label', `${english ? 'Change guests' : 'Cambiar personas'}: ${guestLabel(r)}, ${hhmm(r.local)}`);
        resize.append(labelled(english ? `Guests (${guestLabel(r)})` : `Personas (${guestLabel(r)})`, party), apply);
        // More guests than its tables seat is allowed (a chair is added), but said first: a second tap confirms.
        const seats = r.tables.reduce((sum, id) => sum + ((tables.find((t) => t.id === id) || {}).max_party || 0), 0);
        party.addEventListener('input', () => { delete resize.dataset.confirm; });
        resize.addEventListener('submit', async (event) => {
          event.preventDefault();
          clearError();
          if (seats > 0 && Number(party.value) > seats && resize.dataset.confirm !== 'yes') {
            resize.dataset.confirm = 'yes';
            showError({ detail: english
              ? `Its tables seat ${seats}: tap "Change guests" again to seat ${party.value} there anyway, or move the party.`
              : `Sus mesas son para ${seats}: toca «Cambiar personas» otra vez para sentar a ${party.value} ahí de todos modos, o mueve el grupo.` });
            return;
          }
          try {
            await authed('POST', `/api/v1/reservations/${encodeURIComponent(r.id)}/transitions`, { to: 'moved', start: r.start, party_size: Number(party.value) });
            await render();
          } catch (error) {
            showError(error.problem);
          }
        });
        // Folded: on a phone an open form on every seated row pushed the waitlist screens down.
        const fold = document.createElement('details');
        fold.className = 'resize';
        const summary = document.createElement('summary');
        summary.textContent = english ? 'Change guests' : 'Cambiar personas';
        fold.append(summary, resize);
        row.appendChild(fold);
      }
      // A move to another time or party size: the times offered are those free for the party's new size (the
      // booking's own tables are still its own while it moves, so its current time may not be listed).
      if (r.moves.includes('moved')) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'secondary';
        button.dataset.move = 'moved';
        button.textContent = english ? 'Move' : 'Mover';
        button.setAttribute('aria-label', `${english ? 'Move' : 'Mover'}: ${guestLabel(r)}, ${hhmm(r.local)}`);
        button.setAttribute('aria-expanded', 'false');
        button.addEventListener('click', () => {
          const open = row.querySelector('form.move-form');
          button.setAttribute('aria-expanded', String(!open));
          if (open) return open.remove();
          const moveForm = document.createElement('form');
          moveForm.className = 'move-form inline';
          const party = document.createElement('input');
          Object.assign(party, { type: 'number', name: 'party_size', min: 1, max: 100, required: true, value: r.party_size, inputMode: 'numeric' });
          const start = document.createElement('select');
          start.name = 'start';
          start.required = true;
          const submit = document.createElement('button');
          submit.type = 'submit';
          submit.textContent = english ? 'Move here' : 'Mover aquí';
          const load = async () => {
            clearError();
            try {
              // The booking's own time stays chosen while it is still free for the party's size: a move never
              // jumps to the day's first time unasked.
              const chosen = start.value;
              const count = await fillTimes(start, Number(party.value) || 0, chosen || r.start, r.id);
              submit.disabled = count === 0;
              const kept = start.value === (chosen || r.start);
              if (count > 0 && !kept) {
                // Its time is not free for this size: nothing is chosen for the host (the first time of the day,
                // a lunch for a dinner booking, would be one tap away); the form asks for a choice.
                start.prepend(new Option(english ? 'Choose a time' : 'Elige una hora', '', true, true));
              }
              moveNote.textContent = count === 0
                ? (english ? `No table is free for ${party.value} this day.` : `No hay mesa libre para ${party.value} este día.`)
                : !kept
                  ? (english
                    ? `No table for ${party.value} at ${chosen ? 'that time' : hhmm(r.local)}: choose another time.`
                    : `No hay mesa para ${party.value} ${chosen ? 'a esa hora' : `a las ${hhmm(r.local)}`}: elige otra hora.`)
                  : '';
            } catch (error) {
              start.replaceChildren();
              submit.disabled = true;
              showError(error.problem);
            }
          };
          const moveNote = document.createElement('p');
          moveNote.className = 'hint';
          moveNote.setAttribute('role', 'status');
          party.addEventListener('change', load);
          moveForm.append(labelled(english ? 'Guests' : 'Personas', party), labelled(english ? 'Time' : 'Hora', start), submit, moveNote);
          moveForm.addEventListener('submit', async (event) => {
            event.preventDefault();
            clearError();
            submit.disabled = true;
            try {
              await authed('POST', `/api/v1/reservations/${encodeURIComponent(r.id)}/transitions`, { to: 'moved', start: start.value, party_size: Number(party.value) });
              await render();
            } catch (error) {
              submit.disabled = false;
              showError(error.problem);
            }
          });
          row.appendChild(moveForm);
          load();
        });
        row.appendChild(button);
      }
      list.appendChild(row);
    }
    if (keep) {
      const row = list.querySelector(`li[data-reservation="${CSS.escape(keep.id)}"]`);
      // The same control if the row still has it; otherwise the row itself, never another button: the next Enter
      // would finish or cancel the party the host just seated or confirmed.
      const target = row && row.querySelector(`button[data-move="${CSS.escape(keep.move || '')}"]`);
      if (target) target.focus();
      else if (row) { row.tabIndex = -1; row.focus(); }
    }
    $('#empty-day').hidden = rows.length > 0;
    const waiting = { items: await allPages(`/api/v1/venues/${encodeURIComponent(venue)}/waitlist?date=${form.date.value}`).catch(() => []) };
    const waitNames = english
      ? { waiting: 'waiting', offered: 'offered a table', booked: 'booked', expired: 'offer expired', left: 'left' }
      : { waiting: 'esperando', offered: 'mesa ofrecida', booked: 'reservó', expired: 'oferta vencida', left: 'se retiró' };
    $('#waitlist').replaceChildren(...waiting.items.map((w) => {
      const row = document.createElement('li');
      row.dataset.entry = w.id;
      // Booked from the list but its deposit not paid yet: not a booking until it is (its hold may still lapse).
      const unpaid = w.status === 'booked' && items.some((r) => r.id === w.reservation_id && r.status === 'awaiting_deposit');
      // A party still waiting once its window is over is offered nothing more: said so, for the host to remove it.
      const over = w.status === 'waiting' && Date.parse(w.latest) < Date.now();
      const said = unpaid ? (english ? 'booked, deposit not paid yet' : 'reservó, falta pagar el depósito')
        : over ? (english ? 'window over' : 'su franja ya pasó') : (waitNames[w.status] || w.status);
      // An offered table says which, when, and until when it is held: the host calls the guest and answers for them.
      const offered = w.status === 'offered' && items.find((r) => r.id === w.reservation_id);
      const where = offered
        ? `${hhmm(offered.local)} · ${offered.tables.map((id) => (tables.find((t) => t.id === id) || { label: '?' }).label).join(' + ')}${w.offer_expires_at ? ` · ${english ? 'held until' : 'guardada hasta las'} ${hhmm(w.offer_expires_at)}` : ''}`
        : '';
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = `${hhmm(w.earliest)}–${hhmm(w.latest)} · ${guestLabel(w)} (${w.party_size})`;
      if (w.guest_phone) who.append(' · ', phoneLink(w.guest_phone));
      who.append(` · ${[said, where].filter(Boolean).join(' · ')}`);
      row.append(who);
      // The same party put on the list twice would hold two offered tables: flagged, as a booking made twice is.
      const live = (entry) => ['waiting', 'offered'].includes(entry.status);
      const twins = live(w) && w.guest_phone
        ? waiting.items.filter((other) => other.id !== w.id && live(other) && other.guest_phone === w.guest_phone)
        : [];
      if (twins.length > 0) {
        const twin = document.createElement('span');
        twin.className = 'duplicate';
        twin.textContent = english
          ? `Possible duplicate: the same phone waits for ${twins.map((o) => `${hhmm(o.earliest)}–${hhmm(o.latest)} (${o.party_size})`).join(', ')}`
          : `¿Duplicada? El mismo teléfono espera para ${twins.map((o) => `${hhmm(o.earliest)}–${hhmm(o.latest)} (${o.party_size})`).join(', ')}`;
        row.append(twin);
      }
      const answer = (label, path, primary) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = label;
        if (!primary) button.className = 'secondary';
        button.setAttribute('aria-label', `${label}: ${guestLabel(w)}`);
        button.addEventListener('click', async () => {
          clearError();
          if (button.disabled) return;
          // One answer per offer: a double tap sent it twice, and the second was refused.
          for (const other of row.querySelectorAll('button')) other.disabled = true;
          try {
            await authed('POST', path);
            await render();
          } catch (error) {
            for (const other of row.querySelectorAll('button')) other.disabled = false;
            showError(error.problem);
          }
        });
        row.append(button);
      };
      if (offered) answer(english ? 'Takes it' : 'La acepta', `/api/v1/reservations/${encodeURIComponent(offered.id)}/accept`, true);
      // A party that wants another table keeps its place; this table goes to the next party and is not offered to it again.
      if (w.status === 'offered') answer(english ? 'Wants another table (keeps waiting)' : 'Quiere otra mesa (sigue esperando)', `/api/v1/waitlist/${encodeURIComponent(w.id)}/decline`, false);
      if (w.status === 'offered') answer(english ? 'Declines (leaves the list)' : 'No la quiere (sale de la lista)', `/api/v1/waitlist/${encodeURIComponent(w.id)}/leave`, false);
      if (w.status === 'waiting') answer(english ? 'Remove' : 'Quitar de la lista', `/api/v1/waitlist/${encodeURIComponent(w.id)}/leave`, false);
      return row;
    }));
  };
  // A party waiting for a table (at the bar, or on the phone for later): on the list from now to the hour after by
  // default, on the page's day; offers come as tables free up, in the order parties joined.
  const waitForm = $('#wait-form');
  const services = authed('GET', `/api/v1/venues/${encodeURIComponent(venue)}/booking-policy`)
    .then((setup) => (setup.policy ? setup.policy.services : []))
    .catch(() => []);
  const waitWindow = async () => {
    const dayStart = here && here.day_start_hour;
    const today = here ? businessDay(here) : isoDate(new Date());
    const fromNow = proposedWindow(here && here.timezone, dayStart, false, 60);
    // Today's window is filled at once (the form opens ready); another day's waits for the venue's services.
    const proposed = form.date.value === today
      ? fromNow
      : serviceWindow(fromNow, await services, form.date.value, today, dayStart, 60);
    if (!waitForm.earliest.value) waitForm.earliest.value = proposed.earliest;
    if (!waitForm.latest.value) waitForm.latest.value = proposed.latest;
  };
  $('#new-wait').addEventListener('toggle', () => { if ($('#new-wait').open) waitWindow(); });
  waitForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError();
    const values = formValues(waitForm);
    const button = waitForm.querySelector('button');
    button.disabled = true;
    try {
      await authed('POST', `/api/v1/venues/${encodeURIComponent(venue)}/waitlist`, {
        date: form.date.value, party_size: Number(values.party_size), earliest: values.earliest, latest: values.latest,
        guest: { name: values.name, phone: phoneForApi(values.phone, here && here.timezone === 'America/Bogota' ? '57' : '') },
        consent: values.consent === 'on',
      });
      waitForm.reset();
      waitWindow();
      await render();
    } catch (error) {
      showError(error.problem);
    } finally {
      button.disabled = false;
    }
  });
  // A booking by phone at the chosen time, or a walk-in: booked from now (the server gives it a table free for its
  // turn, or says none is) and seated at once. The guest's consent is the host's to ask (Law 1581).
  const bookingForm = $('#booking-form');
  // The refusal of the last reading of times (a party larger than the venue takes), said again on "Reservar"
  // instead of "no time is free"; and whether the host picked a time (the form's own first pick is not theirs).
  let timesRefused = null;
  let hostChose = false;
  bookingForm.start.addEventListener('change', () => { hostChose = true; });
  const refreshTimes = async () => {
    if (!$('#new-booking').open) return;
    clearError();
    try {
      const chosen = bookingForm.start.value;
      const count = await fillTimes(bookingForm.start, Number(bookingForm.party_size.value) || 0, chosen);
      timesRefused = null;
      const noTimes = $('#no-times');
      noTimes.textContent = noTimes.dataset.none || (noTimes.dataset.none = noTimes.textContent);
      noTimes.hidden = count > 0;
      if (count > 0 && chosen && hostChose && bookingForm.start.value !== chosen) {
        // The time the host chose is gone (taken, past, or not free for the new party size): nothing is chosen for
        // them (the day's first time, a lunch, would be booked unnoticed); the form asks again and says why.
        bookingForm.start.prepend(new Option(english ? 'Choose a time' : 'Elige una hora', '', true, true));
        noTimes.textContent = english
          ? 'The time you chose is no longer free for this party: choose another.'
          : 'La hora elegida ya no está libre para ese grupo: elige otra.';
        noTimes.hidden = false;
      }
    } catch (error) {
      bookingForm.start.replaceChildren();
      timesRefused = error.problem;
      showError(error.problem);
    }
  };
  $('#new-booking').addEventListener('toggle', refreshTimes);
  // Opened while the page was still reading the venue (a quick host, a slow network): its times are read now.
  refreshTimes();
  bookingForm.party_size.addEventListener('change', refreshTimes);
  bookingForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError();
    const walkIn = Boolean(event.submitter && event.submitter.name === 'walk_in');
    const values = formValues(bookingForm);
    // A walk-in needs no time from the list (it starts now), so the list is not a required field of the form.
    if (!walkIn && !values.start) {
      return showError(timesRefused || { detail: $('#no-times').textContent });
    }
    // A walk-in seated now need not leave a phone (nobody calls them back); a booking does (the server says so).
    const guest = { name: values.name };
    if (values.phone.trim()) guest.phone = phoneForApi(values.phone, here && here.timezone === 'America/Bogota' ? '57' : '');
    if (values.email) guest.email = values.email;
    const buttons = [...bookingForm.querySelectorAll('button')];
    for (const button of buttons) button.disabled = true;
    try {
      const booked = await authed('POST', `/api/v1/venues/${encodeURIComponent(venue)}/reservations`, {
        ...(walkIn ? { walk_in: true } : { start: values.start }),
        party_size: Number(values.party_size), guest, consent: values.consent === 'on', note: values.note || '',
      });
      // Booked: the form is cleared before seating, so a refused seating is never booked twice by a second tap
      // (the booking is on the list, with its own Seat button).
      bookingForm.reset();
      // The next booking starts from the day's free times, not from the time just booked.
      bookingForm.start.replaceChildren();
      hostChose = false;
      if (walkIn) await authed('POST', `/api/v1/reservations/${encodeURIComponent(booked.reservation_id)}/transitions`, { to: 'seated' });
      await render();
      await refreshTimes();
    } catch (error) {
      // The list first (a booked walk-in whose seating was refused is on it), then the reason, which a redraw
      // would clear.
      await render().catch(() => {});
      showError(error.problem);
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  });
  form.addEventListener('submit', async (event) => { event.preventDefault(); await render(); await refreshTimes(); });
  await render();
  // The moves offered follow the clock (a party is seated from an hour before its time), and other hosts change the
  // day too: the list is read again every minute and whenever the tab comes back into view — not while a move is
  // being written, which the new list would throw away.
  // A seated party's "change guests" form is always there: only a move form open, or a field of the list being
  // typed in, holds the refresh back (any form at all once stopped it for the whole night).
  const busy = () => Boolean($('#day-list form.move-form')) || Boolean($('#day-list details[open]'))
    || Boolean(document.activeElement && document.activeElement.closest && document.activeElement.closest('#day-list form'));
  // A tablet left open on today's list follows the venue's day: past the day start (05:00) it shows the new day, not
  // last night's. A day the host chose stays.
  let followsToday = Boolean(here) && form.date.value === businessDay(here);
  form.addEventListener('submit', () => { followsToday = Boolean(here) && form.date.value === businessDay(here); });
  const refresh = () => {
    if (document.hidden || busy()) return;
    if (followsToday && form.date.value !== businessDay(here)) form.date.value = businessDay(here);
    render().catch(() => {});
  };
  setInterval(refresh, 60_000);
  document.addEventListener('visibilitychange', refresh);
};

// The venue's reservation settings: the booking policy (three service rows, three turn rows) and each table's
// smallest party and online flag. The API checks every rule and names the field it refuses.
pages.bookingSettings = async () => {
  if (!store.get('access')) return location.assign('/signin');
  const venue = await chosenVenue();
  if (!venue) return;
  // The public booking page's address, for the owner to share (its venue id is not something to guess).
  const link = $('#public-booking');
  link.href = `/book/${encodeURIComponent(venue)}`;
  link.textContent = `${location.origin}/book/${venue}`;
  $('#booking-link').hidden = false;
  const form = $('#policy-form');
  const field = (name) => form.elements[name];
  // The refund cut-off is a deposit's: asked for (24 hours to start with) only while a deposit is set.
  const cutoffFollowsDeposit = () => {
    const cutoff = field('cancellation_cutoff_hours');
    const none = field('deposit').value.trim() === '';
    cutoff.disabled = none;
    cutoff.required = !none;
    if (!none && cutoff.value === '') cutoff.value = '24';
  };
  field('deposit').addEventListener('input', cutoffFollowsDeposit);
  // The page shows three services and three turn rules; a policy with more (the API takes 14 services) gets a row
  // for each, so saving never drops one. A row is the first one copied, its fields renumbered and emptied.
  const rows = (selector, wanted) => {
    const all = () => form.querySelectorAll(selector);
    while (all().length < wanted) {
      const first = all()[0];
      const copy = first.cloneNode(true);
      const index = all().length;
      for (const input of copy.querySelectorAll('input')) {
        input.name = input.name.replace(/^([st])0/, `$1${index}`);
        if (input.type === 'checkbox') input.checked = false;
        else input.value = '';
      }
      if (copy.dataset.service !== undefined) copy.dataset.service = String(index);
      all()[all().length - 1].after(copy);
    }
  };
  $('#add-service').addEventListener('click', () => rows('.service', Math.min(14, form.querySelectorAll('.service').length + 1)));
  $('#add-turn').addEventListener('click', () => rows('.turn', form.querySelectorAll('.turn').length + 1));
  let currency = 'COP';
  try {
    currency = (((await memberVenues()) || []).find((v) => v.id === venue) || {}).currency || currency;
    const setup = await authed('GET', `/api/v1/venues/${encodeURIComponent(venue)}/booking-policy`);
    const policy = setup.policy || {
      services: [{ weekdays: [1, 2, 3, 4, 5, 6, 7], first_seating: '18:00', last_seating: '22:00' }],
      slot_minutes: 15,
      turn_minutes: [{ max_party: 2, minutes: 90 }, { max_party: 8, minutes: 120 }],
      buffer_minutes: 15,
      pacing: { covers_per_15_min: 12, online_covers_per_15_min: 8 },
      min_notice_minutes: 60,
      horizon_days: 30,
      max_party_size: 8,
      deposit_per_cover: null,
      cancellation_cutoff_hours: 0,
    };
    rows('.service', policy.services.length);
    rows('.turn', policy.turn_minutes.length);
    policy.services.forEach((service, i) => {
      for (const day of service.weekdays) field(`s${i}d${day}`).checked = true;
      field(`s${i}first`).value = service.first_seating;
      field(`s${i}last`).value = service.last_seating;
    });
    policy.turn_minutes.forEach((turn, i) => {
      field(`t${i}party`).value = turn.max_party;
      field(`t${i}minutes`).value = turn.minutes;
    });
    field('slot_minutes').value = String(policy.slot_minutes);
    field('buffer_minutes').value = policy.buffer_minutes;
    field('covers').value = policy.pacing.covers_per_15_min;
    field('online_covers').value = policy.pacing.online_covers_per_15_min;
    field('min_notice_minutes').value = policy.min_notice_minutes;
    field('horizon_days').value = policy.horizon_days;
    field('max_party_size').value = policy.max_party_size;
    field('deposit').value = policy.deposit_per_cover ? (policy.deposit_per_cover.amount / 100).toLocaleString('es-CO') : '';
    field('cancellation_cutoff_hours').value = policy.cancellation_cutoff_hours;
    field('contact_phone').value = policy.contact_phone || '';
    field('contact_email').value = policy.contact_email || '';
    cutoffFollowsDeposit();
  } catch (error) {
    return showError(error.problem);
  }
  onSubmit('#policy-form', async (v) => {
    $('#policy-saved').hidden = true;
    const deposit = v.deposit.trim() === '' ? 0 : pesosToMinor(v.deposit);
    if (Number.isNaN(deposit)) throw unreadableAmount('20.000');
    const services = [...form.querySelectorAll('.service')]
      .map((_, i) => ({
        weekdays: [1, 2, 3, 4, 5, 6, 7].filter((d) => field(`s${i}d${d}`).checked),
        first_seating: v[`s${i}first`],
        last_seating: v[`s${i}last`],
      }))
      .filter((service) => service.weekdays.length > 0);
    const turns = [...form.querySelectorAll('.turn')]
      .map((_, i) => i)
      .filter((i) => v[`t${i}party`] && v[`t${i}minutes`])
      .map((i) => ({ max_party: Number(v[`t${i}party`]), minutes: Number(v[`t${i}minutes`]) }));
    await authed('PUT', `/api/v1/venues/${encodeURIComponent(venue)}/booking-policy`, {
      services,
      slot_minutes: Number(v.slot_minutes),
      turn_minutes: turns,
      buffer_minutes: Number(v.buffer_minutes),
      pacing: { covers_per_15_min: Number(v.covers), online_covers_per_15_min: Number(v.online_covers) },
      min_notice_minutes: Number(v.min_notice_minutes),
      horizon_days: Number(v.horizon_days),
      max_party_size: Number(v.max_party_size),
      deposit_per_cover: deposit > 0 ? { amount: deposit, currency } : null,
      // Without a deposit there is nothing to refund: the cut-off is 0, whatever the disabled field holds.
      cancellation_cutoff_hours: deposit > 0 ? Number(v.cancellation_cutoff_hours) : 0,
      contact_phone: v.contact_phone.trim() || null,
      contact_email: v.contact_email.trim() || null,
    });
    $('#policy-saved').hidden = false;
  });
  const list = $('#table-settings');
  const tables = await allPages(`/api/v1/venues/${encodeURIComponent(venue)}/tables`).catch(() => []);
  const labelOf = (id) => (tables.find((t) => t.id === id) || { label: '?' }).label;
  const showCombinations = async () => {
    const setup = await authed('GET', `/api/v1/venues/${encodeURIComponent(venue)}/booking-policy`).catch(() => ({ combinations: [] }));
    $('#combinations').replaceChildren(...setup.combinations.map((combination) => {
      const row = document.createElement('li');
      const name = combination.tables.map(labelOf).join(' + ');
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'secondary';
      remove.textContent = english ? 'Remove' : 'Quitar';
      remove.setAttribute('aria-label', `${english ? 'Remove' : 'Quitar'} ${name}`);
      remove.addEventListener('click', async () => {
        remove.disabled = true;
        await authed('DELETE', `/api/v1/venues/${encodeURIComponent(venue)}/table-combinations/${encodeURIComponent(combination.id)}`).catch(() => null);
        await showCombinations();
      });
      row.append(`${name} `, remove);
      return row;
    }));
  };
  $('#combination-tables').replaceChildren(...tables.map((table) => {
    const label = document.createElement('label');
    label.className = 'inline';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = table.id;
    label.append(box, ` ${table.label}`);
    return label;
  }));
  onSubmit('#combination-form', async () => {
    const chosen = [...document.querySelectorAll('#combination-tables input:checked')].map((box) => box.value);
    await authed('POST', `/api/v1/venues/${encodeURIComponent(venue)}/table-combinations`, { tables: chosen });
    for (const box of document.querySelectorAll('#combination-tables input')) box.checked = false;
    await showCombinations();
  });
  await showCombinations();
  for (const table of tables) {
    const row = document.createElement('li');
    row.dataset.table = table.id;
    const name = document.createElement('span');
    name.className = 'who';
    name.textContent = table.label;
    const smallest = document.createElement('input');
    smallest.type = 'number';
    smallest.min = '1';
    smallest.max = String(table.max_party);
    smallest.value = String(table.min_party);
    smallest.setAttribute('aria-label', english ? `Smallest party at ${table.label}` : `Grupo más pequeño en ${table.label}`);
    const largest = document.createElement('input');
    largest.type = 'number';
    largest.min = '1';
    largest.max = '100';
    largest.value = String(table.max_party);
    largest.setAttribute('aria-label', english ? `Largest party at ${table.label} (its seats)` : `Grupo más grande en ${table.label} (sus puestos)`);
    largest.addEventListener('input', () => { smallest.max = largest.value; });
    const online = document.createElement('input');
    online.type = 'checkbox';
    online.checked = table.online;
    const onlineLabel = document.createElement('label');
    onlineLabel.className = 'inline';
    onlineLabel.append(online, english ? ' online' : ' en línea');
    const save = document.createElement('button');
    save.type = 'button';
    save.className = 'secondary';
    save.textContent = english ? 'Save' : 'Guardar';
    save.addEventListener('click', async () => {
      clearError();
      try {
        await authed('PUT', `/api/v1/tables/${encodeURIComponent(table.id)}/booking`, { min_party: Number(smallest.value), max_party: Number(largest.value), online: online.checked });
        save.textContent = english ? 'Saved' : 'Guardado';
      } catch (error) {
        showError(error.problem);
      }
    });
    row.append(name, ' ', english ? 'from' : 'desde', ' ', smallest, ' ', english ? 'to' : 'hasta', ' ', largest, ' ', english ? 'guests' : 'personas', ' ', onlineLabel, ' ', save);
    list.appendChild(row);
  }
};

// A venue's tables and their QR codes: what an owner sets up before the first guest scans.
pages.tables = async () => {
  if (!store.get('access')) return location.assign('/signin');
  const venue = await chosenVenue();
  if (!venue) return;
  await roleLimits('manage_venues', english
    ? 'You can read the tables and their QR codes; adding, renaming or retiring them is for owners and managers.'
    : 'Puedes ver las mesas y sus códigos QR; agregarlas, renombrarlas o retirarlas es de propietarios y gerentes.');
  const path = `/api/v1/venues/${encodeURIComponent(venue)}/tables`;
  const render = async () => {
    const tables = await allPages(path);
    const body = $('#tables-table tbody');
    body.replaceChildren();
    for (const table of tables) {
      const row = document.createElement('tr');
      const link = document.createElement('a');
      link.href = table.guest_url;
      link.textContent = english ? 'open' : 'abrir';
      link.setAttribute('aria-label', `${english ? 'Open the menu of' : 'Abrir el menú de'} ${table.label}`);
      const rename = document.createElement('button');
      rename.type = 'button';
      rename.className = 'secondary';
      rename.textContent = english ? 'Rename' : 'Renombrar';
      rename.setAttribute('aria-label', `${rename.textContent} ${table.label}`);
      rename.addEventListener('click', async () => {
        clearError();
        const label = prompt(english ? `New name for ${table.label}` : `Nuevo nombre para ${table.label}`, table.label);
        if (label === null || label.trim() === table.label) return;
        try {
          await authed('PATCH', `/api/v1/tables/${encodeURIComponent(table.id)}`, { label: label.trim() });
          await render();
        } catch (error) { showError(error.problem); }
      });
      // Retiring keeps the table's history; the QR code printed for it stops opening at once.
      const retire = document.createElement('button');
      retire.type = 'button';
      retire.className = 'secondary';
      retire.textContent = english ? 'Retire' : 'Retirar';
      retire.setAttribute('aria-label', `${retire.textContent} ${table.label}`);
      retire.addEventListener('click', async () => {
        clearError();
        const sure = confirm(english
          ? `Retire ${table.label}? Its QR code stops working; its past orders and sales stay.`
          : `¿Retirar ${table.label}? Su código QR deja de funcionar; sus pedidos y ventas pasados se conservan.`);
        if (!sure) return;
        try {
          await authed('DELETE', `/api/v1/tables/${encodeURIComponent(table.id)}`);
          await render();
        } catch (error) { showError(error.problem); }
      });
      const changes = document.createDocumentFragment();
      changes.append(rename, ' ', retire);
      const cells = [table.label, String(table.seats), link, changes].map((value) => {
        const cell = document.createElement('td');
        cell.append(value);
        return cell;
      });
      row.append(...cells);
      body.appendChild(row);
    }
    $('#no-tables').hidden = tables.length > 0;
    $('#qr-pdf').disabled = tables.length === 0;
    lockReadOnly('#tables-table td button', '#tables-table th:nth-child(4), #tables-table td:nth-child(4)');
  };
  try { await render(); } catch (error) { return showError(error.problem); }
  $('#qr-pdf').addEventListener('click', () => download(`${path}/qr.pdf`, 'mesas-qr.pdf'));
  onSubmit('#table-form', async (v, form) => {
    await authed('POST', path, { label: v.label.trim(), seats: Number(v.seats) });
    form.reset();
    await render();
    form.label.focus();
  });
};

// A labelled text field of a folded edit form.
function textField(label, name, value, attributes = {}) {
  const wrap = document.createElement('label');
  const input = document.createElement('input');
  Object.assign(input, { name, value, maxLength: 200, autocomplete: 'off' }, attributes);
  wrap.append(label, input);
  return wrap;
}

// An edit form folded under what it edits (`what`, "Editar", followed by the subject's name for screen readers): `save` gets the form's values and
// the page is drawn again; `remove` ({label, question, run}), when given, asks first.
function foldedEditor(subject, fields, save, remove, render, what = english ? 'Edit' : 'Editar') {
  const details = document.createElement('details');
  details.className = 'item-edit';
  const summary = document.createElement('summary');
  const hidden = document.createElement('span');
  hidden.className = 'visually-hidden';
  hidden.textContent = ` ${subject}`;
  summary.append(what, hidden);
  const form = document.createElement('form');
  const saveButton = document.createElement('button');
  saveButton.type = 'submit';
  saveButton.textContent = english ? 'Save' : 'Guardar';
  const buttons = document.createElement('p');
  buttons.append(saveButton);
  form.append(...fields, buttons);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearError();
    saveButton.disabled = true;
    try {
      await save(formValues(form));
      await render();
    } catch (error) {
      showError(error.problem);
    } finally {
      saveButton.disabled = false;
    }
  });
  if (remove) {
    const removeButton = document.createElement('button');
    removeButton.type = 'button';
    removeButton.className = 'secondary';
    removeButton.textContent = remove.label;
    buttons.append(' ', removeButton);
    removeButton.addEventListener('click', async () => {
      clearError();
      if (!confirm(remove.question)) return;
      removeButton.disabled = true;
      try {
        await remove.run();
        await render();
      } catch (error) {
        showError(error.problem);
        removeButton.disabled = false;
      }
    });
  }
  details.append(summary, form);
  return details;
}

// The option groups of a dish ("Término de la carne": choose one; "Adiciones": up to three, each with its added
// price), edited in place: a group's names, how many options a guest chooses (at least, at most), its options' names
// and added price in pesos. `read()` answers the API's `modifiers`; an added price it cannot read throws.
function modifiersEditor(groups) {
  const box = document.createElement('fieldset');
  const legend = document.createElement('legend');
  legend.textContent = english ? 'Options the guest chooses' : 'Opciones que elige el cliente';
  const list = document.createElement('div');
  const button = (text, onClick) => {
    const b = document.createElement('button');
    Object.assign(b, { type: 'button', className: 'secondary', textContent: text });
    b.addEventListener('click', onClick);
    return b;
  };
  // Fields without a name: the form's own values (formValues) are the dish's; these are read by `read()`.
  const input = (label, className, value, attributes = {}) => textField(label, '', value, { className, ...attributes });
  const optionRow = (option) => {
    const row = document.createElement('div');
    row.className = 'modifier-option';
    row.append(
      input(english ? 'Option (Spanish)' : 'Opción (español)', 'option-es', option.name.es, { required: true, maxLength: 200 }),
      input(english ? 'Option (English)' : 'Opción (inglés)', 'option-en', option.name.en || '', { maxLength: 200 }),
      input(english ? 'Added price in pesos' : 'Precio adicional en pesos', 'option-price', moneyInputValue({ amount: option.price_delta || 0, currency: 'COP' }), { inputMode: 'decimal' }),
      button(english ? 'Remove this option' : 'Quitar esta opción', () => row.remove()),
    );
    return row;
  };
  const groupBox = (group) => {
    const fieldset = document.createElement('fieldset');
    fieldset.className = 'modifier-group';
    const title = document.createElement('legend');
    title.textContent = english ? 'Group' : 'Grupo';
    const options = document.createElement('div');
    options.className = 'modifier-options';
    options.append(...group.options.map(optionRow));
    fieldset.append(
      title,
      input(english ? 'Group name (Spanish), e.g. Side' : 'Nombre del grupo (español), p. ej. Acompañamiento', 'group-es', group.name.es, { required: true, maxLength: 200 }),
      input(english ? 'Group name (English)' : 'Nombre del grupo (inglés)', 'group-en', group.name.en || '', { maxLength: 200 }),
      input(english ? 'The guest chooses at least' : 'El cliente elige al menos', 'group-min', String(group.min), { type: 'number', min: 0, max: 30, required: true }),
      input(english ? 'and at most' : 'y como máximo', 'group-max', String(group.max), { type: 'number', min: 1, max: 30, required: true }),
      options,
      button(english ? 'Add an option' : 'Añadir una opción', () => options.append(optionRow({ name: { es: '' }, price_delta: 0 }))),
      ' ',
      button(english ? 'Remove this group' : 'Quitar este grupo', () => fieldset.remove()),
    );
    return fieldset;
  };
  list.append(...groups.map(groupBox));
  box.append(legend, list, button(english ? 'Add a group of options' : 'Añadir un grupo de opciones', () => {
    list.append(groupBox({ name: { es: '' }, min: 0, max: 1, options: [{ name: { es: '' }, price_delta: 0 }] }));
  }));
  const value = (scope, className) => scope.querySelector(`:scope > label > .${className}`).value;
  const read = () => [...list.querySelectorAll('.modifier-group')].map((group) => ({
    name: { es: value(group, 'group-es'), en: value(group, 'group-en') },
    min: Number(value(group, 'group-min')),
    max: Number(value(group, 'group-max')),
    options: [...group.querySelectorAll('.modifier-option')].map((option) => {
      const written = value(option, 'option-price').trim();
      const delta = written === '' ? 0 : pesosToMinor(written);
      if (Number.isNaN(delta)) throw unreadableAmount('2.000');
      return { name: { es: value(option, 'option-es'), en: value(option, 'option-en') }, price_delta: delta };
    }),
  }));
  return { node: box, read };
}

// A dish's own form: its names, description, price (pesos, tax included), tax and options, saved with one PATCH (a guest's
// cart holding the old price or options is told to choose it again: the item's version changes), and its removal
// from the menu (orders already placed keep their own copy of what was ordered).
function itemEditor(item, render) {
  const dish = localized(item.name);
  const taxLabel = document.createElement('label');
  taxLabel.className = 'inline';
  const tax = document.createElement('input');
  Object.assign(tax, { type: 'checkbox', name: 'tax_included', checked: item.tax_included });
  taxLabel.append(tax, english ? " Carries the venue's tax" : ' Lleva el impuesto del restaurante');
  const fields = [
    textField(english ? 'Name (Spanish)' : 'Nombre (español)', 'name_es', item.name.es, { required: true }),
    textField(english ? 'Name (English)' : 'Nombre (inglés)', 'name_en', item.name.en || ''),
    textField(english ? 'Description (Spanish)' : 'Descripción (español)', 'description_es', item.description.es || ''),
    textField(english ? 'Description (English)' : 'Descripción (inglés)', 'description_en', item.description.en || ''),
    textField(english ? 'Price in pesos, tax included' : 'Precio en pesos, impuesto incluido', 'price', moneyInputValue(item.price), { required: true, inputMode: 'decimal' }),
    taxLabel,
  ];
  const modifiers = modifiersEditor(item.modifiers);
  fields.push(modifiers.node);
  const save = async (v) => {
    const price = pesosToMinor(v.price);
    if (Number.isNaN(price)) throw unreadableAmount('7.500');
    await authed('PATCH', `/api/v1/menu/items/${encodeURIComponent(item.id)}`, {
      name: { es: v.name_es, en: v.name_en },
      description: { es: v.description_es, en: v.description_en },
      price: { amount: price, currency: item.price.currency },
      tax_included: tax.checked,
      modifiers: modifiers.read(),
    });
  };
  const remove = {
    label: english ? 'Remove from the menu' : 'Quitar del menú',
    question: english ? `Remove ${dish} from the menu? Orders already placed keep it.` : `¿Quitar ${dish} del menú? Los pedidos ya hechos lo conservan.`,
    run: () => authed('DELETE', `/api/v1/menu/items/${encodeURIComponent(item.id)}`),
  };
  return foldedEditor(dish, fields, save, remove, render);
}

// A category's names; an empty one can be removed (one with dishes is refused by the API: its dishes go first).
function categoryEditor(category, render) {
  const named = localized(category.name);
  const fields = [
    textField(english ? 'Name (Spanish)' : 'Nombre (español)', 'name_es', category.name.es, { required: true }),
    textField(english ? 'Name (English)' : 'Nombre (inglés)', 'name_en', category.name.en || ''),
  ];
  const save = (v) => authed('PATCH', `/api/v1/menu/categories/${encodeURIComponent(category.id)}`, { name: { es: v.name_es, en: v.name_en } });
  const remove = category.items.length === 0 && {
    label: english ? 'Remove the category' : 'Quitar la categoría',
    question: english ? `Remove the category ${named}?` : `¿Quitar la categoría ${named}?`,
    run: () => authed('DELETE', `/api/v1/menu/categories/${encodeURIComponent(category.id)}`),
  };
  const editor = foldedEditor(named, fields, save, remove, render, english ? 'Edit the category' : 'Editar la categoría');
  editor.classList.add('category-edit');
  return editor;
}

pages.menu = async () => {
  if (!store.get('access')) return location.assign('/signin');
  const venue = await chosenVenue();
  if (!venue) return;
  await roleLimits('manage_venues', english
    ? 'You can read the menu; changing it (dishes, prices, what is available) is for owners and managers.'
    : 'Puedes leer el menú; cambiarlo (platos, precios, qué hay disponible) es de propietarios y gerentes.');
  const editor = $('#menu-editor');
  const render = async () => {
    const menu = await authed('GET', `/api/v1/venues/${venue}/menu`);
    editor.replaceChildren();
    const select = $('#item-form select[name=category_id]');
    select.replaceChildren();
    for (const category of menu.categories) {
      select.add(new Option(localized(category.name), category.id));
      const heading = document.createElement('h2');
      heading.textContent = localized(category.name);
      editor.append(heading, categoryEditor(category, render));
      for (const item of category.items) {
        const row = document.createElement('div');
        row.className = 'menu-row card';
        row.dataset.item = item.id;
        const name = document.createElement('span');
        name.textContent = `${localized(item.name)} · ${formatMoney(item.price)}`;
        const toggle = document.createElement('label');
        toggle.className = 'inline';
        const available = document.createElement('input');
        available.type = 'checkbox';
        available.checked = item.available;
        available.setAttribute('aria-label', (english ? 'Available: ' : 'Disponible: ') + localized(item.name));
        available.addEventListener('change', async () => {
          try { await authed('PATCH', `/api/v1/menu/items/${item.id}`, { available: available.checked }); }
          catch (error) { showError(error.problem); available.checked = !available.checked; }
        });
        toggle.append(available, english ? ' available' : ' disponible');
        row.append(name, toggle, itemEditor(item, render));
        editor.appendChild(row);
      }
    }
    lockReadOnly('#menu-editor input, #menu-editor button, #menu-editor select', '#menu-editor details');
  };
  try { await render(); } catch (error) { return showError(error.problem); }
  onSubmit('#category-form', async (v, form) => {
    await authed('POST', `/api/v1/venues/${venue}/menu/categories`, { name: { es: v.es, en: v.en } });
    form.reset();
    await render();
  });
  onSubmit('#item-form', async (v, form) => {
    const price = pesosToMinor(v.price);
    if (Number.isNaN(price)) throw unreadableAmount('7.500');
    await authed('POST', `/api/v1/venues/${venue}/menu/items`, {
      category_id: v.category_id,
      name: { es: v.es, en: v.en },
      price: { amount: price, currency: 'COP' },
      tax_included: v.tax_included === 'on',
    });
    form.reset();
    await render();
  });
};

// A venue's card payments and their refunds (managers, and whoever holds payout authority). A refund names its amount
// and its reason; it goes back to the card with its part of the tip (the server splits it: comanda_domain::payment::
// split_refund). Its Idempotency-Key is made when the form opens, so a double click or a retry after a dropped answer
// is the same refund, never a second one. A large refund waits for a second person with payout authority, who
// approves it here; its requester may withdraw it and anyone with payout authority decline it.
const paymentStatusNames = {
  es: { pending: 'en curso', succeeded: 'pagado', failed: 'rechazado', cancelled: 'cancelado' },
  en: { pending: 'in progress', succeeded: 'paid', failed: 'declined', cancelled: 'cancelled' },
};

pages.payments = async () => {
  if (!store.get('access')) return location.assign('/signin');
  const venue = await chosenVenue();
  if (!venue) return;
  const me = await roleLimits('issue_refunds', null, english
    ? 'Card payments and refunds are for owners, managers and whoever holds payout authority: ask one of them.'
    : 'Los pagos con tarjeta y las devoluciones son de propietarios, gerentes y quien tiene autoridad sobre pagos: pídeselo a uno de ellos.');
  if (!me) return showError(null);
  const may = (permission) => (me.permissions || []).includes(permission);
  if (!may('issue_refunds')) return;
  // Only what the member may read is asked for (a refused read would be one more 403 in the audit log).
  const readable = async (permission, path) => (may(permission) ? allPages(path).catch(() => []) : []);
  const venueZone = ((await readable('view_venues', '/api/v1/venues')).find((v) => v.id === venue) || {}).timezone;
  const tableLabels = new Map((await readable('view_venues', `/api/v1/venues/${venue}/tables`)).map((t) => [t.id, t.label]));
  const tableName = (id) => tableLabels.get(id) || (!may('view_venues') ? '—' : english ? 'a retired table' : 'una mesa retirada');
  // Who asked for a refund, by name where the member may read the team (owners and managers), else as "you".
  const names = new Map((await readable('manage_staff', '/api/v1/staff')).map((m) => [m.id, m.name]));
  const person = (id) => (id === me.user_id ? (english ? 'you' : 'ti') : names.get(id) || (english ? 'another member' : 'otra persona del equipo'));
  const when = (instant) => new Date(instant).toLocaleString(english ? 'en' : 'es-CO', {
    day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', timeZone: venueZone,
  });
  const said = (text) => { $('#payments-said').textContent = text; };

  // ---- the latest refunds the guest's bank refused (Stripe's `failure_reason`: a code, unlike a declined refund or
  // an error answered at once) ----
  const bankReasons = {
    es: { expired_or_canceled_card: 'tarjeta vencida o cancelada', lost_or_stolen_card: 'tarjeta perdida o robada', insufficient_funds: 'fondos insuficientes', declined: 'rechazada', unknown: 'motivo desconocido' },
    en: { expired_or_canceled_card: 'card expired or closed', lost_or_stolen_card: 'card lost or stolen', insufficient_funds: 'insufficient funds', declined: 'declined', unknown: 'reason unknown' },
  };
  const renderBankFailed = async () => {
    const page = await authed('GET', `/api/v1/venues/${venue}/refunds?status=failed&limit=20`);
    const failed = page.items.filter((r) => r.failure && r.failure !== 'declined' && /^[a-z_]+$/.test(r.failure));
    const list = $('#bank-failed-list');
    list.replaceChildren(...failed.map((refund) => {
      const item = document.createElement('li');
      const why = bankReasons[english ? 'en' : 'es'][refund.failure] || refund.failure;
      item.textContent = `${tableName(refund.table_id)} · ${formatMoney(refund.split.refund)} · ${why} · ${when(refund.requested_at)}`;
      return item;
    }));
    $('#bank-failed').hidden = failed.length === 0;
  };

  // ---- the refunds that wait for a second person ----
  // What each payment's refunds awaiting approval hold of it: reserved (no other refund takes it), not refunded.
  let awaitingByPayment = new Map();
  const renderAwaiting = async () => {
    const waiting = await allPages(`/api/v1/venues/${venue}/refunds?status=awaiting_approval`);
    awaitingByPayment = new Map();
    for (const refund of waiting) {
      const [amount, count] = awaitingByPayment.get(refund.payment_id) || [0, 0];
      awaitingByPayment.set(refund.payment_id, [amount + refund.split.refund.amount, count + 1]);
    }
    const list = $('#awaiting-list');
    list.replaceChildren();
    for (const refund of waiting) {
      const item = document.createElement('li');
      item.dataset.refund = refund.refund_id;
      const text = document.createElement('span');
      text.textContent = english
        ? `${tableName(refund.table_id)} · ${formatMoney(refund.split.refund)} · “${refund.reason}” · asked by ${person(refund.requested_by)}, ${when(refund.requested_at)}`
        : `${tableName(refund.table_id)} · ${formatMoney(refund.split.refund)} · «${refund.reason}» · ${refund.requested_by === me.user_id ? 'la pediste tú' : `la pidió ${person(refund.requested_by)}`}, ${when(refund.requested_at)}`;
      item.append(text);
      const mine = refund.requested_by === me.user_id;
      const act = (label, verb, done) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = verb === 'approve' ? '' : 'secondary';
        button.textContent = label;
        button.setAttribute('aria-label', `${label}: ${text.textContent}`);
        button.addEventListener('click', async () => {
          clearError();
          said('');
          button.disabled = true;
          try {
            await authed('POST', `/api/v1/refunds/${encodeURIComponent(refund.refund_id)}/${verb}`);
            said(done);
          } catch (error) {
            showError(error.problem);
          }
          // Read again either way: a refund someone else approved or withdrew meanwhile leaves the list.
          await refresh().catch(() => {});
          $('#payments-said').focus();
        });
        item.append(' ', button);
      };
      // The one who asked never approves their own (the server refuses it too): a second person does.
      if (!mine && may('manage_payouts')) {
        act(english ? 'Approve and refund' : 'Aprobar y devolver', 'approve',
          english ? `Refunded ${formatMoney(refund.split.refund)} to the guest's card.` : `Se devolvieron ${formatMoney(refund.split.refund)} a la tarjeta del cliente.`);
      }
      if (mine) {
        act(english ? 'Withdraw' : 'Retirar', 'decline', english ? 'Refund withdrawn: nothing was refunded.' : 'Devolución retirada: no se devolvió nada.');
      } else if (may('manage_payouts')) {
        act(english ? 'Decline' : 'Rechazar', 'decline', english ? 'Refund declined: nothing was refunded.' : 'Devolución rechazada: no se devolvió nada.');
      }
      list.append(item);
    }
    $('#awaiting').hidden = waiting.length === 0;
    renderPayments();
  };

  // ---- the payments, a page at a time (every day, or one business day: a guest asks on Monday about Friday's) ----
  let cursor = null;
  let shown = [];
  const dayField = $('#day-form').elements.day;
  dayField.value = new URLSearchParams(location.search).get('day') || '';
  const dayText = (day) => new Date(`${day}T12:00:00Z`).toLocaleDateString(english ? 'en' : 'es-CO', {
    weekday: 'long', day: 'numeric', month: 'long', timeZone: 'UTC',
  });
  // `refunded` counts what refunds awaiting approval reserve too: what is left to refund is the total less it, but
  // what went back to the card is less what still waits.
  const left = (payment) => ({ amount: payment.total.amount - payment.refunded.amount, currency: payment.total.currency });
  const waitingOf = (payment) => ({ amount: (awaitingByPayment.get(payment.payment_id) || [0])[0], currency: payment.total.currency });
  const waitingCount = (payment) => (awaitingByPayment.get(payment.payment_id) || [0, 0])[1];
  const returned = (payment) => ({ amount: payment.refunded.amount - waitingOf(payment).amount, currency: payment.total.currency });
  const statusText = (payment) => {
    const names = paymentStatusNames[english ? 'en' : 'es'];
    let text = names[payment.status] || payment.status;
    if (payment.status !== 'succeeded') {
      text += english ? ` (${formatMoney(payment.total)}, not charged)` : ` (${formatMoney(payment.total)}, sin cobrar)`;
    }
    if (payment.status === 'succeeded' && returned(payment).amount > 0) {
      text = returned(payment).amount === payment.total.amount
        ? (english ? 'refunded' : 'devuelto')
        : (english ? 'partly refunded' : 'devuelto en parte');
    }
    if (waitingOf(payment).amount > 0) {
      const many = waitingCount(payment) > 1;
      text += english
        ? (many ? ` · ${waitingCount(payment)} refunds (${formatMoney(waitingOf(payment))}) await approval` : ` · a refund of ${formatMoney(waitingOf(payment))} awaits approval`)
        : (many ? ` · ${waitingCount(payment)} devoluciones (${formatMoney(waitingOf(payment))}) por aprobar` : ` · devolución de ${formatMoney(waitingOf(payment))} por aprobar`);
    }
    return text;
  };
  const renderPayments = () => {
    const body = $('#payments-table tbody');
    body.replaceChildren();
    const all = $('#show-unfinished').checked;
    const rows = shown.filter((p) => all || p.status === 'succeeded');
    for (const payment of rows) {
      const row = document.createElement('tr');
      row.dataset.payment = payment.payment_id;
      // Each cell names its column, which a phone shows beside the value (the table is stacked there).
      const headers = [...document.querySelectorAll('#payments-table thead th')].map((th) => th.textContent);
      const cell = (value, amount) => {
        const td = document.createElement('td');
        if (amount) td.className = 'amount';
        td.dataset.label = headers[row.children.length] || '';
        td.append(value);
        row.append(td);
      };
      cell(when(payment.succeeded_at || payment.created_at));
      cell(tableName(payment.table_id));
      // Only a succeeded payment charged anything: the others say what they were for, not "charged".
      const charged = payment.status === 'succeeded';
      cell(charged ? formatMoney(payment.total) : '—', true);
      cell(charged ? formatMoney(payment.tip) : '—', true);
      cell(returned(payment).amount ? formatMoney(returned(payment)) : '—', true);
      cell(statusText(payment));
      if (payment.status === 'succeeded' && left(payment).amount > 0) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'secondary';
        button.textContent = english ? 'Refund' : 'Devolver';
        button.setAttribute('aria-label', english
          ? `Refund the payment of ${formatMoney(payment.total)} at ${tableName(payment.table_id)}, ${when(payment.succeeded_at)}`
          : `Devolver el pago de ${formatMoney(payment.total)} de ${tableName(payment.table_id)}, ${when(payment.succeeded_at)}`);
        button.addEventListener('click', () => openRefund(payment));
        cell(button);
      } else {
        cell('');
      }
      body.append(row);
    }
    $('#no-payments').hidden = rows.length > 0;
    $('#no-payments').textContent = !dayField.value
      ? (english ? 'No card payments at this venue yet.' : 'Aún no hay pagos con tarjeta en esta sede.')
      : (english ? `No card payments on ${dayText(dayField.value)}.` : `Ningún pago con tarjeta el ${dayText(dayField.value)}.`);
    $('#more-payments').hidden = !cursor;
    $('#payments-every-day').hidden = !dayField.value;
  };
  // `render` is false where the refunds awaiting approval are read next (they render the payments once, with what
  // they hold): rows drawn twice would move a button from under a finger or a click.
  const loadPayments = async (more, render = true) => {
    const day = dayField.value ? `&day=${encodeURIComponent(dayField.value)}` : '';
    const query = `limit=100${day}${more && cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`;
    const page = await authed('GET', `/api/v1/venues/${venue}/payments?${query}`);
    shown = more ? [...shown, ...page.items] : page.items;
    cursor = page.next_cursor;
    if (render) renderPayments();
  };
  // After a refund (or an approval), the payments already shown are read again, as many as were shown.
  const refresh = async () => {
    const wanted = shown.length;
    cursor = null;
    await loadPayments(false, false);
    while (cursor && shown.length < wanted) await loadPayments(true, false);
    await renderAwaiting();
    await renderBankFailed();
  };

  // ---- the refund form ----
  let refunding = null;
  const form = $('#refund-form');
  const amountField = form.elements.amount;
  const markAmount = (wrong) => {
    if (wrong) {
      amountField.setAttribute('aria-invalid', 'true');
      amountField.setAttribute('aria-describedby', 'refund-left error-box');
    } else {
      amountField.removeAttribute('aria-invalid');
      amountField.setAttribute('aria-describedby', 'refund-left');
    }
  };
  const openRefund = (payment, key = crypto.randomUUID()) => {
    clearError();
    said('');
    markAmount(false);
    refunding = { payment, key };
    $('#refund-title').textContent = english
      ? `Refund a payment at ${tableName(payment.table_id)} (${when(payment.succeeded_at)})`
      : `Devolver un pago de ${tableName(payment.table_id)} (${when(payment.succeeded_at)})`;
    $('#refund-left').textContent = english
      ? `Charged ${formatMoney(payment.total)} (tip ${formatMoney(payment.tip)}); left to refund ${formatMoney(left(payment))}.`
      : `Se cobraron ${formatMoney(payment.total)} (propina ${formatMoney(payment.tip)}); queda por devolver ${formatMoney(left(payment))}.`;
    form.reset();
    form.elements.amount.value = moneyInputValue(left(payment));
    $('#refund-step').hidden = false;
    $('#refund-title').focus();
  };
  // Closed, the focus goes back to the row's Refund button (or to the status line when the row has none left).
  const closeRefund = (focusRow = true) => {
    const payment = refunding && refunding.payment;
    refunding = null;
    $('#refund-step').hidden = true;
    clearError();
    markAmount(false);
    const again = payment && document.querySelector(`#payments-table tr[data-payment="${payment.payment_id}"] button`);
    if (focusRow && again) again.focus();
    else $('#payments-said').focus();
  };
  $('#refund-cancel').addEventListener('click', () => closeRefund());
  $('#refund-step').addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeRefund();
  });
  onSubmit('#refund-form', async (values) => {
    if (!refunding) return;
    const { payment, key } = refunding;
    const amount = parseMoneyInput(values.amount, payment.total.currency);
    const refuse = (es, en) => {
      markAmount(true);
      amountField.focus();
      return Object.assign(new Error('amount'), { problem: { detail: english ? en : es } });
    };
    if (amount === null) throw refuse(`Escribe el valor en pesos, por ejemplo ${moneyInputValue(left(payment))}`, `Write the amount in pesos, e.g. ${moneyInputValue(left(payment))}`);
    if (amount <= 0) throw refuse('Escribe un valor mayor que cero.', 'Write an amount above zero.');
    if (amount > left(payment).amount) {
      throw refuse(`De este pago quedan por devolver como máximo ${formatMoney(left(payment))}.`, `At most ${formatMoney(left(payment))} is left to refund of this payment.`);
    }
    let refund;
    try {
      refund = await authed('POST', `/api/v1/payments/${encodeURIComponent(payment.payment_id)}/refunds`,
        { amount, reason: values.reason.trim() }, { 'Idempotency-Key': key });
    } catch (error) {
      // The payment as it is now (another tab's refund, an approval): the form says what is left, or closes when
      // nothing is. A refused request changed nothing, so its key may be used again for the next try.
      await refresh().catch(() => {});
      const now = shown.find((p) => p.payment_id === payment.payment_id);
      if (now && now.status === 'succeeded' && left(now).amount > 0) {
        openRefund(now, key);
        form.elements.amount.value = values.amount;
        form.elements.reason.value = values.reason;
        if (error.problem && error.problem.errors && error.problem.errors[0]?.field === 'amount') markAmount(true);
      } else {
        closeRefund(false);
      }
      throw error;
    }
    const money = formatMoney({ amount, currency: payment.total.currency });
    closeRefund(false);
    said(refund.status === 'awaiting_approval'
      ? (english
        ? `The refund of ${money} waits for another person with payout authority to approve it; nothing was refunded yet.`
        : `La devolución de ${money} espera la aprobación de otra persona con autoridad de pagos; aún no se devolvió nada.`)
      // Stripe has it and the card's bank has not answered yet (a failure then raises an alert).
      : refund.status === 'pending'
      ? (english
        ? `The refund of ${money} is on its way: the guest's bank has not confirmed it yet. If the bank refuses it, it shows above, under “Refunds that did not reach the card”.`
        : `La devolución de ${money} está en curso: el banco del cliente aún no la confirma. Si el banco la rechaza, aparece arriba, en «Devoluciones que no llegaron a la tarjeta».`)
      : (english
        ? `Refunded ${money} to the guest's card (their bank shows it within 5 to 10 business days).`
        : `Se devolvieron ${money} a la tarjeta del cliente (su banco lo muestra en 5 a 10 días hábiles).`));
    await refresh();
    $('#payments-said').focus();
  });

  $('#show-unfinished').addEventListener('change', renderPayments);
  // A day chosen is kept in the address (a reload or a shared link shows the same day).
  const showDay = async () => {
    const here = new URL(location.href);
    if (dayField.value) here.searchParams.set('day', dayField.value);
    else here.searchParams.delete('day');
    history.replaceState(null, '', here);
    clearError();
    cursor = null;
    try { await loadPayments(false); } catch (error) { showError(error.problem); }
  };
  $('#day-form').addEventListener('submit', (event) => { event.preventDefault(); showDay(); });
  dayField.addEventListener('change', showDay);
  $('#payments-every-day').addEventListener('click', () => {
    dayField.value = '';
    showDay();
    dayField.focus();
  });
  $('#more-payments').addEventListener('click', async () => {
    try { await loadPayments(true); } catch (error) { showError(error.problem); }
  });
  try {
    await loadPayments(false, false);
    await renderAwaiting();
    await renderBankFailed();
  } catch (error) {
    showError(error.problem);
    renderPayments();
  }
};

// The language switch of the partner's pages goes to the same page, its query kept (`?venue=…`), in the other
// language (the server keeps the choice in a cookie).
for (const link of document.querySelectorAll('a.switch[data-keep-query]')) {
  const here = new URLSearchParams(location.search);
  here.set('lang', link.hreflang);
  link.search = `?${here}`;
}
if (pages[page]) pages[page]();
