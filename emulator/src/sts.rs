//! An STS front for identity-enhanced sessions. moto's STS accepts `ProvidedContexts` and keeps
//! no record of them, so `AssumeRole` reaches moto through here: a QuickSight context the
//! emulator issued is checked (unknown: malformed; past its expiry: expired) and the session's
//! access key is remembered as that user's. Every other STS request passes through unchanged.

use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{HeaderMap, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::state::Emulator;
use crate::wire::{epoch_now, Reply};

const QUICKSIGHT_PROVIDER: &str = ":iam::aws:contextProvider/QuickSight";

/// Whether `body` is an STS Query request (`Action=...`), which this front answers.
pub fn is_sts_request(body: &[u8]) -> bool {
    body.starts_with(b"Action=") || body.windows(8).any(|w| w == b"&Action=")
}

pub async fn route(emulator: &Emulator, headers: &HeaderMap, body: &[u8]) -> Reply {
    let form = decode_form(body);
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let mut user = None;
    if field("Action") == Some("AssumeRole")
        && field("ProvidedContexts.member.1.ProviderArn")
            .is_some_and(|arn| arn.ends_with(QUICKSIGHT_PROVIDER))
    {
        let token = field("ProvidedContexts.member.1.ContextAssertion").unwrap_or_default();
        let issued = emulator.lock().directory.issued(token).cloned();
        match issued {
            None => {
                return sts_error(
                    "InvalidParameterValue",
                    "The context assertion in ProvidedContexts is malformed.",
                )
            }
            Some(issued) if issued.expires <= epoch_now() => {
                return sts_error(
                    "ExpiredTokenException",
                    "The context assertion in ProvidedContexts has expired.",
                )
            }
            Some(issued) => user = Some(issued.user_arn),
        }
    }
    let Some(upstream) = emulator.identities.endpoint() else {
        return sts_error(
            "InternalFailure",
            "The emulator has no --identity-endpoint.",
        );
    };
    let Some((status, answer)) = forward(upstream, headers, body).await else {
        return sts_error("ServiceUnavailable", "The upstream STS did not answer.");
    };
    if let (Some(user), Some(key)) = (user, between(&answer, "<AccessKeyId>", "</AccessKeyId>")) {
        emulator.lock().sessions.insert(key.trim().to_owned(), user);
    }
    xml_reply(status, answer)
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    text.split(open).nth(1)?.split(close).next()
}

fn sts_error(code: &str, message: &str) -> Reply {
    let status = match code {
        "InternalFailure" => StatusCode::INTERNAL_SERVER_ERROR,
        "ServiceUnavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = format!(
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
         <Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>emulator-sts</RequestId></ErrorResponse>"
    );
    xml_reply(status, body)
}

fn xml_reply(status: StatusCode, body: String) -> Reply {
    let mut response = Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    Reply::Respond(response)
}

/// Sends the request on to `upstream` (`http://HOST:PORT`) over HTTP/1.0, so the answer comes
/// whole and unchunked; answers its status and body.
async fn forward(upstream: &str, headers: &HeaderMap, body: &[u8]) -> Option<(StatusCode, String)> {
    let address = upstream.strip_prefix("http://")?.trim_end_matches('/');
    let mut request = format!("POST / HTTP/1.0\r\nHost: {address}\r\n");
    for (name, value) in headers {
        if matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            continue;
        }
        request.push_str(&format!("{}: {}\r\n", name, value.to_str().ok()?));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut stream = TcpStream::connect(address).await.ok()?;
    stream.write_all(request.as_bytes()).await.ok()?;
    stream.write_all(body).await.ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse::<u16>().ok()?;
    Some((StatusCode::from_u16(status).ok()?, body.to_owned()))
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn decode_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            let plus = |s: &str| crate::ids::decode_segment(&s.replace('+', " "));
            Some((plus(key), plus(value)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_body_is_an_sts_request_and_its_fields_are_decoded() {
        let body =
            b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx\
                     &ProvidedContexts.member.1.ContextAssertion=a+b";
        assert!(is_sts_request(body));
        assert!(!is_sts_request(br#"{"SnapshotJobId":"x"}"#));
        let form = decode_form(body);
        assert!(form.contains(&("RoleArn".into(), "arn:aws:iam::1:role/x".into())));
        assert!(form.contains(&(
            "ProvidedContexts.member.1.ContextAssertion".into(),
            "a b".into()
        )));
    }
}
