//! Pairing: one device invites, another joins with the code.
//!
//! SPAKE2 (Ed25519 group) runs with the code as the password and both devices' identities (their
//! libp2p peer ids) as the SPAKE2 identities, so a session cannot be relayed to another device.
//! From the shared secret, HKDF-SHA256 derives two confirmation keys, a sealing key and a short
//! verifier. The inviter confirms first; the joiner checks it, confirms in turn and sends its join
//! request sealed; the inviter checks that and replies with the journal id and key, sealed.
//! The first hello spends the invite: one guess per invite.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use mend_crypto::{open_with_key, seal_with_key};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use spake2::{Ed25519Group, Identity, Password, Spake2};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{InviteCode, PairError, Request, Response};

const AD_JOIN: &[u8] = b"mend/pair/1 join";
const AD_WELCOME: &[u8] = b"mend/pair/1 welcome";

/// What the joining device tells the inviter about itself (sealed on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequest {
    pub person_name: String,
    pub device_name: String,
    /// The joining device's public key, hex.
    pub device_key: String,
}

/// What the inviter hands the new device (sealed on the wire). Zeroized on drop.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Welcome {
    pub journal_id: [u8; 16],
    pub journal_key: [u8; 32],
    /// The person the new device belongs to (existing, or new to the journal).
    pub person_id: String,
    pub person_name: String,
    /// Who invited, and from which device.
    pub inviter_name: String,
    pub inviter_device_key: String,
    pub inviter_device_name: String,
    /// The heads of the history the inviter holds from before signed changes, which the new
    /// device takes on the inviter's word (empty for a journal made since).
    pub legacy_heads: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Welcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Welcome([REDACTED])")
    }
}

#[derive(Zeroize, ZeroizeOnDrop)]
struct Keys {
    confirm_inviter: [u8; 32],
    confirm_joiner: [u8; 32],
    seal: [u8; 32],
    verifier: [u8; 4],
}

fn derive(shared: &[u8], transcript: &[u8]) -> Keys {
    let hk = Hkdf::<Sha256>::new(Some(transcript), shared);
    let mut k = Keys {
        confirm_inviter: [0; 32],
        confirm_joiner: [0; 32],
        seal: [0; 32],
        verifier: [0; 4],
    };
    let expand = |info: &[u8], out: &mut [u8]| hk.expand(info, out).expect("valid HKDF length");
    expand(b"mend/pair/1 confirm inviter", &mut k.confirm_inviter);
    expand(b"mend/pair/1 confirm joiner", &mut k.confirm_joiner);
    expand(b"mend/pair/1 seal", &mut k.seal);
    expand(b"mend/pair/1 verifier", &mut k.verifier);
    k
}

fn transcript(inviter: &[u8], joiner: &[u8], msg_a: &[u8], msg_b: &[u8]) -> Vec<u8> {
    let mut t = b"mend/pair/1".to_vec();
    for part in [inviter, joiner, msg_a, msg_b] {
        t.extend((part.len() as u32).to_be_bytes());
        t.extend(part);
    }
    t
}

fn mac(key: &[u8; 32], transcript: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(transcript);
    m.finalize().into_bytes().to_vec()
}

fn verify(key: &[u8; 32], transcript: &[u8], tag: &[u8]) -> bool {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(transcript);
    m.verify_slice(tag).is_ok()
}

fn verifier_digits(k: &Keys) -> String {
    let n = u32::from_be_bytes(k.verifier) % 1_000_000;
    format!("{:03} {:03}", n / 1000, n % 1000)
}

fn password(code: &InviteCode) -> Password {
    Password::new(code.as_str().as_bytes())
}

/// The inviting side. One invite admits one attempt.
pub struct Inviter {
    code: InviteCode,
    me: Vec<u8>,
    spent: bool,
    session: Option<(Vec<u8>, Vec<u8>, Keys)>,
}

impl Inviter {
    pub fn new(code: InviteCode, my_peer_id: &[u8]) -> Self {
        Self {
            code,
            me: my_peer_id.to_vec(),
            spent: false,
            session: None,
        }
    }

    /// A joiner's hello. Spends the invite, whatever happens next.
    pub fn on_hello(&mut self, joiner: &[u8], spake_b: &[u8]) -> Result<Response, PairError> {
        if self.spent {
            return Err(PairError::InviteSpent);
        }
        self.spent = true;
        let (state, msg_a) = Spake2::<Ed25519Group>::start_a(
            &password(&self.code),
            &Identity::new(&self.me),
            &Identity::new(joiner),
        );
        let shared = Zeroizing::new(state.finish(spake_b).map_err(|_| PairError::Malformed)?);
        let t = transcript(&self.me, joiner, &msg_a, spake_b);
        let keys = derive(&shared, &t);
        let tag = mac(&keys.confirm_inviter, &t);
        self.session = Some((joiner.to_vec(), t, keys));
        Ok(Response::PairHello {
            spake: msg_a,
            mac: tag,
        })
    }

