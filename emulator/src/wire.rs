//! The restJson1 side of every reply: error shapes and their HTTP statuses from the service model,
//! JSON bodies, request ids and timestamps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

pub type Body = Full<Bytes>;

/// Both SDKs read the error code from this header before looking at the body.
const ERROR_TYPE_HEADER: HeaderName = HeaderName::from_static("x-amzn-errortype");
const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// What the server does with a request. `HangUp` exists for fault injection: the connection is
/// closed without a single byte of response, as a crashed load balancer would.
#[derive(Debug)]
pub enum Reply {
    Respond(Response<Body>),
    HangUp,
}

impl Reply {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Reply::Respond(response) => Some(response.status()),
            Reply::HangUp => None,
        }
    }
}

/// Error shapes of the three operations (with the model's HTTP status), plus the two the AWS front
/// end produces for requests that never reach the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    AccessDenied,
    InvalidParameterValue,
    LimitExceeded,
    ResourceExists,
    ResourceNotFound,
    Throttling,
    UnsupportedUserEdition,
    UnsupportedPricingPlan,
    PreconditionNotMet,
    InternalFailure,
    Serialization,
    UnknownOperation,
    // Common to every AWS JSON service (not in the operation's model): the caller's own
    // credentials or signature refused.
    ExpiredToken,
    UnrecognizedClient,
    InvalidSignature,
}

impl ErrorType {
    const ALL: [ErrorType; 15] = [
        ErrorType::AccessDenied,
        ErrorType::InvalidParameterValue,
        ErrorType::LimitExceeded,
        ErrorType::ResourceExists,
        ErrorType::ResourceNotFound,
        ErrorType::Throttling,
        ErrorType::UnsupportedUserEdition,
        ErrorType::UnsupportedPricingPlan,
        ErrorType::PreconditionNotMet,
        ErrorType::InternalFailure,
        ErrorType::Serialization,
        ErrorType::UnknownOperation,
        ErrorType::ExpiredToken,
        ErrorType::UnrecognizedClient,
        ErrorType::InvalidSignature,
    ];

