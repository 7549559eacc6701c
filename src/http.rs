//! The one HTTPS client every SDK client shares, and the roots it trusts.
//!
//! Left to themselves, aws-config and each service client get a default client of their own,
//! and each of those parses the CA roots into its own TLS connector. Shared, the client builds
//! its connector once per timeout setting for all of them.

use std::str::FromStr;

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

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
/// the chosen roots.
pub fn https_client(trust: TrustStore) -> Result<SharedHttpClient, Error> {
    // `build` only stores its parts today (the bundled roots are parsed at the first
    // connection, and the tests below prove they parse). Should it ever check them, a failure
    // must stop the cold start, never fall back to a store the deployer did not choose.
    let context = TlsContext::builder()
        .with_trust_store(trust.roots())
        .build()
        .map_err(|e| Error::InvalidConfiguration(format!("TRUST_STORE {trust:?}: {e}")))?;
    Ok(
        Builder::new().build_with_connector_fn(move |settings, components| {
            let mut connector = ConnectorBuilder::default()
                .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                .tls_context(context.clone());
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::from_env()));
            connector.build()
        }),
    )
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
