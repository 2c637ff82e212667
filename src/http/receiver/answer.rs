//! The receiver's answer step: handshakes (a provider checking the URL, answered and never
//! journaled) and the success reply (`reply`).

use http::{Method, StatusCode};
use warp::reply::Response;

use super::{Refusal, Request, WebhookHandler};
use crate::reply::{accepted, duplicate, json_response};
use crate::senders::handshake::{self, Early, GetCheck, Handshake};
use crate::senders::signature::Verifier;

impl WebhookHandler {
    /// A request that is not a POST: `HEAD` (a provider checking the URL first, Mandrill),
    /// Okta's verification `GET`, the configured handshake's `GET` (Meta, Dropbox, eBay), or
    /// 405.
    pub(super) fn probe(&self, request: &Request<'_>) -> Result<Response, Refusal> {
        match *request.method {
            Method::HEAD => {
                self.authenticate(request.token, request.headers)?;
                Ok(Response::new(Vec::new().into()))
            }
            Method::GET => {
                if let Some(challenge) = request.headers.get(handshake::OKTA_CHALLENGE_HEADER) {
                    self.authenticate(request.token, request.headers)?;
                    return Ok(json_response(
                        StatusCode::OK,
                        &handshake::okta_reply(challenge.as_bytes()),
                    ));
                }
                let handshakes = self.handshake.as_ref().ok_or(Refusal::MethodNotAllowed)?;
                self.authenticate(request.token, request.headers)?;
                // eBay hashes the endpoint as configured there: the public URL and the path.
                let endpoint = format!("{}{}", self.public_url, request.target.path);
                match handshakes.on_get(request.target.query, &endpoint) {
                    GetCheck::Reply(answer) => Ok(answer.into_response()),
                    GetCheck::WrongToken => Err(Refusal::Forbidden(
                        "hub.verify_token does not match handshake.verify_token: give Meta the \
                         same Verify Token as the tap's config",
                    )),
                    GetCheck::None => Err(Refusal::MethodNotAllowed),
                }
            }
            _ => Err(Refusal::MethodNotAllowed),
        }
    }

    /// A POST answered before its body is read: Microsoft Graph's `validationToken`, Asana's
    /// `X-Hook-Secret` (kept before it is echoed, to verify the deliveries it signs).
    pub(super) async fn early(&self, request: &Request<'_>) -> Result<Option<Response>, Refusal> {
        let Some(handshakes) = &self.handshake else {
            return Ok(None);
        };
        match handshakes.before_body(request.target.query, request.headers) {
            None => Ok(None),
            Some(Early::Reply(answer)) => Ok(Some(answer.into_response())),
            Some(Early::AsanaSecret(secret)) => {
                let learned = self.learned.as_ref().ok_or(Refusal::SecretNotKept)?;
                let text = secret.to_str().map_err(|_| {
                    Refusal::BadRequest("X-Hook-Secret is not visible ASCII".into())
                })?;
                if let Err(e) = learned.learn(text).await {
                    log::error!("Asana's handshake secret could not be kept: {e}");
                    return Err(Refusal::SecretNotKept);
                }
                log::info!("Asana's handshake answered: its secret now verifies X-Hook-Signature");
                Ok(Some(handshake::asana_reply(secret)))
            }
        }
    }

    /// The reply to a handshake body; nothing is journaled.
    pub(super) fn answer(&self, handshake: &Handshake) -> Result<Response, Refusal> {
        if let Some(answer) = handshake.own_reply() {
            return Ok(answer.into_response());
        }
        match handshake {
            Handshake::SlackUrlVerification { .. } | Handshake::ZoomUrlValidation { .. } => {
                let zoom_secret = self.signature.as_ref().and_then(Verifier::zoom_secret);
                let reply = handshake.reply(zoom_secret).ok_or(Refusal::NoZoomSecret)?;
                Ok(json_response(StatusCode::OK, &reply))
            }
            // WooCommerce's ping, Notion's verification: a success like any other.
            _ => Ok(self.success(0)),
        }
    }

    /// The reply to an accepted webhook: `reply`, or the JSON default.
    pub(super) fn success(&self, records: u32) -> Response {
        match &self.reply {
            Some(reply) => reply.response(),
            None => accepted(records),
        }
    }

    /// The reply to a redelivery: `reply`, or the JSON default.
    pub(super) fn success_duplicate(&self) -> Response {
        match &self.reply {
            Some(reply) => reply.response(),
            None => duplicate(),
        }
    }
}