    pub const fn shape_name(self) -> &'static str {
        match self {
            ErrorType::AccessDenied => "AccessDeniedException",
            ErrorType::InvalidParameterValue => "InvalidParameterValueException",
            ErrorType::LimitExceeded => "LimitExceededException",
            ErrorType::ResourceExists => "ResourceExistsException",
            ErrorType::ResourceNotFound => "ResourceNotFoundException",
            ErrorType::Throttling => "ThrottlingException",
            ErrorType::UnsupportedUserEdition => "UnsupportedUserEditionException",
            ErrorType::UnsupportedPricingPlan => "UnsupportedPricingPlanException",
            ErrorType::PreconditionNotMet => "PreconditionNotMetException",
            ErrorType::InternalFailure => "InternalFailureException",
            ErrorType::Serialization => "SerializationException",
            ErrorType::UnknownOperation => "UnknownOperationException",
            ErrorType::ExpiredToken => "ExpiredTokenException",
            ErrorType::UnrecognizedClient => "UnrecognizedClientException",
            ErrorType::InvalidSignature => "InvalidSignatureException",
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            ErrorType::AccessDenied => StatusCode::UNAUTHORIZED,
            ErrorType::InvalidParameterValue
            | ErrorType::PreconditionNotMet
            | ErrorType::Serialization => StatusCode::BAD_REQUEST,
            ErrorType::LimitExceeded | ErrorType::ResourceExists => StatusCode::CONFLICT,
            ErrorType::ResourceNotFound | ErrorType::UnknownOperation => StatusCode::NOT_FOUND,
            ErrorType::Throttling => StatusCode::TOO_MANY_REQUESTS,
            ErrorType::UnsupportedUserEdition
            | ErrorType::UnsupportedPricingPlan
            | ErrorType::ExpiredToken
            | ErrorType::UnrecognizedClient
            | ErrorType::InvalidSignature => StatusCode::FORBIDDEN,
            ErrorType::InternalFailure => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn from_shape_name(name: &str) -> Option<ErrorType> {
        Self::ALL.into_iter().find(|kind| kind.shape_name() == name)
    }

    pub fn shape_names() -> impl Iterator<Item = &'static str> {
        Self::ALL.into_iter().map(ErrorType::shape_name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsError {
    pub kind: ErrorType,
    pub message: String,
}

impl AwsError {
    pub fn new(kind: ErrorType, message: impl Into<String>) -> AwsError {
        AwsError {
            kind,
            message: message.into(),
        }
    }

    pub fn reply(&self, request_id: &RequestId) -> Reply {
        let body = json!({ "Message": self.message, "RequestId": request_id.as_str() });
        let mut reply = aws_json(self.kind.status(), &body, request_id);
        if let Reply::Respond(response) = &mut reply {
            response.headers_mut().insert(
                ERROR_TYPE_HEADER,
                HeaderValue::from_static(self.kind.shape_name()),
            );
        }
        reply
    }
}

/// A request id in the UUID layout AWS uses; uniqueness comes from a process-wide counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub fn fresh() -> RequestId {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let serial = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default() as u64;
        RequestId(format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            nanos >> 32,
            (nanos >> 16) & 0xffff,
            nanos & 0xfff,
            (serial >> 48) & 0xfff,
            serial & 0xffff_ffff_ffff
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A successful (or deliberately corrupted) AWS operation reply.
pub fn aws_json(status: StatusCode, body: &Value, request_id: &RequestId) -> Reply {
    aws_bytes(status, body.to_string().into_bytes(), request_id)
}

pub fn aws_bytes(status: StatusCode, body: Vec<u8>, request_id: &RequestId) -> Reply {
    let mut response = json_response(status, body);
    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Reply::Respond(response)
}

/// Replies of the `/_emulator` control API, which is not AWS and carries no request id.
pub fn control_json(status: StatusCode, body: &Value) -> Reply {
    Reply::Respond(json_response(status, body.to_string().into_bytes()))
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Epoch seconds with millisecond precision: restJson1 timestamps without a timestampFormat are
/// JSON numbers of seconds, and both SDKs accept a fraction.
pub fn epoch_now() -> f64 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    millis as f64 / 1000.0
}

pub fn round_to_millis(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_text(reply: Reply) -> (Response<()>, String) {
        let Reply::Respond(response) = reply else {
            panic!("expected a response, got a hang-up");
        };
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("full body").to_bytes();
        (
            Response::from_parts(parts, ()),
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    #[test]
    fn every_error_shape_maps_to_the_status_in_the_service_model() {
        let expected = [
            ("AccessDeniedException", 401),
            ("InvalidParameterValueException", 400),
            ("LimitExceededException", 409),
            ("ResourceExistsException", 409),
            ("ResourceNotFoundException", 404),
            ("ThrottlingException", 429),
            ("UnsupportedUserEditionException", 403),
            ("UnsupportedPricingPlanException", 403),
            ("PreconditionNotMetException", 400),
            ("InternalFailureException", 500),
        ];
        for (name, status) in expected {
            let kind = ErrorType::from_shape_name(name).expect(name);
            assert_eq!(kind.status().as_u16(), status, "{name}");
        }
        assert_eq!(ErrorType::from_shape_name("NoSuchException"), None);
    }

    #[tokio::test]
    async fn an_error_reply_names_its_shape_in_a_header_and_its_message_in_the_body() {
        let request_id = RequestId::fresh();
        let error = AwsError::new(ErrorType::Throttling, "Rate exceeded");
        let (response, body) = body_text(error.reply(&request_id)).await;

        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response.headers()["x-amzn-errortype"],
            "ThrottlingException"
        );
        assert_eq!(response.headers()["x-amzn-requestid"], request_id.as_str());
        let body: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(body["Message"], "Rate exceeded");
        assert_eq!(body["RequestId"], request_id.as_str());
    }

    #[test]
    fn request_ids_are_unique_and_shaped_like_uuids() {
        let first = RequestId::fresh();
        let second = RequestId::fresh();
        assert_ne!(first, second);
        let groups: Vec<usize> = first.as_str().split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
    }

    #[tokio::test]
    async fn a_truncated_body_is_not_valid_json() {
        let body = json!({ "Arn": "arn:x", "JobStatus": "RUNNING" });
        // Distortions live with the faults; their replies are this module's.
        let reply = crate::faults::Distortion::Truncated.apply(
            StatusCode::OK,
            body,
            "JobStatus",
            &RequestId::fresh(),
        );
        let (response, text) = body_text(reply).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!text.is_empty());
        assert!(serde_json::from_str::<Value>(&text).is_err());
    }

    #[test]
    fn timestamps_keep_millisecond_precision() {
        assert_eq!(round_to_millis(1_764_330_000.123_456), 1_764_330_000.123);
        let now = epoch_now();
        assert_eq!(round_to_millis(now), now);
    }
}
