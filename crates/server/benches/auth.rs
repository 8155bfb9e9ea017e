//! The per-request cost of authentication and authorisation, without IO: verifying an EdDSA access token,
//! looking up the route's declared access, and checking the permission. `cargo bench -p comanda-server --bench auth`.

use std::hint::black_box;

use axum::http::Method;
use comanda_domain::{Clock, PartnerId, Permission, Role, Standing, SystemClock};
use comanda_security::tokens::{KeyRing, SigningKey, Subject, TokenKind, VerifyingKey};
use comanda_server::auth::access::declared_access;
use criterion::{Criterion, criterion_group, criterion_main};

fn auth_overhead(c: &mut Criterion) {
    let now = SystemClock.now();
    let key = SigningKey::generate(now).expect("key");
    let verifying = [VerifyingKey {
        kid: key.kid.clone(),
        public: key.public.clone(),
    }];
    let ring = KeyRing::new("https://localhost", "comanda-api", Some(&key), &verifying);
    let subject = Subject {
        partner: PartnerId::mint(),
        user: uuid::Uuid::now_v7(),
        role: Role::Manager,
        generation: 0,
    };
    let token = ring
        .issue(TokenKind::Access, subject, None, now, time::Duration::minutes(15))
        .expect("token")
        .token;
    let standing = Standing {
        role: Role::Manager,
        payout_authority: false,
    };

    c.bench_function("verify access token (EdDSA)", |b| {
        b.iter(|| {
            ring.verify(black_box(&token), TokenKind::Access, now)
                .expect("valid")
        })
    });
    c.bench_function("declared access + permission check", |b| {
        b.iter(|| {
            let access = declared_access(black_box(&Method::PATCH), black_box("/api/v1/staff/{id}"));
            matches!(access, Some(comanda_server::auth::access::Access::Staff(p)) if standing.allows(p))
        })
    });
    c.bench_function("whole per-request auth (verify + route + permission)", |b| {
        b.iter(|| {
            let claims = ring
                .verify(black_box(&token), TokenKind::Access, now)
                .expect("valid");
            let access = declared_access(&Method::GET, "/api/v1/staff");
            black_box(claims.partner);
            matches!(access, Some(comanda_server::auth::access::Access::Staff(p)) if standing.allows(p))
        })
    });
    c.bench_function("permission matrix lookup", |b| {
        b.iter(|| black_box(standing).allows(black_box(Permission::ManageStaff)))
    });
}

criterion_group!(benches, auth_overhead);
criterion_main!(benches);
