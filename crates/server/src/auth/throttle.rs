//! Throttling (INF-1, AUTH-8): keyed token buckets per client address, per account and address, per account, and
//! per tenant. Throttled requests get 429 with `Retry-After`; no account is ever locked, so an attacker cannot lock
//! the real owner out — the owner signing in from another address is not slowed by the attacker's failures, and
//! account-wide attempts by unknown clients are capped at 100 an hour; a client with the account's device cookie is
//! limited per device instead. A rate is not NIST SP 800-63B's cap of 100 failures in a row: that one is kept in the
//! database (`second_factor::MAX_WRONG_CODES_IN_A_ROW`), and past it only the app's codes from new devices stop.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// How long to wait before trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

pub struct Throttle {
    clock: DefaultClock,
    auth_per_address: DefaultKeyedRateLimiter<IpAddr>,
    sign_in_per_account_and_address: DefaultKeyedRateLimiter<(Vec<u8>, IpAddr)>,
    sign_in_per_account: DefaultKeyedRateLimiter<Vec<u8>>,
    sign_in_per_device: DefaultKeyedRateLimiter<Vec<u8>>,
    guesses_per_pending_sign_in: DefaultKeyedRateLimiter<String>,
    api_per_tenant: DefaultKeyedRateLimiter<uuid::Uuid>,
    bookings_per_address: DefaultKeyedRateLimiter<IpAddr>,
    guest_writes_per_address: DefaultKeyedRateLimiter<IpAddr>,
    failures: Mutex<HashMap<IpAddr, RecentFailures>>,
    /// When each account was last told of a burst that reached it, whichever address the burst came from.
    burst_notices: Mutex<HashMap<Vec<u8>, Instant>>,
    password_checks: Mutex<HashMap<IpAddr, usize>>,
    /// Pending sign-ins already exchanged for a session, each until its token expires (Unix seconds).
    spent_sign_ins: Mutex<HashMap<String, i64>>,
    /// Each account's wrong second factors after a right password, and when the account was last told of them.
    second_factor_failures: Mutex<HashMap<Vec<u8>, Guesses>>,
}

/// An account's recent wrong second factors, and when it was last told of them.
type Guesses = (VecDeque<Instant>, Option<Instant>);

/// An address's recent failed sign-ins (when, and for which account), and whether a burst from it was reported.
#[derive(Default)]
struct RecentFailures {
    failures: VecDeque<(Instant, Vec<u8>)>,
    /// A burst from this address was reported; it is not reported again until every failure of it has aged out.
    reported: bool,
}

/// What a burst asks of the sign-in path: raise the alert (once per burst), and tell these accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Burst {
    pub first_report: bool,
    /// Accounts reached by this address that have not been told of a burst in the last day.
    pub tell: Vec<Vec<u8>>,
}

/// An account is told of credential stuffing at most once a day, however many addresses try it.
const BURST_NOTICE_EVERY: Duration = Duration::from_secs(24 * 3600);

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Throttle")
    }
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

/// Password checks one address may have queued or running at once. Hashing is one shared queue (bcrypt-12 is a
/// quarter second of a core): without this bound one address's burst would fill it and every other sign-in
/// would wait behind the attacker's.
pub const PASSWORD_CHECKS_PER_ADDRESS: usize = 4;

/// Distinct accounts failing from one address within the window that count as credential stuffing.
pub const STUFFING_ACCOUNTS: usize = 10;
const STUFFING_WINDOW: Duration = Duration::from_secs(300);

