//! The KEK in a PKCS#11 token: AES-256 secret-key objects created sensitive and non-extractable, used only through
//! `C_Encrypt`/`C_Decrypt` (Google's kmsp11 has no `C_WrapKey`/`C_UnwrapKey`).
//!
//! Versions: on SoftHSM2 and other HSMs this backend creates one key object per version, labelled
//! `<key_label>-v<n>` with `CKA_ID` = `n` (u32 big-endian). On Google Cloud KMS (kmsp11) every crypto key version is
//! an object labelled with the key's name whose `CKA_ID` ends in `/cryptoKeyVersions/<n>`; both forms are read.
//!
//! Mechanisms: `CKM_AES_GCM` with a random 12-byte caller IV, the caller's AAD and a 128-bit tag; or Cloud KMS's
//! vendor `CKM_CLOUDKMS_AES_GCM`, the same `CK_GCM_PARAMS` with `pIv` pointing at a zeroed 12-byte buffer into
//! which the KMS writes the IV it chose during `C_Encrypt`.
//!
//! One library context per module path and process (a second `C_Initialize` is refused, and login state belongs
//! to the process). Sessions are not shared between threads: each operation takes an idle session from a small
//! pool (or opens one) and puts it back. One "anchor" session stays open for the life of the KMS, because a token
//! logs the user out when its last session closes. `Pkcs11Kms` is `Send + Sync`; each call blocks its thread for
//! one library call (microseconds on SoftHSM2, a network round trip on Cloud KMS).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Function, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use serde::{Deserialize, Serialize};

use super::{KekMechanism, Kms, KmsError, WrappedKey, random};
use crate::Secret;

/// Google Cloud KMS's vendor mechanism: `CKM_VENDOR_DEFINED | 0x1E100 | 0x01` (kmsp11.h).
pub const CKM_CLOUDKMS_AES_GCM: std::ffi::c_ulong = 0x8000_0000 | 0x1_E100 | 0x01;

/// How many idle sessions are kept for reuse.
const IDLE_SESSIONS: usize = 4;

/// Where the KEK lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pkcs11Settings {
    /// The PKCS#11 library, e.g. `/usr/lib/softhsm/libsofthsm2.so` or Google's `libkmsp11.so`.
    pub module: PathBuf,
    pub token_label: String,
    /// The user PIN (kmsp11 takes any).
    pub pin: Secret<String>,
    /// The KEK's label, or its prefix: versions are `<key_label>-v<n>`.
    pub key_label: String,
    /// [`KekMechanism::AesGcm`] or [`KekMechanism::CloudkmsAesGcm`].
    pub mechanism: KekMechanism,
}

pub struct Pkcs11Kms {
    ctx: Pkcs11,
    slot: Slot,
    key_label: String,
    mechanism: KekMechanism,
    /// Never used; keeps the login alive.
    _anchor: Mutex<Session>,
    idle: Mutex<Vec<Session>>,
}

impl std::fmt::Debug for Pkcs11Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Kms")
            .field("slot", &self.slot)
            .field("key_label", &self.key_label)
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

fn ck(context: &'static str) -> impl Fn(CkError) -> KmsError {
    move |error| KmsError::Pkcs11(format!("{context}: {error}"))
}

/// The library context of one module, initialised once per process and kept for its life.
fn context(module: &Path) -> Result<Pkcs11, KmsError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut contexts = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(ctx) = contexts.get(module) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(module)
        .map_err(|e| KmsError::Pkcs11(format!("loading the module {}: {e}", module.display())))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(ck("C_Initialize")(e)),
    }
    contexts.insert(module.to_path_buf(), ctx.clone());
    Ok(ctx)
}