    /// The joiner's confirmation. A wrong code shows here (or as an empty confirmation).
    pub fn on_confirm(
        &mut self,
        joiner: &[u8],
        mac_b: &[u8],
        sealed_join: &[u8],
    ) -> Result<JoinRequest, PairError> {
        let Some((who, t, keys)) = &self.session else {
            return Err(PairError::OutOfOrder("confirmation before hello"));
        };
        if who != joiner {
            return Err(PairError::OutOfOrder("confirmation from another device"));
        }
        if !verify(&keys.confirm_joiner, t, mac_b) {
            self.session = None;
            return Err(PairError::WrongCode);
        }
        let plain = Zeroizing::new(
            open_with_key(&keys.seal, AD_JOIN, sealed_join).map_err(|_| PairError::Malformed)?,
        );
        postcard::from_bytes(&plain).map_err(|_| PairError::Malformed)
    }

    /// Seal the welcome for the confirmed joiner.
    pub fn welcome(&self, welcome: &Welcome) -> Result<Response, PairError> {
        let Some((_, _, keys)) = &self.session else {
            return Err(PairError::OutOfOrder("welcome before confirmation"));
        };
        let plain = Zeroizing::new(postcard::to_stdvec(welcome).map_err(|_| PairError::Malformed)?);
        let sealed =
            seal_with_key(&keys.seal, AD_WELCOME, &plain).map_err(|_| PairError::Random)?;
        Ok(Response::PairWelcome { sealed })
    }

    /// The six digits both partners can compare, once a joiner has said hello.
    pub fn verifier(&self) -> Option<String> {
        self.session.as_ref().map(|(_, _, k)| verifier_digits(k))
    }

    pub fn is_spent(&self) -> bool {
        self.spent
    }
}

/// The joining side.
pub struct Joiner {
    code: InviteCode,
    me: Vec<u8>,
    inviter: Vec<u8>,
    spake: Option<Spake2<Ed25519Group>>,
    msg_b: Vec<u8>,
    keys: Option<Keys>,
}

impl Joiner {
    /// Begin: the hello to send to the inviter.
    pub fn start(code: InviteCode, my_peer_id: &[u8], inviter_peer_id: &[u8]) -> (Self, Request) {
        let (state, msg_b) = Spake2::<Ed25519Group>::start_b(
            &password(&code),
            &Identity::new(inviter_peer_id),
            &Identity::new(my_peer_id),
        );
        let hello = Request::PairHello {
            spake: msg_b.clone(),
        };
        let joiner = Self {
            code,
            me: my_peer_id.to_vec(),
            inviter: inviter_peer_id.to_vec(),
            spake: Some(state),
            msg_b,
            keys: None,
        };
        (joiner, hello)
    }

    /// The inviter answered the hello: check its confirmation, then confirm and ask to join.
    pub fn on_hello_reply(
        &mut self,
        spake_a: &[u8],
        mac_a: &[u8],
        join: &JoinRequest,
    ) -> Result<Request, PairError> {
        let state = self
            .spake
            .take()
            .ok_or(PairError::OutOfOrder("a second hello reply"))?;
        let shared = Zeroizing::new(state.finish(spake_a).map_err(|_| PairError::Malformed)?);
        let t = transcript(&self.inviter, &self.me, spake_a, &self.msg_b);
        let keys = derive(&shared, &t);
        if !verify(&keys.confirm_inviter, &t, mac_a) {
            return Err(PairError::WrongCode);
        }
        let plain = Zeroizing::new(postcard::to_stdvec(join).map_err(|_| PairError::Malformed)?);
        let sealed_join =
            seal_with_key(&keys.seal, AD_JOIN, &plain).map_err(|_| PairError::Random)?;
        let request = Request::PairConfirm {
            mac: mac(&keys.confirm_joiner, &t),
            sealed_join,
        };
        self.keys = Some(keys);
        Ok(request)
    }

    /// What to send when the code turned out wrong, so the inviter knows too.
    pub fn give_up() -> Request {
        Request::PairConfirm {
            mac: Vec::new(),
            sealed_join: Vec::new(),
        }
    }

    /// The inviter's welcome: the journal id and key.
    pub fn on_welcome(&self, sealed: &[u8]) -> Result<Welcome, PairError> {
        let keys = self
            .keys
            .as_ref()
            .ok_or(PairError::OutOfOrder("welcome before confirmation"))?;
        let plain = Zeroizing::new(
            open_with_key(&keys.seal, AD_WELCOME, sealed).map_err(|_| PairError::Malformed)?,
        );
        postcard::from_bytes(&plain).map_err(|_| PairError::Malformed)
    }

    pub fn verifier(&self) -> Option<String> {
        self.keys.as_ref().map(verifier_digits)
    }

    pub fn code(&self) -> &InviteCode {
        &self.code
    }
}
