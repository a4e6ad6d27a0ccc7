use super::*;

fn signer() -> (tempfile::TempDir, Signer) {
    let dir = tempfile::tempdir().unwrap();
    let identity =
        SigningIdentity::load_or_create(dir.path(), &SigningSettings::default()).unwrap();
    (dir, Signer::new(identity))
}

const AT: u64 = 1_767_261_600; // 2026-01-01T10:00:00Z

#[test]
fn signs_verifies_and_inspects() {
    let (_dir, s) = signer();
    let zfo = s.sign(b"<a xmlns=\"urn:x\">1</a>", AT).unwrap();
    let v = s.verify(&zfo).unwrap();
    assert_eq!(v.content, b"<a xmlns=\"urn:x\">1</a>");
    assert_eq!(v.signing_time, AT);
    assert_eq!(v.stamp.gen_time, AT);
    let i = inspect(&zfo).unwrap();
    assert!(i.signer.unwrap().contains("message seal"));
    assert!(
        i.stamp_authority
            .unwrap()
            .contains("time-stamping authority")
    );
    assert_eq!(i.signing_time, Some(AT));
}

#[test]
fn identity_is_kept_across_starts() {
    let (dir, s) = signer();
    let zfo = s.sign(b"x", AT).unwrap();
    let again = Signer::new(
        SigningIdentity::load_or_create(dir.path(), &SigningSettings::default()).unwrap(),
    );
    assert!(again.verify(&zfo).is_ok());
    // Another gateway's identity does not accept it.
    let (_other_dir, other) = signer();
    assert_eq!(other.verify(&zfo), Err(VerifyError::UnknownSigner));
}

#[test]
fn every_changed_byte_is_noticed() {
    let (_dir, s) = signer();
    let zfo = s.sign(b"<a>content</a>", AT).unwrap();
    for i in 0..zfo.len() {
        let mut bad = zfo.clone();
        bad[i] ^= 0x01;
        assert!(s.verify(&bad).is_err(), "byte {i} of {} flipped", zfo.len());
    }
    let mut longer = zfo.clone();
    longer.push(0);
    assert!(s.verify(&longer).is_err());
    assert!(s.verify(&zfo[..zfo.len() - 1]).is_err());
    assert!(s.verify(b"").is_err());
}

#[test]
fn restamp_keeps_the_signature_and_renews_the_stamp() {
    let (_dir, s) = signer();
    let zfo = s.sign(b"<a/>", AT).unwrap();
    let again = s.restamp(&zfo, AT + 3600).unwrap();
    let v = s.verify(&again).unwrap();
    assert_eq!(v.signing_time, AT);
    assert_eq!(v.stamp.gen_time, AT + 3600);
    let mut bad = zfo.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert!(matches!(s.restamp(&bad, AT), Err(SignError::NotOurs(_))));
}

#[test]
fn standalone_time_stamp_verifies() {
    let (_dir, s) = signer();
    let hash = [7u8; 32];
    let token = s.timestamp(&hash, AT).unwrap();
    let ci = tsa::from_der(&token).unwrap();
    let facts = tsa::verify(&ci, &s.identity().tsa, &hash).unwrap();
    assert_eq!(facts.gen_time, AT);
    assert!(tsa::verify(&ci, &s.identity().tsa, &[8u8; 32]).is_err());
}

/// The keys generated here are read by ring (the fast path of every
/// signature and time stamp), and its signatures verify with the key as
/// `p256` reads it, as do those of the `p256` fallback.
#[test]
fn ring_signs_the_generated_keys_and_p256_verifies_them() {
    use p256::ecdsa::DerSignature;
    use p256::ecdsa::signature::Verifier as _;
    let (_dir, s) = signer();
    for pair in [&s.identity().signer, &s.identity().tsa] {
        assert!(pair.fast.is_some(), "ring did not read the key");
        let ring = pair.sign_der(b"stamp me").unwrap();
        let sig = DerSignature::from_bytes(&ring).unwrap();
        pair.verifying_key().verify(b"stamp me", &sig).unwrap();
        assert!(
            pair.verifying_key().verify(b"stamp you", &sig).is_err(),
            "a signature of other bytes verified"
        );
    }
}