impl Pkcs11Kms {
    /// Loads the module, finds the token by label and logs in. Does not create a key: see
    /// [`Pkcs11Kms::ensure_key`].
    pub fn connect(settings: &Pkcs11Settings) -> Result<Self, KmsError> {
        if settings.mechanism == KekMechanism::LocalAesGcm {
            return Err(KmsError::Unsupported(
                "the PKCS#11 KMS uses mechanism aes-gcm or cloudkms-aes-gcm".into(),
            ));
        }
        if settings.key_label.is_empty() || settings.key_label.len() > 64 {
            return Err(KmsError::Unsupported(
                "the key label must have 1 to 64 bytes".into(),
            ));
        }
        let ctx = context(&settings.module)?;
        let mut found = None;
        for slot in ctx
            .get_slots_with_initialized_token()
            .map_err(ck("C_GetSlotList"))?
        {
            let info = ctx.get_token_info(slot).map_err(ck("C_GetTokenInfo"))?;
            if info.label().trim_end() == settings.token_label {
                found = Some(slot);
                break;
            }
        }
        let slot = found.ok_or_else(|| {
            KmsError::Pkcs11(format!(
                "no initialised token labelled {:?} in {}",
                settings.token_label,
                settings.module.display()
            ))
        })?;
        let anchor = ctx.open_ro_session(slot).map_err(ck("C_OpenSession"))?;
        login(&anchor, &settings.pin)?;
        Ok(Self {
            ctx,
            slot,
            key_label: settings.key_label.clone(),
            mechanism: settings.mechanism,
            _anchor: Mutex::new(anchor),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Creates version 1 when the token has no version of the KEK yet (a first start); returns the newest version.
    pub fn ensure_key(&self) -> Result<u32, KmsError> {
        match self.newest_version() {
            Err(KmsError::NoKey(_)) => self.create_new_version(),
            other => other,
        }
    }

    /// What the token says about one KEK version's protection; `value_readable` is whether `CKA_VALUE` could be read
    /// (it must not be).
    pub fn key_protection(&self, version: u32) -> Result<KeyProtection, KmsError> {
        let handles = self.handles(version)?;
        self.with_session(|session| {
            let mut protection = KeyProtection {
                sensitive: true,
                extractable: false,
                value_readable: false,
            };
            for handle in handles {
                let attributes = session
                    .get_attributes(handle, &[AttributeType::Sensitive, AttributeType::Extractable])
                    .map_err(ck("C_GetAttributeValue"))?;
                for attribute in attributes {
                    match attribute {
                        Attribute::Sensitive(s) => protection.sensitive &= s,
                        Attribute::Extractable(e) => protection.extractable |= e,
                        _ => {}
                    }
                }
                let value = session.get_attributes(handle, &[AttributeType::Value]);
                protection.value_readable |=
                    matches!(value, Ok(v) if v.iter().any(|a| matches!(a, Attribute::Value(bytes) if !bytes.is_empty())));
            }
            Ok(protection)
        })
    }

    /// Runs `f` on a logged-in session of this KMS's own (never shared between threads at once).
    fn with_session<T>(&self, f: impl FnOnce(&Session) -> Result<T, KmsError>) -> Result<T, KmsError> {
        let pooled = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let session = match pooled {
            Some(session) => session,
            None => self.ctx.open_ro_session(self.slot).map_err(ck("C_OpenSession"))?,
        };
        let result = f(&session);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_SESSIONS {
            idle.push(session);
        }
        result
    }

    /// Every KEK version in the token and its object(s).
    fn versions(&self) -> Result<BTreeMap<u32, Vec<ObjectHandle>>, KmsError> {
        self.with_session(|session| {
            let template = [
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
            ];
            let mut versions: BTreeMap<u32, Vec<ObjectHandle>> = BTreeMap::new();
            for handle in session.find_objects(&template).map_err(ck("C_FindObjects"))? {
                let attributes = session
                    .get_attributes(handle, &[AttributeType::Label, AttributeType::Id])
                    .map_err(ck("C_GetAttributeValue"))?;
                let mut label = Vec::new();
                let mut id = Vec::new();
                for attribute in attributes {
                    match attribute {
                        Attribute::Label(l) => label = l,
                        Attribute::Id(i) => id = i,
                        _ => {}
                    }
                }
                if let Some(version) = parse_version(&self.key_label, &label, &id) {
                    versions.entry(version).or_default().push(handle);
                }
            }
            Ok(versions)
        })
    }

    fn handles(&self, version: u32) -> Result<Vec<ObjectHandle>, KmsError> {
        self.versions()?
            .remove(&version)
            .ok_or_else(|| KmsError::UnknownVersion {
                kek_id: self.key_label.clone(),
                version,
            })
    }

    fn newest(&self) -> Result<(u32, ObjectHandle), KmsError> {
        self.versions()?
            .into_iter()
            .next_back()
            .and_then(|(version, handles)| handles.first().map(|h| (version, *h)))
            .ok_or_else(|| KmsError::NoKey(self.key_label.clone()))
    }

    fn vendor_mechanism_error(&self, error: CkError) -> KmsError {
        match error {
            CkError::Pkcs11(RvError::MechanismInvalid | RvError::MechanismParamInvalid, _)
                if self.mechanism == KekMechanism::CloudkmsAesGcm =>
            {
                KmsError::Unsupported(
                    "this token does not support CKM_CLOUDKMS_AES_GCM (only Google Cloud KMS's kmsp11 does); \
                     configure kms.pkcs11.mechanism = \"aes-gcm\""
                        .into(),
                )
            }
            other => ck("C_Encrypt")(other),
        }
    }
}

/// What [`Pkcs11Kms::key_protection`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyProtection {
    pub sensitive: bool,
    pub extractable: bool,
    pub value_readable: bool,
}

fn login(session: &Session, pin: &Secret<String>) -> Result<(), KmsError> {
    let pin = AuthPin::from(pin.expose().clone());
    match session.login(UserType::User, Some(&pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
            Err(KmsError::Pkcs11("C_Login: the PIN is wrong".into()))
        }
        Err(e) => Err(ck("C_Login")(e)),
    }
}

fn version_label(prefix: &str, version: u32) -> String {
    format!("{prefix}-v{version}")
}

/// `<prefix>-v<n>` (this backend's objects), or label `<prefix>` with `CKA_ID` `…/cryptoKeyVersions/<n>` (kmsp11).
fn parse_version(prefix: &str, label: &[u8], id: &[u8]) -> Option<u32> {
    let label = std::str::from_utf8(label).ok()?;
    if let Some(version) = label
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix("-v"))
    {
        return version.parse().ok().filter(|v| *v > 0);
    }
    if label == prefix {
        let id = std::str::from_utf8(id).ok()?;
        let (_, version) = id.rsplit_once("/cryptoKeyVersions/")?;
        return version.parse().ok().filter(|v| *v > 0);
    }
    None
}

impl Kms for Pkcs11Kms {
    fn kek_id(&self) -> &str {
        &self.key_label
    }