impl Default for Throttle {
    fn default() -> Self {
        Self {
            clock: DefaultClock::default(),
            auth_per_address: RateLimiter::keyed(quota(60, 60)),
            sign_in_per_account_and_address: RateLimiter::keyed(quota(1, 10)),
            sign_in_per_account: RateLimiter::keyed(
                Quota::per_hour(NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN))
                    .allow_burst(NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN)),
            ),
            sign_in_per_device: RateLimiter::keyed(quota(1, 10)),
            guesses_per_pending_sign_in: RateLimiter::keyed(quota(1, 5)),
            api_per_tenant: RateLimiter::keyed(quota(6000, 1200)),
            // A restaurant's guest Wi-Fi or a mobile carrier's NAT puts many guests behind one address.
            bookings_per_address: RateLimiter::keyed(quota(60, 60)),
            // Same crowd as bookings, more often: a full dining room behind one NAT orders and pays a few times an
            // hour per guest, far below this; a script placing orders on stolen table tokens is stopped at it.
            guest_writes_per_address: RateLimiter::keyed(quota(120, 120)),
            failures: Mutex::new(HashMap::new()),
            burst_notices: Mutex::new(HashMap::new()),
            password_checks: Mutex::new(HashMap::new()),
            spent_sign_ins: Mutex::new(HashMap::new()),
            second_factor_failures: Mutex::new(HashMap::new()),
        }
    }
}

/// Wrong second factors after a right password, within [`GUESSING_WINDOW`], that mean someone holds the password
/// and is guessing codes: a person mistyping gets a few wrong, not this many.
pub const GUESSING_FAILURES: usize = 10;
const GUESSING_WINDOW: Duration = Duration::from_secs(3600);

/// The address a budget is kept for: an IPv4 address as is, an IPv6 address by its /64, the block one subscriber
/// (a home, a phone) is usually given, so that stepping through one's own /64 does not buy a fresh budget per address.
pub fn client_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
        v4 => v4,
    }
}

impl Throttle {
    /// Forgets what no longer limits anyone: keys whose budget has refilled, and addresses with no failure left in
    /// the stuffing window. Without it every address ever seen (an IPv6 scan, a flood of forged table tokens) would
    /// stay in memory; serve calls it every minute.
    pub fn forget_idle(&self) {
        self.auth_per_address.retain_recent();
        self.sign_in_per_account_and_address.retain_recent();
        self.sign_in_per_account.retain_recent();
        self.sign_in_per_device.retain_recent();
        self.guesses_per_pending_sign_in.retain_recent();
        self.api_per_tenant.retain_recent();
        self.bookings_per_address.retain_recent();
        self.guest_writes_per_address.retain_recent();
        if let Ok(mut guesses) = self.second_factor_failures.lock() {
            let now = Instant::now();
            guesses.retain(|_, (recent, told)| {
                recent
                    .back()
                    .is_some_and(|at| now.duration_since(*at) <= GUESSING_WINDOW)
                    || told.is_some_and(|at| now.duration_since(at) < BURST_NOTICE_EVERY)
            });
        }
        if let Ok(mut failures) = self.failures.lock() {
            let now = Instant::now();
            failures.retain(|_, recent| {
                recent
                    .failures
                    .retain(|(at, _)| now.duration_since(*at) < STUFFING_WINDOW);
                !recent.failures.is_empty()
            });
        }
        if let Ok(mut notices) = self.burst_notices.lock() {
            let now = Instant::now();
            notices.retain(|_, at| now.duration_since(*at) < BURST_NOTICE_EVERY);
        }
    }

    /// How many keys the address-keyed budgets hold (for tests of [`Throttle::forget_idle`]).
    pub fn tracked_addresses(&self) -> usize {
        self.auth_per_address.len() + self.bookings_per_address.len() + self.guest_writes_per_address.len()
    }

