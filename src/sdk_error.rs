//! How a failed AWS call reads, for every service the function calls (QuickSight, SNS, STS,
//! Scheduler, DynamoDB): their SDK errors are one smithy type, so one classification serves
//! all of them. Each service module keeps only its own codes (which refusals are permanent).

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{CredentialsProblem, Error};
use crate::text::truncate;

/// Error codes with which AWS services refuse the caller's credentials or signature rather
/// than the request: the caller's fault, whatever the job's state.
const CREDENTIAL_ERROR_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "InvalidAccessKeyId",
    "RequestExpired",
];

/// Whether a failed AWS call failed on the caller's credentials, and how: none could be loaded
/// (a `CredentialsError` in the chain), or the service refused them (its error code).
pub(crate) fn credentials_problem<E>(err: &SdkError<E, HttpResponse>) -> Option<CredentialsProblem>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if err
        .code()
        .is_some_and(|c| CREDENTIAL_ERROR_CODES.contains(&c))
    {
        return Some(CredentialsProblem::Rejected);
    }
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = next {
        if cause
            .downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return Some(CredentialsProblem::Missing);
        }
        next = cause.source();
    }
    None
}

/// The error for a call that failed on the caller's credentials, with a message a person can
/// act on instead of the SDK's chain.
pub(crate) fn credentials_error<E>(
    service: &'static str,
    operation: &'static str,
    problem: CredentialsProblem,
    err: &SdkError<E, HttpResponse>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = match problem {
        CredentialsProblem::Missing => "none could be loaded; set AWS_ACCESS_KEY_ID and \
            AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or AWS_PROFILE, or run with a role"
            .to_owned(),
        CredentialsProblem::Rejected => describe_sdk_error(err),
    };
    Error::CredentialsError {
        service,
        operation,
        problem,
        message,
    }
}

/// Error codes that mean "try again later" although no HTTP status says so.
pub(crate) fn is_request_timeout(code: Option<&str>) -> bool {
    matches!(code, Some("RequestTimeout" | "RequestTimeoutException"))
}

/// A failed call that delivers a notice or an event to `destination`: the caller's
/// credentials, a refusal no retry will change (`permanent`, the service's error codes for a
/// destination gone, disabled or forbidden, or a request it will never take:
/// `NotificationRejected`), or a transient failure (`NotificationFailed`).
pub(crate) fn delivery_error<E>(
    service: &'static str,
    operation: &'static str,
    destination: String,
    permanent: &[&str],
    err: &SdkError<E, HttpResponse>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(problem) = credentials_problem(err) {
        return credentials_error(service, operation, problem, err);
    }
    let message = describe_sdk_error(err);
    if err.code().is_some_and(|code| permanent.contains(&code)) {
        Error::NotificationRejected {
            destination,
            message,
        }
    } else {
        Error::NotificationFailed {
            destination,
            message,
        }
    }
}

/// A short, single-line account of a failed AWS call: the service's code and message when it
/// answered, else what went wrong on the way. The SDK's own Display of a failure carries the
/// whole raw response, which would bloat errorMessage and a state machine's failure cause.
pub(crate) fn describe_sdk_error<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    const MAX: usize = 300;
    let text = match err {
        SdkError::ServiceError(context) => {
            let service = context.err();
            match (service.code(), service.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                // No error code: the answer itself could not be understood (a garbled body, a
                // missing field). Say so, with its HTTP status and why it did not parse.
                _ => {
                    let status = context.raw().status().as_u16();
                    let why = causes(service);
                    format!("unrecognized answer (HTTP {status}): {why}")
                }
            }
        }
        SdkError::TimeoutError(_) => "the call timed out".to_owned(),
        SdkError::DispatchFailure(failure) => {
            let source = causes(err);
            if failure.is_timeout() {
                format!("timed out connecting: {source}")
            } else {
                format!("could not send the request: {source}")
            }
        }
        SdkError::ResponseError(_) => "the response could not be read".to_owned(),
        SdkError::ConstructionFailure(_) => "the request could not be built".to_owned(),
        _ => "the call failed".to_owned(),
    };
    truncate(&text.replace(['\n', '\r'], " "), MAX).into_owned()
}

/// An error's causes, each level's Display only: "io error: client error (Connect): ...".
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut causes = Vec::new();
    let mut next = err.source();
    while let Some(cause) = next.filter(|_| causes.len() < 4) {
        causes.push(cause.to_string());
        next = cause.source();
    }
    causes.join(": ")
}
