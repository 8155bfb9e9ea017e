//! The pipeline of a backup object: plaintext snapshot → zstd → age (X25519 recipient), and back. Streams through
//! files, so a database larger than memory is fine; SHA-256 of both sides is computed on the way.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use ring::digest::{Context, SHA256};

use crate::BackupError;
use crate::progress::Progress;

/// Hex SHA-256.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file's content and its length.
pub fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    let mut reader = HashingReader::new(File::open(path)?, None);
    io::copy(&mut reader, &mut io::sink())?;
    Ok(reader.finish())
}

pub struct HashingReader<R> {
    inner: R,
    digest: Context,
    bytes: u64,
    progress: Option<Progress>,
}

impl<R> HashingReader<R> {
    pub fn new(inner: R, progress: Option<Progress>) -> Self {
        Self {
            inner,
            digest: Context::new(&SHA256),
            bytes: 0,
            progress,
        }
    }

    pub fn finish(self) -> (String, u64) {
        (hex(self.digest.finish().as_ref()), self.bytes)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        self.bytes += n as u64;
        if let Some(progress) = &self.progress {
            progress.inc(n as u64);
        }
        Ok(n)
    }
}

pub struct HashingWriter<W> {
    inner: W,
    digest: Context,
    bytes: u64,
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            digest: Context::new(&SHA256),
            bytes: 0,
        }
    }

    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex(self.digest.finish().as_ref()), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digest.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// What sealing produced.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub snapshot_sha256: String,
    pub snapshot_bytes: u64,
    pub object_sha256: String,
    pub object_bytes: u64,
}

/// Compresses and encrypts `plain` into `out` for `recipient`.
pub fn seal(
    plain: &Path,
    out: &Path,
    recipient: &age::x25519::Recipient,
    progress: Progress,
) -> Result<Sealed, BackupError> {
    let io_err = |e: io::Error| BackupError::Io(format!("sealing the snapshot: {e}"));
    let mut reader = HashingReader::new(BufReader::new(File::open(plain).map_err(io_err)?), Some(progress));
    let sink = HashingWriter::new(BufWriter::new(File::create(out).map_err(io_err)?));
    let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
        .map_err(|e| BackupError::Crypto(e.to_string()))?;
    let encrypted = encryptor.wrap_output(sink).map_err(io_err)?;
    let mut compressor = zstd::stream::Encoder::new(encrypted, 3).map_err(io_err)?;
    io::copy(&mut reader, &mut compressor).map_err(io_err)?;
    let encrypted = compressor.finish().map_err(io_err)?;
    let sink = encrypted.finish().map_err(io_err)?;
    let (file, object_sha256, object_bytes) = sink.finish();
    file.into_inner()
        .map_err(|e| io_err(e.into_error()))?
        .sync_all()
        .map_err(io_err)?;
    let (snapshot_sha256, snapshot_bytes) = reader.finish();
    Ok(Sealed {
        snapshot_sha256,
        snapshot_bytes,
        object_sha256,
        object_bytes,
    })
}

/// Decrypts and decompresses `object` into `out`, returning the plaintext's SHA-256 and length. Fails with
/// [`BackupError::Crypto`] when `identity` is not the key the object was encrypted to, or the object was altered.
pub fn open(
    object: &Path,
    out: &Path,
    identity: &age::x25519::Identity,
    progress: Progress,
) -> Result<(String, u64), BackupError> {
    let io_err = |e: io::Error| BackupError::Io(format!("opening the backup: {e}"));
    let input = HashingReader::new(
        BufReader::new(File::open(object).map_err(io_err)?),
        Some(progress),
    );
    let decryptor = age::Decryptor::new_buffered(BufReader::new(input))
        .map_err(|e| BackupError::Crypto(e.to_string()))?;
    let decrypted = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| BackupError::Crypto(e.to_string()))?;
    let mut decompressor = zstd::stream::Decoder::new(decrypted).map_err(io_err)?;
    let mut sink = HashingWriter::new(BufWriter::new(File::create(out).map_err(io_err)?));
    io::copy(&mut decompressor, &mut sink).map_err(|e| {
        // age reports a wrong tag (an altered object) as an I/O error of its reader.
        BackupError::Crypto(format!("the backup does not decrypt: {e}"))
    })?;
    let (file, sha, bytes) = sink.finish();
    file.into_inner()
        .map_err(|e| io_err(e.into_error()))?
        .sync_all()
        .map_err(io_err)?;
    Ok((sha, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_objects_open_only_with_the_backup_key() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        let text = "Restaurante La Ceiba, mesa 4, ana@example.co ".repeat(1000);
        std::fs::write(&plain, &text).unwrap();
        let key = age::x25519::Identity::generate();
        let sealed = seal(
            &plain,
            &dir.path().join("obj"),
            &key.to_public(),
            Progress::hidden(),
        )
        .unwrap();
        assert!(sealed.object_bytes < sealed.snapshot_bytes, "compressed");
        let raw = std::fs::read(dir.path().join("obj")).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("La Ceiba"));
        assert_eq!(
            sha256_file(&dir.path().join("obj")).unwrap().0,
            sealed.object_sha256
        );

        let (sha, bytes) = open(
            &dir.path().join("obj"),
            &dir.path().join("back"),
            &key,
            Progress::hidden(),
        )
        .unwrap();
        assert_eq!(
            (sha, bytes),
            (sealed.snapshot_sha256.clone(), sealed.snapshot_bytes)
        );
        assert_eq!(std::fs::read_to_string(dir.path().join("back")).unwrap(), text);

        let other = age::x25519::Identity::generate();
        let wrong = open(
            &dir.path().join("obj"),
            &dir.path().join("x"),
            &other,
            Progress::hidden(),
        );
        assert!(matches!(wrong, Err(BackupError::Crypto(_))), "{wrong:?}");

        let mut altered = raw.clone();
        let at = altered.len() - 40;
        altered[at] ^= 0x55;
        std::fs::write(dir.path().join("altered"), &altered).unwrap();
        let tampered = open(
            &dir.path().join("altered"),
            &dir.path().join("y"),
            &key,
            Progress::hidden(),
        );
        assert!(matches!(tampered, Err(BackupError::Crypto(_))), "{tampered:?}");
    }
}
