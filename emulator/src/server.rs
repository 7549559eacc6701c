//! The HTTP/1.1 server: accepts connections, answers each request through the router, logs one
//! line per request, and keeps going whatever a handler does.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::routes;
use crate::state::Emulator;
use crate::wire::{AwsError, Body, ErrorType, Reply, RequestId};

pub struct Server {
    listener: TcpListener,
    /// Set by `with_tls`: connections are TLS, with that certificate chain.
    tls: Option<TlsAcceptor>,
}

/// Returned to hyper to make it close the connection without writing a response.
#[derive(Debug)]
struct HungUp;

impl std::fmt::Display for HungUp {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for HungUp {}

impl Server {
    pub async fn bind(host: &str, port: u16) -> io::Result<Server> {
        let listener = TcpListener::bind((host, port)).await?;
        Ok(Server {
            listener,
            tls: None,
        })
    }

    /// Serves HTTPS with the PEM chain `cert` (leaf first) and its PEM private key `key`.
    pub fn with_tls(mut self, cert: &Path, key: &Path) -> Result<Server, String> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|error| format!("--tls-cert {}: {error}", cert.display()))?;
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|error| format!("--tls-key {}: {error}", key.display()))?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
            .map_err(|error| format!("TLS: {error}"))?;
        self.tls = Some(TlsAcceptor::from(Arc::new(config)));
        Ok(self)
    }

    /// `https` with a certificate, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes. Connections still open then are abandoned: the
    /// emulator holds nothing that needs a graceful close.
    pub async fn run(self, emulator: Arc<Emulator>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        // AWS endpoints answer at once. Without TCP_NODELAY, a response that
                        // follows a small unacknowledged write (TLS 1.3's session tickets)
                        // waits for the client's delayed ACK, about 40 ms, which benchmarks
                        // took for the client's own cold start. Failing to set it only slows
                        // the answer, so the connection is served either way.
                        if let Err(error) = stream.set_nodelay(true) {
                            eprintln!("TCP_NODELAY refused: {error}");
                        }
                        match &self.tls {
                            None => {
                                tokio::spawn(serve_connection(stream, emulator.clone()));
                            }
                            Some(tls) => {
                                let (tls, emulator) = (tls.clone(), emulator.clone());
                                tokio::spawn(async move {
                                    if let Ok(stream) = tls.accept(stream).await {
                                        serve_connection(stream, emulator).await;
                                    }
                                });
                            }
                        }
                    }
                    Err(error) => {
                        // Usually out of file descriptors: back off instead of spinning.
                        eprintln!("accept failed: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
    }
}

async fn serve_connection<S>(stream: S, emulator: Arc<Emulator>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| answer(emulator.clone(), request));
    // Errors here are clients going away and injected hang-ups; the request log already has them.
    let _ = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn answer(
    emulator: Arc<Emulator>,
    request: Request<Incoming>,
) -> Result<Response<Body>, HungUp> {
    let line = format!("{} {}", request.method(), request.uri().path());
    match shielded(routes::route(emulator, request)).await {
        Reply::Respond(response) => {
            eprintln!("{line} {}", response.status().as_u16());
            Ok(response)
        }
        Reply::HangUp => {
            eprintln!("{line} dropped");
            Err(HungUp)
        }
    }
}

/// Runs a handler on its own task so that a panic becomes a 500 for that request alone.
pub async fn shielded<F>(handler: F) -> Reply
where
    F: Future<Output = Reply> + Send + 'static,
{
    match tokio::spawn(handler).await {
        Ok(reply) => reply,
        Err(failure) => {
            let message = if failure.is_panic() {
                "The emulator failed while handling this request."
            } else {
                "The request was cancelled."
            };
            AwsError::new(ErrorType::InternalFailure, message).reply(&RequestId::fresh())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::StatusCode;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_internal_failure() {
        let reply = shielded(async { panic!("handler bug") }).await;
        let Reply::Respond(response) = reply else {
            panic!("expected a response");
        };
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()["x-amzn-errortype"],
            "InternalFailureException"
        );
    }

    #[tokio::test]
    async fn a_healthy_handler_is_answered_unchanged() {
        let reply = shielded(async { Reply::HangUp }).await;
        assert!(matches!(reply, Reply::HangUp));
    }
}
