//! The KMS backends against the real thing: a local key file, and SoftHSM2 through PKCS#11 (each PKCS#11 test in a
//! process and token of its own, see `comanda_security::testing`).

#![allow(clippy::unwrap_used)] // test helpers fail loudly on purpose

use comanda_security::Secret;
use comanda_security::envelope::{self, DataKey, DataKeyRef, FieldContext};
use comanda_security::kms::{
    KekMechanism, Kms, KmsError, LocalKeyKms, PLATFORM_KEY_AAD, Pkcs11Kms, PlatformKeys, WrappedKey,
};
use comanda_security::testing::SoftHsm;
use uuid::Uuid;

fn softhsm_kms(hsm: &SoftHsm) -> Pkcs11Kms {
    let kms = Pkcs11Kms::connect(&hsm.settings("comanda-kek", KekMechanism::AesGcm)).unwrap();
    assert_eq!(kms.ensure_key().unwrap(), 1);
    kms
}

fn local_kms(dir: &tempfile::TempDir) -> LocalKeyKms {
    LocalKeyKms::create(&dir.path().join("kms.key")).unwrap()
}

const CONTEXT: FieldContext<'static> = FieldContext {
    tenant: "7f1c0000-0000-0000-0000-000000000001",
    table: "guests",
    column: "phone",
    row: "42",
};

/// What every backend must do: round trip, AAD binding, tampering, rotation and rewrap.
fn behaves_as_a_kms(kms: &dyn Kms) {
    let data_key = Secret::new([0x5a; 32]);
    let wrapped = kms.encrypt_data_key(&data_key, b"tenant-a").unwrap();
    assert_eq!(wrapped.kek_id, kms.kek_id());
    assert_eq!(wrapped.kek_version, kms.newest_version().unwrap());
    assert_eq!(wrapped.iv.len(), 12);
    assert_eq!(wrapped.ciphertext.len(), 48);
    assert_ne!(&wrapped.ciphertext[..32], data_key.expose());
    assert_eq!(
        kms.decrypt_data_key(&wrapped, b"tenant-a").unwrap().expose(),
        data_key.expose()
    );
    let again = kms.encrypt_data_key(&data_key, b"tenant-a").unwrap();
    assert_ne!(again.iv, wrapped.iv, "a fresh IV every time");

    // The stored form round-trips through its byte encoding.
    let stored = WrappedKey::from_bytes(&wrapped.to_bytes().unwrap()).unwrap();
    assert_eq!(
        kms.decrypt_data_key(&stored, b"tenant-a").unwrap().expose(),
        data_key.expose()
    );

    assert!(matches!(
        kms.decrypt_data_key(&wrapped, b"tenant-b"),
        Err(KmsError::Unwrap)
    ));
    let mut tampered = wrapped.clone();
    tampered.ciphertext[3] ^= 1;
    assert!(matches!(
        kms.decrypt_data_key(&tampered, b"tenant-a"),
        Err(KmsError::Unwrap)
    ));
    let mut tampered_iv = wrapped.clone();
    tampered_iv.iv[0] ^= 1;
    assert!(kms.decrypt_data_key(&tampered_iv, b"tenant-a").is_err());
    let mut unknown_version = wrapped.clone();
    unknown_version.kek_version = 99;
    assert!(matches!(
        kms.decrypt_data_key(&unknown_version, b"tenant-a"),
        Err(KmsError::UnknownVersion { version: 99, .. })
    ));
    let mut other_kek = wrapped.clone();
    other_kek.kek_id = "someone-else".into();
    assert!(matches!(
        kms.decrypt_data_key(&other_kek, b"tenant-a"),
        Err(KmsError::WrongKek { .. })
    ));

    // Envelope: a field under a data key wrapped by this KMS.
    let reference = DataKeyRef {
        id: Uuid::from_u128(7),
        version: 1,
    };
    let field_key = DataKey::generate(reference).unwrap();
    let field_key_wrapped = field_key.wrap(kms).unwrap();
    let blob = envelope::encrypt_field(&field_key, b"+34 600 000 000", &CONTEXT).unwrap();

    // Rotation (REST-3): a new version encrypts, the old one still decrypts, rewrap moves keys forward.
    let before = kms.newest_version().unwrap();
    let after = kms.create_new_version().unwrap();
    assert_eq!(after, before + 1);
    assert_eq!(kms.newest_version().unwrap(), after);
    let newer = kms.encrypt_data_key(&data_key, b"tenant-a").unwrap();
    assert_eq!(newer.kek_version, after);
    assert_eq!(
        kms.decrypt_data_key(&wrapped, b"tenant-a").unwrap().expose(),
        data_key.expose(),
        "old versions still decrypt"
    );
    let moved = envelope::rewrap(&wrapped, b"tenant-a", kms).unwrap();
    assert_eq!(moved.kek_version, after);
    assert_eq!(
        kms.decrypt_data_key(&moved, b"tenant-a").unwrap().expose(),
        data_key.expose()
    );
    assert_eq!(
        envelope::rewrap(&moved, b"tenant-a", kms).unwrap(),
        moved,
        "already newest"
    );
    assert!(
        envelope::rewrap(&wrapped, b"tenant-b", kms).is_err(),
        "rewrap checks the associated data"
    );

    let field_key_moved = envelope::rewrap(&field_key_wrapped, &reference.wrap_aad(), kms).unwrap();
    assert_eq!(field_key_moved.kek_version, after);
    let unwrapped = DataKey::unwrap(reference, &field_key_moved, kms).unwrap();
    assert_eq!(
        envelope::decrypt_field(&unwrapped, &blob, &CONTEXT).unwrap(),
        b"+34 600 000 000"
    );
    let other_tenant = FieldContext {
        tenant: "7f1c0000-0000-0000-0000-000000000002",
        ..CONTEXT
    };
    assert!(envelope::decrypt_field(&unwrapped, &blob, &other_tenant).is_err());

    // The platform key: generated, wrapped, unwrapped after a rotation.
    let (platform, platform_wrapped) = PlatformKeys::generate(kms).unwrap();
    let sealed = platform.seal(b"signing key", b"kid-1").unwrap();
    kms.create_new_version().unwrap();
    let platform_moved = envelope::rewrap(&platform_wrapped, PLATFORM_KEY_AAD, kms).unwrap();
    let reopened = PlatformKeys::unwrap(kms, &platform_moved).unwrap();
    assert_eq!(reopened.open(&sealed, b"kid-1").unwrap(), b"signing key");
    assert_eq!(
        reopened.derive("password-pepper").expose(),
        platform.derive("password-pepper").expose()
    );
}