    fn check<K: std::hash::Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Result<(), RetryAfter> {
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            RetryAfter(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        })
    }

    /// Every unauthenticated identity route (sign-in, second factor, refresh, signup, invitations).
    pub fn auth_attempt(&self, address: IpAddr) -> Result<(), RetryAfter> {
        self.check(&self.auth_per_address, &client_key(address))
    }

    /// A sign-in (or second-factor) attempt for one account from one address. A client with a `device` cookie for
    /// this account (it signed in here before) is limited per device instead of by the account-wide budget
    /// (OWASP's device cookies): an attacker who spends the account's budget from many addresses locks out only
    /// unknown clients, never the owner's known devices; a stolen cookie hammered is limited on its own.
    pub fn sign_in_attempt(
        &self,
        account: &[u8],
        address: IpAddr,
        device: Option<&[u8]>,
    ) -> Result<(), RetryAfter> {
        self.check(
            &self.sign_in_per_account_and_address,
            &(account.to_vec(), client_key(address)),
        )?;
        match device {
            Some(device) => self.check(&self.sign_in_per_device, &device.to_vec()),
            None => self.check(&self.sign_in_per_account, &account.to_vec()),
        }
    }

    /// A second-factor guess with one pending sign-in token (its `jti`): five, then one a minute until the token
    /// expires (five minutes), so one password cannot buy an unbounded number of code guesses.
    pub fn second_factor_guess(&self, pending_sign_in: &str) -> Result<(), RetryAfter> {
        self.check(&self.guesses_per_pending_sign_in, &pending_sign_in.to_owned())
    }

    /// Claims a pending sign-in (its token's `jti`, valid until `expires`, Unix seconds) for the session it opens:
    /// one password check opens one session. Answers false when it already was claimed.
    pub fn spend_sign_in(&self, pending_sign_in: &str, expires: i64, now: i64) -> bool {
        let Ok(mut spent) = self.spent_sign_ins.lock() else {
            return false;
        };
        spent.retain(|_, until| *until > now);
        spent.insert(pending_sign_in.to_owned(), expires).is_none()
    }

    /// Gives a claimed pending sign-in back (its code was wrong: the next guess may still open the session).
    pub fn unspend_sign_in(&self, pending_sign_in: &str) {
        if let Ok(mut spent) = self.spent_sign_ins.lock() {
            spent.remove(pending_sign_in);
        }
    }

    /// Counts a wrong second factor given after the account's right password. Answers true once the account has
    /// had [`GUESSING_FAILURES`] within the hour and was not told so in the last day: the caller alerts and tells
    /// the account (its password is known to someone).
    pub fn second_factor_failed(&self, account: &[u8]) -> bool {
        let Ok(mut failures) = self.second_factor_failures.lock() else {
            return false;
        };
        let now = Instant::now();
        let (recent, told) = failures.entry(account.to_vec()).or_default();
        recent.push_back(now);
        while recent
            .front()
            .is_some_and(|at| now.duration_since(*at) > GUESSING_WINDOW)
        {
            recent.pop_front();
        }
        let due = told.is_none_or(|at| now.duration_since(at) >= BURST_NOTICE_EVERY);
        if recent.len() >= GUESSING_FAILURES && due {
            *told = Some(now);
            return true;
        }
        false
    }

    /// A public booking or a guest's change to one (bookings hold tables other guests cannot take meanwhile).
    pub fn booking_attempt(&self, address: IpAddr) -> Result<(), RetryAfter> {
        self.check(&self.bookings_per_address, &client_key(address))
    }

    /// A guest's write at a table (placing or cancelling an order, starting or cancelling a payment): 120 a minute
    /// per address (INF-1), counted before the table token is even checked.
    pub fn guest_write_attempt(&self, address: IpAddr) -> Result<(), RetryAfter> {
        self.check(&self.guest_writes_per_address, &client_key(address))
    }

    pub fn tenant_request(&self, tenant: uuid::Uuid) -> Result<(), RetryAfter> {
        self.check(&self.api_per_tenant, &tenant)
    }

    /// Admits one password check (a bcrypt verification) from `address`, held until the returned slot drops.
    /// Refused while the address is a credential-stuffing source (it failed on [`STUFFING_ACCOUNTS`] distinct
    /// accounts within the window: refused until its oldest failure there ages out) and while it already has
    /// [`PASSWORD_CHECKS_PER_ADDRESS`] checks in flight. Neither refusal costs a hash; neither touches any account.
    pub fn password_check(&self, address: IpAddr) -> Result<PasswordCheckSlot<'_>, RetryAfter> {
        let address = client_key(address);
        if let Some(wait) = self.stuffing_source(address) {
            return Err(wait);
        }
        let mut in_flight = self.password_checks.lock().map_err(|_| RetryAfter(1))?;
        let count = in_flight.entry(address).or_insert(0);
        if *count >= PASSWORD_CHECKS_PER_ADDRESS {
            return Err(RetryAfter(1));
        }
        *count += 1;
        Ok(PasswordCheckSlot {
            in_flight: &self.password_checks,
            address,
        })
    }

    fn stuffing_source(&self, address: IpAddr) -> Option<RetryAfter> {
        let failures = self.failures.lock().ok()?;
        let now = Instant::now();
        let live: Vec<&(Instant, Vec<u8>)> = failures
            .get(&address)?
            .failures
            .iter()
            .filter(|(at, _)| now.duration_since(*at) < STUFFING_WINDOW)
            .collect();
        let distinct: HashSet<&Vec<u8>> = live.iter().map(|(_, account)| account).collect();
        if distinct.len() < STUFFING_ACCOUNTS {
            return None;
        }
        let oldest = live.first()?.0;
        let wait = STUFFING_WINDOW.saturating_sub(now.duration_since(oldest));
        Some(RetryAfter(wait.as_secs().max(1)))
    }

    /// Records a failed sign-in. Once this address has failed on [`STUFFING_ACCOUNTS`] distinct accounts within
    /// the window (a credential-stuffing burst), answers what to do: the alert on the first report only, until
    /// every failure of the burst has aged out; and the accounts reached that were not told of a burst in the last
    /// day (a check already running when the threshold was crossed can still reach one more account, which is told
    /// too).
    pub fn record_failure(&self, account: &[u8], address: IpAddr) -> Option<Burst> {
        let address = client_key(address);
        let Ok(mut failures) = self.failures.lock() else {
            return None;
        };
        let now = Instant::now();
        let recent = failures.entry(address).or_default();
        recent
            .failures
            .retain(|(at, _)| now.duration_since(*at) < STUFFING_WINDOW);
        if recent.failures.is_empty() {
            recent.reported = false;
        }
        recent.failures.push_back((now, account.to_vec()));
        if recent.failures.len() > 1000 {
            recent.failures.pop_front();
        }
        let distinct: HashSet<&Vec<u8>> = recent.failures.iter().map(|(_, a)| a).collect();
        if distinct.len() < STUFFING_ACCOUNTS {
            return None;
        }
        let first_report = !recent.reported;
        recent.reported = true;
        let mut notices = self.burst_notices.lock().ok()?;
        let tell: Vec<Vec<u8>> = distinct
            .into_iter()
            .filter(|account| {
                notices
                    .get(*account)
                    .is_none_or(|at| now.duration_since(*at) >= BURST_NOTICE_EVERY)
            })
            .cloned()
            .collect();
        for account in &tell {
            notices.insert(account.clone(), now);
        }
        (first_report || !tell.is_empty()).then_some(Burst { first_report, tell })
    }
}

