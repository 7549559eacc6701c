//! Who signed a request, for the rule the service documents: a job started with
//! identity-enhanced credentials (a registered user's job, started without UserConfiguration)
//! may only be described, and its result read, by the same QuickSight user; anyone else gets
//! AccessDenied.
//!
//! The caller is the access key of the SigV4 `Authorization` header. With `--identity-endpoint`
//! (an STS such as moto's) it is the principal STS `GetCallerIdentity` names for that key, an
//! assumed role without its session name: two sessions of one role are one user here, as two
//! sessions with one identity context are one user in QuickSight.

use std::collections::HashMap;
use std::sync::Mutex;

use hyper::header::{HeaderMap, AUTHORIZATION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Resolves the signer of requests, remembering each access key's principal.
#[derive(Debug, Default)]
pub struct Identities {
    endpoint: Option<String>,
    known: Mutex<HashMap<String, String>>,
}

impl Identities {
    /// Callers named by their access key alone.
    pub fn by_access_key() -> Identities {
        Identities::default()
    }

    /// Callers named by the principal `endpoint` (`http://HOST:PORT`) says owns their key.
    pub fn from_sts(endpoint: String) -> Identities {
        Identities {
            endpoint: Some(endpoint),
            known: Mutex::new(HashMap::new()),
        }
    }

    /// The STS that names callers, if any.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The caller of a request; None when it is not signed. `sessions` names the user of a
    /// session assumed with an identity context.
    pub async fn caller(
        &self,
        headers: &HeaderMap,
        sessions: &std::collections::BTreeMap<String, String>,
    ) -> Option<String> {
        let authorization = headers.get(AUTHORIZATION)?.to_str().ok()?;
        let key = access_key(authorization)?.to_owned();
        if let Some(user) = sessions.get(&key) {
            return Some(user.clone());
        }
        let Some(endpoint) = &self.endpoint else {
            return Some(key);
        };
        if let Some(known) = self.lock().get(&key) {
            return Some(known.clone());
        }
        let principal = get_caller_identity(endpoint, &key)
            .await
            .map(|arn| without_session(&arn))
            // An STS that cannot answer leaves the key itself as the caller.
            .unwrap_or_else(|| key.clone());
        self.lock().insert(key, principal.clone());
        Some(principal)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `AKID` of `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`.
pub fn access_key(authorization: &str) -> Option<&str> {
    let credential = authorization.split("Credential=").nth(1)?;
    credential.split('/').next().filter(|key| !key.is_empty())
}

/// `arn:aws:sts::ACCOUNT:assumed-role/ROLE` of `.../ROLE/SESSION`; other principals as given.
pub fn without_session(arn: &str) -> String {
    match arn.split_once(":assumed-role/") {
        Some((head, role_and_session)) => {
            let role = role_and_session
                .split('/')
                .next()
                .unwrap_or(role_and_session);
            format!("{head}:assumed-role/{role}")
        }
        None => arn.to_owned(),
    }
}

/// Asks the STS at `endpoint` who owns `access_key` (a plain HTTP/1.1 POST; moto reads the key
/// from an `Authorization` header scoped to STS, and checks no signature).
async fn get_caller_identity(endpoint: &str, access_key: &str) -> Option<String> {
    let address = endpoint.strip_prefix("http://")?.trim_end_matches('/');
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/20260101/us-east-1/sts/aws4_request, \
         SignedHeaders=host, Signature=0"
    );
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(address).await.ok()?;
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    let arn = answer.split("<Arn>").nth(1)?.split("</Arn>").next()?;
    Some(arn.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_key_is_read_from_a_sigv4_authorization_header() {
        let header = "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261130/us-east-1/quicksight/aws4_request, SignedHeaders=host, Signature=abc";
        assert_eq!(access_key(header), Some("ASIAEXAMPLE"));
        assert_eq!(access_key("Bearer token"), None);
    }

    #[test]
    fn sessions_of_one_role_are_one_caller() {
        assert_eq!(
            without_session("arn:aws:sts::123456789012:assumed-role/exporter/qsp-d-j"),
            "arn:aws:sts::123456789012:assumed-role/exporter"
        );
        assert_eq!(
            without_session("arn:aws:iam::123456789012:user/moto"),
            "arn:aws:iam::123456789012:user/moto"
        );
    }
}