#[test]
fn local_key_file_is_a_kms() {
    let dir = tempfile::tempdir().unwrap();
    behaves_as_a_kms(&local_kms(&dir));
}

#[test]
fn softhsm_is_a_kms() {
    SoftHsm::run_isolated("softhsm_is_a_kms", |hsm| behaves_as_a_kms(&softhsm_kms(hsm)));
}

#[test]
fn the_kek_never_leaves_the_hsm() {
    SoftHsm::run_isolated("the_kek_never_leaves_the_hsm", |hsm| {
        let kms = softhsm_kms(hsm);
        let protection = kms.key_protection(1).unwrap();
        assert!(protection.sensitive, "{protection:?}");
        assert!(!protection.extractable, "{protection:?}");
        assert!(!protection.value_readable, "{protection:?}");

        // Asked directly, without this crate's code: the token refuses CKA_VALUE.
        use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
        use cryptoki::object::{Attribute, AttributeType};
        let ctx = Pkcs11::new(&hsm.module).unwrap();
        let _already = ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
        let slot = ctx
            .get_slots_with_initialized_token()
            .unwrap()
            .into_iter()
            .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == hsm.token_label)
            .unwrap();
        let session = ctx.open_ro_session(slot).unwrap();
        let keys = session
            .find_objects(&[Attribute::Label(b"comanda-kek-v1".to_vec())])
            .unwrap();
        assert_eq!(keys.len(), 1);
        let attributes = session
            .get_attributes(
                keys[0],
                &[
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::NeverExtractable,
                    AttributeType::AlwaysSensitive,
                ],
            )
            .unwrap();
        for expected in [
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::NeverExtractable(true),
            Attribute::AlwaysSensitive(true),
        ] {
            assert!(attributes.contains(&expected), "{expected:?} in {attributes:?}");
        }
        match session.get_attributes(keys[0], &[AttributeType::Value]) {
            Err(_) => {}
            Ok(values) => assert!(
                !values.iter().any(|a| matches!(a, Attribute::Value(_))),
                "CKA_VALUE was readable: {values:?}"
            ),
        }
    });
}