    fn mechanism(&self) -> KekMechanism {
        self.mechanism
    }

    fn accepts(&self, mechanism: KekMechanism) -> bool {
        matches!(mechanism, KekMechanism::AesGcm | KekMechanism::CloudkmsAesGcm)
    }

    fn newest_version(&self) -> Result<u32, KmsError> {
        self.newest().map(|(version, _)| version)
    }

    fn encrypt_data_key(&self, plain_key: &Secret<[u8; 32]>, aad: &[u8]) -> Result<WrappedKey, KmsError> {
        let (version, handle) = self.newest()?;
        let (iv, ciphertext) = self.with_session(|session| match self.mechanism {
            KekMechanism::CloudkmsAesGcm => {
                // The KMS writes the IV it chose into this zeroed buffer during C_Encrypt.
                let mut iv = [0u8; 12];
                let mut params = GcmParams::new(&mut iv, aad, 128.into()).map_err(ck("CK_GCM_PARAMS"))?;
                let kind = MechanismType::new_vendor_defined(CKM_CLOUDKMS_AES_GCM)
                    .map_err(ck("CKM_CLOUDKMS_AES_GCM"))?;
                let mechanism = Mechanism::VendorDefined(VendorDefinedMechanism::new(kind, Some(&params)));
                let ciphertext = session
                    .encrypt(&mechanism, handle, plain_key.expose())
                    .map_err(|e| self.vendor_mechanism_error(e))?;
                let iv = params.iv().to_vec();
                if iv.iter().all(|b| *b == 0) {
                    return Err(KmsError::Pkcs11("CKM_CLOUDKMS_AES_GCM returned no IV".into()));
                }
                Ok((iv, ciphertext))
            }
            _ => {
                let iv: [u8; 12] = random()?;
                let mut iv_param = iv;
                let params = GcmParams::new(&mut iv_param, aad, 128.into()).map_err(ck("CK_GCM_PARAMS"))?;
                let ciphertext = session
                    .encrypt(&Mechanism::AesGcm(params), handle, plain_key.expose())
                    .map_err(ck("C_Encrypt"))?;
                Ok((iv.to_vec(), ciphertext))
            }
        })?;
        Ok(WrappedKey {
            kek_id: self.key_label.clone(),
            kek_version: version,
            mechanism: self.mechanism,
            iv,
            ciphertext,
        })
    }

