//! The one HTTPS client every SDK client shares, and the roots it trusts.
//!
//! Left to themselves, aws-config and each service client get a default client of their own,
//! and each of those parses the CA roots into its own TLS connector. Shared, the client builds
//! its connector once per timeout setting for all of them.

use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpClient};

use crate::error::Error;

/// The roots of Amazon Trust Services, which issues the certificates of AWS service endpoints.
pub const AMAZON_ROOTS_PEM: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// `TRUST_STORE`: which root certificates TLS connections to AWS trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrustStore {
    /// The platform's store (honours `SSL_CERT_FILE` and `SSL_CERT_DIR`): right everywhere,
    /// including behind an HTTPS proxy or with a custom HTTPS endpoint, but reading and parsing
    /// about 140 roots is most of a cold start.
    #[default]
    System,
    /// Only the five Amazon Trust Services roots compiled into the binary: no file is read at
    /// cold start. For endpoints whose certificates Amazon Trust Services issues (the `aws` and
    /// `aws-us-gov` partitions); an HTTPS proxy or endpoint with another CA fails its handshake.
    Amazon,
}

impl FromStr for TrustStore {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "system" => Ok(TrustStore::System),
            "amazon" => Ok(TrustStore::Amazon),
            _ => Err(format!(
                "TRUST_STORE must be \"system\" or \"amazon\", got {}",
                crate::text::quote(raw)
            )),
        }
    }
}

impl TrustStore {
    fn roots(self) -> tls::TrustStore {
        match self {
            TrustStore::System => tls::TrustStore::default(),
            TrustStore::Amazon => tls::TrustStore::empty().with_pem_certificate(AMAZON_ROOTS_PEM),
        }
    }
}

/// The SDK's client (hyper 1, rustls, the proxy from `HTTPS_PROXY` and friends) on ring, with
/// the chosen roots. `timeouts` are the ones the SDK configuration will carry: the first
/// request's connector is built with them while the first client is built, at init.
pub fn https_client(
    trust: TrustStore,
    timeouts: &TimeoutConfig,
) -> Result<SharedHttpClient, Error> {
    // `build` only stores its parts today (the bundled roots are parsed at the first
    // connection, and the tests below prove they parse). Should it ever check them, a failure
    // must stop the cold start, never fall back to a store the deployer did not choose.
    let context = TlsContext::builder()
        .with_trust_store(trust.roots())
        .build()
        .map_err(|e| Error::InvalidConfiguration(format!("TRUST_STORE {trust:?}: {e}")))?;
    let expected = ConnectorKey {
        connect_timeout: timeouts.connect_timeout(),
        read_timeout: timeouts.read_timeout(),
    };
    let spare = Spare::new(expected);
    Ok(
        Builder::new().build_with_connector_fn(move |settings, components| {
            let tls = |settings: Option<&HttpConnectorSettings>, sleep| {
                let mut connector = ConnectorBuilder::default()
                    .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                    .tls_context(context.clone());
                connector.set_connector_settings(settings.cloned());
                connector.set_sleep_impl(sleep);
                connector.set_proxy_config(Some(ProxyConfig::from_env()));
                connector.build()
            };
            match settings {
                // The SDK checks each new client by building a connector and dropping it, so
                // that the roots load at init. The TLS connector built here is instead the
                // one the first request asks for: one build of it, not two, and that one at
                // init, where Lambda gives full CPU.
                None => {
                    // Without a sleep the builder takes Tokio's, as the SDK's default would give.
                    spare.prepare(|| tls(Some(&expected.settings()), None));
                    // Were a later SDK to send requests through this one, hyper's plain
                    // connector refuses https URLs: it would fail loudly, never go unencrypted.
                    ConnectorBuilder::default().build_http()
                }
                Some(settings) => spare.take(&ConnectorKey::of(settings)).unwrap_or_else(|| {
                    tls(Some(settings), components.and_then(|c| c.sleep_impl()))
                }),
            }
        }),
    )
}

/// What the SDK keys its connectors by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConnectorKey {
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
}