/// One admitted password check; dropping it frees the address's place.
pub struct PasswordCheckSlot<'a> {
    in_flight: &'a Mutex<HashMap<IpAddr, usize>>,
    address: IpAddr,
}

impl Drop for PasswordCheckSlot<'_> {
    fn drop(&mut self) {
        if let Ok(mut in_flight) = self.in_flight.lock()
            && let Some(count) = in_flight.get_mut(&self.address)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                in_flight.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_64_shares_one_budget_and_another_64_has_its_own() {
        let throttle = Throttle::default();
        let same_64 = |n: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, n));
        let allowed = (0..200)
            .filter(|n| throttle.guest_write_attempt(same_64(*n)).is_ok())
            .count();
        assert!((120..=121).contains(&allowed), "{allowed}");
        assert!(throttle.guest_write_attempt(same_64(0xffff)).is_err());
        let next_64 = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        assert!(throttle.guest_write_attempt(next_64).is_ok());
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(client_key(mapped), "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[tokio::test]
    async fn addresses_whose_budget_has_refilled_are_forgotten() {
        let throttle = Throttle::default();
        for n in 0..50u8 {
            let _ = throttle.guest_write_attempt(IpAddr::from([198, 51, 100, n]));
        }
        assert_eq!(throttle.tracked_addresses(), 50);
        // One write of 120 a minute is refilled after half a second; governor drops a key one refill later.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        throttle.forget_idle();
        assert_eq!(throttle.tracked_addresses(), 0);
    }

    #[test]
    fn one_address_hammering_one_account_is_throttled_without_locking_the_owner_out() {
        let throttle = Throttle::default();
        let attacker: IpAddr = "203.0.113.7".parse().unwrap();
        let owner: IpAddr = "198.51.100.20".parse().unwrap();
        let account = b"owner@example.co".to_vec();
        let allowed = (0..30)
            .filter(|_| throttle.sign_in_attempt(&account, attacker, None).is_ok())
            .count();
        assert_eq!(allowed, 10);
        let refused = throttle.sign_in_attempt(&account, attacker, None).unwrap_err();
        assert!(refused.0 >= 1 && refused.0 <= 60, "{refused:?}");
        assert!(
            throttle.sign_in_attempt(&account, owner, None).is_ok(),
            "the owner from elsewhere still gets in"
        );
    }

    /// AUTH-8: an attacker spread over many addresses spends the account-wide budget; unknown clients are then
    /// refused, the owner's known device is not.
    #[test]
    fn the_account_budget_spent_from_many_addresses_does_not_lock_out_a_known_device() {
        let throttle = Throttle::default();
        let account = b"owner@example.co".to_vec();
        let spent = (0..=255u8)
            .flat_map(|a| (0..=255u8).map(move |b| IpAddr::from([203, 0, a, b])))
            .take(150)
            .filter(|attacker| throttle.sign_in_attempt(&account, *attacker, None).is_ok())
            .count();
        assert_eq!(spent, 100, "the account-wide budget: 100 an hour");
        let newcomer: IpAddr = "198.51.100.9".parse().unwrap();
        assert!(
            throttle.sign_in_attempt(&account, newcomer, None).is_err(),
            "an unknown client waits"
        );
        let owner: IpAddr = "198.51.100.20".parse().unwrap();
        assert!(
            throttle
                .sign_in_attempt(&account, owner, Some(b"owner-device"))
                .is_ok()
        );
        // A device cookie hammered is limited on its own, and only it.
        let thieves = (1..=30u8).map(|n| IpAddr::from([192, 0, 2, n]));
        let hammered = thieves
            .filter(|thief| {
                throttle
                    .sign_in_attempt(&account, *thief, Some(b"stolen-device"))
                    .is_ok()
            })
            .count();
        assert!(hammered <= 10, "{hammered}");
        assert!(
            throttle
                .sign_in_attempt(&account, owner, Some(b"owner-device"))
                .is_ok()
        );
    }

    #[test]
    fn each_tenant_has_its_own_request_budget() {
        let throttle = Throttle::default();
        let busy = uuid::Uuid::now_v7();
        let quiet = uuid::Uuid::now_v7();
        let allowed = (0..1300)
            .filter(|_| throttle.tenant_request(busy).is_ok())
            .count();
        assert!(
            (1200..1210).contains(&allowed),
            "the burst, then throttled: {allowed}"
        );
        assert!(throttle.tenant_request(busy).is_err());
        assert!(
            throttle.tenant_request(quiet).is_ok(),
            "another tenant is unaffected"
        );
    }

    #[test]
    fn failures_across_many_accounts_from_one_address_are_a_burst() {
        let throttle = Throttle::default();
        let address: IpAddr = "203.0.113.8".parse().unwrap();
        let bursts: Vec<Option<Burst>> = (0..12)
            .map(|n| throttle.record_failure(format!("user{n}").as_bytes(), address))
            .collect();
        assert_eq!(
            bursts
                .iter()
                .filter(|b| b.as_ref().is_some_and(|b| b.first_report))
                .count(),
            1,
            "the alert once, at the threshold"
        );
        // The accounts reached after the threshold are told too, each once.
        assert_eq!(bursts[STUFFING_ACCOUNTS].as_ref().map(|b| b.tell.len()), Some(1));
        let mut reached = bursts[STUFFING_ACCOUNTS - 1].clone().unwrap().tell;
        reached.sort();
        let mut expected: Vec<Vec<u8>> = (0..STUFFING_ACCOUNTS)
            .map(|n| format!("user{n}").into_bytes())
            .collect();
        expected.sort();
        assert_eq!(reached, expected, "the burst names every account it reached");
    }

    #[test]
    fn a_burst_is_reported_once_and_an_account_is_told_once_a_day() {
        let throttle = Throttle::default();
        let first: IpAddr = "203.0.113.10".parse().unwrap();
        let second: IpAddr = "203.0.113.11".parse().unwrap();
        let burst_from = |address| {
            (0..STUFFING_ACCOUNTS)
                .filter_map(|n| throttle.record_failure(format!("user{n}").as_bytes(), address))
                .collect::<Vec<_>>()
        };
        let bursts = burst_from(first);
        assert_eq!(bursts.len(), 1);
        assert!(bursts[0].first_report);
        assert_eq!(bursts[0].tell.len(), STUFFING_ACCOUNTS);
        // The same address failing again within the window: neither another alert nor another mail.
        assert_eq!(throttle.record_failure(b"user0", first), None);
        // Another address on the same accounts: its own alert, but nobody is told twice in a day.
        let bursts = burst_from(second);
        assert_eq!(bursts.len(), 1);
        assert!(bursts[0].first_report);
        assert!(bursts[0].tell.is_empty());
    }

    #[test]
    fn ten_wrong_second_factors_within_the_hour_are_told_once() {
        let throttle = Throttle::default();
        for _ in 1..GUESSING_FAILURES {
            assert!(!throttle.second_factor_failed(b"ana"));
        }
        assert!(throttle.second_factor_failed(b"ana"), "the tenth is told");
        assert!(!throttle.second_factor_failed(b"ana"), "once a day");
        assert!(!throttle.second_factor_failed(b"luis"), "per account");
    }

    #[test]
    fn a_stuffing_source_gets_no_more_password_checks_and_others_still_do() {
        let throttle = Throttle::default();
        let attacker: IpAddr = "203.0.113.9".parse().unwrap();
        let owner: IpAddr = "198.51.100.21".parse().unwrap();
        for n in 0..STUFFING_ACCOUNTS - 1 {
            drop(
                throttle
                    .password_check(attacker)
                    .expect("not yet a stuffing source"),
            );
            throttle.record_failure(format!("user{n}").as_bytes(), attacker);
        }
        assert!(
            throttle.password_check(attacker).is_ok(),
            "nine accounts are not yet a burst"
        );
        throttle.record_failure(b"user-last", attacker);
        let refused = throttle.password_check(attacker).err().expect("refused");
        assert!(
            refused.0 > 200 && refused.0 <= 300,
            "until the window slides: {refused:?}"
        );
        assert!(throttle.password_check(owner).is_ok());
    }

    #[test]
    fn one_address_has_a_bounded_share_of_the_hashing_queue() {
        let throttle = Throttle::default();
        let attacker: IpAddr = "203.0.113.10".parse().unwrap();
        let held: Vec<_> = (0..PASSWORD_CHECKS_PER_ADDRESS)
            .map(|_| throttle.password_check(attacker).expect("within the share"))
            .collect();
        assert_eq!(throttle.password_check(attacker).err(), Some(RetryAfter(1)));
        assert!(throttle.password_check("198.51.100.22".parse().unwrap()).is_ok());
        drop(held);
        assert!(throttle.password_check(attacker).is_ok(), "places come back");
        assert!(
            throttle.password_checks.lock().unwrap().is_empty(),
            "no entry outlives its checks"
        );
    }
}
