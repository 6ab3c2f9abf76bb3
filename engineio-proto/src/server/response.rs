//! HTTP responses, with the reference's status codes, bodies and headers.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode};

use super::{Cors, ErrorCode};

/// An HTTP response for the adapter to write.
pub type Response = http::Response<Bytes>;

/// The CORS headers for a request from `request_headers`' origin under `cors`.
pub(crate) fn cors_headers(cors: Option<&Cors>, request_headers: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let Some(cors) = cors else {
        return headers;
    };
    match &cors.origins {
        None => {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
        Some(allowed) => {
            headers.insert(header::VARY, HeaderValue::from_static("Origin"));
            let origin = request_headers.get(header::ORIGIN);
            if let Some(origin) = origin.filter(|o| allowed.iter().any(|a| a.as_bytes() == o.as_bytes())) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                if cors.credentials {
                    headers
                        .insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
                }
            }
        }
    }
    headers
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes, cors: HeaderMap) -> Response {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.extend(cors);
    if !content_type.is_empty() {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `{"code":N,"message":"..."}` with status 400, or 403 for [`ErrorCode::Forbidden`].
pub(crate) fn error(code: ErrorCode, message: Option<&str>, cors: HeaderMap) -> Response {
    let message = message.unwrap_or(code.message());
    let mut body = format!("{{\"code\":{},\"message\":", code.code()).into_bytes();
    push_json_string(&mut body, message);
    body.push(b'}');
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    respond(status, "application/json", body.into(), cors)
}

/// A polling payload.
pub(crate) fn payload(body: Bytes, cors: HeaderMap) -> Response {
    respond(StatusCode::OK, "text/plain; charset=UTF-8", body, cors)
}

/// The answer to an accepted POST.
pub(crate) fn ok(cors: HeaderMap) -> Response {
    respond(StatusCode::OK, "text/html", Bytes::from_static(b"ok"), cors)
}

/// A POST body over `max_payload`.
pub(crate) fn too_large(cors: HeaderMap) -> Response {
    respond(StatusCode::PAYLOAD_TOO_LARGE, "", Bytes::new(), cors)
}

/// A handshake while the server shuts down.
pub(crate) fn shutting_down(cors: HeaderMap) -> Response {
    respond(StatusCode::SERVICE_UNAVAILABLE, "", Bytes::new(), cors)
}

/// The answer to a CORS preflight.
pub(crate) fn preflight(request_headers: &HeaderMap, mut cors: HeaderMap) -> Response {
    cors.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
    );
    if let Some(asked) = request_headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        cors.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        cors.append(header::VARY, HeaderValue::from_static("Access-Control-Request-Headers"));
    }
    let mut response = respond(StatusCode::NO_CONTENT, "", Bytes::new(), cors);
    response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

/// Whether `method` is a CORS preflight.
pub(crate) fn is_preflight(method: &Method, cors: Option<&Cors>) -> bool {
    method == Method::OPTIONS && cors.is_some()
}

fn push_json_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if u32::from(c) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes()),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}