    fn decrypt_data_key(&self, wrapped: &WrappedKey, aad: &[u8]) -> Result<Secret<[u8; 32]>, KmsError> {
        self.check_owner(wrapped)?;
        if wrapped.iv.len() != 12 || wrapped.ciphertext.len() != 32 + 16 {
            return Err(KmsError::Unwrap);
        }
        let handles = self.handles(wrapped.kek_version)?;
        self.with_session(|session| {
            // Normally one object per version; should two instances have raced to create the same version, the
            // right one is whichever decrypts.
            for handle in &handles {
                let mut iv = [0u8; 12];
                iv.copy_from_slice(&wrapped.iv);
                let params = GcmParams::new(&mut iv, aad, 128.into()).map_err(ck("CK_GCM_PARAMS"))?;
                let mechanism = match wrapped.mechanism {
                    KekMechanism::CloudkmsAesGcm => {
                        let kind = MechanismType::new_vendor_defined(CKM_CLOUDKMS_AES_GCM)
                            .map_err(ck("CKM_CLOUDKMS_AES_GCM"))?;
                        Mechanism::VendorDefined(VendorDefinedMechanism::new(kind, Some(&params)))
                    }
                    _ => Mechanism::AesGcm(params),
                };
                match session.decrypt(&mechanism, *handle, &wrapped.ciphertext) {
                    Ok(plain) => {
                        let key: [u8; 32] = plain.as_slice().try_into().map_err(|_| KmsError::Unwrap)?;
                        return Ok(Secret::new(key));
                    }
                    Err(CkError::Pkcs11(_, Function::Decrypt)) => continue,
                    Err(CkError::Pkcs11(RvError::MechanismInvalid, Function::DecryptInit))
                        if wrapped.mechanism == KekMechanism::CloudkmsAesGcm =>
                    {
                        return Err(KmsError::Unsupported(
                            "this token does not support CKM_CLOUDKMS_AES_GCM (only Google Cloud KMS's kmsp11 does)"
                                .into(),
                        ));
                    }
                    Err(e) => return Err(ck("C_Decrypt")(e)),
                }
            }
            Err(KmsError::Unwrap)
        })
    }

    fn create_new_version(&self) -> Result<u32, KmsError> {
        if self.mechanism == KekMechanism::CloudkmsAesGcm {
            return Err(KmsError::Unsupported(
                "Cloud KMS key versions are created in Cloud KMS (gcloud kms keys versions create, or scheduled \
                 rotation); kmsp11 lists the new version after a restart"
                    .into(),
            ));
        }
        let next = match self.newest_version() {
            Ok(newest) => newest
                .checked_add(1)
                .ok_or(KmsError::Unsupported("no key version left".into()))?,
            Err(KmsError::NoKey(_)) => 1,
            Err(other) => return Err(other),
        };
        let label = version_label(&self.key_label, next);
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Sign(false),
            Attribute::Verify(false),
            Attribute::Derive(false),
            Attribute::Label(label.into_bytes()),
            Attribute::Id(next.to_be_bytes().to_vec()),
        ];
        // Creating a token object needs a read-write session; it is closed right after.
        let session = self.ctx.open_rw_session(self.slot).map_err(ck("C_OpenSession"))?;
        session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(ck("C_GenerateKey"))?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_both_naming_schemes() {
        assert_eq!(parse_version("comanda-kek", b"comanda-kek-v3", b""), Some(3));
        assert_eq!(parse_version("comanda-kek", b"comanda-kek-v0", b""), None);
        assert_eq!(parse_version("comanda-kek", b"other-v3", b""), None);
        assert_eq!(parse_version("comanda-kek", b"comanda-kek-vx", b""), None);
        assert_eq!(
            parse_version(
                "comanda-kek",
                b"comanda-kek",
                b"projects/p/locations/l/keyRings/r/cryptoKeys/comanda-kek/cryptoKeyVersions/7"
            ),
            Some(7)
        );
        assert_eq!(
            parse_version("comanda-kek", b"comanda-kek", b"\x00\x00\x00\x01"),
            None
        );
    }

    #[test]
    fn the_vendor_mechanism_has_google_s_value() {
        assert_eq!(CKM_CLOUDKMS_AES_GCM, 0x8001_E101);
    }
}