impl ConnectorKey {
    fn of(settings: &HttpConnectorSettings) -> Self {
        ConnectorKey {
            connect_timeout: settings.connect_timeout(),
            read_timeout: settings.read_timeout(),
        }
    }

    fn settings(&self) -> HttpConnectorSettings {
        let mut builder = HttpConnectorSettings::builder();
        builder.set_connect_timeout(self.connect_timeout);
        builder.set_read_timeout(self.read_timeout);
        builder.build()
    }
}

/// One connector built ahead for the first request with the expected settings: prepared at
/// most once, handed out at most once, never prepared after the first request.
struct Spare<T> {
    expected: ConnectorKey,
    state: Mutex<SpareState<T>>,
}

enum SpareState<T> {
    Unprepared,
    Ready(T),
    Done,
}

impl<T> Spare<T> {
    fn new(expected: ConnectorKey) -> Self {
        Spare {
            expected,
            state: Mutex::new(SpareState::Unprepared),
        }
    }

    fn prepare(&self, build: impl FnOnce() -> T) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*state, SpareState::Unprepared) {
            *state = SpareState::Ready(build());
        }
    }

    /// The prepared connector, if `key` is what it was built for. Whatever the key, nothing is
    /// prepared after this: the SDK caches the connector it gets, so a later spare would only
    /// hold memory.
    fn take(&self, key: &ConnectorKey) -> Option<T> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *state, SpareState::Done) {
            SpareState::Ready(connector) if *key == self.expected => Some(connector),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    use sha2::{Digest, Sha256};

    /// The published SHA-256 fingerprints of the Amazon Trust Services roots
    /// (amazontrust.com/repository): Amazon Root CA 1 to 4, Starfield Services Root CA - G2.
    const AMAZON_ROOT_FINGERPRINTS: [&str; 5] = [
        "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
        "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
        "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
        "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
        "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
    ];

    #[test]
    fn bundled_roots_are_exactly_the_amazon_trust_services_roots() {
        let fingerprints: Vec<String> = CertificateDer::pem_slice_iter(AMAZON_ROOTS_PEM)
            .map(|cert| {
                let cert = cert.expect("a well-formed PEM certificate");
                Sha256::digest(cert.as_ref())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect();
        assert_eq!(fingerprints, AMAZON_ROOT_FINGERPRINTS);
    }

    const AT_INIT: ConnectorKey = ConnectorKey {
        connect_timeout: Some(Duration::from_secs(2)),
        read_timeout: None,
    };

    #[test]
    fn the_first_request_gets_the_connector_prepared_at_init() {
        let builds = std::cell::Cell::new(0);
        let spare = Spare::new(AT_INIT);
        for _ in 0..3 {
            // Every client's check asks; one connector is built.
            spare.prepare(|| {
                builds.set(builds.get() + 1);
                "prepared"
            });
        }
        assert_eq!(builds.get(), 1);
        assert_eq!(spare.take(&AT_INIT), Some("prepared"));
        assert_eq!(spare.take(&AT_INIT), None, "handed out once");
    }

    #[test]
    fn a_request_with_other_timeouts_gets_none_and_ends_the_spare() {
        let spare = Spare::new(AT_INIT);
        spare.prepare(|| "prepared");
        let other = ConnectorKey {
            read_timeout: Some(Duration::from_secs(5)),
            ..AT_INIT
        };
        assert_eq!(spare.take(&other), None);
        spare.prepare(|| "late");
        assert_eq!(
            spare.take(&AT_INIT),
            None,
            "nothing prepared after a request"
        );
    }

    #[test]
    fn the_key_round_trips_through_the_sdks_settings() {
        assert_eq!(ConnectorKey::of(&AT_INIT.settings()), AT_INIT);
    }

    #[test]
    fn trust_store_names_parse_case_insensitively() {
        assert_eq!("system".parse(), Ok(TrustStore::System));
        assert_eq!(" Amazon ".parse(), Ok(TrustStore::Amazon));
    }

    #[test]
    fn an_unknown_trust_store_is_named_in_the_error() {
        let err = "webpki".parse::<TrustStore>().unwrap_err();
        assert!(
            err.contains("TRUST_STORE") && err.contains("webpki"),
            "{err}"
        );
    }
}