#[test]
fn wrapped_keys_do_not_cross_backends() {
    SoftHsm::run_isolated("wrapped_keys_do_not_cross_backends", |hsm| {
        let dir = tempfile::tempdir().unwrap();
        let local = local_kms(&dir);
        let hsm_kms = softhsm_kms(hsm);
        let key = Secret::new([9u8; 32]);
        let from_local = local.encrypt_data_key(&key, b"x").unwrap();
        let from_hsm = hsm_kms.encrypt_data_key(&key, b"x").unwrap();
        assert_eq!(from_hsm.mechanism, KekMechanism::AesGcm);
        assert!(matches!(
            hsm_kms.decrypt_data_key(&from_local, b"x"),
            Err(KmsError::WrongKek { .. })
        ));
        assert!(matches!(
            local.decrypt_data_key(&from_hsm, b"x"),
            Err(KmsError::WrongKek { .. })
        ));
        // Another key label on the same token is another KEK.
        let other = Pkcs11Kms::connect(&hsm.settings("other-kek", KekMechanism::AesGcm)).unwrap();
        assert!(matches!(other.newest_version(), Err(KmsError::NoKey(_))));
        other.ensure_key().unwrap();
        let mut relabelled = from_hsm.clone();
        relabelled.kek_id = "other-kek".into();
        assert!(matches!(
            other.decrypt_data_key(&relabelled, b"x"),
            Err(KmsError::Unwrap)
        ));
        // A second connection (another server instance) sees the same versions and decrypts.
        let second = Pkcs11Kms::connect(&hsm.settings("comanda-kek", KekMechanism::AesGcm)).unwrap();
        assert_eq!(
            second.decrypt_data_key(&from_hsm, b"x").unwrap().expose(),
            key.expose()
        );
    });
}

#[test]
fn a_wrong_pin_or_token_is_a_clear_error() {
    SoftHsm::run_isolated("a_wrong_pin_or_token_is_a_clear_error", |hsm| {
        let mut settings = hsm.settings("comanda-kek", KekMechanism::AesGcm);
        settings.pin = Secret::new("0000".into());
        let error = Pkcs11Kms::connect(&settings).unwrap_err().to_string();
        assert!(error.contains("PIN"), "{error}");
        let mut settings = hsm.settings("comanda-kek", KekMechanism::AesGcm);
        settings.token_label = "no-such-token".into();
        let error = Pkcs11Kms::connect(&settings).unwrap_err().to_string();
        assert!(error.contains("no-such-token"), "{error}");
    });
}

#[test]
fn the_cloud_kms_mechanism_is_refused_clearly_by_softhsm() {
    SoftHsm::run_isolated("the_cloud_kms_mechanism_is_refused_clearly_by_softhsm", |hsm| {
        softhsm_kms(hsm);
        let cloud = Pkcs11Kms::connect(&hsm.settings("comanda-kek", KekMechanism::CloudkmsAesGcm)).unwrap();
        assert_eq!(cloud.mechanism(), KekMechanism::CloudkmsAesGcm);
        let error = cloud.encrypt_data_key(&Secret::new([1u8; 32]), b"x").unwrap_err();
        assert!(
            matches!(&error, KmsError::Unsupported(m) if m.contains("CKM_CLOUDKMS_AES_GCM")),
            "{error}"
        );
        // Versions are Cloud KMS's to create.
        assert!(matches!(
            cloud.create_new_version(),
            Err(KmsError::Unsupported(_))
        ));
        // A key wrapped on Cloud KMS, read where the vendor mechanism is missing: refused with the reason.
        let wrapped = WrappedKey {
            kek_id: "comanda-kek".into(),
            kek_version: 1,
            mechanism: KekMechanism::CloudkmsAesGcm,
            iv: vec![1; 12],
            ciphertext: vec![2; 48],
        };
        let error = cloud.decrypt_data_key(&wrapped, b"x").unwrap_err();
        assert!(
            matches!(&error, KmsError::Unsupported(m) if m.contains("CKM_CLOUDKMS_AES_GCM")),
            "{error}"
        );
    });
}

#[test]
fn the_harness_runs_each_test_in_its_own_token() {
    // Two tokens, two processes: neither sees the other's key (run as separate children by the tests above), and
    // the parent process never loads SoftHSM2 itself.
    let first = SoftHsm::create("first").unwrap();
    let second = SoftHsm::create("second").unwrap();
    assert_ne!(first.conf(), second.conf());
    assert!(first.conf().exists());
}
