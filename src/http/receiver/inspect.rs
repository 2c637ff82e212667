//! What the receiver tells the inspector (with `ops_bind`): each delivery once journaled, each
//! refusal. Cheap when no page is open: a few short copies and one uncontended lock.

use super::{Admitted, Prepared, Refusal, Request, Seen, WebhookHandler};
use crate::http::auth::bearer_token;
use crate::inspector::rings::{MAX_TEXT_BYTES, cut_bytes};
use crate::inspector::{self, Arrival};
use crate::reply::remote_addr;

impl WebhookHandler {
    /// Tells the inspector of a refusal.
    pub(super) fn inspect_refusal(&self, request: &Request<'_>, refusal: &Refusal, seen: &Seen) {
        let Some(inspector) = &self.inspector else {
            return;
        };
        inspector.refused(inspector::Refusal {
            status: refusal.status(),
            reason: &refusal.to_string(),
            remote_addr: remote_addr(),
            token_id: seen.token_id.as_ref(),
            body: seen.body.as_ref(),
            token: request.token.or_else(|| bearer_token(request.headers).ok()),
        });
    }

    /// What the inspector is told of a delivery once it is journaled, with `ops_bind`.
    pub(super) fn arrival<'a>(
        &self,
        prepared: &mut Prepared,
        admitted: &Admitted<'a>,
        seen: &'a Seen,
    ) -> Option<Arrival<'a>> {
        let inspector = self.inspector.as_ref()?;
        let delivery_id = match &prepared.delivery_id {
            Some(id) => Some(cut_bytes(id, MAX_TEXT_BYTES)),
            None => inspector.delivery_id(&prepared.headers),
        };
        Some(Arrival {
            delivery_id,
            routed: prepared.routed.take().unwrap_or_default(),
            content_type: admitted.content_type.map(|v| v.as_bytes()),
            token_id: seen.token_id.as_ref(),
        })
    }
}
